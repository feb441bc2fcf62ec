/** Uploads a local file to a gs:// URI (the storage emulator when STORAGE_EMULATOR_HOST is set): node local/upload.ts FILE gs://BUCKET/NAME */
import { readFileSync } from 'node:fs';
import { Storage } from '@google-cloud/storage';
import { parseGsUri } from '../adapters/storage/object-store.ts';

const [file, uri] = process.argv.slice(2);
if (!file || !uri) {
  console.error('usage: node local/upload.ts FILE gs://BUCKET/NAME');
  process.exit(2);
}
const { bucket, name } = parseGsUri(uri);
await new Storage().bucket(bucket).file(name).save(readFileSync(file));
console.log(`uploaded ${file} to ${uri}`);
