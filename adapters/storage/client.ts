import { Storage, type StorageOptions } from '@google-cloud/storage';
import { crc32cGenerator } from './crc32c.ts';

/**
 * The Cloud Storage client the functions use: the library's own, with every download's and
 * upload's CRC32C checked by our slicing-by-8 validator (crc32c.ts) instead of its byte-at-a-time one.
 */
export function createStorageClient(options: StorageOptions = {}): Storage {
  return new Storage({ ...options, crc32cGenerator });
}
