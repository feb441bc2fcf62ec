import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { PubSub } from '@google-cloud/pubsub';
import { createFirestore, createRunStore } from '../../../adapters/firestore/run-store.ts';
import { createPollStore } from '../../../adapters/firestore/poll-store.ts';
import { createRunEventPublisher } from '../../../adapters/pubsub/run-events.ts';
import { createBatchService } from '../../../adapters/vertex/batch.ts';
import { createTuningService } from '../../../adapters/vertex/tuning.ts';
import { handleLaunch } from '../../../functions/launcher/handler.ts';
import { runTick, type PollerDeps } from '../../../functions/poller/tick.ts';
import { createLogger } from '../../../shared/log.ts';
import { runEventSchema, type RunEvent } from '../../../shared/runs/events.ts';
import { startVertexSimulator } from '../../../simulator/vertex/server.ts';
import { useEmulators } from '../../support/emulators.ts';
import { singleDatasetDeps } from '../../support/launcher.ts';

const emulators = useEmulators({ firestore: true, pubsub: true });
const quiet = createLogger('poller-test', { sink: { write: () => {} } });
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});
const MINUTE = 60_000;

/** Firestore, Pub/Sub, the simulator and one clock shared by the simulator, launcher and poller. */
async function setup() {
  const sim = await startVertexSimulator({ timing: { validationMs: MINUTE, queueMs: 2 * MINUTE, runMs: 5 * MINUTE } });
  const projectId = `${emulators.projectId}-${randomUUID().slice(0, 6)}`;
  const db = createFirestore(projectId);
  const pubsub = new PubSub({ projectId, apiEndpoint: emulators.pubsubHost, emulatorMode: true });
  const [topic] = await pubsub.createTopic('run-events');
  const [subscription] = await topic.createSubscription('completion');
  cleanups.push(() => sim.stop(), () => db.terminate(), () => pubsub.close());
  let offset = 0;
  const clock = {
    now: () => Date.now() + offset,
    advance(ms: number) {
      offset += ms;
      sim.control.advance(ms);
    },
  };
  const tuning = createTuningService({ project: 'sim-project', location: 'us-central1', baseUrl: sim.url, retries: 2, sleep: async () => {} });
  const launch = (experiment = 'exp') =>
    handleLaunch(
      {
        message: {
          messageId: randomUUID(),
          data: Buffer.from(JSON.stringify({ schemaVersion: 1, experiment, baseModel: 'gemini-2.5-flash', trainingDatasetUri: 'gs://sft-datasets/d/train.jsonl', source: 'test' })).toString('base64'),
        },
      },
      { runs: createRunStore(db), tuning, log: quiet, now: clock.now, leaseMs: MINUTE, ...singleDatasetDeps },
    );
  const deps: PollerDeps = {
    store: createPollStore(db),
    tuning,
    batch: createBatchService({ project: 'sim-project', location: 'us-central1', baseUrl: sim.url, retries: 2, sleep: async () => {} }),
    events: createRunEventPublisher(pubsub, 'run-events'),
    log: quiet,
    now: clock.now,
    policy: { stuckAfterMs: 10 * MINUTE, maxAttempts: 3, runningWarningMs: 24 * 60 * MINUTE },
    concurrency: 4,
    leaseMs: MINUTE,
  };
  const events = async (count: number): Promise<RunEvent[]> => {
    const received: RunEvent[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${received.length} of ${count} events arrived`)), 10_000);
      subscription.on('message', (message) => {
        message.ack();
        received.push(runEventSchema.parse(JSON.parse(message.data.toString())));
        if (received.length === count) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await subscription.close();
    return received.sort((a, b) => a.at.localeCompare(b.at));
  };
  return { sim, db, clock, launch, deps, runs: createRunStore(db), events };
}

test('queued → running → succeeded is recorded in order, with the tuned model, and each change is published', async () => {
  const { launch, deps, clock, runs, events } = await setup();
  const { runId } = await launch();
  await runTick(deps);
  clock.advance(4 * MINUTE);
  await runTick(deps);
  const again = await runTick(deps);
  assert.equal(again.updated, 0, 'a tick that finds nothing new writes nothing');
  clock.advance(6 * MINUTE);
  await runTick(deps);
  const run = await runs.get(runId);
  assert.deepEqual(run?.history.map((h) => h.to), ['ACCEPTED', 'SUBMITTED', 'PENDING', 'RUNNING', 'SUCCEEDED']);
  assert.match(run?.tunedModel?.model ?? '', /\/models\/\d+@1$/);
  assert.ok(run?.attempts[0]?.startedAt && run.attempts[0].endedAt);
  const published = await events(3);
  assert.deepEqual(published.map((e) => `${e.from}→${e.to}`), ['SUBMITTED→PENDING', 'PENDING→RUNNING', 'RUNNING→SUCCEEDED']);
  assert.ok(published.every((e) => e.runId === runId && e.attempt === 1));
});

test('a job stuck in the queue past the threshold is cancelled and resubmitted; the run still succeeds', async () => {
  const { sim, launch, deps, clock, runs } = await setup();
  sim.control.stickNextJobs(1);
  const { runId } = await launch();
  await runTick(deps);
  clock.advance(11 * MINUTE);
  const tick = await runTick(deps);
  assert.equal(tick.resubmitted, 1);
  const resubmitted = await runs.get(runId);
  assert.equal(resubmitted?.state, 'SUBMITTED');
  assert.equal(resubmitted?.attempts.length, 2);
  assert.equal(resubmitted?.attempts[0]?.endState, 'JOB_STATE_CANCELLED');
  assert.match(resubmitted?.attempts[1]?.reason ?? '', /stuck in Vertex's queue for 1\d min \(TUNING_JOB_STATE_WAITING_FOR_CAPACITY\)/);
  const [first, second] = sim.control.jobs();
  assert.equal(second?.labels.sft_attempt, '2');
  const firstNow = await deps.tuning.get(first!.name);
  assert.equal(firstNow.state, 'JOB_STATE_CANCELLED');
  clock.advance(10 * MINUTE);
  await runTick(deps);
  assert.equal((await runs.get(runId))?.state, 'SUCCEEDED');
});

test('stuck on every attempt: FAILED with STUCK_IN_QUEUE after MAX_ATTEMPTS, with growing waits', async () => {
  const { sim, launch, deps, clock, runs } = await setup();
  sim.control.stickNextJobs(10);
  const { runId } = await launch();
  const attemptsAt: number[] = [];
  for (let minute = 0; minute < 120 && (await runs.get(runId))?.state !== 'FAILED'; minute += 5) {
    await runTick(deps);
    attemptsAt.push((await runs.get(runId))!.attempts.length);
    clock.advance(5 * MINUTE);
  }
  const run = await runs.get(runId);
  assert.equal(run?.state, 'FAILED');
  assert.equal(run?.error?.code, 'STUCK_IN_QUEUE');
  assert.equal(run?.attempts.length, 3);
  assert.equal(sim.control.createdCount(), 3);
  // The second attempt waited longer than the first before being given up on (10, 20, 40 minutes).
  const firstResubmitTick = attemptsAt.indexOf(2);
  const secondResubmitTick = attemptsAt.indexOf(3);
  assert.ok(secondResubmitTick - firstResubmitTick > firstResubmitTick, `attempts per tick: ${attemptsAt.join(',')}`);
});

test('a job that failed on its dataset is not resubmitted; one that failed for capacity is', async () => {
  const { sim, launch, deps, clock, runs } = await setup();
  sim.control.failNextJobs(1, { code: 3, message: 'Dataset validation failed: line 4 contents[1].role: consecutive turns' });
  const bad = await launch('bad-data');
  clock.advance(4 * MINUTE);
  await runTick(deps);
  const failed = await runs.get(bad.runId);
  assert.equal(failed?.state, 'FAILED');
  assert.equal(failed?.error?.kind, 'permanent');
  assert.equal(sim.control.createdCount(), 1);

  sim.control.failNextJobs(1, { code: 8, message: 'Resource exhausted: no capacity in region' });
  const unlucky = await launch('capacity');
  clock.advance(4 * MINUTE);
  const tick = await runTick(deps);
  assert.equal(tick.resubmitted, 1);
  clock.advance(10 * MINUTE);
  await runTick(deps);
  assert.equal((await runs.get(unlucky.runId))?.state, 'SUCCEEDED');
});

test('429s from Vertex leave the run as it was; the next tick carries on', async () => {
  const { sim, launch, deps, clock, runs } = await setup();
  const { runId } = await launch();
  clock.advance(4 * MINUTE);
  sim.control.failNextCalls(3, 429, { method: 'GET' });
  const throttled = await runTick(deps);
  assert.equal(throttled.vertexErrors, 1);
  assert.equal((await runs.get(runId))?.state, 'SUBMITTED');
  const next = await runTick(deps);
  assert.equal(next.vertexErrors, 0);
  assert.equal((await runs.get(runId))?.state, 'RUNNING');
});

test('five overlapping ticks resubmit a stuck job exactly once', async () => {
  const { sim, launch, deps, clock, runs } = await setup();
  sim.control.stickNextJobs(1);
  const { runId } = await launch();
  clock.advance(11 * MINUTE);
  const ticks = await Promise.all(Array.from({ length: 5 }, () => runTick(deps)));
  assert.equal(ticks.reduce((sum, t) => sum + t.resubmitted, 0), 1);
  assert.equal(sim.control.createdCount(), 2);
  assert.equal((await runs.get(runId))?.attempts.length, 2);
});

test('a poller killed in the middle of a resubmission: the next tick adopts the job it made, nothing doubles', async () => {
  const { sim, launch, deps, clock, runs } = await setup();
  sim.control.stickNextJobs(1);
  const { runId } = await launch();
  clock.advance(11 * MINUTE);
  // This poller's process dies right after Vertex created the new job: its call never returns.
  const dying = { ...deps, tuning: { ...deps.tuning, create: async (spec: Parameters<PollerDeps['tuning']['create']>[0]) => (await deps.tuning.create(spec), new Promise<never>(() => {})) } };
  void runTick(dying);
  while (sim.control.createdCount() < 2) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal((await runs.get(runId))?.attempts.length, 1, 'nothing half-written');
  clock.advance(2 * MINUTE); // the dead poller's lease expires
  const tick = await runTick(deps);
  assert.equal(tick.resubmitted, 1);
  assert.equal(sim.control.createdCount(), 2, 'the job the dead poller made was adopted, not made again');
  const run = await runs.get(runId);
  assert.equal(run?.currentJobName, sim.control.jobs()[1]?.name);
});

test('a state change whose event could not be published is published by the next tick, nothing lost', async () => {
  const { launch, deps, clock, runs, events } = await setup();
  const { runId } = await launch();
  let failures = 1;
  // Pub/Sub is down for the first publish: the real publisher behind a switch.
  const flaky = { ...deps, events: { publish: async (event: RunEvent) => (failures-- > 0 ? Promise.reject(Object.assign(new Error('unavailable'), { code: 14 })) : deps.events.publish(event)) } };
  await runTick(flaky);
  assert.equal((await runs.get(runId))?.state, 'PENDING', 'the state change itself was written');
  assert.equal((await runs.get(runId))?.pendingEvents?.length, 1, 'its event waits in the outbox');
  clock.advance(4 * MINUTE);
  await runTick(flaky);
  const published = await events(2);
  assert.deepEqual(published.map((e) => e.to), ['PENDING', 'RUNNING']);
  assert.deepEqual((await runs.get(runId))?.pendingEvents, []);
});
