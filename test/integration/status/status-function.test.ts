import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createCompletionStore } from '../../../adapters/firestore/completion-store.ts';
import { createFirestore, createRunStore } from '../../../adapters/firestore/run-store.ts';
import { freePort, waitForPort } from '../../../emulators/process.ts';
import { newRun } from '../../../shared/launch/decide.ts';
import { launchMessageSchema } from '../../../shared/launch/schema.ts';
import { useEmulators } from '../../support/emulators.ts';

/**
 * The status function as deployed (the functions-framework serving functions/status, over the
 * Firestore emulator), asked what a hostile or careless client asks: every answer is a status
 * code with a JSON reason, never a crash, a stack trace, or a silent "everything".
 */
const root = fileURLToPath(new URL('../../../', import.meta.url));
const emulators = useEmulators({ firestore: true });
let server: ChildProcess;
let base = '';

before(async () => {
  await emulators.ready;
  const db = createFirestore(emulators.projectId);
  const runs = createRunStore(db);
  for (const experiment of ['a', 'b']) {
    const message = launchMessageSchema.parse({
      schemaVersion: 1,
      requestId: `run-${experiment}`,
      experiment,
      baseModel: 'gemini-3.5-flash-lite',
      trainingDatasetUri: 'gs://bkt/t.jsonl',
      source: 'test',
    });
    await runs.claim(message.requestId!, () => newRun(message, new Date().toISOString()), 'seed', Date.now(), 1);
  }
  // Run a's per-example comparison, as the completion handler writes it: 7 examples, 3 better, 1 worse.
  const verdicts = ['better', 'same', 'better', 'worse', 'same', 'better', 'same'] as const;
  const scores = (value: number) => ({
    status: 'answered' as const,
    exactMatch: value,
    normalizedMatch: value,
    jsonFieldAccuracy: null,
    rougeL: value,
    bleu: value,
  });
  await createCompletionStore(db).writeExamples(
    'run-a',
    verdicts.map((verdict, index) => ({
      schemaVersion: 1 as const,
      runId: 'run-a',
      index,
      prompt: `question ${index}`,
      reference: `answer ${index}`,
      answers: { base: 'x', tuned: verdict === 'better' ? `answer ${index}` : 'x' },
      scores: { base: scores(verdict === 'worse' ? 1 : 0), tuned: scores(verdict === 'better' ? 1 : 0) },
      metric: 'exact_match',
      verdict,
    })),
  );
  await db.terminate();
  const port = await freePort();
  server = spawn(
    process.execPath,
    [
      `${root}node_modules/@google-cloud/functions-framework/build/src/main.js`,
      '--target=status',
      '--signature-type=http',
      `--source=${root}functions/status/index.ts`,
      `--port=${port}`,
    ],
    {
      env: {
        ...process.env,
        GOOGLE_CLOUD_PROJECT: emulators.projectId,
        FIRESTORE_EMULATOR_HOST: emulators.firestoreHost,
        LOG_LEVEL: 'ERROR',
        NODE_ENV: 'production',
      },
      stdio: 'ignore',
    },
  );
  base = `http://127.0.0.1:${port}`;
  await waitForPort(port, 'the status function');
});
after(() => {
  server?.kill();
});

const get = async (path: string) => {
  const response = await fetch(`${base}${path}`);
  const text = await response.text();
  return { status: response.status, type: response.headers.get('content-type') ?? '', text };
};

test('run ids Firestore reserves or cannot hold are a 404 with a reason, not a 500', async () => {
  for (const id of ['__proto__', '__name__', '__x__', 'a%2Fb', '..', 'x'.repeat(300)]) {
    const answer = await get(`/api/runs/${id}`);
    assert.equal(answer.status, 404, `${id}: ${answer.text}`);
    assert.match(answer.type, /application\/json/, id);
    assert.match(JSON.parse(answer.text).error, /no run|no such resource/, id);
  }
  assert.equal((await get('/api/runs/run-a')).status, 200, 'a real run still answers');
});

test('repeated, bracketed and unknown filters, and a page token this API never gave, are a 400 naming the parameter', async () => {
  for (const [query, named] of [
    ['experiment=a&experiment=b', 'experiment'],
    ['experiment[$ne]=x', 'experiment'],
    ['state[]=RUNNING', 'state'],
    ['experimnt=a', 'experimnt'],
    ['pageToken=garbage-token-nobody-gave', 'pageToken'],
    ['pageToken=__name__', 'pageToken'],
    ['pageSize=100000', 'pageSize'],
  ] as const) {
    const answer = await get(`/api/runs?${query}`);
    assert.equal(answer.status, 400, `${query}: ${answer.text}`);
    assert.match(answer.type, /application\/json/, query);
    assert.match(answer.text, new RegExp(named.replace(/[[\]$]/g, '\\$&')), `${query}: names ${named}`);
  }
  const all = JSON.parse((await get('/api/runs?experiment=a')).text) as { runs: { runId: string }[] };
  assert.deepEqual(
    all.runs.map((run) => run.runId),
    ['run-a'],
    'a proper filter still filters',
  );
});

test('a malformed percent-encoding, which the framework would refuse with its own HTML page, is a JSON 400 with the reason and no stack trace', async () => {
  for (const path of ['/api/runs/%ZZ', '/api/runs/%E0%A4%A', '/%']) {
    const answer = await get(path);
    assert.equal(answer.status, 400, path);
    assert.match(answer.type, /application\/json/, path);
    assert.match(JSON.parse(answer.text).error, /not valid percent-encoding/, path);
    assert.doesNotMatch(answer.text, /URIError|node_modules|at decode/, 'nothing about the server leaks');
  }
  assert.equal((await get('/api/runs/run-a')).status, 200, 'a proper path still reaches the function');
});

test('the per-example comparison pages in example order, filtered by verdict; a bad filter is a 400', async () => {
  const first = await get('/api/runs/run-a/examples?verdict=better&pageSize=2');
  assert.equal(first.status, 200, first.text);
  const page = JSON.parse(first.text) as { examples: { index: number; verdict: string; prompt: string }[]; nextPageToken: string | null };
  assert.deepEqual(
    page.examples.map((example) => [example.index, example.verdict, example.prompt]),
    [
      [0, 'better', 'question 0'],
      [2, 'better', 'question 2'],
    ],
  );
  assert.equal(page.nextPageToken, 'e000002');
  const second = JSON.parse(
    (await get(`/api/runs/run-a/examples?verdict=better&pageSize=2&pageToken=${page.nextPageToken}`)).text,
  ) as typeof page;
  assert.deepEqual(
    second.examples.map((example) => example.index),
    [5],
  );
  assert.equal(second.nextPageToken, null);
  const all = JSON.parse((await get('/api/runs/run-a/examples?pageSize=500')).text) as typeof page;
  assert.equal(all.examples.length, 7);
  const bad = await get('/api/runs/run-a/examples?verdict=best');
  assert.equal(bad.status, 400);
  assert.match(bad.text, /verdict/);
});
