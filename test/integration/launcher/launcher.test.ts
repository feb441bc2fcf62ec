import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { listRuns, readRun } from '../../../adapters/firestore/run-reader.ts';
import { createFirestore, createRunStore } from '../../../adapters/firestore/run-store.ts';
import { createTuningService, type TuningService } from '../../../adapters/vertex/tuning.ts';
import { handleLaunch, RetryableLaunchError, type LauncherDeps } from '../../../functions/launcher/handler.ts';
import { RUN_ID_LABEL } from '../../../shared/runs/labels.ts';
import { SAME_MESSAGE_GRACE_MS } from '../../../shared/runs/lease.ts';
import { launchMessageSchema, runIdFor, type LaunchMessageInput } from '../../../shared/launch/schema.ts';
import { createLogger } from '../../../shared/log.ts';
import { runDocumentSchema } from '../../../shared/runs/schema.ts';
import { startVertexSimulator } from '../../../simulator/vertex/server.ts';
import { useEmulators } from '../../support/emulators.ts';
import { singleDatasetDeps } from '../../support/launcher.ts';

const emulators = useEmulators({ firestore: true });
const quiet = createLogger('launcher-test', { sink: { write: () => {} } });
const stops: (() => Promise<void>)[] = [];
after(async () => {
  for (const stop of stops) await stop();
});

/** A fresh project (Firestore namespace) and simulator for one test. */
async function setup(overrides: Partial<LauncherDeps> = {}) {
  const sim = await startVertexSimulator({ timing: { validationMs: 10, queueMs: 10_000, runMs: 10_000 } });
  const db = createFirestore(`${emulators.projectId}-${randomUUID().slice(0, 6)}`);
  stops.push(
    () => sim.stop(),
    () => db.terminate(),
  );
  const tuning = createTuningService({
    project: 'sim-project',
    location: 'us-central1',
    baseUrl: sim.url,
    retries: 2,
    sleep: async () => {},
  });
  const deps: LauncherDeps = {
    runs: createRunStore(db),
    tuning,
    log: quiet,
    now: Date.now,
    leaseMs: 60_000,
    ...singleDatasetDeps,
    ...overrides,
  };
  return { sim, db, deps, tuning };
}

const message = (overrides: Partial<LaunchMessageInput> = {}): LaunchMessageInput => ({
  schemaVersion: 1,
  experiment: 'support-tickets',
  baseModel: 'gemini-3.5-flash-lite',
  trainingDatasetUri: 'gs://sft-datasets/datasets/d1/train.jsonl',
  validationDatasetUri: 'gs://sft-datasets/datasets/d1/validation.jsonl',
  hyperParameters: { epochCount: 3, adapterSize: 4 },
  source: 'test',
  ...overrides,
});
const envelope = (payload: unknown, messageId = randomUUID()) => ({
  message: { messageId, data: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)).toString('base64') },
  subscription: 'projects/p/subscriptions/launcher',
});

/** Pub/Sub's at-least-once contract: a delivery that throws is delivered again, until acknowledged. */
async function deliverUntilAcked(deps: LauncherDeps, event: ReturnType<typeof envelope>, counter: { deliveries: number }) {
  for (let attempt = 1; ; attempt++) {
    counter.deliveries += 1;
    try {
      return await handleLaunch(event, deps);
    } catch (error) {
      if (attempt >= 20) throw error; // as a dead-letter policy would: never loop forever
      // As Pub/Sub's retry policy does: redeliver after a growing, jittered pause, not at once.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(2000, 50 * 2 ** attempt)));
    }
  }
}

test('a valid message creates one Vertex job and a SUBMITTED run that records it', async () => {
  const { sim, deps } = await setup();
  const outcome = await handleLaunch(envelope(message({ labels: { team: 'support' } })), deps);
  assert.equal(outcome.status, 'submitted');
  const run = await deps.runs.get(outcome.runId);
  assert.ok(run);
  runDocumentSchema.parse(run);
  assert.equal(run.state, 'SUBMITTED');
  assert.equal(run.attempts.length, 1);
  assert.equal(run.currentJobName, (outcome as { jobName: string }).jobName);
  assert.deepEqual(
    run.history.map((h) => h.to),
    ['ACCEPTED', 'SUBMITTED'],
  );
  const [job] = sim.control.jobs();
  assert.deepEqual(job?.labels, { team: 'support', [RUN_ID_LABEL]: outcome.runId, sft_attempt: '1' });
  assert.deepEqual(job?.body.supervisedTuningSpec, {
    trainingDatasetUri: 'gs://sft-datasets/datasets/d1/train.jsonl',
    validationDatasetUri: 'gs://sft-datasets/datasets/d1/validation.jsonl',
    hyperParameters: { epochCount: 3, adapterSize: 'ADAPTER_SIZE_FOUR' },
  });
});

