import { Storage } from '@google-cloud/storage';
import { createObjectStore } from '../../adapters/storage/object-store.ts';
import type { LauncherDeps } from '../../functions/launcher/handler.ts';

/**
 * The launcher's storage dependencies for tests whose requests name a single training dataset:
 * the launcher only reads storage to merge several, so these point at a closed port on purpose,
 * and a test that unexpectedly touches storage fails loudly instead of passing.
 */
export const singleDatasetDeps: Pick<LauncherDeps, 'objects' | 'merge' | 'maxDeliveries'> = {
  objects: createObjectStore(new Storage({ projectId: 'unused', apiEndpoint: 'http://127.0.0.1:9', retryOptions: { autoRetry: false } })),
  merge: { memoryBytes: 1024 * 1024 },
  maxDeliveries: 10,
};
