import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newRun } from '../../../shared/launch/decide.ts';
import { launchMessageSchema } from '../../../shared/launch/schema.ts';
import { classifyJobFailure, decidePoll, stuckThresholdMs } from '../../../shared/runs/poll.ts';
import type { RunDocument } from '../../../shared/runs/schema.ts';
import { applyTransition } from '../../../shared/runs/transitions.ts';
import { formatDuration } from '../../../shared/duration.ts';

const HOUR = 3_600_000;
const policy = { stuckAfterMs: 6 * HOUR, maxAttempts: 3, runningWarningMs: 24 * HOUR };
const T0 = Date.parse('2026-11-24T00:00:00Z');
const submitted = (attempts = 1): RunDocument => {
  const run = newRun(launchMessageSchema.parse({ schemaVersion: 1, experiment: 'e', baseModel: 'gemini-2.5-flash', trainingDatasetUri: 'gs://bkt/t.jsonl', source: 's' }), new Date(T0).toISOString());
  const list = Array.from({ length: attempts }, (_, i) => ({ number: i + 1, jobName: `jobs/${i + 1}`, submittedAt: new Date(T0).toISOString(), startedAt: null, endedAt: null, endState: null, error: null, reason: 'r' }));
  return applyTransition(run, 'SUBMITTED', 'submitted', new Date(T0).toISOString(), { attempts: list, currentJobName: `jobs/${attempts}` });
};
const job = (state: string, extra: Record<string, unknown> = {}) => ({ name: 'jobs/1', state, createTime: new Date(T0).toISOString(), ...extra });

test('the default policy: 6 h, then 12 h, then 24 h in the queue before giving an attempt up', () => {
  assert.deepEqual([1, 2, 3].map((n) => stuckThresholdMs(policy, n) / HOUR), [6, 12, 24]);
});

test('a queued job is PENDING with its detailed state until the threshold, then resubmitted, and on the last attempt FAILED', () => {
  const waiting = decidePoll(submitted(), job('JOB_STATE_PENDING', { tuningJobState: 'TUNING_JOB_STATE_WAITING_FOR_CAPACITY' }), T0 + HOUR, policy);
  assert.deepEqual(waiting.action === 'update' && [waiting.to, waiting.changes.tuningJobState], ['PENDING', 'TUNING_JOB_STATE_WAITING_FOR_CAPACITY']);
  assert.equal(decidePoll(submitted(), job('JOB_STATE_PENDING'), T0 + 7 * HOUR, policy).action, 'resubmit');
  assert.equal(decidePoll(submitted(2), job('JOB_STATE_PENDING'), T0 + 7 * HOUR, policy).action, 'update', 'the second attempt may wait 12 h');
  const last = decidePoll(submitted(3), job('JOB_STATE_QUEUED'), T0 + 25 * HOUR, policy);
  assert.equal(last.action, 'fail');
  assert.match(last.action === 'fail' ? last.reason : '', /^STUCK_IN_QUEUE/);
});

test('failures: capacity and internal errors are transient, dataset and request errors are not', () => {
  assert.equal(classifyJobFailure({ code: 8, message: 'Resource exhausted' }).kind, 'transient');
  assert.equal(classifyJobFailure({ code: 13, message: 'Internal error' }).kind, 'transient');
  assert.equal(classifyJobFailure({ code: 3, message: 'Dataset validation failed' }).kind, 'permanent');
  assert.equal(classifyJobFailure({ code: 13, message: 'invalid dataset: line 4' }).kind, 'permanent');
  assert.equal(decidePoll(submitted(), job('JOB_STATE_FAILED', { error: { code: 8, message: 'no capacity' } }), T0, policy).action, 'resubmit');
  assert.equal(decidePoll(submitted(3), job('JOB_STATE_FAILED', { error: { code: 8, message: 'no capacity' } }), T0, policy).action, 'fail');
  assert.equal(decidePoll(submitted(), job('JOB_STATE_FAILED', { error: { code: 3, message: 'bad dataset' } }), T0, policy).action, 'fail');
});

test('a long run gets a warning, not a cancellation; success records the tuned model', () => {
  const running = applyTransition(submitted(), 'RUNNING', 'started', new Date(T0).toISOString());
  const long = decidePoll(running, job('JOB_STATE_RUNNING', { startTime: new Date(T0).toISOString() }), T0 + 30 * HOUR, policy);
  assert.deepEqual(long.action === 'update' && [long.to, /longer than expected/.test(String(long.changes.warning))], ['RUNNING', true]);
  const done = decidePoll(running, job('JOB_STATE_SUCCEEDED', { tunedModel: { model: 'models/1@1', endpoint: 'endpoints/1' } }), T0 + 2 * HOUR, policy);
  assert.deepEqual(done.action === 'update' && [done.to, done.changes.tunedModel], ['SUCCEEDED', { model: 'models/1@1', endpoint: 'endpoints/1' }]);
});

test('waits are said as people say them, from seconds on the local stack to days in a real queue', () => {
  assert.deepEqual([4_000, 12 * 60_000, 7 * HOUR, 50 * HOUR].map(formatDuration), ['4 s', '12 min', '7.0 h', '2.1 days']);
  const resubmit = decidePoll(submitted(), job('JOB_STATE_PENDING'), T0 + 7 * HOUR, policy);
  assert.match(resubmit.action === 'resubmit' ? resubmit.reason : '', /stuck in Vertex's queue for 7\.0 h/);
});
