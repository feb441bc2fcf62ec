import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Storage } from '@google-cloud/storage';
import { createCompletionStore } from '../../../adapters/firestore/completion-store.ts';
import { createPollStore } from '../../../adapters/firestore/poll-store.ts';
import { createFirestore, createRunStore } from '../../../adapters/firestore/run-store.ts';
import { createObjectStore, type ObjectStore } from '../../../adapters/storage/object-store.ts';
import { loadGemmaTokenizer } from '../../../adapters/tokenizer/index.ts';
import { createBatchService } from '../../../adapters/vertex/batch.ts';
import { createMetricsReader } from '../../../adapters/vertex/metrics.ts';
import { createOnlinePredictor } from '../../../adapters/vertex/online.ts';
import { createEvaluationService } from '../../../adapters/vertex/evaluation.ts';
import { createGenAiClient } from '../../../adapters/vertex/clients.ts';
import { createTuningService } from '../../../adapters/vertex/tuning.ts';
import { handleRunEvent, RetryableCompletionError, type CompletionDeps } from '../../../functions/completion/handler.ts';
import { createMlflowSink } from '../../../functions/completion/mlflow.ts';
import { handleLaunch } from '../../../functions/launcher/handler.ts';
import { runTick, type PollerDeps } from '../../../functions/poller/tick.ts';
import { startStorageEmulator, type StorageEmulator } from '../../../emulators/storage/server.ts';
import type { LaunchMessageInput } from '../../../shared/launch/schema.ts';
import { createLogger } from '../../../shared/log.ts';
import { summarizeRun } from '../../../shared/status/api.ts';
import { exampleComparisonSchema } from '../../../shared/evaluation/examples.ts';
import { metricDocumentId } from '../../../shared/metrics/series.ts';
import type { RunEvent } from '../../../shared/runs/schema.ts';
import { startVertexSimulator } from '../../../simulator/vertex/server.ts';
import { useEmulators } from '../../support/emulators.ts';
import { singleDatasetDeps } from '../../support/launcher.ts';
import { simulatorClock } from '../../support/clock.ts';

const emulators = useEmulators({ firestore: true });
const quiet = createLogger('completion-test', { sink: { write: () => {} } });
let storageEmulator: StorageEmulator;
let objects: ObjectStore;
const stops: (() => Promise<void>)[] = [];
const MINUTE = 60_000;

const turn = (role: 'user' | 'model', text: string) => ({ role, parts: [{ text }] });
const example = (q: string, a: string) => ({ contents: [turn('user', q), turn('model', a)] });
const jsonl = (values: unknown[]) => values.map((value) => JSON.stringify(value)).join('\n') + '\n';

// A support team's task: classify a ticket, answering in JSON (as the seed team's task did).
const TRAINING = [
  example('I was charged twice for my order', '{"intent":"refund","priority":"high"}'),
  example('How do I change my password', '{"intent":"account","priority":"low"}'),
  example('The app crashes when I open settings', '{"intent":"bug","priority":"high"}'),
  example('Can I ship to Canada', '{"intent":"shipping","priority":"low"}'),
];
// Held out: two seen almost verbatim (the "tuned" simulator model finds them), one unlike
// anything in training (it answers with the nearest example, wrongly), one the "safety filter"
// blocks, and one line with no model turn to compare with (skipped).
const HELD_OUT = [
  { contents: [turn('user', 'I was charged twice for my order'), turn('model', '{"intent":"refund","priority":"high"}')] },
  { contents: [turn('user', 'Can I ship to Canada'), turn('model', '{"intent":"shipping","priority":"low"}')] },
  { contents: [turn('user', 'Where is the invoice for my order'), turn('model', '{"intent":"billing","priority":"low"}')] },
  { contents: [turn('user', '[simulate:blocked] something unsafe'), turn('model', '{"intent":"abuse","priority":"high"}')] },
  { contents: [turn('user', 'no answer here')] },
];

before(async () => {
  process.env.METADATA_SERVER_DETECTION = 'none';
  storageEmulator = await startStorageEmulator();
  process.env.STORAGE_EMULATOR_HOST = storageEmulator.url;
  const storage = new Storage({ projectId: 'completion-test' });
  await storage.createBucket('sft-datasets');
  await storage.createBucket('sft-outputs');
  objects = createObjectStore(storage);
  await objects.write('gs://sft-datasets/d1/train.jsonl', jsonl(TRAINING));
  // The validation split must be valid for tuning (Vertex validates it); the held-out evaluation file need not be.
  await objects.write('gs://sft-datasets/d1/validation.jsonl', jsonl(HELD_OUT.slice(0, 3)));
  await objects.write('gs://sft-datasets/d1/heldout.jsonl', jsonl(HELD_OUT));
});
after(async () => {
  for (const stop of stops) await stop();
  await storageEmulator?.stop();
});

/** Events the stages publish, recorded in order (the run-events topic's role in this in-process test). */
function recordingEvents() {
  const published: RunEvent[] = [];
  return { published, publisher: { publish: async (event: RunEvent) => void published.push(event) } };
}

async function setup(
  options: { mlflowUri?: string; mlflowToken?: string; onlineBudgetMs?: number; fallbackRegions?: string[]; judgeBudgetMs?: number } = {},
) {
  await emulators.ready;
  const sim = await startVertexSimulator({
    timing: { validationMs: 10, queueMs: 2 * MINUTE, runMs: 10 * MINUTE },
    readDataset: (uri) => objects.read(uri),
    writeObject: (uri, content) => objects.write(uri, content),
    tokens: loadGemmaTokenizer(),
  });
  const db = createFirestore(`${emulators.projectId}-${randomUUID().slice(0, 6)}`);
  stops.push(
    () => sim.stop(),
    () => db.terminate(),
  );
  const clock = simulatorClock(sim.control);
  const vertex = { project: 'sim-project', location: 'us-central1', baseUrl: sim.url, retries: 1, sleep: async () => {} };
  const tuning = createTuningService(vertex);
  const batch = createBatchService(vertex);
  const events = recordingEvents();
  const launcher = { runs: createRunStore(db), tuning, log: quiet, now: clock.now, leaseMs: MINUTE, ...singleDatasetDeps };
  const poller: PollerDeps = {
    store: createPollStore(db),
    tuning,
    batch,
    events: events.publisher,
    log: quiet,
    now: clock.now,
    policy: { stuckAfterMs: 30 * MINUTE, maxAttempts: 3, runningWarningMs: 24 * 60 * MINUTE },
    concurrency: 4,
    leaseMs: MINUTE,
    liveMetrics: { reader: createMetricsReader(vertex), store: createCompletionStore(db) },
    ...(options.fallbackRegions ? { regions: { primary: vertex.location, fallbacks: options.fallbackRegions } } : {}),
  };
  const completion: CompletionDeps = {
    store: createCompletionStore(db),
    tuning,
    metrics: createMetricsReader(vertex),
    batch,
    objects,
    events: events.publisher,
    mlflow: options.mlflowUri ? createMlflowSink(options.mlflowUri, { token: options.mlflowToken }) : null,
    log: quiet,
    now: clock.now,
    leaseMs: MINUTE,
    outputsBucket: 'sft-outputs',
    maxExamples: 1000,
    online: { predictor: createOnlinePredictor(vertex), concurrency: 3, partSize: 1, budgetMs: options.onlineBudgetMs ?? 60_000 },
    judge: { service: createEvaluationService(vertex), concurrency: 2, budgetMs: options.judgeBudgetMs ?? 60_000 },
  };
  return { sim, db, clock, launcher, poller, completion, events, tuning, vertex };
}

