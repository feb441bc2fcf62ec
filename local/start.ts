/**
 * `npm start`: the whole pipeline on this machine (see local/stack.ts), then the bundled sample
 * through it, stage by stage, as a data team would see it: a CSV and its launch sidecar dropped
 * in the raw bucket → converted → launch message → Vertex job (the simulator) → queued →
 * running → succeeded. `npm start -- --once` exits after the summary (0 when the run succeeded);
 * without it the stack keeps running for more files until Ctrl-C.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Firestore } from '@google-cloud/firestore';
import { startStack } from './stack.ts';

const { values } = parseArgs({ options: { once: { type: 'boolean', default: false }, timeout: { type: 'string', default: '180' } } });
const sample = new URL('../samples/support-tickets.csv', import.meta.url);
const started = Date.now();
const say = (line: string) => console.log(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s  ${line}`);

say('starting the local stack: Firestore and Pub/Sub emulators, storage emulator, Vertex AI simulator, functions');
const stack = await startStack({ log: (line) => console.error(line) });
let stopping = false;
const shutdown = async (code: number) => {
  if (stopping) return;
  stopping = true;
  await stack.stop();
  process.exit(code);
};
process.once('SIGINT', () => void shutdown(130));
process.once('SIGTERM', () => void shutdown(143));

console.log('\nservices (a Vertex AI SIMULATOR stands in for Vertex: nothing is trained)');
for (const [name, url] of Object.entries(stack.urls)) console.log(`  ${name.padEnd(17)} ${url}`);
console.log(`  raw bucket        gs://${stack.rawBucket}/incoming/   datasets bucket gs://${stack.datasetsBucket}`);
console.log('\nenvironment for other tools:');
for (const key of ['GOOGLE_CLOUD_PROJECT', 'FIRESTORE_EMULATOR_HOST', 'PUBSUB_EMULATOR_HOST', 'STORAGE_EMULATOR_HOST', 'VERTEX_BASE_URL']) console.log(`  export ${key}=${stack.env[key]}`);
console.log('');

const name = 'incoming/support-tickets.csv';
const sidecar = { epochs: 3, launch: { experiment: 'support-tickets', hyperParameters: { epochCount: 3 } } };
const bucket = stack.storage.bucket(stack.rawBucket);
await bucket.file(`${name}.launch.json`).save(JSON.stringify(sidecar, null, 2), { contentType: 'application/json' });
const dropped = Date.now();
await bucket.file(name).save(readFileSync(sample), { contentType: 'text/csv' });
say(`dropped samples/support-tickets.csv (with a launch sidecar) into gs://${stack.rawBucket}/${name}`);

const db = new Firestore({ projectId: stack.projectId });
const seen = new Set<string>();
const marks: Record<string, number> = {};
const once = (key: string, line: string) => {
  if (seen.has(key)) return;
  seen.add(key);
  marks[key] = Date.now();
  say(line);
};
const deadline = Date.now() + Number(values.timeout) * 1000;
let outcome: 'SUCCEEDED' | 'FAILED' | 'TIMEOUT' = 'TIMEOUT';
let summary: Record<string, unknown> = {};
while (Date.now() < deadline) {
  const datasets = await db.collection('datasets').where('source.name', '==', name).get();
  const dataset = datasets.docs[0]?.data();
  if (dataset?.state === 'CONVERTED') {
    const r = dataset.report;
    once('converted', `converted: ${r.examples.valid} valid examples, ${r.examples.invalid} rejected (see the report), ${r.split.train} train / ${r.split.validation} validation, ${r.tokens.total} tokens, estimated $${r.estimatedCost.usd}`);
  }
  if (dataset?.state === 'REJECTED') {
    say(`the dataset was rejected: ${dataset.rejection}`);
    outcome = 'FAILED';
    break;
  }
  if (dataset?.launch?.state === 'PUBLISHED') once('launch', `launch message published for run ${dataset.launch.runId}`);
  const run = dataset?.launch?.runId ? (await db.doc(`runs/${dataset.launch.runId}`).get()).data() : undefined;
  if (run) {
    if (run.currentJobName) once(`submitted-${run.attempts.length}`, `tuning job submitted (attempt ${run.attempts.length}): ${run.currentJobName}`);
    if (run.state === 'PENDING') once('pending', `queued in Vertex (${run.tuningJobState ?? 'pending'})`);
    if (run.state === 'RUNNING') once('running', 'training (simulated)');
    if (run.state === 'SUCCEEDED' || run.state === 'FAILED' || run.state === 'REJECTED' || run.state === 'CANCELLED') {
      once('end', run.state === 'SUCCEEDED' ? `succeeded: tuned model ${run.tunedModel?.model}` : `run ${run.state}: ${run.error?.message ?? run.rejection ?? ''}`);
      outcome = run.state === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED';
      summary = { run: run.runId, state: run.state, attempts: run.attempts.length, tunedModel: run.tunedModel?.model ?? '-', history: run.history.map((h: { to: string }) => h.to).join(' → ') };
      break;
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 250));
}

const ms = (from: number | undefined, to: number | undefined) => (from && to ? `${((to - from) / 1000).toFixed(2)} s` : '-');
console.log('\nsummary');
for (const [key, value] of Object.entries({ ...summary, 'drop → dataset': ms(dropped, marks.converted), 'dataset → job submitted': ms(marks.converted, marks['submitted-1']), 'drop → succeeded': ms(dropped, marks.end) })) {
  console.log(`  ${key.padEnd(24)} ${value}`);
}
console.log('  (batch inference and the base-versus-tuned evaluation come with the completion stage)');
await db.terminate();

if (values.once || outcome !== 'SUCCEEDED') {
  if (outcome === 'TIMEOUT') console.error(`the sample run did not finish within ${values.timeout} s`);
  await shutdown(outcome === 'SUCCEEDED' ? 0 : 1);
} else {
  console.log(`\nthe stack keeps running: drop more files into gs://${stack.rawBucket}/incoming/ (a NAME.launch.json beside NAME starts a run), e.g.`);
  console.log(`  STORAGE_EMULATOR_HOST=${stack.env.STORAGE_EMULATOR_HOST} node local/upload.ts my-data.jsonl gs://${stack.rawBucket}/incoming/my-data.jsonl`);
  console.log('Ctrl-C stops everything.');
}
