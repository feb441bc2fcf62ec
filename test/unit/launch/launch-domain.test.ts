import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelays, classifyError, withRetries } from '../../../shared/errors/classify.ts';
import { describedModelRefusal, launchRefusal, newRun } from '../../../shared/launch/decide.ts';
import { allowedDatasetPrefixes, datasetLocationRefusal } from '../../../shared/launch/dataset-locations.ts';
import { decodeMessageData } from '../../../shared/launch/envelope.ts';
import { launchMessageSchema, runIdFor, type LaunchMessageInput } from '../../../shared/launch/schema.ts';
import { SAME_MESSAGE_GRACE_MS, decideClaim, holdsLease } from '../../../shared/runs/lease.ts';
import { applyTransition, TransitionError } from '../../../shared/runs/transitions.ts';

const input: LaunchMessageInput = {
  schemaVersion: 1,
  experiment: 'exp',
  baseModel: 'gemini-3.5-flash-lite',
  trainingDatasetUri: 'gs://bucket/train.jsonl',
  hyperParameters: { epochCount: 2 },
  source: 'test',
};
const parse = (overrides: Partial<LaunchMessageInput> = {}) => launchMessageSchema.parse({ ...input, ...overrides });

test('the run id is stable for the same request, differs for another, and honours requestId', () => {
  assert.equal(runIdFor(parse()), runIdFor(parse({ source: 'someone else' })), 'who asked does not make another run');
  assert.notEqual(runIdFor(parse()), runIdFor(parse({ hyperParameters: { epochCount: 3 } })));
  assert.equal(runIdFor(parse({ requestId: 'nightly-42' })), 'nightly-42');
  assert.match(runIdFor(parse()), /^run-[0-9a-f]{24}$/, 'usable as a GCP label value');
});

test('the launch schema names the field at fault', () => {
  const result = launchMessageSchema.safeParse({ ...input, trainingDatasetUri: 'C:\\data.jsonl', labels: { Team: 'x' } });
  assert.equal(result.success, false);
  assert.deepEqual(result.error?.issues.map((i) => i.path.join('.')).sort(), ['labels.Team', 'trainingDatasetUri']);
});

test('refusals: a retired model (naming its replacement), adapter size, budget; an unknown model passes (several datasets are merged, not refused)', () => {
  const now = Date.parse('2026-11-30T12:00:00Z');
  assert.equal(launchRefusal(parse(), now), null);
  assert.match(
    launchRefusal(parse({ baseModel: 'gemini-2.0-flash-001' }), now) ?? '',
    /gemini-2\.0-flash-001 retired on 2026-06-01 .*use gemini-3\.5-flash-lite/,
  );
  assert.match(launchRefusal(parse({ baseModel: 'gemini-2.5-pro' }), now) ?? '', /retired on 2026-10-16.*use gemini-3\.5-flash,/);
  // The last day of a model is still a day it can be tuned on; the day after is not.
  assert.equal(launchRefusal(parse({ baseModel: 'gemini-2.5-pro' }), Date.parse('2026-10-16T23:00:00Z')), null);
  assert.equal(
    launchRefusal(parse({ baseModel: 'gemini-4-flash' }), now),
    null,
    'a model released after the catalogue was read: Vertex decides',
  );
  assert.match(
    launchRefusal(parse({ baseModel: 'gemini-4-flash', hyperParameters: { adapterSize: 16 } }), now) ?? '',
    /adapter size 16 is not offered for gemini-4-flash \(1, 2, 4, 8\)/,
    'an unknown model gets the strictest limits',
  );
  assert.equal(launchRefusal(parse({ trainingDatasetUri: ['gs://bkt/a.jsonl', 'gs://bkt/b.jsonl'] }), now), null);
  assert.match(launchRefusal(parse({ maxEstimatedCostUsd: 5 }), now) ?? '', /no estimatedCostUsd/);
  assert.match(launchRefusal(parse({ maxEstimatedCostUsd: 5, estimatedCostUsd: 6 }), now) ?? '', /over the budget/);
  assert.equal(launchRefusal(parse({ maxEstimatedCostUsd: 5, estimatedCostUsd: 4 }), now), null);
});

