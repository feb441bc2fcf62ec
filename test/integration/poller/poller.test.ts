import { summarizeRun } from '../../../shared/status/api.ts';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { PubSub } from '@google-cloud/pubsub';
import { createFirestore, createRunStore } from '../../../adapters/firestore/run-store.ts';
import { createPollStore } from '../../../adapters/firestore/poll-store.ts';
import { createAdmissionStore } from '../../../adapters/firestore/admission-store.ts';
import { createLaunchPublisher } from '../../../adapters/pubsub/launch-publisher.ts';
import { createRunEventPublisher } from '../../../adapters/pubsub/run-events.ts';
import { createBatchService } from '../../../adapters/vertex/batch.ts';
import { createTuningService } from '../../../adapters/vertex/tuning.ts';
import { handleLaunch } from '../../../functions/launcher/handler.ts';
import { newRun } from '../../../shared/launch/decide.ts';
import { ATTEMPT_LABEL, RUN_ID_LABEL } from '../../../shared/runs/labels.ts';
import { applyTransition } from '../../../shared/runs/transitions.ts';
import { launchMessageSchema } from '../../../shared/launch/schema.ts';
import { runTick, type PollerDeps } from '../../../functions/poller/tick.ts';
import { createLogger } from '../../../shared/log.ts';
import { runEventSchema, type RunEvent } from '../../../shared/runs/events.ts';
import { startVertexSimulator } from '../../../simulator/vertex/server.ts';
import { useEmulators } from '../../support/emulators.ts';
import { singleDatasetDeps } from '../../support/launcher.ts';
import { simulatorClock } from '../../support/clock.ts';

const emulators = useEmulators({ firestore: true, pubsub: true });
const quiet = createLogger('poller-test', { sink: { write: () => {} } });
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});
const MINUTE = 60_000;

/** The tuning job a launch submitted or adopted. */
function jobOf(outcome: Awaited<ReturnType<typeof handleLaunch>>): string {
  assert.ok('jobName' in outcome && outcome.jobName, `${outcome.status}: no job`);
  return outcome.jobName;
}

