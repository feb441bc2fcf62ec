import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newRun } from '../../../shared/launch/decide.ts';
import { launchMessageSchema } from '../../../shared/launch/schema.ts';
import { classifyJobFailure, decidePoll, stuckThresholdMs } from '../../../shared/runs/poll.ts';
import { newAttempt, type RunDocument } from '../../../shared/runs/schema.ts';
import { applyTransition } from '../../../shared/runs/transitions.ts';
import { formatDuration } from '../../../shared/duration.ts';

const HOUR = 3_600_000;
const policy = { stuckAfterMs: 6 * HOUR, maxAttempts: 3, runningWarningMs: 24 * HOUR };
const T0 = Date.parse('2026-11-24T00:00:00Z');
const submitted = (attempts = 1): RunDocument => {
  const run = newRun(
    launchMessageSchema.parse({
      schemaVersion: 1,
      experiment: 'e',
      baseModel: 'gemini-3.5-flash-lite',
      trainingDatasetUri: 'gs://bkt/t.jsonl',
      source: 's',
    }),
    new Date(T0).toISOString(),
  );
  const list = Array.from({ length: attempts }, (_, i) =>
    newAttempt({ number: i + 1, jobName: `jobs/${i + 1}`, submittedAt: new Date(T0).toISOString(), reason: 'r' }),
  );
  return applyTransition(run, 'SUBMITTED', 'submitted', new Date(T0).toISOString(), { attempts: list, currentJobName: `jobs/${attempts}` });
};
const job = (state: string, extra: Record<string, unknown> = {}) => ({
  name: 'jobs/1',
  state,
  createTime: new Date(T0).toISOString(),
  ...extra,
});

test('the default policy: 6 h, then 12 h, then 24 h in the queue before giving an attempt up', () => {
  assert.deepEqual(
    [1, 2, 3].map((n) => stuckThresholdMs(policy, n) / HOUR),
    [6, 12, 24],
  );
});

test('a queued job is PENDING with its detailed state until the threshold, then resubmitted, and on the last attempt FAILED', () => {
  const waiting = decidePoll(
    submitted(),
    job('JOB_STATE_PENDING', { tuningJobState: 'TUNING_JOB_STATE_WAITING_FOR_CAPACITY' }),
    T0 + HOUR,
    policy,
  );
  assert.deepEqual(waiting.action === 'update' && [waiting.to, waiting.changes.tuningJobState], [
    'PENDING',
    'TUNING_JOB_STATE_WAITING_FOR_CAPACITY',
  ]);
  assert.equal(decidePoll(submitted(), job('JOB_STATE_PENDING'), T0 + 7 * HOUR, policy).action, 'resubmit');
  assert.equal(
    decidePoll(submitted(2), job('JOB_STATE_PENDING'), T0 + 7 * HOUR, policy).action,
    'update',
    'the second attempt may wait 12 h',
  );
  const last = decidePoll(submitted(3), job('JOB_STATE_QUEUED'), T0 + 25 * HOUR, policy);
  assert.equal(last.action, 'fail');
  assert.match(last.action === 'fail' ? last.reason : '', /^STUCK_IN_QUEUE/);
});

test('failures: capacity and internal errors are transient, dataset and request errors are not', () => {
  assert.equal(classifyJobFailure({ code: 8, message: 'Resource exhausted' }).kind, 'transient');
  assert.equal(classifyJobFailure({ code: 13, message: 'Internal error' }).kind, 'transient');
  assert.equal(classifyJobFailure({ code: 3, message: 'Dataset validation failed' }).kind, 'permanent');
  assert.equal(classifyJobFailure({ code: 13, message: 'invalid dataset: line 4' }).kind, 'permanent');
  assert.equal(
    decidePoll(submitted(), job('JOB_STATE_FAILED', { error: { code: 8, message: 'no capacity' } }), T0, policy).action,
    'resubmit',
  );
  assert.equal(
    decidePoll(submitted(3), job('JOB_STATE_FAILED', { error: { code: 8, message: 'no capacity' } }), T0, policy).action,
    'fail',
  );
  assert.equal(decidePoll(submitted(), job('JOB_STATE_FAILED', { error: { code: 3, message: 'bad dataset' } }), T0, policy).action, 'fail');
});

test('a long run gets a warning, not a cancellation; success records the tuned model', () => {
  const training = job('JOB_STATE_RUNNING', { startTime: new Date(T0).toISOString(), tuningJobState: 'TUNING_JOB_STATE_TUNING' });
  const started = decidePoll(submitted(), training, T0 + HOUR, policy);
  assert.equal(
    started.action === 'update' && started.changes.attempts?.at(-1)?.startedAt,
    new Date(T0 + HOUR).toISOString(),
    'training began when it was first seen training',
  );
  const running = applyTransition(
    submitted(),
    'RUNNING',
    'started',
    new Date(T0).toISOString(),
    started.action === 'update' ? started.changes : {},
  );
  const long = decidePoll(running, training, T0 + 30 * HOUR, policy);
  assert.deepEqual(long.action === 'update' && [long.to, /training for 29\.0 h, longer than expected/.test(String(long.changes.warning))], [
    'RUNNING',
    true,
  ]);
  const done = decidePoll(
    running,
    job('JOB_STATE_SUCCEEDED', { tunedModel: { model: 'models/1@1', endpoint: 'endpoints/1' } }),
    T0 + 2 * HOUR,
    policy,
  );
  assert.deepEqual(done.action === 'update' && [done.to, done.changes.tunedModel], [
    'SUCCEEDED',
    { model: 'models/1@1', endpoint: 'endpoints/1' },
  ]);
});