test('claims: the first delivery acts, a duplicate sees the run in hand, a redelivery of the same message takes it back, an expired lease is taken over', () => {
  const fresh = () => newRun(parse(), '2026-01-01T00:00:00.000Z');
  const lease = 60_000;
  const first = decideClaim(null, fresh, 'msg-1', 0, lease);
  assert.equal(first.action, 'act');
  assert.equal(decideClaim(first.run, fresh, 'msg-2', 500, lease).action, 'in-hand');
  // The same message within Pub/Sub's minimum ack deadline is a concurrent duplicate: it comes back later.
  assert.equal(decideClaim(first.run, fresh, 'msg-1', 500, lease).action, 'busy');
  const again = decideClaim(first.run, fresh, 'msg-1', SAME_MESSAGE_GRACE_MS + 1, lease);
  assert.deepEqual([again.action, again.action === 'act' && again.token], ['act', 2], 'a redelivery after a crash takes its lease back');
  const takeover = decideClaim(first.run, fresh, 'msg-2', lease + 1, lease);
  assert.equal(takeover.action, 'act');
  assert.equal(holdsLease(takeover.run, 1), false, 'the old holder is fenced off');
  const submitted = applyTransition(first.run, 'SUBMITTED', 'first submission', 'now');
  assert.equal(decideClaim(submitted, fresh, 'msg-3', 0, lease).action, 'done');
});

test('transitions append history only on a real change and never move a finished run', () => {
  const run = newRun(parse(), 't0');
  const same = applyTransition(run, 'ACCEPTED', 'again', 't1');
  assert.equal(same.history.length, 1);
  const failed = applyTransition(run, 'FAILED', 'boom', 't2');
  assert.deepEqual(failed.history.at(-1), { at: 't2', from: 'ACCEPTED', to: 'FAILED', reason: 'boom' });
  assert.throws(() => applyTransition(failed, 'RUNNING', 'late event', 't3'), TransitionError);
});

test('errors are classified transient or permanent from status, gRPC code or network failure', () => {
  assert.deepEqual(
    [429, 500, 503, 504].map((status) => classifyError({ status, message: 'x' }).kind),
    ['transient', 'transient', 'transient', 'transient'],
  );
  assert.deepEqual(
    [400, 403, 404].map((status) => classifyError({ status, message: 'x' }).kind),
    ['permanent', 'permanent', 'permanent'],
  );
  assert.equal(classifyError({ code: 14, message: 'UNAVAILABLE' }).kind, 'transient');
  assert.equal(classifyError(new TypeError('fetch failed')).kind, 'transient');
  assert.equal(classifyError(new Error('Invalid dataset')).kind, 'permanent');
});

test('backoff grows exponentially with full jitter under a cap; retries stop at permanent errors', async () => {
  assert.deepEqual(backoffDelays(5, { baseMs: 100, capMs: 1000, random: () => 1 }), [100, 200, 400, 800, 1000]);
  assert.ok(backoffDelays(20).every((d) => d >= 0 && d <= 20_000));
  let calls = 0;
  const slept: number[] = [];
  const value = await withRetries(
    async () => (++calls < 3 ? Promise.reject({ status: 503, message: 'busy' }) : 'ok'),
    [1, 2, 3],
    async (ms) => void slept.push(ms),
  );
  assert.deepEqual([value, calls, slept], ['ok', 3, [1, 2]]);
  calls = 0;
  await assert.rejects(
    withRetries(
      async () => (calls++, Promise.reject({ status: 400, message: 'bad' })),
      [1, 2],
      async () => {},
    ),
  );
  assert.equal(calls, 1);
});

test('Pub/Sub message data decodes to JSON, or says why not', () => {
  const envelope = (data?: string) => ({
    message: { messageId: '1', ...(data === undefined ? {} : { data: Buffer.from(data).toString('base64') }) },
  });
  assert.deepEqual(decodeMessageData(envelope('{"a":1}')), { json: { a: 1 }, raw: '{"a":1}' });
  assert.match((decodeMessageData(envelope()) as { problem: string }).problem, /no data/);
  assert.match((decodeMessageData(envelope('{oops')) as { problem: string }).problem, /not JSON/);
});

