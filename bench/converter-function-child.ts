/**
 * One conversion by the converter function's handler, in its own process (the parent pins it to
 * one CPU, as a 1 vCPU Cloud Run instance): the same dependencies as functions/converter/index.ts,
 * against the storage and Firestore emulators the parent started. Prints one JSON line.
 */
import { PubSub } from '@google-cloud/pubsub';
import { createDatasetStore } from '../adapters/firestore/dataset-store.ts';
import { createFirestore } from '../adapters/firestore/run-store.ts';
import { createLaunchPublisher } from '../adapters/pubsub/launch-publisher.ts';
import { createStorageClient } from '../adapters/storage/client.ts';
import { createObjectStore } from '../adapters/storage/object-store.ts';
import { loadGemmaTokenizer } from '../adapters/tokenizer/index.ts';
import { handleObjectFinalized } from '../functions/converter/handler.ts';
import { converterConfigSchema } from '../shared/config/converter.ts';
import { storageObjectEventSchema } from '../shared/datasets/schema.ts';
import { createLogger } from '../shared/log.ts';

const event = storageObjectEventSchema.parse(JSON.parse(process.argv[2]!));
const config = converterConfigSchema.parse({ ...process.env, DATASETS_BUCKET: 'bench-datasets' });
const db = createFirestore(config.GOOGLE_CLOUD_PROJECT);
let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
const loadStart = performance.now();
const tokens = loadGemmaTokenizer();
const deps = {
  objects: createObjectStore(createStorageClient({ projectId: config.GOOGLE_CLOUD_PROJECT })),
  datasets: createDatasetStore(db, config.DATASETS_COLLECTION),
  // No sidecar is uploaded, so nothing is ever published.
  launches: createLaunchPublisher(new PubSub({ projectId: config.GOOGLE_CLOUD_PROJECT }), config.LAUNCH_TOPIC),
  tokens,
  log: createLogger('converter-bench', { sink: { write: () => {} } }),
  now: Date.now,
  config,
};
const start = performance.now();
const cpuBefore = process.cpuUsage();
const outcome = await handleObjectFinalized(event, `bench-${Date.now()}`, deps);
const seconds = (performance.now() - start) / 1000;
const cpu = process.cpuUsage(cpuBefore);
clearInterval(sampler);
const doc = 'datasetId' in outcome ? await deps.datasets.get(outcome.datasetId) : null;
console.log(
  JSON.stringify({
    status: outcome.status,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    loadSeconds: (start - loadStart) / 1000,
    peakRss: Math.max(peak, process.resourceUsage().maxRSS * 1024),
    examples: doc?.report?.examples ?? null,
  }),
);
await db.terminate();
