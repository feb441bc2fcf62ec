import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideBatchTrack } from '../../../shared/evaluation/batch-poll.ts';
import { requestKey, toInferenceCase } from '../../../shared/evaluation/inference-input.ts';
import { headlineScore } from '../../../shared/evaluation/plan.ts';
import type { BatchTrack } from '../../../shared/evaluation/schema.ts';
import { normalizeAnswer } from '../../../shared/evaluation/normalize.ts';
import { readPrediction, ScoreAccumulator, scoreDelta } from '../../../shared/evaluation/scoring.ts';
import { newPoints, summarizeSeries } from '../../../shared/metrics/series.ts';

const turn = (role: string, text: string) => ({ role, parts: [{ text }] });

test('an example becomes a request up to the last user turn, with the last model turn as the reference', () => {
  const input = toInferenceCase({
    systemInstruction: { parts: [{ text: 'Answer in JSON.' }] },
    contents: [turn('user', 'hi'), turn('model', 'hello'), turn('user', 'refund?'), turn('model', '{"intent":"refund"}')],
  });
  assert.ok('key' in input);
  assert.deepEqual(
    input.request.contents.map((c) => c.role),
    ['user', 'model', 'user'],
  );
  assert.equal(input.reference, '{"intent":"refund"}');
  assert.deepEqual(input.request.systemInstruction, { parts: [{ text: 'Answer in JSON.' }] });
  assert.match((toInferenceCase({ contents: [turn('user', 'q')] }) as { skip: string }).skip, /no model turn/);
  assert.match((toInferenceCase({ messages: [] }) as { skip: string }).skip, /no "contents"/);
});

test('the join key survives Vertex echoing the request with fields added or reordered', () => {
  const request = { contents: [turn('user', 'refund?')] };
  const echoed = { contents: [{ parts: [{ text: 'refund?' }], role: 'user' }], generationConfig: {} };
  assert.equal(requestKey(echoed), requestKey(request));
  assert.notEqual(requestKey({ contents: [turn('user', 'refund!')] }), requestKey(request));
});

test('prediction lines: text, blocked by the safety filter, empty, failed', () => {
  const request = { contents: [turn('user', 'q')] };
  assert.deepEqual(
    readPrediction({ request, response: { candidates: [{ content: { parts: [{ text: 'a' }, { text: 'b' }] }, finishReason: 'STOP' }] } })
      .outcome,
    { kind: 'text', text: 'ab' },
  );
  assert.deepEqual(readPrediction({ request, response: { promptFeedback: { blockReason: 'SAFETY' } } }).outcome, {
    kind: 'blocked',
    reason: 'SAFETY',
  });
  assert.deepEqual(readPrediction({ request, response: { candidates: [{ finishReason: 'SAFETY' }] } }).outcome, {
    kind: 'blocked',
    reason: 'SAFETY',
  });
  assert.deepEqual(
    readPrediction({ request, response: { candidates: [{ content: { parts: [{ text: ' ' }] }, finishReason: 'STOP' }] } }).outcome,
    { kind: 'empty' },
  );
  assert.deepEqual(readPrediction({ request, status: 'INTERNAL: quota' }).outcome, { kind: 'failed', reason: 'INTERNAL: quota' });
  assert.equal(readPrediction({ request }).key, requestKey(request));
});

test('scores: exact, normalised, JSON validity and field accuracy, blocked and missing counted as wrong', () => {
  const scores = new ScoreAccumulator();
  scores.add('Paris', { kind: 'text', text: 'Paris' });
  scores.add('New  York', { kind: 'text', text: ' new york ' });
  scores.add('{"intent":"refund","priority":"high"}', { kind: 'text', text: '```json\n{"priority":"high","intent":"bug"}\n```' });
  scores.add('{"intent":"refund"}', { kind: 'text', text: 'not json' });
  scores.add('x', { kind: 'blocked', reason: 'SAFETY' });
  scores.add('y', null);
  const result = scores.result();
  assert.equal(result.n, 6);
  assert.equal(result.exactMatch, Number((1 / 6).toFixed(6)));
  assert.equal(result.normalizedMatch, Number((2 / 6).toFixed(6)));
  assert.equal(result.jsonValid, 0.5);
  assert.equal(result.jsonFieldAccuracy, 0.25);
  assert.deepEqual([result.blocked, result.empty, result.missing], [1, 0, 1]);
  assert.equal(normalizeAnswer(' Ａ  b\n'), 'a b');
  const none = new ScoreAccumulator().result();
  assert.equal(none.jsonValid, null, 'no JSON references: no JSON score, rather than a misleading 0');
  assert.deepEqual(scoreDelta(none, result).jsonValid, null);
  assert.deepEqual(headlineScore('normalized_match', none, result), {
    base: 0,
    tuned: result.normalizedMatch,
    delta: result.normalizedMatch,
  });
});