test('waits are said as people say them, from seconds on the local stack to days in a real queue', () => {
  assert.deepEqual([4_000, 12 * 60_000, 7 * HOUR, 50 * HOUR].map(formatDuration), ['4 s', '12 min', '7.0 h', '2.1 days']);
  const resubmit = decidePoll(submitted(), job('JOB_STATE_PENDING'), T0 + 7 * HOUR, policy);
  assert.match(resubmit.action === 'resubmit' ? resubmit.reason : '', /stuck in Vertex's queue for 7\.0 h/);
});

const running = (detail: string) => job('JOB_STATE_RUNNING', { startTime: new Date(T0).toISOString(), tuningJobState: detail });

test('a RUNNING job that waits for capacity is not training: PENDING, and resubmitted once it waited past the threshold since first seen', () => {
  const first = decidePoll(submitted(), running('TUNING_JOB_STATE_WAITING_FOR_CAPACITY'), T0 + HOUR, policy);
  assert.equal(first.action, 'update');
  assert.equal(first.action === 'update' && first.to, 'PENDING', 'not RUNNING: no training yet');
  assert.equal(first.action === 'update' && first.changes.attempts?.at(-1)?.startedAt, null, 'startedAt stays empty while it waits');
  const seen = applyTransition(
    submitted(),
    'PENDING',
    'waiting',
    new Date(T0 + HOUR).toISOString(),
    first.action === 'update' ? first.changes : {},
  );
  assert.equal(
    seen.attempts.at(-1)?.waitingSince,
    new Date(T0).toISOString(),
    'never seen before: it may have waited since the job started',
  );
  assert.equal(
    decidePoll(seen, running('TUNING_JOB_STATE_WAITING_FOR_CAPACITY'), T0 + 6 * HOUR, policy).action,
    'none',
    '6 h: not over the threshold',
  );
  const stuck = decidePoll(seen, running('TUNING_JOB_STATE_WAITING_FOR_CAPACITY'), T0 + 7 * HOUR, policy);
  assert.equal(stuck.action, 'resubmit');
  assert.equal(stuck.action === 'resubmit' && stuck.cancelFirst, true);

  // Seen checking its dataset first: the capacity wait began after that tick, not at the job's start.
  const checking = decidePoll(submitted(), running('TUNING_JOB_STATE_PROCESSING_DATASET'), T0 + 3 * HOUR, policy);
  const afterCheck = applyTransition(
    submitted(),
    'PENDING',
    'w',
    new Date(T0 + 3 * HOUR).toISOString(),
    checking.action === 'update' ? checking.changes : {},
  );
  const capacity = decidePoll(afterCheck, running('TUNING_JOB_STATE_WAITING_FOR_CAPACITY'), T0 + 4 * HOUR, policy);
  assert.equal(capacity.action === 'update' && capacity.changes.attempts?.at(-1)?.waitingSince, new Date(T0 + 4 * HOUR).toISOString());
});

test('quota is not capacity: a job waiting for the tuning quota (or a dataset check) is never resubmitted, however long', () => {
  for (const detail of ['TUNING_JOB_STATE_WAITING_FOR_QUOTA', 'TUNING_JOB_STATE_PROCESSING_DATASET']) {
    const decision = decidePoll(submitted(), running(detail), T0 + 72 * HOUR, policy);
    assert.equal(decision.action, 'update', detail);
    assert.equal(decision.action === 'update' && decision.to, 'PENDING', detail);
    const waiting = applyTransition(
      submitted(),
      'PENDING',
      'w',
      new Date(T0).toISOString(),
      decision.action === 'update' ? decision.changes : {},
    );
    assert.equal(decidePoll(waiting, running(detail), T0 + 100 * HOUR, policy).action, 'none', `${detail}: nothing to do`);
  }
});

test('a cancel in progress is waited out: CANCELLING is not yet CANCELLED (the job may still succeed)', () => {
  assert.equal(decidePoll(submitted(), job('JOB_STATE_CANCELLING'), T0 + HOUR, policy).action, 'none');
  const cancelled = decidePoll(submitted(), job('JOB_STATE_CANCELLED', { error: { code: 1, message: 'CANCELED' } }), T0 + HOUR, policy);
  assert.equal(cancelled.action === 'update' && cancelled.to, 'CANCELLED');
});

test('tuningDataStats: the run keeps counts and warnings, never the sample training conversations', () => {
  const stats = {
    supervisedTuningDataStats: {
      tuningDatasetExampleCount: '500',
      totalBillableTokenCount: '91234',
      tuningStepCount: '63',
      userDatasetExamples: [{ role: 'user', parts: [{ text: 'my customer SSN is 123-45-6789' }] }],
      userInputTokenDistribution: { sum: '1', buckets: Array.from({ length: 1000 }, () => ({ count: 1, left: 0, right: 1 })) },
      totalTruncatedExampleCount: '3',
      truncatedExampleIndices: ['4', '17', '230'],
      droppedExampleReasons: ['example 9: exceeds the maximum number of tokens'],
    },
  };
  const done = decidePoll(submitted(), job('JOB_STATE_SUCCEEDED', { tuningDataStats: stats }), T0 + HOUR, policy);
  const summary = done.action === 'update' ? done.changes.tuningDataStats : undefined;
  assert.ok(summary);
  assert.equal(summary.exampleCount, 500);
  assert.equal(summary.billableTokenCount, 91234);
  assert.deepEqual(summary.truncatedExampleIndices, [4, 17, 230]);
  assert.match(summary.warnings.join('\n'), /truncated 3 training example\(s\).*lines 5, 18, 231/);
  assert.match(summary.warnings.join('\n'), /dropped 1 training example\(s\): example 9/);
  assert.doesNotMatch(JSON.stringify(summary), /SSN|123-45-6789|buckets/, 'no training data, no histograms');
});