test('method PREFERENCE creates a preference tuning job (preferenceOptimizationSpec, beta); a message without method stays supervised with its old run id', async () => {
  const { sim, deps } = await setup();
  const outcome = await handleLaunch(
    envelope(message({ experiment: 'prefs', method: 'PREFERENCE', hyperParameters: { epochCount: 1, beta: 0.1 } })),
    deps,
  );
  assert.equal(outcome.status, 'submitted');
  const [job] = sim.control.jobs();
  assert.equal(job?.body.supervisedTuningSpec, undefined);
  assert.deepEqual(job?.body.preferenceOptimizationSpec, {
    trainingDatasetUri: 'gs://sft-datasets/datasets/d1/train.jsonl',
    validationDatasetUri: 'gs://sft-datasets/datasets/d1/validation.jsonl',
    hyperParameters: { epochCount: 1, beta: 0.1 },
  });
  // The field is new: a message written before it keeps the run id it always had.
  const parsed = launchMessageSchema.parse(message());
  assert.equal(runIdFor(parsed), runIdFor({ ...parsed, method: 'SUPERVISED' }));
  assert.notEqual(runIdFor(parsed), runIdFor({ ...parsed, method: 'PREFERENCE' }));
  const betaAlone = await handleLaunch(envelope(message({ experiment: 'beta-alone', hyperParameters: { beta: 0.1 } })), deps);
  assert.equal(betaAlone.status, 'rejected');
  assert.match((await deps.runs.get(betaAlone.runId))?.rejection ?? '', /beta is a preference tuning setting/);
});

test("spending limits: over MAX_RUN_COST_USD, or past the monthly COST_BUDGET_USD summed from the month's runs, is REJECTED before any job; unknown cost only if allowed", async () => {
  const { sim, deps } = await setup({ costLimits: { maxRunUsd: 50, monthlyBudgetUsd: 100, allowUnknown: false } });
  const first = await handleLaunch(envelope(message({ experiment: 'cost-a', estimatedCostUsd: 45 })), deps);
  assert.equal(first.status, 'submitted');
  const second = await handleLaunch(envelope(message({ experiment: 'cost-b', estimatedCostUsd: 45 })), deps);
  assert.equal(second.status, 'submitted');
  const third = await handleLaunch(envelope(message({ experiment: 'cost-c', estimatedCostUsd: 20 })), deps);
  assert.equal(third.status, 'rejected');
  assert.match(
    (await deps.runs.get(third.runId))?.rejection ?? '',
    /\$20\.00 on top of \$90\.00 estimated this month is over COST_BUDGET_USD \$100\.00/,
  );
  const big = await handleLaunch(envelope(message({ experiment: 'cost-d', estimatedCostUsd: 60 })), deps);
  assert.match((await deps.runs.get(big.runId))?.rejection ?? '', /over MAX_RUN_COST_USD \$50\.00/);
  const unknown = await handleLaunch(envelope(message({ experiment: 'cost-e' })), deps);
  assert.match((await deps.runs.get(unknown.runId))?.rejection ?? '', /no cost estimate/);
  assert.equal(sim.control.createdCount(), 2, 'no job for a refused run');
  // A redelivery of an accepted run is not judged again, though the month now counts it.
  assert.notEqual((await handleLaunch(envelope(message({ experiment: 'cost-a', estimatedCostUsd: 45 })), deps)).status, 'rejected');
});

test('other apps read runs with the typed reader, by id and by state', async () => {
  const { deps, db } = await setup();
  const submitted = await handleLaunch(envelope(message({ experiment: 'reader-a' })), deps);
  const rejected = await handleLaunch(envelope(message({ experiment: 'reader-b', baseModel: 'gemini-2.0-flash-001' })), deps);
  assert.equal((await readRun(db, submitted.runId))?.state, 'SUBMITTED');
  assert.equal(await readRun(db, 'no-such-run'), null);
  assert.deepEqual(
    (await listRuns(db, { state: 'REJECTED' })).map((run) => run.runId),
    [rejected.runId],
  );
  assert.deepEqual(
    (await listRuns(db, { experiment: 'reader-a' })).map((run) => run.state),
    ['SUBMITTED'],
  );
});