const launch = (overrides: Partial<LaunchMessageInput> = {}): LaunchMessageInput => ({
  schemaVersion: 1,
  experiment: 'ticket-triage',
  baseModel: 'gemini-3.5-flash-lite',
  trainingDatasetUri: 'gs://sft-datasets/d1/train.jsonl',
  validationDatasetUri: 'gs://sft-datasets/d1/validation.jsonl',
  hyperParameters: { epochCount: 2 },
  evaluation: { datasetUri: 'gs://sft-datasets/d1/heldout.jsonl', metric: 'json_fields' },
  source: 'test',
  ...overrides,
});
const envelope = (payload: unknown, messageId: string = randomUUID()) => ({
  message: { messageId, data: Buffer.from(JSON.stringify(payload)).toString('base64') },
});

/** Ticks (moving the clock) until the run reaches `state`; the simulator writes batch outputs between ticks. */
async function tickUntil(env: Awaited<ReturnType<typeof setup>>, runId: string, state: string, stepMs = 5 * MINUTE) {
  for (let i = 0; i < 40; i++) {
    const run = await env.launcher.runs.get(runId);
    if (run?.state === state) return run;
    env.clock.advance(stepMs);
    await runTick(env.poller);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`run ${runId} never reached ${state}: ${(await env.launcher.runs.get(runId))?.state}`);
}

const lastEvent = (events: RunEvent[], to: string) => {
  const event = events.filter((e) => e.to === to).at(-1);
  assert.ok(event, `a ${to} event was published`);
  return event;
};

/**
 * A run trained on `training` and evaluated on `heldOut` (both written under
 * gs://sft-datasets/{name}/, the experiment named alike), launched and taken through SUCCEEDED:
 * its evaluation has started. Returns the run id.
 */
async function launchEvaluated(
  env: Awaited<ReturnType<typeof setup>>,
  name: string,
  training: unknown[],
  heldOut: unknown[],
  evaluation: Omit<NonNullable<LaunchMessageInput['evaluation']>, 'datasetUri'> = {},
): Promise<string> {
  await objects.write(`gs://sft-datasets/${name}/train.jsonl`, jsonl(training));
  await objects.write(`gs://sft-datasets/${name}/heldout.jsonl`, jsonl(heldOut));
  const { runId } = await handleLaunch(
    envelope(
      launch({
        experiment: name,
        trainingDatasetUri: `gs://sft-datasets/${name}/train.jsonl`,
        validationDatasetUri: undefined,
        evaluation: { datasetUri: `gs://sft-datasets/${name}/heldout.jsonl`, ...evaluation },
      }),
    ),
    env.launcher,
  );
  await tickUntil(env, runId, 'SUCCEEDED');
  await handleRunEvent(envelope(lastEvent(env.events.published, 'SUCCEEDED')), env.completion);
  return runId;
}