/** Firestore, Pub/Sub, the simulator and one clock shared by the simulator, launcher and poller. */
async function setup() {
  const sim = await startVertexSimulator({ timing: { validationMs: MINUTE, queueMs: 2 * MINUTE, runMs: 5 * MINUTE } });
  const projectId = `${emulators.projectId}-${randomUUID().slice(0, 6)}`;
  const db = createFirestore(projectId);
  const pubsub = new PubSub({ projectId, apiEndpoint: emulators.pubsubHost, emulatorMode: true });
  const [topic] = await pubsub.createTopic('run-events');
  const [subscription] = await topic.createSubscription('completion');
  cleanups.push(
    () => sim.stop(),
    () => db.terminate(),
    () => pubsub.close(),
  );
  const clock = simulatorClock(sim.control);
  const tuning = createTuningService({
    project: 'sim-project',
    location: 'us-central1',
    baseUrl: sim.url,
    retries: 2,
    sleep: async () => {},
  });
  const launch = (experiment = 'exp', extra: Record<string, unknown> = {}) =>
    handleLaunch(
      {
        message: {
          messageId: randomUUID(),
          data: Buffer.from(
            JSON.stringify({
              schemaVersion: 1,
              experiment,
              baseModel: 'gemini-3.5-flash-lite',
              trainingDatasetUri: 'gs://sft-datasets/d/train.jsonl',
              source: 'test',
              ...extra,
            }),
          ).toString('base64'),
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
  return { sim, db, clock, launch, deps, runs: createRunStore(db), events, pubsub };
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
  assert.deepEqual(
    run?.history.map((h) => h.to),
    ['ACCEPTED', 'SUBMITTED', 'PENDING', 'RUNNING', 'SUCCEEDED'],
  );
  assert.match(run?.tunedModel?.model ?? '', /\/models\/\d+@1$/);
  assert.ok(run?.attempts[0]?.startedAt && run.attempts[0].endedAt);
  const published = await events(3);
  assert.deepEqual(
    published.map((e) => `${e.from}→${e.to}`),
    ['SUBMITTED→PENDING', 'PENDING→RUNNING', 'RUNNING→SUCCEEDED'],
  );
  assert.ok(published.every((e) => e.runId === runId && e.attempt === 1));
});

test('a job stuck in the queue past the threshold is cancelled and resubmitted; the run still succeeds', async () => {
  const { sim, launch, deps, clock, runs } = await setup();
  sim.control.stickNextJobs(1);
  const { runId } = await launch();
  clock.advance(2 * MINUTE); // past the dataset check: waiting for capacity from here
  await runTick(deps);
  clock.advance(11 * MINUTE);
  const tick = await runTick(deps);
  assert.equal(tick.resubmitted, 1);
  const resubmitted = await runs.get(runId);
  assert.equal(resubmitted?.state, 'SUBMITTED');
  assert.equal(resubmitted?.attempts.length, 2);
  assert.equal(resubmitted?.attempts[0]?.endState, 'JOB_STATE_CANCELLING', 'a cancel is asynchronous: its end is not known yet');
  assert.match(resubmitted?.attempts[1]?.reason ?? '', /stuck in Vertex's queue for 1\d min \(TUNING_JOB_STATE_WAITING_FOR_CAPACITY\)/);
  const [first, second] = sim.control.jobs();
  assert.equal(second?.labels.sft_attempt, '2');
  clock.advance(MINUTE); // past the simulator's CANCELLING
  const firstNow = await deps.tuning.get(first!.name);
  assert.equal(firstNow.state, 'JOB_STATE_CANCELLED');
  clock.advance(9 * MINUTE);
  await runTick(deps);
  const done = await runs.get(runId);
  assert.equal(done?.state, 'SUCCEEDED');
  assert.equal(done?.attempts[0]?.endState, 'JOB_STATE_CANCELLED', 'the cancelled job was followed to its end');
});

test('continuous tuning: a finished run keeps its checkpoints; a launch from its model (at a checkpoint) records the lineage and makes a new model; what cannot be continued is refused', async () => {
  const { sim, db, launch, deps, clock, runs } = await setup();
  const base = { baseModel: 'gemini-3.5-flash', hyperParameters: { epochCount: 2 } };
  const first = await launch('parent', base);
  clock.advance(4 * MINUTE);
  await runTick(deps);
  clock.advance(10 * MINUTE);
  await runTick(deps);
  const parent = await runs.get(first.runId);
  assert.equal(parent?.state, 'SUCCEEDED');
  assert.deepEqual(
    parent?.tunedModel?.checkpoints?.map((c) => `${c.checkpointId}:${c.epoch}:${c.step}`),
    ['1:1:20', '2:2:40'],
  );
  const model = parent!.tunedModel!.model;

  const child = await launch('child', { ...base, preTunedModel: { tunedModelName: model, checkpointId: '1' } });
  assert.equal(child.status, 'submitted');
  const submitted = await runs.get(child.runId);
  assert.deepEqual(submitted?.lineage, { parentRunId: first.runId, preTunedModel: model, checkpointId: '1' });
  const job = sim.control.jobs().at(-1)!;
  assert.equal(job.body.baseModel, undefined, 'TuningJob.source_model is a oneof: preTunedModel instead of baseModel');
  assert.deepEqual(job.body.preTunedModel, { tunedModelName: model, checkpointId: '1' });
  const vertexView = await deps.tuning.get(job.name);
  assert.equal(
    vertexView.state === 'JOB_STATE_PENDING' || vertexView.state === 'JOB_STATE_RUNNING' || vertexView.state === 'JOB_STATE_QUEUED',
    true,
  );
  clock.advance(4 * MINUTE);
  await runTick(deps);
  clock.advance(10 * MINUTE);
  await runTick(deps);
  const done = await runs.get(child.runId);
  assert.equal(done?.state, 'SUCCEEDED');
  assert.notEqual(done?.tunedModel?.model, model, 'a display name is given: "a new model is created"');
  // Other apps read the lineage from the status API's summary.
  assert.deepEqual(summarizeRun(done!, new Date().toISOString()).lineage, {
    parentRunId: first.runId,
    preTunedModel: model,
    checkpointId: '1',
  });

  const refusals: [Record<string, unknown>, RegExp][] = [
    [{ ...base, preTunedModel: { tunedModelName: model, checkpointId: '9' } }, /has no checkpoint 9 \(run .* kept 1, 2\)/],
    [
      { baseModel: 'gemini-3.1-flash-lite', preTunedModel: { tunedModelName: model } },
      /descends from gemini-3\.5-flash .* not gemini-3\.1-flash-lite/,
    ],
    [
      { baseModel: 'gemini-3.5-flash-lite', preTunedModel: { tunedModelName: model } },
      /gemini-3\.5-flash-lite does not take continuous tuning/,
    ],
  ];
  for (const [extra, reason] of refusals) {
    const outcome = await launch(`refused-${String(reason).length}`, extra);
    assert.equal(outcome.status, 'rejected', String(reason));
    assert.match((await runs.get(outcome.runId))?.rejection ?? '', reason);
  }
  // A model no run of ours made is read from Vertex (models.get): one that does not exist is refused before any job.
  const jobsBefore = sim.control.jobs().length;
  const stranger = await launch('stranger', {
    ...base,
    preTunedModel: { tunedModelName: 'projects/sim-project/locations/us-central1/models/123@1' },
  });
  assert.equal(stranger.status, 'rejected');
  assert.match((await runs.get(stranger.runId))?.rejection ?? '', /models\/123@1 does not exist: Vertex has no such model/);
  assert.equal(sim.control.jobs().length, jobsBefore);
  // One it has (made outside the pipeline: its run document is gone) is described and continued.
  await db.collection('runs').doc(first.runId).delete();
  const adopted = await launch('from-elsewhere', { ...base, preTunedModel: { tunedModelName: model } });
  assert.equal(adopted.status, 'submitted');
  assert.deepEqual((await runs.get(adopted.runId))?.lineage, { parentRunId: null, preTunedModel: model, checkpointId: null });
});

test('a stuck preference tuning job is resubmitted as preference tuning, with its beta', async () => {
  const { sim, launch, deps, clock } = await setup();
  sim.control.stickNextJobs(1);
  await launch('prefs', { method: 'PREFERENCE', hyperParameters: { beta: 0.3 } });
  clock.advance(2 * MINUTE);
  await runTick(deps);
  clock.advance(11 * MINUTE);
  assert.equal((await runTick(deps)).resubmitted, 1);
  const [first, second] = sim.control.jobs();
  for (const job of [first, second]) {
    assert.equal(job?.body.supervisedTuningSpec, undefined);
    assert.deepEqual(job?.body.preferenceOptimizationSpec, {
      trainingDatasetUri: 'gs://sft-datasets/d/train.jsonl',
      hyperParameters: { beta: 0.3 },
    });
  }
});

test('a cancel that loses the race: the cancelled job succeeds anyway, its model is adopted and the newer job cancelled', async () => {
  const { sim, launch, deps, clock, runs } = await setup();
  sim.control.stickNextJobs(1);
  const { runId } = await launch();
  clock.advance(2 * MINUTE);
  await runTick(deps);
  clock.advance(11 * MINUTE);
  sim.control.succeedNextCancelledJobs(1);
  await runTick(deps);
  const [first, second] = sim.control.jobs();
  assert.equal((await runs.get(runId))?.currentJobName, second!.name);
  clock.advance(MINUTE); // the first job leaves CANCELLING: SUCCEEDED
  await runTick(deps);
  const run = await runs.get(runId);
  assert.equal(run?.state, 'SUCCEEDED');
  assert.equal(run?.currentJobName, first!.name, 'the finished model wins');
  assert.equal(run?.tunedModel?.model, (await deps.tuning.get(first!.name)).tunedModel?.model);
  const [firstEnd, secondEnd, adoptedEnd] = run?.attempts.map((a) => a.endState) ?? [];
  assert.deepEqual([firstEnd, adoptedEnd], ['JOB_STATE_SUCCEEDED', 'JOB_STATE_SUCCEEDED']);
  // The newer job's cancel is under way; a slow tick may already have seen it end.
  assert.ok(secondEnd === 'JOB_STATE_CANCELLING' || secondEnd === 'JOB_STATE_CANCELLED', String(secondEnd));
  assert.match(run?.attempts[2]?.reason ?? '', /attempt 1's job succeeded after it was cancelled/);
  clock.advance(MINUTE);
  assert.equal((await deps.tuning.get(second!.name)).state, 'JOB_STATE_CANCELLED', 'the newer job was cancelled');
});

test("a Vertex that ignores list filters changes nothing: no other run's job is adopted or cancelled", async () => {
  const { sim, launch, deps, clock, runs } = await setup();
  sim.control.ignoreListFilters(true);
  const a = await launch('filters-a');
  const b = await launch('filters-b');
  assert.ok(
    'jobName' in a && 'jobName' in b && a.jobName !== b.jobName,
    "the second launch made its own job, not adopting the first run's",
  );
  await runTick(deps);
  clock.advance(4 * MINUTE);
  await runTick(deps);
  for (const job of sim.control.jobs())
    assert.notEqual((await deps.tuning.get(job.name)).state, 'JOB_STATE_CANCELLED', `${job.name} was not cancelled as a "duplicate"`);
  clock.advance(10 * MINUTE);
  await runTick(deps);
  assert.deepEqual([(await runs.get(a.runId))?.state, (await runs.get(b.runId))?.state], ['SUCCEEDED', 'SUCCEEDED']);
});

test('a create that lands late from a dead delivery: the tick keeps the recorded job and cancels the twin, listing all young runs in one call', async () => {
  for (const refuseOr of [false, true]) {
    const { sim, launch, deps } = await setup();
    // A Vertex whose list filter takes no OR (its grammar is not published for tuning jobs): one list per run instead.
    sim.control.refuseDisjunctiveFilters(refuseOr);
    const launched = [await launch('twins-a'), await launch('twins-b'), await launch('twins-c')];
    const twins = [];
    for (const run of [launched[0]!, launched[2]!]) {
      twins.push(
        await deps.tuning.create({
          baseModel: 'gemini-3.5-flash-lite',
          trainingDatasetUri: 'gs://sft-datasets/d/train.jsonl',
          hyperParameters: {},
          displayName: `late create for ${run.runId}`,
          labels: { [RUN_ID_LABEL]: run.runId, [ATTEMPT_LABEL]: '1' },
        }),
      );
    }
    const stats = await runTick(deps);
    // Three job reads, then one list for the three young runs, or a refused list and one list per run.
    assert.equal(stats.vertexCalls, refuseOr ? 3 + 1 + 3 : 3 + 1, `Vertex calls with OR ${refuseOr ? 'refused' : 'taken'}`);
    for (const twin of twins)
      assert.match((await deps.tuning.get(twin.name)).state, /JOB_STATE_CANCELL(ING|ED)/, `${twin.name}, a twin, was cancelled`);
    for (const run of launched) {
      assert.doesNotMatch((await deps.tuning.get(jobOf(run))).state, /CANCEL/, `${run.runId} keeps its recorded job`);
    }
  }
});

test("a run changed after the tick read it: the tick's write is decided again on what is stored, and the other change is kept", async () => {
  const { launch, deps, db, clock, runs } = await setup();
  const launched = await launch('changed-meanwhile');
  const jobName = jobOf(launched);
  const [seenByTick] = (await deps.store.activePage(10)).filter((run) => run.runId === launched.runId);
  assert.equal(seenByTick?.state, 'SUBMITTED');
  // Another poller moves the run on after this tick's page was read.
  const other = createPollStore(db);
  const [seenByOther] = await other.activePage(10);
  const nowIso = new Date(clock.now()).toISOString();
  await other.update(seenByOther!, jobName, clock.now(), (run) => applyTransition(run, 'PENDING', 'the other tick', nowIso));
  const result = await deps.store.update(seenByTick!, jobName, clock.now(), (run) => applyTransition(run, 'RUNNING', 'this tick', nowIso));
  assert.equal(result?.before.state, 'PENDING', 'the change was applied to the stored run, not the one the tick read');
  const stored = await runs.get(launched.runId);
  assert.deepEqual(stored?.history.map((entry) => `${entry.from}→${entry.to}: ${entry.reason}`).slice(-2), [
    'SUBMITTED→PENDING: the other tick',
    'PENDING→RUNNING: this tick',
  ]);
  // A run another poller holds (a live lease) is left alone, however stale the tick's copy.
  const [again] = await deps.store.activePage(10);
  assert.notEqual(await other.claim(launched.runId, jobName, 'other-poller', clock.now(), MINUTE), null);
  assert.equal(await deps.store.update(again!, jobName, clock.now(), (run) => applyTransition(run, 'FAILED', 'x', nowIso)), null);
  assert.equal((await runs.get(launched.runId))?.state, 'RUNNING');
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
  // Every read throttled, retries included: the list of young runs' jobs, then the job itself.
  sim.control.failNextCalls(6, 429, { method: 'GET' });
  const throttled = await runTick(deps);
  assert.equal(throttled.vertexErrors, 2);
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
  assert.equal(
    ticks.reduce((sum, t) => sum + t.resubmitted, 0),
    1,
  );
  assert.equal(sim.control.createdCount(), 2);
  assert.equal((await runs.get(runId))?.attempts.length, 2);
});

test('a poller killed in the middle of a resubmission: the next tick adopts the job it made, nothing doubles', async () => {
  const { sim, launch, deps, clock, runs } = await setup();
  sim.control.stickNextJobs(1);
  const { runId } = await launch();
  clock.advance(11 * MINUTE);
  // This poller's process dies right after Vertex created the new job: its call never returns.
  const dying = {
    ...deps,
    tuning: {
      ...deps.tuning,
      create: async (spec: Parameters<PollerDeps['tuning']['create']>[0]) => (await deps.tuning.create(spec), new Promise<never>(() => {})),
    },
  };
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
  const flaky = {
    ...deps,
    events: {
      publish: async (event: RunEvent) =>
        failures-- > 0 ? Promise.reject(Object.assign(new Error('unavailable'), { code: 14 })) : deps.events.publish(event),
    },
  };
  await runTick(flaky);
  assert.equal((await runs.get(runId))?.state, 'PENDING', 'the state change itself was written');
  assert.equal((await runs.get(runId))?.pendingEvents?.length, 1, 'its event waits in the outbox');
  clock.advance(4 * MINUTE);
  await runTick(flaky);
  const published = await events(2);
  assert.deepEqual(
    published.map((e) => e.to),
    ['PENDING', 'RUNNING'],
  );
  assert.deepEqual((await runs.get(runId))?.pendingEvents, []);
});

test('admission: three launches with one tuning slot run one after another, the waiting ones told their place, none resubmitted for quota', async () => {
  const { sim, db, clock, deps, runs, pubsub } = await setup();
  sim.control.setTuningQuota(1);
  const [topic] = await pubsub.createTopic('launch');
  const [subscription] = await topic.createSubscription('launcher');
  const admission = { store: createAdmissionStore(db), maxConcurrent: 1 };
  const launcher = {
    runs: createRunStore(db),
    tuning: deps.tuning,
    log: quiet,
    now: clock.now,
    leaseMs: MINUTE,
    ...singleDatasetDeps,
    admission,
  };
  const poller: PollerDeps = { ...deps, admission, launches: createLaunchPublisher(pubsub, 'launch') };
  const message = (experiment: string, priority?: number) => ({
    message: {
      messageId: randomUUID(),
      data: Buffer.from(
        JSON.stringify({
          schemaVersion: 1,
          experiment,
          baseModel: 'gemini-3.5-flash-lite',
          trainingDatasetUri: 'gs://sft-datasets/d/train.jsonl',
          source: 'test',
          ...(priority === undefined ? {} : { priority }),
        }),
      ).toString('base64'),
    },
  });
  // What the launch subscription delivers goes to the launcher, as Eventarc would hand it over.
  // Each delivery is awaited before the test ends: one still at work must not outlive the database client.
  const deliveries: Promise<unknown>[] = [];
  subscription.on('message', (received) => {
    received.ack();
    // A late redelivery may fail once the test's clients are closed: caught here, awaited at the end.
    deliveries.push(
      handleLaunch({ message: { messageId: received.id, data: received.data.toString('base64') } }, launcher).catch(() => null),
    );
  });

  const first = await handleLaunch(message('q-first'), launcher);
  const second = await handleLaunch(message('q-second'), launcher);
  const urgent = await handleLaunch(message('q-urgent', 5), launcher);
  assert.deepEqual([first.status, second.status, urgent.status], ['submitted', 'queued', 'queued']);
  await runTick(poller);
  const [secondRun, urgentRun] = [await runs.get(second.runId), await runs.get(urgent.runId)];
  assert.deepEqual([secondRun?.state, secondRun?.queue?.position, urgentRun?.queue?.position], ['QUEUED', 2, 1], 'priority 5 is next');
  assert.equal(sim.control.createdCount(), 1, 'one Vertex job while one slot exists');

  // The first run's job succeeds: the same tick that sees it frees the slot and sends the next run to the launcher.
  clock.advance(10 * MINUTE);
  const freeing = await runTick(poller);
  assert.equal((await runs.get(first.runId))?.state, 'SUCCEEDED');
  assert.equal(freeing.admitted, 1);
  const admitted = await waitForState(runs, urgent.runId, 'SUBMITTED');
  assert.equal(admitted.queue, null);
  assert.equal(sim.control.createdCount(), 2);
  await runTick(poller);
  assert.equal((await runs.get(second.runId))?.queue?.position, 1, 'the last one moved up');

  clock.advance(10 * MINUTE);
  await runTick(poller);
  await waitForState(runs, second.runId, 'SUBMITTED');
  clock.advance(10 * MINUTE);
  await runTick(poller);
  for (const run of [first, second, urgent]) {
    const done = await runs.get(run.runId);
    assert.equal(done?.state, 'SUCCEEDED', run.runId);
    assert.equal(done?.attempts.length, 1, `${run.runId}: never resubmitted`);
  }
  assert.equal(sim.control.createdCount(), 3);
  // Each job ran alone: no job of ours ever waited for Vertex's quota.
  for (const job of sim.control.jobs())
    assert.notEqual(
      (await runs.get(job.labels.sft_run_id!))?.history.some((h) => /WAITING_FOR_QUOTA/.test(h.reason)),
      true,
    );
  await subscription.close();
  const outcomes = await Promise.all(deliveries);
  assert.ok(outcomes.filter(Boolean).length >= 2, 'the launcher got the two admitted runs through Pub/Sub');
});

async function waitForState(runs: ReturnType<typeof createRunStore>, runId: string, state: string) {
  for (let i = 0; i < 200; i++) {
    const run = await runs.get(runId);
    if (run?.state === state) return run;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${runId} never reached ${state}: ${(await runs.get(runId))?.state}`);
}

test('a launch stranded by a Vertex outage longer than the redelivery window is retried by the poller with backoff, and submitted once Vertex is back', async () => {
  const { sim, db, clock, deps, runs, pubsub } = await setup();
  const [topic] = await pubsub.createTopic('launch-recovery');
  const [subscription] = await topic.createSubscription('launcher-recovery');
  const launcher = {
    runs: createRunStore(db),
    tuning: deps.tuning,
    log: quiet,
    now: clock.now,
    leaseMs: MINUTE,
    ...singleDatasetDeps,
    maxDeliveries: 5,
  };
  const poller: PollerDeps = {
    ...deps,
    launches: createLaunchPublisher(pubsub, 'launch-recovery'),
    launchRecovery: { firstDelayMs: 5 * MINUTE, maxDelayMs: 60 * MINUTE, giveUpAfterMs: 48 * 60 * MINUTE },
  };
  const republished: string[] = [];
  const deliveries: Promise<unknown>[] = [];
  subscription.on('message', (received) => {
    received.ack();
    republished.push(received.id);
    // Awaited before the test ends, so no delivery outlives the database client.
    deliveries.push(
      handleLaunch({ message: { messageId: received.id, data: received.data.toString('base64') } }, launcher).catch(() => undefined),
    );
  });
  const payload = {
    schemaVersion: 1,
    requestId: 'outage-run',
    experiment: 'outage',
    baseModel: 'gemini-3.5-flash-lite',
    trainingDatasetUri: 'gs://sft-datasets/d/train.jsonl',
    source: 'test',
  };
  const event = (attempt: number) => ({
    message: { messageId: 'the-one-message', data: Buffer.from(JSON.stringify(payload)).toString('base64') },
    deliveryAttempt: attempt,
  });
  // Vertex is down for every delivery the subscription allows: the message ends on the dead-letter topic.
  sim.control.failNextCalls(1000, 503);
  for (let attempt = 1; attempt <= 5; attempt++) {
    clock.advance(11_000); // past the same-message window: each is a real redelivery
    await assert.rejects(handleLaunch(event(attempt), launcher));
  }
  const stranded = await runs.get('outage-run');
  assert.deepEqual([stranded?.state, stranded?.launchDeliveries?.deadLettered], ['ACCEPTED', true]);

  // Still down: the poller publishes it again, and the next try waits longer.
  await runTick(poller);
  const once = await runs.get('outage-run');
  assert.equal(once?.launchDeliveries?.recoveries, 1);
  assert.match(once?.warning ?? '', /published again \(retry 1; next in 5 min/);
  await new Promise((resolve) => setTimeout(resolve, 500));
  await runTick(poller);
  assert.equal((await runs.get('outage-run'))?.launchDeliveries?.recoveries, 1, 'not again before its time');

  // Vertex comes back; the next due retry submits the run, exactly once.
  sim.control.clearCallFaults();
  clock.advance(6 * MINUTE);
  while (sim.control.createdCount() === 0) {
    await runTick(poller);
    clock.advance(11 * MINUTE);
    if ((await runs.get('outage-run'))?.state === 'FAILED') break;
  }
  const submitted = await waitForState(runs, 'outage-run', 'SUBMITTED');
  assert.equal(submitted.attempts.length, 1);
  assert.equal(submitted.warning, null, 'the stranded warning is cleared');
  assert.equal(sim.control.createdCount(), 1);
  assert.ok(republished.length >= 2);
  await subscription.close();
  await Promise.all(deliveries);
});

test('a launch that never finds a working delivery is FAILED after the recovery window, saying how to retry', async () => {
  const { db, clock, deps, runs } = await setup();
  const poller: PollerDeps = {
    ...deps,
    launches: { publish: async () => 'unused' },
    launchRecovery: { firstDelayMs: MINUTE, maxDelayMs: MINUTE, giveUpAfterMs: 10 * MINUTE },
  };
  const launcher = { runs: createRunStore(db), tuning: deps.tuning, log: quiet, now: clock.now, leaseMs: MINUTE, ...singleDatasetDeps };
  // A delivery claimed the run and died: no lease renewal, no message coming back.
  const payload = {
    schemaVersion: 1,
    requestId: 'orphan-run',
    experiment: 'orphan',
    baseModel: 'gemini-3.5-flash-lite',
    trainingDatasetUri: 'gs://sft-datasets/d/train.jsonl',
    source: 'test',
  };
  await launcher.runs.claim(
    'orphan-run',
    () => newRun(launchMessageSchema.parse(payload), new Date(clock.now()).toISOString()),
    'dead-delivery',
    clock.now(),
    MINUTE,
  );
  for (let i = 0; i < 12 && (await runs.get('orphan-run'))?.state !== 'FAILED'; i++) {
    clock.advance(2 * MINUTE);
    await runTick(poller);
  }
  const failed = await runs.get('orphan-run');
  assert.equal(failed?.state, 'FAILED');
  assert.equal(failed?.error?.code, 'LAUNCH_UNDELIVERABLE');
  assert.match(failed?.error?.message ?? '', /sft-pipeline retry orphan-run/);
});
