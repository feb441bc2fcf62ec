/**
 * Scoring 100,000 predictions per model, as the completion handler does it: references loaded,
 * prediction files streamed from the storage emulator through the unmodified Cloud Storage
 * client, every measure computed. Prints time and peak memory; asserts nothing.
 */
import { Storage } from '@google-cloud/storage';
import { createObjectStore } from '../adapters/storage/object-store.ts';
import { startStorageEmulator } from '../emulators/storage/server.ts';
import { loadReferences, scoreOutput } from '../functions/completion/score.ts';
import { requestKey } from '../shared/evaluation/inference-input.ts';

const count = Number(process.argv[process.argv.indexOf('--count') + 1]) || 100_000;
process.env.METADATA_SERVER_DETECTION = 'none';
const emulator = await startStorageEmulator();
process.env.STORAGE_EMULATOR_HOST = emulator.url;
let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
try {
  const storage = new Storage({ projectId: 'bench' });
  await storage.createBucket('bench-outputs');
  const objects = createObjectStore(storage);
  const intents = ['refund', 'account', 'bug', 'shipping', 'billing'];
  const request = (i: number) => ({
    contents: [{ role: 'user', parts: [{ text: `ticket ${i}: something about ${intents[i % 5]} and order ${i * 7}` }] }],
  });
  const reference = (i: number) => JSON.stringify({ intent: intents[i % 5], priority: i % 3 === 0 ? 'high' : 'low', order: i * 7 });
  async function* references() {
    for (let i = 0; i < count; i++) yield Buffer.from(`${JSON.stringify({ key: requestKey(request(i)), reference: reference(i) })}\n`);
  }
  async function* predictions() {
    for (let i = 0; i < count; i++) {
      const text =
        i % 10 === 0 ? 'not json' : i % 4 === 0 ? JSON.stringify({ intent: 'bug', priority: 'low', order: i * 7 }) : reference(i);
      const response =
        i % 97 === 0
          ? { promptFeedback: { blockReason: 'SAFETY' } }
          : { candidates: [{ content: { role: 'model', parts: [{ text }] }, finishReason: 'STOP' }] };
      yield Buffer.from(`${JSON.stringify({ status: '', processed_time: '2026-01-01T00:00:00Z', request: request(i), response })}\n`);
    }
  }
  const setupStart = performance.now();
  await objects.write('gs://bench-outputs/run/references.jsonl', references());
  await objects.write('gs://bench-outputs/run/tuned/prediction-model-x/predictions.jsonl', predictions());
  const bytes = (await objects.stat('gs://bench-outputs/run/tuned/prediction-model-x/predictions.jsonl'))!.size;
  console.log(
    `wrote ${count.toLocaleString('en')} references and predictions (${(bytes / 1e6).toFixed(1)} MB of predictions) in ${((performance.now() - setupStart) / 1000).toFixed(1)} s`,
  );
  global.gc?.();
  peak = process.memoryUsage().rss;
  const before = peak;
  const start = performance.now();
  const refs = await loadReferences(objects, 'gs://bench-outputs/run/references.jsonl');
  const loaded = performance.now();
  const scores = await scoreOutput(objects, 'gs://bench-outputs/run/tuned/prediction-model-x', refs);
  const done = performance.now();
  console.log(
    `references loaded: ${((loaded - start) / 1000).toFixed(2)} s; predictions scored: ${((done - loaded) / 1000).toFixed(2)} s (${Math.round(count / ((done - loaded) / 1000)).toLocaleString('en')} predictions/s, ${(bytes / 1e6 / ((done - loaded) / 1000)).toFixed(1)} MB/s)`,
  );
  console.log(
    `peak RSS ${(peak / 1e6).toFixed(0)} MB (${(before / 1e6).toFixed(0)} MB before scoring; the storage emulator runs in this process too)`,
  );
  console.log(
    `scores: exact ${scores.exactMatch}, JSON valid ${scores.jsonValid}, fields ${scores.jsonFieldAccuracy}, blocked ${scores.blocked}, missing ${scores.missing}, n ${scores.n}`,
  );
} finally {
  clearInterval(sampler);
  await emulator.stop();
}