test('a succeeded job: metrics copied to Firestore, two batch jobs, scores computed from the prediction files, COMPLETED', async () => {
  const env = await setup();
  const { runId } = await handleLaunch(envelope(launch()), env.launcher);
  await tickUntil(env, runId, 'SUCCEEDED');
  const succeeded = lastEvent(env.events.published, 'SUCCEEDED');

  // Vertex's tuningDataStats carry sample training conversations: the run keeps counts only.
  const tuned = await env.launcher.runs.get(runId);
  assert.equal(tuned?.tuningDataStats?.exampleCount, TRAINING.length);
  assert.ok((await env.tuning.get(tuned!.currentJobName!)).tuningDataStats, 'Vertex (the simulator) did send its stats, examples included');
  const stored = JSON.stringify((await env.db.collection('runs').doc(runId).get()).data());
  for (const line of ['charged twice for my order', 'change my password', 'ship to Canada'])
    assert.ok(!stored.includes(line), `"${line}" is training data: not in Firestore`);

  const outcome = await handleRunEvent(envelope(succeeded), env.completion);
  assert.equal(outcome.status, 'evaluating');
  const evaluating = await env.launcher.runs.get(runId);
  assert.equal(evaluating?.state, 'EVALUATING');

  // Metrics: the Firestore documents hold exactly the series the simulator serves.
  const job = await env.tuning.get(evaluating!.currentJobName!);
  const served = await env.completion.metrics.read(job.experiment!);
  assert.deepEqual(served.map((s) => s.metric).sort(), [
    '/eval_fraction_of_correct_next_step_preds',
    '/eval_num_predictions',
    '/eval_total_loss',
    '/train_fraction_of_correct_next_step_preds',
    '/train_num_predictions',
    '/train_total_loss',
  ]);
  const storedMetrics = await env.completion.store.readMetrics(runId);
  for (const series of served) {
    const doc = storedMetrics.find((d) => d.metric === series.metric);
    assert.ok(doc, `${series.metric} stored`);
    assert.deepEqual(
      Object.keys(doc.points)
        .map(Number)
        .sort((a, b) => a - b),
      series.points.map((p) => p.step),
    );
    for (const point of series.points) assert.equal(doc.points[String(point.step)]!.value, point.value);
  }
  assert.equal(storedMetrics.length, 6);
  const loss = evaluating!.metrics!.summary['/train_total_loss']!;
  assert.equal(loss.points, 40, '2 epochs × 20 simulated steps');
  assert.ok(loss.final! < served.find((s) => s.metric === '/train_total_loss')!.points[0]!.value, 'loss fell');
  assert.equal(evaluating!.metrics!.error, null);

  // The batch input: contents up to the last user turn, the model turn kept aside.
  assert.equal(evaluating!.evaluation!.examples, 4);
  assert.equal(evaluating!.evaluation!.skipped, 1);
  // Both models are asked with the least thinking the base model allows (Google's advice for tuned tasks).
  const chunks: Uint8Array[] = [];
  for await (const chunk of objects.read(`gs://sft-outputs/runs/${runId}/evaluation/requests.jsonl`)) chunks.push(chunk);
  const requests = Buffer.concat(chunks)
    .toString('utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { request: { generationConfig?: unknown } });
  assert.ok(
    requests.every(
      (line) => JSON.stringify(line.request.generationConfig) === JSON.stringify({ thinkingConfig: { thinkingLevel: 'MINIMAL' } }),
    ),
  );
  const models = env.sim.control
    .batchJobs()
    .map((b) => b.model)
    .sort();
  assert.deepEqual(models, [`publishers/google/models/gemini-3.5-flash-lite`, evaluating!.tunedModel!.model].sort());

  // A redelivered SUCCEEDED event starts no second pair of batch jobs, and writes no new metric points.
  const again = await handleRunEvent(envelope(succeeded), env.completion);
  assert.equal(again.status, 'skipped');
  assert.equal(env.sim.control.batchJobs().length, 2);

  const scoring = await tickUntil(env, runId, 'SCORING');
  // "prediction-<model-display-name>-<job-create-time>" (batch_prediction_job.proto): the tuned model's display name is the job's.
  assert.match(
    scoring.evaluation!.jobs.tuned.outputDirectory ?? '',
    new RegExp(`^gs://sft-outputs/runs/${runId}/evaluation/tuned/a1/prediction-ticket-triage-${runId}-\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z$`),
  );
  assert.match(scoring.evaluation!.jobs.base.outputDirectory ?? '', /\/base\/a1\/prediction-gemini-3\.5-flash-lite-\d{4}-/);
  const done = await handleRunEvent(envelope(lastEvent(env.events.published, 'SCORING')), env.completion);
  assert.equal(done.status, 'completed');
  const completed = await env.launcher.runs.get(runId);
  assert.equal(completed?.state, 'COMPLETED');
  const result = completed!.evaluation!.result!;
  // From the files: the tuned model answers the two seen tickets right and the unseen invoice one with
  // its nearest training example ("…for my order" → refund/high: valid JSON, no field right), and is
  // blocked once; the base model echoes the question (never JSON) and is blocked once too.
  assert.equal(result.n, 4);
  assert.equal(result.tuned.exactMatch, 0.5);
  assert.equal(result.tuned.jsonValid, 0.75);
  assert.equal(result.tuned.blocked, 1);
  assert.equal(result.base.exactMatch, 0);
  assert.equal(result.base.jsonValid, 0);
  assert.equal(result.base.blocked, 1);
  assert.deepEqual(result.blocked, { base: 1, tuned: 1 });
  assert.equal(result.metric, 'json_fields');
  // Field accuracy: 1 + 1 + 0 (both fields wrong) + 0 (blocked), over 4.
  assert.deepEqual(result.headline, { base: 0, tuned: 0.5, delta: 0.5 });
  assert.deepEqual(completed!.history.map((h) => h.to).slice(-4), ['SUCCEEDED', 'EVALUATING', 'SCORING', 'COMPLETED']);
  lastEvent(env.events.published, 'COMPLETED');

  // Every example side by side, beside the run (not in it): prompt, reference, both answers, both scores, the verdict.
  const table = (await env.db.collection(`runs/${runId}/examples`).orderBy('index').get()).docs.map((doc) =>
    exampleComparisonSchema.parse(doc.data()),
  );
  assert.deepEqual(
    table.map((row) => [row.prompt, row.verdict, row.scores.tuned!.status, row.scores.base!.status]),
    [
      ['I was charged twice for my order', 'better', 'answered', 'answered'],
      ['Can I ship to Canada', 'better', 'answered', 'answered'],
      ['Where is the invoice for my order', 'same', 'answered', 'answered'],
      ['[simulate:blocked] something unsafe', 'same', 'blocked', 'blocked'],
    ],
  );
  assert.equal(table[0]!.answers.tuned, '{"intent":"refund","priority":"high"}');
  assert.equal(table[0]!.reference, '{"intent":"refund","priority":"high"}');
  assert.deepEqual(result.verdicts, { better: 2, worse: 0, same: 2 });
  // The per-example scores are the aggregates' parts: their means are the run's figures.
  const mean = (pick: (row: (typeof table)[number]) => number) => table.reduce((sum, row) => sum + pick(row), 0) / table.length;
  assert.equal(Number(mean((row) => row.scores.tuned!.rougeL).toFixed(6)), result.tuned.rougeL);
  assert.equal(Number(mean((row) => row.scores.base!.bleu).toFixed(6)), result.base.bleu);
  // Four examples cannot tell a 0.5 gain from noise: the paired bootstrap says so.
  assert.equal(result.confidence?.delta, 0.5);
  assert.equal(result.confidence?.significant, false);
  assert.match(completed!.history.at(-1)!.reason, /delta 95% interval \[0, 1\], not significant/);

  // A redelivered SCORING event changes nothing.
  assert.equal((await handleRunEvent(envelope(lastEvent(env.events.published, 'SCORING')), env.completion)).status, 'skipped');
  assert.equal(metricDocumentId('/train_total_loss', 1), 'a1_train_total_loss');
});

test('FALLBACK_REGIONS: a job stuck for capacity in us-central1 is resubmitted in europe-west4, and the run is tuned, read and measured there', async () => {
  const env = await setup({ fallbackRegions: ['europe-west4'] });
  env.sim.control.outOfCapacityIn(['us-central1']);
  const { runId } = await handleLaunch(envelope(launch({ experiment: 'fallback-region' })), env.launcher);
  const first = await env.launcher.runs.get(runId);
  assert.equal(first?.attempts[0]?.region, 'us-central1');

  const tuned = await tickUntil(env, runId, 'SUCCEEDED');
  assert.deepEqual(
    tuned.attempts.map((a) => a.region),
    ['us-central1', 'europe-west4'],
  );
  assert.match(tuned.attempts[1]!.reason, /stuck in Vertex's queue .* in europe-west4 \(FALLBACK_REGIONS; us-central1 had no capacity\)/);
  assert.match(tuned.currentJobName!, /\/locations\/europe-west4\/tuningJobs\//);
  assert.match(tuned.tunedModel!.model, /\/locations\/europe-west4\/models\//, 'the tuned model lives where its job ran');
  // The first job was cancelled in its own region; nothing else is left there.
  const stuckJob = await env.tuning.get(tuned.attempts[0]!.jobName!);
  assert.match(stuckJob.state, /CANCELL/);

  await handleRunEvent(envelope(lastEvent(env.events.published, 'SUCCEEDED')), env.completion);
  const evaluating = await env.launcher.runs.get(runId);
  assert.equal(evaluating?.metrics?.error, null, 'the metrics were read from europe-west4');
  assert.ok(Object.keys(evaluating!.metrics!.summary).length > 0);
  const batches = env.sim.control.batchJobs();
  assert.match(
    batches.find((b) => b.model === tuned.tunedModel!.model)!.name,
    /\/locations\/europe-west4\//,
    "the tuned model's batch job runs in its region",
  );
  assert.match(batches.find((b) => b.model.startsWith('publishers/'))!.name, /\/locations\/us-central1\//);
  await tickUntil(env, runId, 'SCORING');
  await handleRunEvent(envelope(lastEvent(env.events.published, 'SCORING')), env.completion);
  assert.equal((await env.launcher.runs.get(runId))?.state, 'COMPLETED');
  assert.deepEqual(env.sim.control.contractRefusals(), [], 'every call went to the endpoint of its resource');

  // What the simulator would have caught: a client of us-central1 asking about the europe-west4 job.
  const misrouted = createGenAiClient(env.vertex, 'us-central1').tunings.get({ name: tuned.currentJobName! });
  await assert.rejects(misrouted, /is in europe-west4 but the call went to the us-central1 endpoint/);
});

test('a failed batch job is recorded and resubmitted under the poller policy; the run still completes', async () => {
  const env = await setup();
  env.sim.control.failNextBatchJobs(1, { modelIncludes: 'publishers/' });
  const { runId } = await handleLaunch(envelope(launch({ experiment: 'retry-batch' })), env.launcher);
  await tickUntil(env, runId, 'SUCCEEDED');
  await handleRunEvent(envelope(lastEvent(env.events.published, 'SUCCEEDED')), env.completion);
  const scoring = await tickUntil(env, runId, 'SCORING');
  const base = scoring.evaluation!.jobs.base;
  assert.equal(base.attempts.length, 2);
  assert.equal(base.attempts[0]!.endState, 'JOB_STATE_FAILED');
  assert.match(base.attempts[1]!.reason, /base model's batch job .* ended JOB_STATE_FAILED.*resubmitted/);
  assert.equal(scoring.evaluation!.jobs.tuned.attempts.length, 1);
  await handleRunEvent(envelope(lastEvent(env.events.published, 'SCORING')), env.completion);
  assert.equal((await env.launcher.runs.get(runId))?.state, 'COMPLETED');
});

test('a PARTIALLY_SUCCEEDED batch job is final: what succeeded is scored, the failed lines (its errors file) are counted missing', async () => {
  const env = await setup();
  env.sim.control.partlyFailNextBatchJobs(1, { every: 2, modelIncludes: 'publishers/' });
  const { runId } = await handleLaunch(envelope(launch({ experiment: 'partial-batch' })), env.launcher);
  await tickUntil(env, runId, 'SUCCEEDED');
  await handleRunEvent(envelope(lastEvent(env.events.published, 'SUCCEEDED')), env.completion);
  const scoring = await tickUntil(env, runId, 'SCORING');
  const base = scoring.evaluation!.jobs.base;
  assert.equal(base.state, 'JOB_STATE_PARTIALLY_SUCCEEDED');
  assert.equal(base.attempts.length, 1, 'not resubmitted: it is a final state with results');
  assert.deepEqual(base.completionStats, { successful: 2, failed: 2 });
  const files: string[] = [];
  for await (const uri of objects.list(`${base.outputDirectory}/`)) files.push(uri.split('/').at(-1)!);
  assert.deepEqual(files.sort(), ['errors_0001.jsonl', 'predictions_0001.jsonl']);
  await handleRunEvent(envelope(lastEvent(env.events.published, 'SCORING')), env.completion);
  const completed = await env.launcher.runs.get(runId);
  assert.equal(completed?.state, 'COMPLETED');
  assert.equal(completed!.evaluation!.result!.base.missing, 2, 'the two failed lines count as missing, not as wrong answers');
  assert.equal(completed!.evaluation!.result!.tuned.missing, 0);
});

test('a batch job stuck in the queue is cancelled and resubmitted; one that fails every attempt fails the run with the reason', async () => {
  const env = await setup();
  env.sim.control.stickNextBatchJobs(1, { modelIncludes: '/models/' });
  env.sim.control.failNextBatchJobs(3, { modelIncludes: 'publishers/' });
  const { runId } = await handleLaunch(envelope(launch({ experiment: 'stuck-batch' })), env.launcher);
  await tickUntil(env, runId, 'SUCCEEDED');
  await handleRunEvent(envelope(lastEvent(env.events.published, 'SUCCEEDED')), env.completion);
  const failed = await tickUntil(env, runId, 'FAILED');
  assert.match(failed.history.at(-1)!.reason, /evaluation failed: the base model's batch job .* ended JOB_STATE_FAILED.*attempt 3 of 3/);
  assert.equal(failed.evaluation!.jobs.base.attempts.length, 3);
  assert.ok(failed.tunedModel, 'the tuned model stays on the run');
});

test('no held-out data: the run completes without an evaluation, saying why', async () => {
  const env = await setup();
  const { runId } = await handleLaunch(
    envelope(launch({ experiment: 'no-eval', validationDatasetUri: undefined, evaluation: undefined })),
    env.launcher,
  );
  await tickUntil(env, runId, 'SUCCEEDED');
  await handleRunEvent(envelope(lastEvent(env.events.published, 'SUCCEEDED')), env.completion);
  const run = await env.launcher.runs.get(runId);
  assert.equal(run?.state, 'COMPLETED');
  assert.equal(run?.evaluation, null);
  assert.match(run!.history.at(-1)!.reason, /no evaluation or validation dataset/);
  assert.equal(env.sim.control.batchJobs().length, 0);
  assert.ok(run?.metrics?.summary['/train_total_loss'], 'metrics are still copied');
});

test('the MLflow sink signs in as MLflow clients do, logs the points, the hyperparameters as params and the evaluation, one MLflow run per attempt, and a re-log creates nothing new', async () => {
  // A recorded fake of MLflow's REST API: the one place the issue allows one (no MLflow server can be installed here).
  const calls: { path: string; body: Record<string, unknown> }[] = [];
  const experiments = new Map<string, string>();
  const runs: { run_id: string; experiment_id: string; tags: { key: string; value: string }[] }[] = [];
  const artifacts = new Map<string, { type: string; text: string }>();
  const server: Server = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString()));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://mlflow');
      const path = url.pathname.replace('/api/2.0/mlflow/', '');
      const body = (text && request.method !== 'PUT' ? JSON.parse(text) : {}) as Record<string, unknown>;
      const reply = (status: number, json: unknown) =>
        response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      // A server behind MLflow's authentication: a request without the bearer token is refused.
      if (request.headers.authorization !== 'Bearer s3cret-token')
        return reply(401, { error_code: 'UNAUTHENTICATED', message: 'missing credentials' });
      // The artifact proxy (`mlflow server --serve-artifacts`): files PUT under the run's mlflow-artifacts: root.
      if (request.method === 'PUT' && url.pathname.startsWith('/api/2.0/mlflow-artifacts/artifacts/')) {
        artifacts.set(url.pathname.slice('/api/2.0/mlflow-artifacts/artifacts/'.length), {
          type: String(request.headers['content-type']),
          text,
        });
        return reply(200, {});
      }
      calls.push({ path, body });
      if (path === 'runs/get') {
        const run = runs.find((r) => r.run_id === url.searchParams.get('run_id'));
        return run
          ? reply(200, {
              run: { info: { run_id: run.run_id, artifact_uri: `mlflow-artifacts:/${run.experiment_id}/${run.run_id}/artifacts` } },
            })
          : reply(404, { error_code: 'RESOURCE_DOES_NOT_EXIST' });
      }
      if (path === 'experiments/get-by-name') {
        const id = experiments.get(url.searchParams.get('experiment_name') ?? '');
        return id ? reply(200, { experiment: { experiment_id: id } }) : reply(404, { error_code: 'RESOURCE_DOES_NOT_EXIST' });
      }
      if (path === 'experiments/create') {
        experiments.set(String(body.name), String(experiments.size + 1));
        return reply(200, { experiment_id: String(experiments.size) });
      }
      if (path === 'runs/search') {
        const tag = /tags\.sft_run_attempt = '([^']+)'/.exec(String(body.filter))?.[1];
        return reply(200, {
          runs: runs
            .filter((r) => r.tags.some((t) => t.key === 'sft_run_attempt' && t.value === tag))
            .map((r) => ({ info: { run_id: r.run_id } })),
        });
      }
      if (path === 'runs/create') {
        const run = {
          run_id: `mlflow-${runs.length + 1}`,
          experiment_id: String(body.experiment_id),
          tags: body.tags as { key: string; value: string }[],
        };
        runs.push(run);
        return reply(200, { run: { info: { run_id: run.run_id } } });
      }
      return reply(200, {});
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stops.push(() => new Promise((resolve) => server.close(() => resolve())));
  const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const env = await setup({ mlflowUri: uri, mlflowToken: 's3cret-token' });
  const { runId } = await handleLaunch(
    envelope(launch({ experiment: 'mlflow-exp', evaluation: undefined, validationDatasetUri: undefined })),
    env.launcher,
  );
  await tickUntil(env, runId, 'SUCCEEDED');
  await handleRunEvent(envelope(lastEvent(env.events.published, 'SUCCEEDED')), env.completion);
  const logged = calls
    .filter((c) => c.path === 'runs/log-batch' && c.body.metrics)
    .flatMap((c) => c.body.metrics as { key: string; step: number; value: number }[]);
  const params = calls
    .filter((c) => c.path === 'runs/log-batch' && c.body.params)
    .flatMap((c) => c.body.params as { key: string; value: string }[]);
  assert.deepEqual(
    params.map((p) => `${p.key}=${p.value}`),
    ['base_model=gemini-3.5-flash-lite', 'method=SUPERVISED', 'epochCount=2'],
    "the run's settings, as MLflow params",
  );
  const stored = await env.completion.store.readMetrics(runId);
  const storedPoints = stored
    .flatMap((doc) => Object.entries(doc.points).map(([step, p]) => `${doc.metric.slice(1)}@${step}=${p.value}`))
    .sort();
  assert.deepEqual(logged.map((m) => `${m.key}@${m.step}=${m.value}`).sort(), storedPoints);
  assert.deepEqual(
    calls.map((c) => c.path).filter((p) => p !== 'runs/log-batch'),
    ['experiments/get-by-name', 'experiments/create', 'runs/search', 'runs/create', 'runs/update'],
  );
  assert.deepEqual(runs[0]!.tags.find((t) => t.key === 'sft_run_attempt')?.value, `${runId}:a1`);
  // Without the token, nothing is logged: the server refuses it (an open-server-only sink could not be used).
  await assert.rejects(createMlflowSink(uri).logRun((await env.launcher.runs.get(runId))!, 1, []), /HTTP 401/);
  // The evaluation goes on the attempt's MLflow run as metrics: base, tuned and the delta.
  const scored = (await env.launcher.runs.get(runId))!;
  const result = {
    metric: 'exact_match',
    headline: { base: 0.63, tuned: 0.7, delta: 0.07 },
    confidence: { level: 0.95, delta: 0.07, low: -0.05, high: 0.2, n: 40, resamples: 2000, significant: false },
    verdicts: { better: 9, worse: 6, same: 25 },
    n: 40,
    base: { exactMatch: 0.63 },
    tuned: { exactMatch: 0.7 },
    delta: {},
    blocked: {},
    judge: { model: 'default', judged: 40, tunedWins: 20, baseWins: 8, ties: 12, tunedWinRate: 0.5, baseWinRate: 0.2, undecided: 0 },
    scoredAt: '2026-11-30T12:00:00.000Z',
  };
  const examples = [
    {
      schemaVersion: 1 as const,
      runId,
      index: 0,
      prompt: 'Do you ship to "Canada"?',
      reference: 'Yes.',
      answers: { base: 'Do you ship to "Canada"?', tuned: 'Yes.' },
      scores: {},
      metric: 'exact_match',
      verdict: 'better' as const,
      judge: { winner: 'tuned' as const, explanation: 'B answers, A repeats the question' },
    },
  ];
  const table = await createMlflowSink(uri, { token: 's3cret-token' }).logEvaluation(
    { ...scored, evaluation: { result } } as never,
    1,
    examples,
  );
  assert.equal(table.artifact, 'mlflow-artifacts:/1/mlflow-1/artifacts/evaluation/examples.csv');
  const csv = artifacts.get('1/mlflow-1/artifacts/evaluation/examples.csv')!;
  assert.equal(csv.type, 'text/csv');
  assert.equal(
    csv.text,
    [
      '"index","verdict","metric","prompt","reference","base_answer","base_score","tuned_answer","tuned_score","judge_winner","judge_explanation"',
      '"0","better","exact_match","Do you ship to ""Canada""?","Yes.","Do you ship to ""Canada""?","","Yes.","","tuned","B answers, A repeats the question"',
      '',
    ].join('\r\n'),
  );
  const evaluationCall = calls.filter((c) => c.path === 'runs/log-batch').at(-1)!;
  assert.deepEqual(
    (evaluationCall.body.metrics as { key: string; value: number }[]).map((m) => `${m.key}=${m.value}`),
    [
      'eval_exact_match_base=0.63',
      'eval_exact_match_tuned=0.7',
      'eval_exact_match_delta=0.07',
      'eval_exact_match_delta_low=-0.05',
      'eval_exact_match_delta_high=0.2',
      'eval_examples_better=9',
      'eval_examples_worse=6',
      'eval_examples_same=25',
      'eval_tuned_exactMatch=0.7',
      'eval_base_exactMatch=0.63',
      'eval_judge_tuned_win_rate=0.5',
      'eval_judge_base_win_rate=0.2',
      'eval_judge_ties=12',
    ],
  );
  assert.equal(evaluationCall.body.run_id, 'mlflow-1', 'on the same MLflow run as the training curves');
  // Logging the same attempt again finds its MLflow run instead of creating another.
  await createMlflowSink(uri, { token: 's3cret-token' }).logRun(
    (await env.launcher.runs.get(runId))!,
    1,
    await env.completion.metrics.read((await env.tuning.get((await env.launcher.runs.get(runId))!.currentJobName!)).experiment!),
  );
  assert.equal(runs.length, 1);
  assert.equal(experiments.size, 1);
});

test('a SUCCEEDED event no handler took (lost to the dead-letter topic, say) is sent again by the poller, and the run goes on', async () => {
  const env = await setup();
  const { runId } = await handleLaunch(envelope(launch({ experiment: 'lost-event' })), env.launcher);
  await tickUntil(env, runId, 'SUCCEEDED');
  const first = lastEvent(env.events.published, 'SUCCEEDED');
  env.events.published.length = 0; // the event is lost: nobody delivers it
  env.clock.advance(10 * MINUTE);
  await runTick(env.poller);
  assert.equal(env.events.published.length, 0, 'not before the resend delay');
  env.clock.advance(6 * MINUTE);
  await runTick(env.poller);
  const resent = lastEvent(env.events.published, 'SUCCEEDED');
  assert.equal(resent.eventId, first.eventId, 'the same event, delivered again');
  assert.match(resent.reason, /sent again/);
  assert.equal((await handleRunEvent(envelope(resent), env.completion)).status, 'evaluating');
});

test('while the job trains, each tick adds the new metric points (live curves); the completion handler then finds nothing new to write', async () => {
  const env = await setup();
  const { runId } = await handleLaunch(envelope(launch({ experiment: 'live' })), env.launcher);
  await tickUntil(env, runId, 'RUNNING', 60_000);
  env.clock.advance(3 * MINUTE); // 30 % of the 10-minute simulated training
  await runTick(env.poller);
  const early = (await env.completion.store.readMetrics(runId)).find((doc) => doc.metric === '/train_total_loss')!;
  const earlySteps = Object.keys(early.points).length;
  assert.ok(earlySteps > 0 && earlySteps < 40, `${earlySteps} of 40 steps while running`);
  assert.equal((await env.launcher.runs.get(runId))?.metrics?.summary['/train_total_loss']?.points, earlySteps);
  env.clock.advance(3 * MINUTE);
  await runTick(env.poller);
  const later = (await env.completion.store.readMetrics(runId)).find((doc) => doc.metric === '/train_total_loss')!;
  assert.ok(Object.keys(later.points).length > earlySteps, 'more points on the next tick');
  assert.deepEqual(later.points[Object.keys(early.points)[0]!], early.points[Object.keys(early.points)[0]!], 'stored points never change');
  assert.equal((await env.launcher.runs.get(runId))?.metrics?.final, false, 'live copies say they are not final');

  // The finished job's copy is final; a live copy landing late (a tick that saw the job RUNNING) does not replace it.
  await tickUntil(env, runId, 'SUCCEEDED');
  await handleRunEvent(envelope(lastEvent(env.events.published, 'SUCCEEDED')), env.completion);
  const finalMetrics = (await env.launcher.runs.get(runId))!.metrics!;
  assert.equal(finalMetrics.final, true);
  assert.equal(finalMetrics.summary['/train_total_loss']?.points, 40);
  await env.completion.store.recordMetrics(runId, {
    attempt: finalMetrics.attempt,
    summary: {},
    readAt: new Date().toISOString(),
    final: false,
    error: null,
  });
  assert.deepEqual((await env.launcher.runs.get(runId))!.metrics, finalMetrics);
});

test('Vertex refuses batch prediction for the tuned model: its requests go to the endpoint online, part by part over several deliveries, a lost event and a 429, and score as batch would', async () => {
  // A budget of 0 ms: every delivery writes one part and hands over, as a long evaluation would at 420 s.
  const env = await setup({ onlineBudgetMs: 0 });
  env.sim.control.refuseBatchFor('projects/');
  // The base model's batch job sticks in the queue: the poller resubmits it (slowly) while the tuned model is asked online.
  env.sim.control.stickNextBatchJobs(1, { modelIncludes: 'publishers/' });
  const { runId } = await handleLaunch(envelope(launch({ experiment: 'online-eval' })), env.launcher);
  await tickUntil(env, runId, 'SUCCEEDED');
  assert.equal((await handleRunEvent(envelope(lastEvent(env.events.published, 'SUCCEEDED')), env.completion)).status, 'evaluating');
  const evaluating = (await env.launcher.runs.get(runId))!;
  const tuned = evaluating.evaluation!.jobs.tuned;
  assert.equal(tuned.mode, 'online');
  assert.match(tuned.online!.refusal, /Do not support model/);
  assert.equal(tuned.online!.target, evaluating.tunedModel!.endpoint);
  assert.deepEqual(
    env.sim.control.batchJobs().map((job) => job.model),
    ['publishers/google/models/gemini-3.5-flash-lite'],
    'only the base model runs as a batch job',
  );
  const tracked: number[] = [];
  env.sim.control.delayNextCalls(1, 1500, { method: 'POST', pathIncludes: 'batchPredictionJobs' });

  // Twice 429 on the first request: one retry inside the call, then the delivery fails and is redelivered.
  env.sim.control.failNextCalls(2, 429, { pathIncludes: ':generateContent' });
  // The first EVALUATING event is lost (dead-lettered, say): the poller must notice the quiet track and ask again.
  const lost = lastEvent(env.events.published, 'EVALUATING').eventId;
  const delivered = new Set<string>([lost]);
  let redeliveries = 0;
  const observe = async () => void tracked.push((await env.launcher.runs.get(runId))!.evaluation!.jobs.tuned.online!.partsDone);
  const deliverPending = async () => {
    for (const event of env.events.published.filter((e) => e.to === 'EVALUATING' && !delivered.has(e.eventId))) {
      try {
        await handleRunEvent(envelope(event, event.eventId), env.completion);
        await observe();
        delivered.add(event.eventId);
      } catch (error) {
        assert.ok(error instanceof RetryableCompletionError, String(error));
        redeliveries += 1;
      }
    }
  };
  for (let i = 0; i < 30; i++) {
    const run = (await env.launcher.runs.get(runId))!;
    if (run.state !== 'EVALUATING') break;
    env.clock.advance(5 * MINUTE);
    // Deliveries and ticks overlap, as they do deployed.
    await Promise.all([deliverPending(), runTick(env.poller)]);
    await observe();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(redeliveries, 1, 'the 429s outlived the retry once');
  assert.deepEqual(
    tracked,
    [...tracked].sort((a, b) => a - b),
    `online progress never goes back, whatever the poller does to the base job: ${tracked.join(', ')}`,
  );
  assert.ok(
    env.events.published.some((e) => e.to === 'EVALUATING' && e.eventId !== lost && /stalled/.test(e.reason)),
    'the poller asked again after the lost event',
  );
  const scoring = (await env.launcher.runs.get(runId))!;
  assert.equal(scoring.state, 'SCORING');
  assert.deepEqual(scoring.evaluation!.jobs.tuned.online!.partsDone, 4);
  assert.equal(scoring.evaluation!.jobs.base.attempts.length, 2, 'the stuck base batch job was resubmitted');
  const parts: string[] = [];
  for await (const uri of objects.list(`${scoring.evaluation!.jobs.tuned.outputDirectory}/`)) parts.push(uri.split('/').at(-1)!);
  assert.deepEqual(parts, ['part-00000.jsonl', 'part-00001.jsonl', 'part-00002.jsonl', 'part-00003.jsonl']);
  assert.deepEqual(Object.values(env.sim.control.onlineCalls()), [4], 'each request answered once: no part was sent twice');

  assert.equal((await handleRunEvent(envelope(lastEvent(env.events.published, 'SCORING')), env.completion)).status, 'completed');
  const result = (await env.launcher.runs.get(runId))!.evaluation!.result!;
  // The same toy models as the batch test, so the same scores, now computed from the online parts.
  assert.deepEqual(
    [result.n, result.tuned.exactMatch, result.tuned.jsonValid, result.tuned.blocked, result.base.exactMatch],
    [4, 0.5, 0.75, 1, 0],
  );
  assert.deepEqual(result.headline, { base: 0, tuned: 0.5, delta: 0.5 });
});

test("evaluation at a named checkpoint: the tuned side is asked at that checkpoint's own endpoint, online; a checkpoint the job did not keep gives no evaluation, saying which it kept", async () => {
  const env = await setup();
  const { runId } = await handleLaunch(
    envelope(
      launch({ experiment: 'checkpoint-eval', evaluation: { datasetUri: 'gs://sft-datasets/d1/heldout.jsonl', checkpointId: '1' } }),
    ),
    env.launcher,
  );
  await tickUntil(env, runId, 'SUCCEEDED');
  const succeeded = (await env.launcher.runs.get(runId))!;
  const [first, last] = succeeded.tunedModel!.checkpoints!;
  assert.equal(last!.endpoint, succeeded.tunedModel!.endpoint, "the default (last) checkpoint is the tuned model's endpoint");
  assert.notEqual(first!.endpoint, succeeded.tunedModel!.endpoint, 'an intermediate checkpoint has an endpoint of its own');
  assert.equal((await handleRunEvent(envelope(lastEvent(env.events.published, 'SUCCEEDED')), env.completion)).status, 'evaluating');
  const evaluating = (await env.launcher.runs.get(runId))!;
  assert.equal(evaluating.evaluation?.checkpointId, '1');
  assert.equal(evaluating.evaluation?.jobs.tuned.mode, 'online');
  assert.equal(evaluating.evaluation?.jobs.tuned.online?.target, first!.endpoint);
  assert.match(evaluating.history.at(-1)!.reason, /the tuned model at checkpoint 1, online at its endpoint/);
  assert.deepEqual(
    env.sim.control.batchJobs().map((job) => job.model),
    ['publishers/google/models/gemini-3.5-flash-lite'],
  );
  // The online parts are sent by the completion handler on the EVALUATING event; the base batch job by the poller's ticks.
  await handleRunEvent(envelope(lastEvent(env.events.published, 'EVALUATING')), env.completion);
  const run = await tickUntil(env, runId, 'SCORING');
  assert.equal(run.evaluation!.jobs.tuned.online!.partsDone, run.evaluation!.examples);
  const checkpointEndpoint = first!.endpoint!.split('/').slice(-2).join('/');
  assert.equal(env.sim.control.onlineCalls()[checkpointEndpoint], run.evaluation!.examples);
  assert.equal((await handleRunEvent(envelope(lastEvent(env.events.published, 'SCORING')), env.completion)).status, 'completed');

  const other = await handleLaunch(
    envelope(
      launch({ experiment: 'no-such-checkpoint', evaluation: { datasetUri: 'gs://sft-datasets/d1/heldout.jsonl', checkpointId: '7' } }),
    ),
    env.launcher,
  );
  await tickUntil(env, other.runId, 'SUCCEEDED');
  await handleRunEvent(envelope(lastEvent(env.events.published, 'SUCCEEDED')), env.completion);
  const refused = (await env.launcher.runs.get(other.runId))!;
  assert.equal(refused.state, 'COMPLETED');
  assert.equal(refused.evaluation, null);
  assert.match(refused.history.at(-1)!.reason, /names checkpoint 7, and the job kept 1, 2/);
});

test('a classification task (short labels, no metric asked): accuracy is the headline, with per-label F1 and a confusion table for each model', async () => {
  const env = await setup();
  const labelled = (q: string, a: string) => example(q, a);
  const runId = await launchEvaluated(
    env,
    'labels',
    [
      labelled('I was charged twice', 'billing'),
      labelled('Refund my order please', 'billing'),
      labelled('The app crashes on start', 'bug'),
      labelled('Settings screen is blank', 'bug'),
      labelled('How do I change my email', 'account'),
      labelled('Reset my password', 'account'),
    ],
    [
      labelled('I was charged twice', 'billing'),
      labelled('Refund my order please', 'billing'),
      labelled('The app crashes on start', 'bug'),
      labelled('Settings screen is blank', 'bug'),
      labelled('Reset my password', 'account'),
      labelled('I was charged twice for my password', 'account'),
    ],
  );
  await tickUntil(env, runId, 'SCORING');
  await handleRunEvent(envelope(lastEvent(env.events.published, 'SCORING')), env.completion);
  const result = (await env.launcher.runs.get(runId))!.evaluation!.result!;
  // The launch named no metric: the references are labels, so the headline is (normalised) accuracy.
  assert.equal(result.metricSource, 'data');
  assert.equal(result.metric, 'normalized_match');
  const tuned = result.classification!.tuned!;
  // The tuned toy answers the nearest training example's label: five right; "I was charged twice for my password" gets billing.
  assert.equal(tuned.accuracy, Number((5 / 6).toFixed(6)));
  assert.deepEqual(
    tuned.labels.map((item) => [item.label, item.support]),
    [
      ['account', 2],
      ['billing', 2],
      ['bug', 2],
    ],
  );
  assert.equal(tuned.confusion.account!.account, 1);
  assert.equal(
    Object.values(tuned.confusion).reduce((sum, row) => sum + Object.values(row).reduce((a, b) => a + b, 0), 0),
    6,
  );
  // The base toy echoes the question: no label right.
  assert.equal(result.classification!.base!.accuracy, 0);
  assert.equal(result.classification!.base!.confusion.billing!['(other)'], 2);
});

test('pickBest: when another model scores better than the tuned one, the run records it as best and, asked to, gives it as its result', async () => {
  const env = await setup();
  // References that repeat the question: the base toy (which echoes) beats the tuned one (which answers from training).
  await objects.write(
    'gs://sft-datasets/echo/heldout.jsonl',
    jsonl([example('Can I ship to Canada', 'Can I ship to Canada'), example('How do I change my password', 'How do I change my password')]),
  );
  const { runId } = await handleLaunch(
    envelope(launch({ experiment: 'pick-best', evaluation: { datasetUri: 'gs://sft-datasets/echo/heldout.jsonl', pickBest: true } })),
    env.launcher,
  );
  await tickUntil(env, runId, 'SUCCEEDED');
  await handleRunEvent(envelope(lastEvent(env.events.published, 'SUCCEEDED')), env.completion);
  await tickUntil(env, runId, 'SCORING');
  await handleRunEvent(envelope(lastEvent(env.events.published, 'SCORING')), env.completion);
  const run = (await env.launcher.runs.get(runId))!;
  const result = run.evaluation!.result!;
  assert.equal(result.metric, 'rouge_l', 'free text, no metric asked: ROUGE-L');
  assert.equal(result.best, 'base');
  assert.deepEqual(result.selected, { arm: 'base', model: 'gemini-3.5-flash-lite' });
  assert.match(run.history.at(-1)!.reason, /the base model scored best and is the run's result \(pickBest\)/);
  assert.equal(summarizeRun(run, new Date().toISOString()).resultModel, 'gemini-3.5-flash-lite');
});

test('a function-calling task (no metric asked): the tool-call metrics, with key-value match as the headline, per model and per example', async () => {
  const env = await setup();
  const tools = [
    {
      functionDeclarations: [
        { name: 'get_weather', parameters: { type: 'OBJECT', properties: { city: { type: 'STRING' } } } },
        { name: 'book_table', parameters: { type: 'OBJECT', properties: { people: { type: 'INTEGER' }, time: { type: 'STRING' } } } },
      ],
    },
  ];
  const calling = (q: string, name: string, args: Record<string, unknown>) => ({
    tools,
    contents: [turn('user', q), { role: 'model', parts: [{ functionCall: { name, args } }] }],
  });
  const runId = await launchEvaluated(
    env,
    'calls',
    [
      calling('What is the weather in Paris', 'get_weather', { city: 'Paris' }),
      calling('Book a table for 4 at 8pm', 'book_table', { people: 4, time: '20:00' }),
    ],
    [
      calling('What is the weather in Paris', 'get_weather', { city: 'Paris' }),
      // The toy tuned model answers with the nearest training call: the right function, Paris instead of Rome.
      calling('What is the weather in Rome', 'get_weather', { city: 'Rome' }),
      calling('Book a table for 4 at 8pm', 'book_table', { people: 4, time: '20:00' }),
    ],
  );
  const evaluating = (await env.launcher.runs.get(runId))!;
  assert.equal(evaluating.evaluation!.examples, 3, 'held-out function calls are references, not skipped');
  await tickUntil(env, runId, 'SCORING');
  await handleRunEvent(envelope(lastEvent(env.events.published, 'SCORING')), env.completion);
  const result = (await env.launcher.runs.get(runId))!.evaluation!.result!;
  assert.equal(result.metric, 'tool_parameter_kv_match');
  assert.equal(result.metricSource, 'data');
  assert.equal(result.tuned.toolCallValid, 1);
  assert.equal(result.tuned.toolNameMatch, 1);
  assert.equal(result.tuned.toolParameterKeyMatch, 1);
  assert.equal(result.tuned.toolParameterKvMatch, Number((2 / 3).toFixed(6)));
  // The base toy echoes the question in text: no call at all.
  assert.equal(result.base.toolCallValid, 0);
  assert.deepEqual(result.headline, { base: 0, tuned: Number((2 / 3).toFixed(6)), delta: Number((2 / 3).toFixed(6)) });
  const examples = await env.db.collection(`runs/${runId}/examples`).orderBy('index').get();
  const rows = examples.docs.map((doc) => exampleComparisonSchema.parse(doc.data()));
  assert.deepEqual(
    rows.map((row) => row.scores.tuned!.toolCalls?.toolParameterKvMatch),
    [1, 0, 1],
  );
  assert.equal(JSON.parse(rows[1]!.answers.tuned!).tool_calls[0].arguments.city, 'Paris');
  assert.deepEqual(
    rows.map((row) => row.verdict),
    ['better', 'same', 'better'],
  );
});

test('the judge (opt-in): tuned against base on each example through evaluateInstances, a win rate and reasons; a 429 mid-way resumes where it stopped', async () => {
  const env = await setup();
  const answers = [
    ['Do you ship to Canada', 'Yes, we ship to Canada within 5 days.'],
    ['How long do refunds take', 'Refunds reach your card within 10 days.'],
    ['Can I change my delivery address', 'Yes, until the parcel leaves our warehouse.'],
    ['Do you sell gift cards', 'Yes, from 10 to 500 euros.'],
  ];
  // Held out: the same questions (the tuned toy answers them as trained), and one the base toy's echo wins.
  const runId = await launchEvaluated(
    env,
    'judge',
    answers.map(([q, a]) => example(q!, a!)),
    [...answers.map(([q, a]) => example(q!, a!)), example('Say exactly: hello there', 'Say exactly: hello there')],
    { judge: { maxExamples: 4 }, metrics: ['bleu', 'rouge_l'] },
  );
  await tickUntil(env, runId, 'SCORING');
  // The judge's quota runs out after two calls (both in-flight calls then fail their retry too): the delivery fails transiently.
  const judgeCalls = () => env.sim.control.contractCalls().filter((c) => c.path.endsWith(':evaluateInstances')).length;
  env.sim.control.failNextCalls(4, 429, { pathIncludes: ':evaluateInstances', after: 2 });
  const scoring = lastEvent(env.events.published, 'SCORING');
  await assert.rejects(handleRunEvent(envelope(scoring), env.completion), RetryableCompletionError);
  const judgedBefore = (await env.db.collection(`runs/${runId}/examples`).get()).docs.filter((doc) => doc.get('judge')).length;
  assert.equal(judgedBefore, 2, 'the two judgments made before the 429s were kept');
  const callsBefore = judgeCalls();
  await handleRunEvent(envelope(scoring), env.completion);
  const run = (await env.launcher.runs.get(runId))!;
  assert.equal(run.state, 'COMPLETED');
  // The measures the request is about, the first its headline.
  assert.equal(run.evaluation!.result!.metric, 'bleu');
  assert.equal(run.evaluation!.result!.metricSource, 'request');
  assert.deepEqual(run.evaluation!.result!.metrics, ['bleu', 'rouge_l']);
  const judge = run.evaluation!.result!.judge!;
  // Four examples asked (maxExamples): the tuned toy's trained answers beat the base toy's echoes.
  assert.deepEqual(judge, {
    model: 'default',
    judged: 4,
    tunedWins: 4,
    baseWins: 0,
    ties: 0,
    tunedWinRate: 1,
    baseWinRate: 0,
    undecided: 0,
  });
  // The redelivery asked only about the examples not judged before the 429s.
  assert.equal(judgeCalls() - callsBefore, 4 - judgedBefore);
  const rows = (await env.db.collection(`runs/${runId}/examples`).orderBy('index').get()).docs.map((doc) =>
    exampleComparisonSchema.parse(doc.data()),
  );
  assert.deepEqual(
    rows.map((row) => row.judge?.winner ?? null),
    ['tuned', 'tuned', 'tuned', 'tuned', null],
    'the fifth example is past maxExamples',
  );
  assert.match(rows[0]!.judge!.explanation, /toy judge \(not a model\)/);
  assert.match(run.history.at(-1)!.reason, /the judge preferred tuned on 4, base on 0, neither on 0 of 4/);
});

test("the judge's budget per delivery: past it, the delivery hands over (a transient end) and the next one judges the rest", async () => {
  const env = await setup({ judgeBudgetMs: 0 });
  const pairs = [
    ['Do you ship to Canada', 'Yes, we ship to Canada.'],
    ['How long do refunds take', 'Ten days.'],
    ['Can I pay by card', 'Yes, by any card.'],
    ['Do you sell gift cards', 'Yes, from 10 euros.'],
  ];
  const examples = pairs.map(([q, a]) => example(q!, a!));
  const runId = await launchEvaluated(env, 'judged-in-turns', examples, examples, { judge: { maxExamples: 10 } });
  await tickUntil(env, runId, 'SCORING');
  const scoring = lastEvent(env.events.published, 'SCORING');
  // A budget of 0: each delivery makes one call per worker (2), then hands over.
  await assert.rejects(handleRunEvent(envelope(scoring), env.completion), RetryableCompletionError);
  assert.equal((await env.db.collection(`runs/${runId}/examples`).get()).docs.filter((doc) => doc.get('judge')).length, 2);
  // The redelivery judges the other two: no call left to start past the budget, so it completes.
  await handleRunEvent(envelope(scoring), env.completion);
  const run = (await env.launcher.runs.get(runId))!;
  assert.equal(run.state, 'COMPLETED');
  assert.equal(run.evaluation!.result!.judge!.judged, 4);
  assert.equal(env.sim.control.contractCalls().filter((c) => c.path.endsWith(':evaluateInstances')).length, 4, 'no example judged twice');
});

test('a judge the service refuses (a bad judge model) is recorded as the reason; the scores stand', async () => {
  const env = await setup();
  const examples = [example('Do you ship to Canada', 'Yes.')];
  const runId = await launchEvaluated(env, 'judged-badly', examples, examples, { judge: { maxExamples: 10 } });
  await tickUntil(env, runId, 'SCORING');
  env.sim.control.failNextCalls(1, 400, { pathIncludes: ':evaluateInstances' });
  await handleRunEvent(envelope(lastEvent(env.events.published, 'SCORING')), env.completion);
  const result = (await env.launcher.runs.get(runId))!.evaluation!.result!;
  assert.equal(result.judge, undefined);
  assert.match(result.judgeFailure!, /the judge failed/);
  assert.equal(result.tuned.exactMatch, 1);
});

test('every checkpoint (checkpoints: "all"): each intermediate one is asked online at its endpoint on the same examples, and with pickBest the best becomes the result', async () => {
  const env = await setup();
  // The toy checkpoint after epoch 1 of 2 has seen the first half of these; the late third example
  // teaches a wrong answer to a held-out question, so the final model does worse than epoch 1.
  const runId = await launchEvaluated(
    env,
    'every-checkpoint',
    [
      example('Do you ship to Canada', 'Yes, we ship to Canada.'),
      example('How long do refunds take', 'Ten days.'),
      example('Do you ship to Canada today', 'Not today, sorry.'),
      example('Can I pay by card', 'Yes, by any card.'),
    ],
    [example('Do you ship to Canada today please', 'Yes, we ship to Canada.'), example('How long do refunds take', 'Ten days.')],
    { metric: 'exact_match', checkpoints: 'all', pickBest: true },
  );
  const evaluating = (await env.launcher.runs.get(runId))!;
  const [first] = evaluating.tunedModel!.checkpoints!;
  assert.deepEqual(Object.keys(evaluating.evaluation!.jobs).sort(), ['base', 'checkpoint-1', 'tuned']);
  assert.equal(evaluating.evaluation!.jobs['checkpoint-1']!.online!.target, first!.endpoint);
  assert.match(evaluating.history.at(-1)!.reason, /intermediate checkpoints 1 online at their endpoints/);
  await handleRunEvent(envelope(lastEvent(env.events.published, 'EVALUATING')), env.completion);
  await tickUntil(env, runId, 'SCORING');
  await handleRunEvent(envelope(lastEvent(env.events.published, 'SCORING')), env.completion);
  const run = (await env.launcher.runs.get(runId))!;
  const result = run.evaluation!.result!;
  assert.deepEqual(result.headline, { base: 0, tuned: 0.5, delta: 0.5, checkpoints: { 'checkpoint-1': 1 } });
  assert.equal(result.checkpoints!['checkpoint-1']!.n, 2);
  assert.equal(result.best, 'checkpoint-1');
  assert.deepEqual(result.selected, { arm: 'checkpoint-1', model: first!.endpoint });
  assert.match(run.history.at(-1)!.reason, /checkpoints 1: 1; best: checkpoint 1/);
  // Every example carries every model's answer, the checkpoint's among them.
  const rows = (await env.db.collection(`runs/${runId}/examples`).orderBy('index').get()).docs.map((doc) =>
    exampleComparisonSchema.parse(doc.data()),
  );
  assert.deepEqual(
    rows.map((row) => [row.answers['checkpoint-1'], row.answers.tuned]),
    [
      ['Yes, we ship to Canada.', 'Not today, sorry.'],
      ['Ten days.', 'Ten days.'],
    ],
  );
});