test('a storm of 50 concurrent deliveries of one request ends with exactly one job', async () => {
  const { sim, deps, db } = await setup();
  const payload = message();
  const sameMessage = envelope(payload);
  const counter = { deliveries: 0 };
  // Half are redeliveries of one Pub/Sub message, half are re-publishes of the same request.
  const storm = Array.from({ length: 50 }, (_, i) => deliverUntilAcked(deps, i % 2 === 0 ? sameMessage : envelope(payload), counter));
  const outcomes = await Promise.all(storm);
  const runs = await db.collection('runs').get();
  console.log(`storm: ${counter.deliveries} deliveries, ${sim.control.createdCount()} Vertex jobs created, ${runs.size} run written`);
  assert.equal(sim.control.createdCount(), 1);
  assert.equal(runs.size, 1);
  assert.equal(outcomes.filter((o) => o.status === 'submitted').length, 1);
  assert.equal(runs.docs[0]!.get('state'), 'SUBMITTED');
});

test('5 concurrent deliveries each of 10 distinct requests give 10 jobs, one per run', async () => {
  const { sim, deps, db } = await setup();
  const counter = { deliveries: 0 };
  const events = Array.from({ length: 10 }, (_, i) => envelope(message({ experiment: `exp-${i}` })));
  await Promise.all(events.flatMap((event) => Array.from({ length: 5 }, () => deliverUntilAcked(deps, event, counter))));
  console.log(
    `10 requests × 5: ${counter.deliveries} deliveries, ${sim.control.createdCount()} jobs, ${(await db.collection('runs').get()).size} runs`,
  );
  assert.equal(sim.control.createdCount(), 10);
  const runIds = sim.control.jobs().map((job) => job.labels[RUN_ID_LABEL]);
  assert.equal(new Set(runIds).size, 10);
});

test('bad messages are recorded REJECTED with the reason and acknowledged, never retried or sent to Vertex', async () => {
  const { sim, deps } = await setup();
  const cases: [unknown, RegExp][] = [
    ['not json at all', /not JSON/],
    [{ ...message(), trainingDatasetUri: '/home/me/data.jsonl' }, /trainingDatasetUri/],
    [{ ...message(), schemaVersion: 2 }, /schemaVersion/],
    [message({ baseModel: 'gemini-2.5-pro' }), /gemini-2\.5-pro retired on 2026-10-16.*use gemini-3\.5-flash,/],
    [message({ baseModel: 'gemini-9-ultra', hyperParameters: { adapterSize: 16 } }), /adapter size 16/],
    [message({ estimatedCostUsd: 120, maxEstimatedCostUsd: 50 }), /over the budget/],
  ];
  for (const [payload, reason] of cases) {
    const outcome = await handleLaunch(envelope(payload), deps);
    assert.equal(outcome.status, 'rejected');
    const run = await deps.runs.get(outcome.runId);
    assert.equal(run?.state, 'REJECTED');
    assert.match(run?.rejection ?? '', reason);
  }
  const again = await handleLaunch(envelope(message({ baseModel: 'gemini-2.5-pro' })), deps);
  assert.equal(again.status, 'rejected', 'a re-sent bad message is rejected again without error');
  assert.equal(sim.control.createdCount(), 0);
});

test('transient Vertex errors are retried inside the call, then fail the delivery; the redelivery submits once', async () => {
  const { sim, deps } = await setup();
  sim.control.failNextCalls(4, 503, { method: 'POST' });
  const event = envelope(message());
  await assert.rejects(handleLaunch(event, deps), RetryableLaunchError);
  const waiting = await deps.runs.get(runIdFor(launchMessageSchema.parse(message())));
  assert.equal(waiting?.state, 'ACCEPTED');
  assert.equal(waiting?.error?.kind, 'transient');
  assert.equal(waiting?.error?.httpStatus, 503);
  const outcome = await handleLaunch(event, deps);
  assert.equal(outcome.status, 'submitted');
  assert.equal(sim.control.createdCount(), 1);
  assert.equal((await deps.runs.get(outcome.runId))?.error, null);
});

test('a permanent Vertex error is recorded once as FAILED and not retried', async () => {
  const { sim, deps } = await setup();
  sim.control.failNextCalls(1, 403, { method: 'POST' });
  const event = envelope(message());
  const outcome = await handleLaunch(event, deps);
  assert.equal(outcome.status, 'failed');
  const run = await deps.runs.get(outcome.runId);
  assert.equal(run?.state, 'FAILED');
  assert.deepEqual([run?.error?.kind, run?.error?.httpStatus], ['permanent', 403]);
  assert.equal((await handleLaunch(event, deps)).status, 'duplicate');
  assert.equal(sim.control.createdCount(), 0);
});

