import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Firestore } from '@google-cloud/firestore';
import { startStack, type Stack } from '../../../local/stack.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test('the README main command: npm start -- --once runs the sample from the bucket to a succeeded tuning run', () => {
  const result = spawnSync(process.execPath, [`${root}local/start.ts`, '--once'], { cwd: root, encoding: 'utf8', timeout: 240_000 });
  assert.equal(result.status, 0, result.stderr.slice(-2000));
  assert.match(result.stdout, /converted: 25 valid examples, 1 rejected/);
  assert.match(result.stdout, /history\s+ACCEPTED → SUBMITTED → PENDING → RUNNING → SUCCEEDED/);
  const latencies = result.stdout.split('\n').filter((line) => /drop → dataset|dataset → job submitted|drop → succeeded/.test(line));
  console.log(`end-to-end latencies on the local stack:\n${latencies.join('\n')}`);
});

// Faults across stages, on one stack started in this process.
let stack: Stack;
let db: Firestore;
before(async () => {
  stack = await startStack({
    projectId: 'e2e-faults',
    timing: { validationMs: 300, queueMs: 1000, runMs: 1500 },
    pollEveryMs: 500,
    functionEnv: { STUCK_AFTER_SECONDS: '3' },
  });
  db = new Firestore({ projectId: stack.projectId });
});
after(async () => {
  await db?.terminate();
  await stack?.stop();
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
const datasetOf = (name: string) => waitFor(`the dataset of ${name}`, async () => (await db.collection('datasets').where('source.name', '==', name).get()).docs[0]?.data());

test('a job stuck in the queue is cancelled and resubmitted by the poller, and the run still succeeds', async () => {
  stack.simulator.control.stickNextJobs(1);
  const bucket = stack.storage.bucket(stack.rawBucket);
  await bucket.file('incoming/stuck.jsonl.launch.json').save(JSON.stringify({ launch: { experiment: 'stuck' } }));
  await bucket.file('incoming/stuck.jsonl').save(readFileSync(`${root}samples/support-chat.openai.jsonl`).toString().split('\n').filter((l) => !l.includes('truncated') && !l.includes('Anyone there')).join('\n'));
  const run = await waitFor('the run to succeed', async () => {
    const runId = (await datasetOf('incoming/stuck.jsonl')).launch?.runId;
    const doc = runId ? (await db.doc(`runs/${runId}`).get()).data() : undefined;
    return doc?.state === 'SUCCEEDED' ? doc : undefined;
  });
  assert.equal(run.attempts.length, 2);
  assert.match(run.attempts[1].reason, /stuck in Vertex's queue/);
});

test('a bad file gives a REJECTED dataset and no job', async () => {
  const before = stack.simulator.control.createdCount();
  const bucket = stack.storage.bucket(stack.rawBucket);
  await bucket.file('incoming/garbage.jsonl.launch.json').save(JSON.stringify({ launch: { experiment: 'garbage' } }));
  await bucket.file('incoming/garbage.jsonl').save('this is not a dataset\n');
  const dataset = await waitFor('the rejection', async () => {
    const doc = await datasetOf('incoming/garbage.jsonl');
    return doc.state === 'REJECTED' ? doc : undefined;
  });
  assert.match(dataset.rejection, /format not recognised/);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(stack.simulator.control.createdCount(), before);
});
