import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StatusReader } from '../../../adapters/firestore/status-reader.ts';
import { handleStatus, type StatusRequest } from '../../../functions/status/handler.ts';
import { newRun } from '../../../shared/launch/decide.ts';
import { launchMessageSchema } from '../../../shared/launch/schema.ts';
import { newAttempt, type RunDocument } from '../../../shared/runs/schema.ts';
import { applyTransition } from '../../../shared/runs/transitions.ts';
import { runListSchema, summarizeRun } from '../../../shared/status/api.ts';

const T0 = Date.parse('2026-11-24T00:00:00Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
const submitted = (): RunDocument => {
  const message = launchMessageSchema.parse({
    schemaVersion: 1,
    experiment: 'tickets',
    baseModel: 'gemini-3.5-flash-lite',
    trainingDatasetUri: 'gs://bkt/t.jsonl',
    source: 'test',
    estimatedCostUsd: 0.42,
  });
  const attempt = newAttempt({ number: 1, jobName: 'jobs/1', submittedAt: at(0), reason: 'first submission' });
  return applyTransition(newRun(message, at(0)), 'SUBMITTED', 'submitted', at(0), { attempts: [attempt], currentJobName: 'jobs/1' });
};

test('a run waiting in the queue: its wait and duration count up to now; nothing to note yet', () => {
  const summary = summarizeRun(submitted(), at(90));
  assert.deepEqual(
    [
      summary.state,
      summary.attempts,
      summary.queueWaitSeconds,
      summary.durationSeconds,
      summary.estimatedCostUsd,
      summary.note,
      summary.headline,
    ],
    ['SUBMITTED', 1, 90, 90, 0.42, null, null],
  );
});

test('a failed run: the wait ends when training started, the duration when it failed, and the note says why', () => {
  const run = submitted();
  run.attempts[0] = { ...run.attempts[0]!, startedAt: at(30), endedAt: at(50), endState: 'JOB_STATE_FAILED' };
  const failed = applyTransition(run, 'FAILED', 'the tuning job failed (permanent): Dataset validation failed at line 4', at(50));
  const summary = summarizeRun(failed, at(3600));
  assert.deepEqual([summary.queueWaitSeconds, summary.durationSeconds], [30, 50]);
  assert.match(summary.note!, /Dataset validation failed at line 4/);
});

// A reader over fixed documents: the handler's routing, validation and caching, without Firestore (the browser test covers that path).
const reader = (runs: RunDocument[]): StatusReader => ({
  listRuns: async (query) => ({
    runs: runs.filter((r) => !query.state || r.state === query.state).slice(0, query.pageSize),
    nextPageToken: null,
  }),
  getRun: async (runId) => runs.find((r) => r.runId === runId) ?? null,
  getMetrics: async () => [],
  getDataset: async () => null,
  listExamples: async () => ({ examples: [], nextPageToken: null }),
});
const get = (path: string, extra: Partial<StatusRequest> = {}) =>
  handleStatus({ method: 'GET', path, query: {}, ...extra }, reader([submitted()]), () => T0 + 60_000);

test('the API: summaries that match their schema, 400 naming the bad field, 404 for unknown runs and paths, read-only', async () => {
  const list = await get('/api/runs', { query: { state: 'SUBMITTED' } });
  assert.equal(list.status, 200);
  const body = runListSchema.parse(JSON.parse(String(list.body)));
  assert.deepEqual(
    body.runs.map((r) => [r.experiment, r.queueWaitSeconds]),
    [['tickets', 60]],
  );
  const bad = await get('/api/runs', { query: { state: 'SLEEPING', pageSize: '1000' } });
  assert.equal(bad.status, 400);
  const issues = (JSON.parse(String(bad.body)) as { issues: string[] }).issues;
  assert.ok(issues.some((i) => i.startsWith('state:')) && issues.some((i) => i.startsWith('pageSize:')), issues.join('; '));
  assert.equal((await get('/api/runs/nope')).status, 404);
  assert.equal((await get('/api/runs/../../etc/passwd')).status, 404);
  assert.equal((await get('/api/runs', { method: 'POST' })).status, 405);
});

test('ETags: the same run answers 304 to If-None-Match until it changes', async () => {
  const run = submitted();
  const first = await get(`/api/runs/${run.runId}`);
  const etag = first.headers.etag!;
  assert.match(etag, /^W\/"/);
  assert.equal((await get(`/api/runs/${run.runId}`, { ifNoneMatch: etag })).status, 304);
  const changed = applyTransition(run, 'PENDING', 'queued', at(5));
  const afterChange = await handleStatus(
    { method: 'GET', path: `/api/runs/${run.runId}`, query: {}, ifNoneMatch: etag },
    reader([changed]),
    () => T0,
  );
  assert.equal(afterChange.status, 200);
  assert.notEqual(afterChange.headers.etag, etag);
});

test('the dashboard and its charting library are served as static files', async () => {
  for (const [path, type] of [
    ['/', 'text/html'],
    ['/app.js', 'text/javascript'],
    ['/vendor/uPlot.iife.min.js', 'text/javascript'],
    ['/style.css', 'text/css'],
  ] as const) {
    const response = await get(path);
    assert.equal(response.status, 200, path);
    assert.ok(response.headers['content-type']!.startsWith(type), path);
    assert.ok(response.body.length > 100, path);
  }
});
