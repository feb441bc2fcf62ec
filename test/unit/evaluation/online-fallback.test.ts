import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyError } from '../../../shared/errors/classify.ts';
import {
  claimOnlineTrack,
  isBatchRefusal,
  onlineNeedsContinuation,
  onlinePartCount,
  onlinePartUri,
  onlineProgressed,
  onlineReleased,
  onlineTrack,
} from '../../../shared/evaluation/online.ts';

const T0 = Date.parse('2026-11-24T00:00:00Z');
const MINUTE = 60_000;
const track = () =>
  onlineTrack(
    'projects/p/locations/l/models/9@1',
    'projects/p/locations/l/endpoints/9',
    'Do not support model',
    'gs://out/runs/r/evaluation/tuned/a1/online',
    250,
    100,
    new Date(T0).toISOString(),
  );

test('a refusal is a permanent 400 that says the model is not supported; quota and other 400s are not', () => {
  assert.ok(isBatchRefusal(classifyError({ status: 400, message: 'Do not support publisher model gemini-2.5-flash-preview-04-17' })));
  assert.ok(isBatchRefusal(classifyError({ status: 400, message: 'Batch prediction is not supported for tuned models' })));
  assert.ok(
    !isBatchRefusal(classifyError({ status: 429, message: 'Model not supported right now, quota' })),
    'transient: retried, never a reason to go online',
  );
  assert.ok(
    !isBatchRefusal(classifyError({ status: 400, message: 'inputConfig.gcsSource.uris must be gs:// URIs' })),
    'a bad request stays an error',
  );
  assert.ok(!isBatchRefusal(classifyError({ status: 403, message: 'Permission denied: not supported' })));
});

test('parts: 250 requests in parts of 100 are three files, named in request order', () => {
  assert.equal(onlinePartCount(track().online!), 3);
  assert.equal(onlinePartUri('gs://out/x/online/', 2), 'gs://out/x/online/part-00002.jsonl');
});

test('one delivery at a time: a live lease keeps a second out, an expired or released one lets it in', () => {
  const first = claimOnlineTrack(track(), 'delivery-1', T0, 5 * MINUTE);
  assert.ok('claimed' in first);
  assert.ok('skip' in claimOnlineTrack(first.claimed, 'delivery-2', T0 + MINUTE, 5 * MINUTE));
  assert.ok(
    'claimed' in claimOnlineTrack(first.claimed, 'delivery-1', T0 + MINUTE, 5 * MINUTE),
    'a redelivery of the same message carries on',
  );
  assert.ok('claimed' in claimOnlineTrack(first.claimed, 'delivery-2', T0 + 6 * MINUTE, 5 * MINUTE), 'a dead holder’s lease runs out');
  const released = onlineReleased(first.claimed, 'delivery-1', new Date(T0 + MINUTE).toISOString());
  assert.ok('claimed' in claimOnlineTrack(released, 'delivery-2', T0 + MINUTE, 5 * MINUTE));
});

test('progress ends the track after the last part, and a quiet unfinished track asks for someone to carry it on', () => {
  const claimed = claimOnlineTrack(track(), 'd', T0, 5 * MINUTE);
  assert.ok('claimed' in claimed);
  const two = onlineProgressed(claimed.claimed, 2, 'd', T0 + MINUTE, 5 * MINUTE);
  assert.deepEqual([two.state, two.online!.partsDone], ['JOB_STATE_RUNNING', 2]);
  assert.ok(!onlineNeedsContinuation(two, T0 + 2 * MINUTE, 15 * MINUTE), 'held: someone is on it');
  assert.ok(onlineNeedsContinuation(two, T0 + 20 * MINUTE, 15 * MINUTE), 'lease expired and quiet for 15 min');
  const done = onlineProgressed(two, 3, 'd', T0 + 3 * MINUTE, 5 * MINUTE);
  assert.deepEqual([done.state, done.attempts[0]!.endState, done.online!.holder], ['JOB_STATE_SUCCEEDED', 'JOB_STATE_SUCCEEDED', null]);
  assert.ok(!onlineNeedsContinuation(done, T0 + 60 * MINUTE, 15 * MINUTE));
  assert.ok('skip' in claimOnlineTrack(done, 'e', T0 + 60 * MINUTE, 5 * MINUTE));
});

test("Google's JSON error bodies are read out of error messages, so the refusal says why", () => {
  const info = classifyError({
    status: 400,
    message:
      '{"error":{"code":400,"message":"Do not support model projects/p/locations/l/models/9@1 for batch prediction","status":"INVALID_ARGUMENT"}}',
  });
  assert.equal(info.message, 'INVALID_ARGUMENT: Do not support model projects/p/locations/l/models/9@1 for batch prediction');
  assert.ok(isBatchRefusal(info));
  assert.equal(
    classifyError({ status: 500, message: 'got status: 500 Internal. {"error":{"message":"boom"}}' }).message,
    'got status: 500 Internal: boom',
  );
  assert.equal(classifyError({ status: 500, message: 'plain words {"error": not json' }).message, 'plain words {"error": not json');
});