test('a delivery that dies after creating the job: the redelivery adopts that job instead of creating another', async () => {
  const { sim, deps, tuning } = await setup();
  // The first delivery's process "dies" right after Vertex created the job: its call never returns.
  const dying: TuningService = { ...tuning, create: async (spec) => (await tuning.create(spec), new Promise<never>(() => {})) };
  const event = envelope(message());
  void handleLaunch(event, { ...deps, tuning: dying });
  while (sim.control.createdCount() === 0) await new Promise((resolve) => setTimeout(resolve, 20));
  // The same message again at once: it waits out the same-message window, then takes the run over and adopts the job.
  let offset = 0;
  const waited: number[] = [];
  const outcome = await handleLaunch(event, {
    ...deps,
    now: () => Date.now() + offset,
    sleep: async (ms) => void (waited.push(ms), (offset += ms)),
  });
  assert.ok(waited.length > 0 && waited.reduce((a, b) => a + b, 0) <= SAME_MESSAGE_GRACE_MS + 1000, `waited ${waited.join(', ')} ms`);
  assert.equal(outcome.status, 'adopted');
  assert.equal(sim.control.createdCount(), 1);
  const run = await deps.runs.get(outcome.runId);
  assert.equal(run?.state, 'SUBMITTED');
  assert.equal(run?.currentJobName, sim.control.jobs()[0]?.name);
});

test('poison messages Firestore could not store as sent become REJECTED runs on the first delivery, with a bounded copy', async () => {
  const { deps, db, sim } = await setup();
  let deep: unknown = 'bottom';
  for (let i = 0; i < 25; i++) deep = { nested: deep };
  const poisons: [string, string][] = [
    ['arrays of arrays', JSON.stringify([[1, 2], [3]])],
    ['a __name__ key', JSON.stringify({ __name__: 'x', schemaVersion: 1 })],
    ['an empty key', JSON.stringify({ '': 1, experiment: 'e' })],
    ['nesting 25 levels deep', JSON.stringify({ schemaVersion: 1, labels: deep })],
    ['a 1.5 MB body', JSON.stringify({ schemaVersion: 1, experiment: 'big', source: 'x'.repeat(1_500_000) })],
    ['a 1.5 MB dataset URI', JSON.stringify(message({ trainingDatasetUri: `gs://bucket/${'a'.repeat(1_500_000)}` }))],
    [
      '10,000 bad labels',
      JSON.stringify(message({ labels: Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`Bad Key ${i}`, 'v'])) })),
    ],
  ];
  for (const [what, body] of poisons) {
    const event = envelope(body);
    const outcome = await handleLaunch(event, deps);
    assert.equal(outcome.status, 'rejected', what);
    const run = await readRun(db, outcome.runId);
    assert.equal(run?.state, 'REJECTED', `${what}: a run document exists`);
    assert.ok(run?.rejection && run.rejection.length <= 2000, `${what}: a bounded reason`);
    assert.equal(run?.rawRequest?.messageId, event.message.messageId, `${what}: points at the raw message`);
    assert.equal(run?.rawRequest?.bytes, Buffer.byteLength(body), what);
    assert.ok((run?.rawRequest?.preview.length ?? Infinity) <= 4096, `${what}: a bounded copy`);
  }
  assert.equal(sim.control.createdCount(), 0, 'nothing reached Vertex');
});

test('a launch naming a dataset outside the allowed locations is REJECTED before anything runs, evaluation data included', async () => {
  const { deps, db, sim } = await setup({ allowedDatasetPrefixes: ['gs://sft-datasets/'] });
  const elsewhere = await handleLaunch(envelope(message({ trainingDatasetUri: 'gs://another-team/private.jsonl' })), deps);
  assert.equal(elsewhere.status, 'rejected');
  assert.match((await readRun(db, elsewhere.runId))?.rejection ?? '', /outside the locations this pipeline may read/);
  const evaluation = await handleLaunch(
    envelope(message({ evaluation: { datasetUri: 'gs://sft-raw/incoming/held-out.jsonl', metric: 'exact_match' } })),
    deps,
  );
  assert.equal(evaluation.status, 'rejected');
  assert.match((await readRun(db, evaluation.runId))?.rejection ?? '', /evaluation dataset gs:\/\/sft-raw/);
  assert.equal(sim.control.createdCount(), 0, 'no job for either');
  assert.equal((await handleLaunch(envelope(message()), deps)).status, 'submitted', 'the datasets bucket is fine');
});
