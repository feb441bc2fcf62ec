import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Storage } from '@google-cloud/storage';
import { createFirestore, createRunStore } from '../../../adapters/firestore/run-store.ts';
import { createObjectStore, type ObjectStore } from '../../../adapters/storage/object-store.ts';
import { loadGemmaTokenizer } from '../../../adapters/tokenizer/index.ts';
import { createTuningService } from '../../../adapters/vertex/tuning.ts';
import { handleLaunch, RetryableLaunchError, type LauncherDeps } from '../../../functions/launcher/handler.ts';
import { mergeTrainingDatasets } from '../../../functions/launcher/merge.ts';
import { canonicalJson, exampleHash } from '../../../shared/datasets/merge.ts';
import type { LaunchMessageInput } from '../../../shared/launch/schema.ts';
import { createLogger } from '../../../shared/log.ts';
import { startStorageEmulator, type StorageEmulator } from '../../../emulators/storage/server.ts';
import { startVertexSimulator } from '../../../simulator/vertex/server.ts';
import { useEmulators } from '../../support/emulators.ts';

const emulators = useEmulators({ firestore: true });
const quiet = createLogger('merge-test', { sink: { write: () => {} } });
let storageEmulator: StorageEmulator;
let objects: ObjectStore;
const stops: (() => Promise<void>)[] = [];

const example = (q: string, a: string) => ({
  contents: [
    { role: 'user', parts: [{ text: q }] },
    { role: 'model', parts: [{ text: a }] },
  ],
});
const jsonl = (values: unknown[]) => values.map((value) => JSON.stringify(value)).join('\n') + '\n';
async function readText(uri: string): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of objects.read(uri)) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

before(async () => {
  process.env.METADATA_SERVER_DETECTION = 'none';
  storageEmulator = await startStorageEmulator();
  process.env.STORAGE_EMULATOR_HOST = storageEmulator.url;
  const storage = new Storage({ projectId: 'merge-test' });
  await storage.createBucket('team-data');
  await storage.createBucket('sft-datasets');
  objects = createObjectStore(storage);
  // Week 1 and week 2 of a team's data: week 2 repeats two of week 1's examples, one with its keys in another order.
  await objects.write(
    'gs://team-data/week1.jsonl',
    jsonl([example('reset password?', 'Settings > Security.'), example('refund?', 'Within 30 days.'), example('hours?', '9 to 5.')]),
  );
  const reordered = {
    contents: [
      { parts: [{ text: 'refund?' }], role: 'user' },
      { parts: [{ text: 'Within 30 days.' }], role: 'model' },
    ],
  };
  await objects.write(
    'gs://team-data/week2.jsonl',
    jsonl([
      reordered,
      example('hours?', '9 to 5.'),
      example('ship abroad?', 'Yes, to 40 countries.'),
      example('ship abroad?', 'Yes, to 40 countries.'),
    ]),
  );
  await objects.write('gs://team-data/week3.jsonl', jsonl([example('cancel?', 'Any time, from Billing.')]));
  await objects.write('gs://team-data/broken.jsonl', jsonl([example('ok', 'fine')]) + '{"contents": [\n');
  await objects.write('gs://team-data/openai.jsonl', jsonl([{ messages: [{ role: 'user', content: 'hi' }] }]));
});
after(async () => {
  for (const stop of stops) await stop();
  await storageEmulator?.stop();
});

async function setup(overrides: Partial<LauncherDeps> = {}) {
  await emulators.ready;
  const sim = await startVertexSimulator({
    timing: { validationMs: 10, queueMs: 60_000, runMs: 60_000 },
    readDataset: (uri) => objects.read(uri),
    tokens: loadGemmaTokenizer(),
  });
  const db = createFirestore(`${emulators.projectId}-${randomUUID().slice(0, 6)}`);
  stops.push(
    () => sim.stop(),
    () => db.terminate(),
  );
  const tuning = createTuningService({
    project: 'sim-project',
    location: 'us-central1',
    baseUrl: sim.url,
    retries: 0,
    sleep: async () => {},
  });
  const deps: LauncherDeps = {
    runs: createRunStore(db),
    tuning,
    log: quiet,
    now: Date.now,
    leaseMs: 60_000,
    objects,
    merge: { bucket: 'sft-datasets', memoryBytes: 64 * 1024 * 1024 },
    maxDeliveries: 5,
    ...overrides,
  };
  return { sim, deps };
}

const launch = (overrides: Partial<LaunchMessageInput>): LaunchMessageInput => ({
  schemaVersion: 1,
  experiment: 'support',
  baseModel: 'gemini-3.5-flash-lite',
  trainingDatasetUri: 'gs://team-data/week1.jsonl',
  source: 'test',
  ...overrides,
});
const envelope = (payload: unknown, extra: Record<string, unknown> = {}) => ({
  message: { messageId: randomUUID(), data: Buffer.from(JSON.stringify(payload)).toString('base64') },
  subscription: 'projects/p/subscriptions/launcher',
  ...extra,
});

