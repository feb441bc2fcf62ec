import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { PubSub } from '@google-cloud/pubsub';
import { Storage } from '@google-cloud/storage';
import { createPollStore } from '../../../adapters/firestore/poll-store.ts';
import { createFirestore, createRunStore } from '../../../adapters/firestore/run-store.ts';
import { createRunEventPublisher } from '../../../adapters/pubsub/run-events.ts';
import { createObjectStore, type ObjectStore } from '../../../adapters/storage/object-store.ts';
import { loadGemmaTokenizer } from '../../../adapters/tokenizer/index.ts';
import { createBatchService } from '../../../adapters/vertex/batch.ts';
import { createTuningService } from '../../../adapters/vertex/tuning.ts';
import { handleLaunch, type LauncherDeps } from '../../../functions/launcher/handler.ts';
import { runTick, type PollerDeps } from '../../../functions/poller/tick.ts';
import { startStorageEmulator, type StorageEmulator } from '../../../emulators/storage/server.ts';
import { createLogger } from '../../../shared/log.ts';
import { startVertexSimulator } from '../../../simulator/vertex/server.ts';
import { useEmulators } from '../../support/emulators.ts';
import { simulatorClock } from '../../support/clock.ts';

/**
 * A staged run (launch `stages: ["SUPERVISED", "PREFERENCE"]`) through the real launcher and
 * poller, on Firestore and Pub/Sub's emulators, the storage emulator and the Vertex simulator
 * (which validates each stage's dataset as Vertex would for its method).
 */
const emulators = useEmulators({ firestore: true, pubsub: true });
const quiet = createLogger('staged-test', { sink: { write: () => {} } });
const MINUTE = 60_000;
let storageEmulator: StorageEmulator;
let objects: ObjectStore;
const stops: (() => Promise<void>)[] = [];

const jsonl = (values: unknown[]) => values.map((value) => JSON.stringify(value)).join('\n') + '\n';
const pair = (question: string, good: string, bad: string) => ({
  contents: [{ role: 'user', parts: [{ text: question }] }],
  completions: [
    { score: 1, completion: { role: 'model', parts: [{ text: good }] } },
    { score: 0, completion: { role: 'model', parts: [{ text: bad }] } },
  ],
});

before(async () => {
  process.env.METADATA_SERVER_DETECTION = 'none';
  storageEmulator = await startStorageEmulator();
  process.env.STORAGE_EMULATOR_HOST = storageEmulator.url;
  const storage = new Storage({ projectId: 'staged-test' });
  await storage.createBucket('team-data');
  await storage.createBucket('sft-datasets');
  objects = createObjectStore(storage);
  await objects.write(
    'gs://team-data/prefs.jsonl',
    jsonl([
      pair('Refund?', 'Within 30 days, from Billing.', 'No.'),
      pair('Opening hours?', '9 to 5, Monday to Friday.', 'Whenever.'),
      pair('Ship abroad?', 'Yes, to 40 countries.', 'Maybe.'),
    ]),
  );
  await objects.write('gs://team-data/prefs-validation.jsonl', jsonl([pair('Cancel?', 'Any time, from Billing.', 'You cannot.')]));
  await objects.write(
    'gs://team-data/sft.jsonl',
    jsonl([
      {
        contents: [
          { role: 'user', parts: [{ text: 'hi' }] },
          { role: 'model', parts: [{ text: 'hello' }] },
        ],
      },
    ]),
  );
});
after(async () => {
  for (const stop of stops) await stop();
  await storageEmulator?.stop();
});

async function setup() {
  await emulators.ready;
  const sim = await startVertexSimulator({
    timing: { validationMs: MINUTE, queueMs: 2 * MINUTE, runMs: 5 * MINUTE },
    readDataset: (uri) => objects.read(uri),
    tokens: loadGemmaTokenizer(),
  });
  const projectId = `${emulators.projectId}-${randomUUID().slice(0, 6)}`;
  const db = createFirestore(projectId);
  const pubsub = new PubSub({ projectId, apiEndpoint: emulators.pubsubHost, emulatorMode: true });
  await pubsub.createTopic('run-events');
  stops.push(
    () => sim.stop(),
    () => db.terminate(),
    () => pubsub.close(),
  );
  const clock = simulatorClock(sim.control);
  const vertex = { project: 'sim-project', location: 'us-central1', baseUrl: sim.url, retries: 0, sleep: async () => {} };
  const tuning = createTuningService(vertex);
  const launcher: LauncherDeps = {
    runs: createRunStore(db),
    tuning,
    log: quiet,
    now: clock.now,
    leaseMs: MINUTE,
    objects,
    merge: { bucket: 'sft-datasets', memoryBytes: 1024 * 1024 },
    maxDeliveries: 5,
  };
  const poller: PollerDeps = {
    store: createPollStore(db),
    tuning,
    batch: createBatchService(vertex),
    events: createRunEventPublisher(pubsub, 'run-events'),
    log: quiet,
    now: clock.now,
    policy: { stuckAfterMs: 10 * MINUTE, maxAttempts: 2, runningWarningMs: 24 * 60 * MINUTE },
    concurrency: 2,
    leaseMs: MINUTE,
  };
  const message = {
    schemaVersion: 1,
    experiment: 'staged',
    baseModel: 'gemini-3.5-flash',
    stages: ['SUPERVISED', 'PREFERENCE'],
    trainingDatasetUri: 'gs://team-data/prefs.jsonl',
    validationDatasetUri: 'gs://team-data/prefs-validation.jsonl',
    hyperParameters: { epochCount: 2, beta: 0.25 },
    source: 'test',
  };
  const launch = (payload: Record<string, unknown> = message) =>
    handleLaunch({ message: { messageId: randomUUID(), data: Buffer.from(JSON.stringify(payload)).toString('base64') } }, launcher);
  return { sim, clock, launch, poller, runs: launcher.runs, message };
}