const track = (state: string, attempts = 1): BatchTrack => ({
  model: 'gemini-3.5-flash-lite',
  attempts: Array.from({ length: attempts }, (_, i) => ({
    number: i + 1,
    jobName: `b${i + 1}`,
    submittedAt: '2026-01-01T00:00:00.000Z',
    endedAt: null,
    endState: null,
    error: null,
    reason: 'r',
  })),
  currentJobName: `b${attempts}`,
  state,
  mode: 'batch',
  outputDirectory: null,
});
const policy = { stuckAfterMs: 60 * 60_000, maxAttempts: 3, runningWarningMs: 24 * 3600_000 };
const at = (minutes: number) => Date.parse('2026-01-01T00:00:00.000Z') + minutes * 60_000;
const job = (state: string, extra: Partial<{ error: { message: string }; outputDirectory: string }> = {}) => ({
  name: 'b1',
  state,
  createTime: '2026-01-01T00:00:00.000Z',
  error: null,
  outputDirectory: null,
  ...extra,
});

test('batch jobs follow the poller policy: done, failed → resubmitted then failed, stuck → cancelled and resubmitted with a longer wait each time', () => {
  const done = decideBatchTrack(
    'tuned',
    track('JOB_STATE_RUNNING'),
    job('JOB_STATE_SUCCEEDED', { outputDirectory: 'gs://o/x' }),
    at(5),
    policy,
  );
  assert.equal(done.action, 'update');
  assert.equal(done.action === 'update' && done.track.outputDirectory, 'gs://o/x');
  assert.equal(
    decideBatchTrack('base', track('JOB_STATE_FAILED'), job('JOB_STATE_FAILED', { error: { message: 'boom' } }), at(5), policy).action,
    'resubmit',
  );
  const last = decideBatchTrack(
    'base',
    track('JOB_STATE_FAILED', 3),
    job('JOB_STATE_FAILED', { error: { message: 'boom' } }),
    at(5),
    policy,
  );
  assert.equal(last.action, 'fail');
  assert.match(last.action === 'fail' ? last.reason : '', /base model's batch job b1 ended JOB_STATE_FAILED: boom \(attempt 3 of 3\)/);
  assert.equal(decideBatchTrack('tuned', track('JOB_STATE_PENDING'), job('JOB_STATE_PENDING'), at(59), policy).action, 'none');
  const stuck = decideBatchTrack('tuned', track('JOB_STATE_PENDING'), job('JOB_STATE_PENDING'), at(61), policy);
  assert.deepEqual(stuck.action === 'resubmit' && [stuck.cancelFirst, stuck.endState], [true, 'JOB_STATE_CANCELLED']);
  assert.equal(
    decideBatchTrack('tuned', track('JOB_STATE_PENDING', 2), job('JOB_STATE_PENDING'), at(61), policy).action,
    'none',
    'the second attempt may wait twice as long',
  );
  assert.equal(decideBatchTrack('tuned', track('JOB_STATE_PENDING'), job('JOB_STATE_RUNNING'), at(61), policy).action, 'update');
});

test('metric summaries: final and best (lowest loss, highest accuracy); a re-read of the same points writes nothing', () => {
  const loss = summarizeSeries({
    metric: '/train_total_loss',
    points: [
      { step: 2, value: 1.5, wallTime: null },
      { step: 1, value: 2, wallTime: null },
      { step: 3, value: 1.7, wallTime: null },
    ],
  });
  assert.deepEqual(loss, { final: 1.7, finalStep: 3, best: 1.5, bestStep: 2, points: 3 });
  const accuracy = summarizeSeries({
    metric: '/train_fraction_of_correct_next_step_preds',
    points: [
      { step: 1, value: 0.5, wallTime: null },
      { step: 2, value: 0.7, wallTime: null },
      { step: 3, value: 0.6, wallTime: null },
    ],
  });
  assert.deepEqual([accuracy.best, accuracy.bestStep], [0.7, 2]);
  const stored = { '1': { value: 2, wallTime: null }, '2': { value: 1.5, wallTime: null } };
  assert.deepEqual(
    newPoints(stored, [
      { step: 1, value: 2, wallTime: null },
      { step: 2, value: 1.5, wallTime: null },
    ]),
    [],
  );
  assert.deepEqual(
    newPoints(stored, [{ step: 3, value: 1.4, wallTime: null }]).map((p) => p.step),
    [3],
  );
});