test('a launch may read only datasets the converter wrote or an operator allowed, checked for training, validation and evaluation', () => {
  const allowed = allowedDatasetPrefixes({ DATASETS_BUCKET: 'acme-sft-datasets', ALLOWED_DATASET_PREFIXES: 'gs://acme-curated/sft/' })!;
  assert.deepEqual(allowed, ['gs://acme-sft-datasets/', 'gs://acme-curated/sft/']);
  const ok = parse({
    trainingDatasetUri: 'gs://acme-sft-datasets/datasets/d1/train.jsonl',
    validationDatasetUri: 'gs://acme-curated/sft/v.jsonl',
  });
  assert.equal(datasetLocationRefusal(ok, allowed), null);
  const refusals: [Record<string, unknown>, RegExp][] = [
    [{ trainingDatasetUri: 'gs://other-team/secrets.jsonl' }, /training dataset gs:\/\/other-team\/secrets\.jsonl is outside/],
    [{ trainingDatasetUri: 'gs://acme-raw/incoming/upload.jsonl' }, /outside the locations/],
    [{ trainingDatasetUri: 'gs://acme-sft-datasets/incoming/../x.jsonl' }, /relative or empty path segments/],
    [{ trainingDatasetUri: ['gs://acme-sft-datasets/a.jsonl', 'gs://elsewhere/b.jsonl'] }, /training dataset gs:\/\/elsewhere/],
    [
      { trainingDatasetUri: 'gs://acme-sft-datasets/a.jsonl', evaluation: { datasetUri: 'gs://elsewhere/held-out.jsonl' } },
      /evaluation dataset gs:\/\/elsewhere/,
    ],
    [
      { trainingDatasetUri: 'gs://acme-sft-datasets/a.jsonl', validationDatasetUri: 'gs://acme-curated/other/v.jsonl' },
      /validation dataset/,
    ],
  ];
  for (const [fields, expected] of refusals)
    assert.match(datasetLocationRefusal(parse(fields as Partial<LaunchMessageInput>), allowed) ?? '(allowed)', expected);
  assert.equal(allowedDatasetPrefixes({}), null, 'no bucket and no list: no restriction (tests, the CLI against a bare project)');
});

test("labels follow Google's rules: international lowercase allowed, at most 62 of the user's (Vertex takes 64)", () => {
  assert.ok(launchMessageSchema.safeParse({ ...parse(), labels: { team: 'données', équipe: 'nlp' } }).success);
  assert.ok(!launchMessageSchema.safeParse({ ...parse(), labels: { Team: 'x' } }).success, 'no uppercase');
  assert.ok(!launchMessageSchema.safeParse({ ...parse(), labels: { '1team': 'x' } }).success, 'a letter first');
  assert.ok(
    launchMessageSchema.safeParse({ ...parse(), labels: Object.fromEntries(Array.from({ length: 62 }, (_, i) => [`k${i}`, 'v'])) }).success,
  );
  assert.ok(
    !launchMessageSchema.safeParse({ ...parse(), labels: Object.fromEntries(Array.from({ length: 63 }, (_, i) => [`k${i}`, 'v'])) })
      .success,
  );
});

test('a tuned model another made: refused when Vertex has no such model, or made before 2025-07-11; its method is left to Vertex', () => {
  const name = 'projects/p/locations/us-central1/models/42@1';
  assert.match(describedModelRefusal(name, null) ?? '', /models\/42@1 does not exist: Vertex has no such model/);
  assert.equal(
    describedModelRefusal(name, { createTime: '2025-07-10T23:59:59Z' }),
    `${name} was made on 2025-07-10: only models tuned on or after 2025-07-11 can be continued`,
  );
  assert.equal(describedModelRefusal(name, { createTime: '2025-07-11T00:00:00Z' }), null);
  assert.equal(describedModelRefusal(name, { createTime: null }), null, 'no date given: Vertex judges');
});