test('a staged run: stage 1 on the preferred answers, stage 2 preference tuning from its model; each stage stuck once is resubmitted as itself', async () => {
  const { sim, clock, launch, poller, runs } = await setup();
  sim.control.stickNextJobs(1);
  const launched = await launch();
  assert.equal(launched.status, 'submitted');
  assert.equal((await launch()).status, 'duplicate', 'a redelivery makes no second job');
  const submitted = await runs.get(launched.runId);
  const derived = submitted!.stages![0]!;
  assert.equal(derived.trainingDatasetUri, `gs://sft-datasets/derived/${launched.runId}/stage-1-training.jsonl`);
  const lines: { contents: { role: string; parts: { text: string }[] }[] }[] = [];
  let text = '';
  for await (const chunk of objects.read(derived.trainingDatasetUri)) text += Buffer.from(chunk).toString();
  for (const line of text.trim().split('\n')) lines.push(JSON.parse(line));
  assert.deepEqual(
    lines.map((line) => line.contents.map((turn) => `${turn.role}: ${turn.parts[0]!.text}`)),
    [
      ['user: Refund?', 'model: Within 30 days, from Billing.'],
      ['user: Opening hours?', 'model: 9 to 5, Monday to Friday.'],
      ['user: Ship abroad?', 'model: Yes, to 40 countries.'],
    ],
  );

  // Stage 1's first job is stuck: resubmitted as stage 1, supervised, on the same derived files.
  clock.advance(2 * MINUTE);
  await runTick(poller);
  clock.advance(11 * MINUTE);
  assert.equal((await runTick(poller)).resubmitted, 1);
  // Stage 1 trains and succeeds: the same tick submits stage 2, stuck too.
  sim.control.stickNextJobs(1);
  clock.advance(8 * MINUTE);
  await runTick(poller);
  const inStage2 = await runs.get(launched.runId);
  assert.equal(inStage2?.state, 'SUBMITTED');
  assert.deepEqual(
    inStage2?.attempts.map((attempt) => [attempt.number, attempt.stage]),
    [
      [1, 1],
      [2, 1],
      [3, 2],
    ],
  );
  const stage1Model = inStage2!.stages![0]!.tunedModel!.model;
  assert.match(inStage2!.attempts[2]!.reason, /stage 1 \(SUPERVISED\) succeeded with .*: stage 2 \(PREFERENCE\) continues from it/);
  // Stage 2 waits past the threshold: with 2 attempts allowed a stage, stage 1's two do not count against it.
  clock.advance(2 * MINUTE);
  await runTick(poller);
  clock.advance(11 * MINUTE);
  assert.equal((await runTick(poller)).resubmitted, 1);
  clock.advance(8 * MINUTE);
  await runTick(poller);
  const done = await runs.get(launched.runId);
  assert.equal(done?.state, 'SUCCEEDED');
  assert.equal(done?.tunedModel?.model, done?.stages?.[1]?.tunedModel?.model);
  assert.notEqual(done?.tunedModel?.model, stage1Model);

  const jobs = sim.control.jobs();
  assert.equal(jobs.length, 4);
  for (const job of jobs.slice(0, 2)) {
    assert.equal(job.body.baseModel, 'gemini-3.5-flash');
    assert.deepEqual(job.body.supervisedTuningSpec, {
      trainingDatasetUri: derived.trainingDatasetUri,
      validationDatasetUri: derived.validationDatasetUri,
      hyperParameters: { epochCount: 2 },
    });
  }
  for (const job of jobs.slice(2)) {
    assert.equal(job.body.baseModel, undefined);
    assert.deepEqual(job.body.preTunedModel, { tunedModelName: stage1Model });
    assert.deepEqual(job.body.preferenceOptimizationSpec, {
      trainingDatasetUri: 'gs://team-data/prefs.jsonl',
      validationDatasetUri: 'gs://team-data/prefs-validation.jsonl',
      hyperParameters: { epochCount: 2, beta: 0.25 },
    });
  }
  // Vertex's data stats of each stage stay on the stage.
  assert.ok(done?.stages?.every((stage) => stage.tuningDataStats?.exampleCount === 3));
});

test('a staged launch on a supervised dataset is REJECTED, naming the file, line and field; no job is made', async () => {
  const { sim, launch, runs, message } = await setup();
  const outcome = await launch({ ...message, trainingDatasetUri: 'gs://team-data/sft.jsonl', validationDatasetUri: undefined });
  assert.equal(outcome.status, 'rejected');
  assert.equal(
    (await runs.get(outcome.runId))?.rejection,
    'stages SUPERVISED → PREFERENCE need a preference dataset: gs://team-data/sft.jsonl line 1: completions: a staged run trains on a preference dataset: this example has no "completions"',
  );
  assert.equal(sim.control.jobs().length, 0);
});