test('a run naming several datasets trains on one merged, de-duplicated file in hash order, and records where each example came from', async () => {
  const { sim, deps } = await setup();
  const sources = ['gs://team-data/week1.jsonl', 'gs://team-data/week2.jsonl', 'gs://team-data/week3.jsonl'];
  const outcome = await handleLaunch(envelope(launch({ trainingDatasetUri: sources })), deps);
  assert.equal(outcome.status, 'submitted');
  const run = await deps.runs.get(outcome.runId);
  const mergedUri = `gs://sft-datasets/merged/${outcome.runId}/train.jsonl`;
  assert.equal(run?.trainingDatasetUri, mergedUri);
  assert.deepEqual(run?.sourceDatasets, sources);
  assert.deepEqual(run?.merge?.sources, [
    { uri: sources[0], examples: 3, duplicates: 0 },
    { uri: sources[1], examples: 4, duplicates: 3 },
    { uri: sources[2], examples: 1, duplicates: 0 },
  ]);
  assert.equal(run?.merge?.examples, 5);
  assert.equal(run?.merge?.duplicatesDropped, 3);
  // The job trains on the merged file, and the simulator (which validates like Vertex) reads it.
  assert.equal(
    (sim.control.jobs()[0]?.body.supervisedTuningSpec as { trainingDatasetUri?: string } | undefined)?.trainingDatasetUri,
    mergedUri,
  );
  const lines = (await readText(mergedUri)).trimEnd().split('\n');
  assert.equal(lines.length, 5);
  const hashes = lines.map((line) => exampleHash(line));
  assert.deepEqual(hashes, [...hashes].sort(), 'written in hash order');
  const questions = lines.map((line) => (JSON.parse(line) as ReturnType<typeof example>).contents[0]!.parts[0]!.text).sort();
  assert.deepEqual(questions, ['cancel?', 'hours?', 'refund?', 'reset password?', 'ship abroad?']);
});

test('the merged bytes do not depend on source order, memory budget or how often the merge runs', async () => {
  const sources = ['gs://team-data/week1.jsonl', 'gs://team-data/week2.jsonl', 'gs://team-data/week3.jsonl'];
  const one = await mergeTrainingDatasets(objects, sources, 'gs://sft-datasets/t/a.jsonl', 64 * 1024 * 1024);
  const reversed = await mergeTrainingDatasets(objects, [...sources].reverse(), 'gs://sft-datasets/t/b.jsonl', 64 * 1024 * 1024);
  // A budget of 40 bytes holds about one example per pass: the merge streams in many passes instead of holding it all.
  const tight = await mergeTrainingDatasets(objects, sources, 'gs://sft-datasets/t/c.jsonl', 40);
  assert.equal(one.passes, 1);
  assert.ok(tight.passes >= 4, `${tight.passes} passes`);
  const bytes = await readText('gs://sft-datasets/t/a.jsonl');
  assert.equal(await readText('gs://sft-datasets/t/b.jsonl'), bytes);
  assert.equal(await readText('gs://sft-datasets/t/c.jsonl'), bytes);
  assert.equal(reversed.examples, one.examples);
  assert.equal(bytes.split('\n')[0], canonicalJson(JSON.parse(bytes.split('\n')[0]!)));
});

test('a missing or malformed source rejects the run, naming the file and line; no job is created', async () => {
  const { sim, deps } = await setup();
  const missing = await handleLaunch(
    envelope(launch({ experiment: 'm1', trainingDatasetUri: ['gs://team-data/week1.jsonl', 'gs://team-data/nope.jsonl'] })),
    deps,
  );
  assert.equal(missing.status, 'rejected');
  const missingRun = await deps.runs.get(missing.runId);
  assert.equal(missingRun?.state, 'REJECTED');
  assert.match(missingRun?.rejection ?? '', /does not exist.*nope\.jsonl/);
  const broken = await handleLaunch(
    envelope(launch({ experiment: 'm2', trainingDatasetUri: ['gs://team-data/week1.jsonl', 'gs://team-data/broken.jsonl'] })),
    deps,
  );
  assert.match((await deps.runs.get(broken.runId))?.rejection ?? '', /gs:\/\/team-data\/broken\.jsonl line 2: not valid JSON/);
  const unconverted = await handleLaunch(
    envelope(launch({ experiment: 'm3', trainingDatasetUri: ['gs://team-data/week1.jsonl', 'gs://team-data/openai.jsonl'] })),
    deps,
  );
  assert.match((await deps.runs.get(unconverted.runId))?.rejection ?? '', /openai\.jsonl line 1: not a Gemini tuning example/);
  assert.equal(sim.control.createdCount(), 0);
  // A redelivery of the rejected request changes nothing.
  assert.equal(
    (
      await handleLaunch(
        envelope(launch({ experiment: 'm1', trainingDatasetUri: ['gs://team-data/week1.jsonl', 'gs://team-data/nope.jsonl'] })),
        deps,
      )
    ).status,
    'duplicate',
  );
});

test('failed deliveries are counted on the run; the one that reaches the dead-letter limit says so, and a re-publish still launches', async () => {
  const { sim, deps } = await setup();
  const payload = launch({ experiment: 'dlq' });
  sim.control.failNextCalls(5, 503);
  for (let attempt = 1; attempt <= 5; attempt++) {
    await assert.rejects(handleLaunch(envelope(payload, { deliveryAttempt: attempt }), deps), RetryableLaunchError);
  }
  const outcome = await handleLaunch(envelope(payload), deps).catch((error: unknown) => error);
  const runId = (outcome as { runId: string }).runId;
  const run = await deps.runs.get(runId);
  assert.equal(
    outcome && (outcome as { status?: string }).status,
    'submitted',
    'the re-published request (after the dead letter) launches',
  );
  assert.equal(run?.state, 'SUBMITTED');
  assert.deepEqual(run?.launchDeliveries, {
    failed: 5,
    lastAttempt: 5,
    deadLettered: true,
    recoveries: 0,
    nextRecoveryAt: null,
    strandedSince: null,
  });
  assert.equal(run?.warning ?? null, null, 'the dead-letter warning is cleared once the job exists');
  assert.equal(sim.control.createdCount(), 1);
});
