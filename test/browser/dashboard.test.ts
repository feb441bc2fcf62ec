import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Firestore } from '@google-cloud/firestore';
import { chromium, type Browser } from 'playwright-core';
import { startStack, type Stack } from '../../local/stack.ts';
import { waitFor } from '../support/wait.ts';

/**
 * The dashboard in a real browser: headless Chromium from Debian's packages, driven by
 * playwright-core, against the local stack with a completed sample run and a failed run.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const artifacts = `${root}test-artifacts/`;
let stack: Stack;
let db: Firestore;
let browser: Browser;
const runs: { completed?: string; failed?: string } = {};

/** Outside CI a machine without Chromium skips the browser checks; CI must run them (scripts/setup.sh installs it). */
function withoutBrowser(t: TestContext): boolean {
  if (browser) return false;
  const why = `no Chromium at ${CHROMIUM}: scripts/setup.sh installs Debian's chromium package (or set CHROMIUM_PATH)`;
  if (process.env.CI) assert.fail(why);
  t.skip(why);
  return true;
}
const runOf = (name: string, state: string) =>
  waitFor(
    `${name} to reach ${state}`,
    async () => {
      const dataset = (await db.collection('datasets').where('source.name', '==', name).get()).docs[0]?.data();
      const run = dataset?.launch?.runId ? (await db.doc(`runs/${dataset.launch.runId}`).get()).data() : undefined;
      return run?.state === state ? (run.runId as string) : undefined;
    },
    120_000,
  );

before(async () => {
  stack = await startStack({
    projectId: 'browser',
    timing: { validationMs: 300, queueMs: 800, runMs: 2500 },
    pollEveryMs: 500,
    functionEnv: { STUCK_AFTER_SECONDS: '3' },
  });
  db = new Firestore({ projectId: stack.projectId });
  const bucket = stack.storage.bucket(stack.rawBucket);
  // The judge asked for (the simulator's toy answers): its verdicts show beside the scores and in the examples' table.
  await bucket
    .file('incoming/tickets.csv.launch.json')
    .save(JSON.stringify({ launch: { experiment: 'dashboard', evaluation: { judge: { maxExamples: 50 } } } }));
  await bucket.file('incoming/tickets.csv').save(readFileSync(`${root}samples/support-tickets.csv`));
  runs.completed = await runOf('incoming/tickets.csv', 'COMPLETED');
  stack.simulator.control.failNextJobs(1, { code: 3, message: 'Dataset validation failed: invalid example at line 4 (simulated)' });
  await bucket.file('incoming/broken.csv.launch.json').save(JSON.stringify({ launch: { experiment: 'dashboard-failed' } }));
  await bucket.file('incoming/broken.csv').save(readFileSync(`${root}samples/support-tickets.csv`));
  runs.failed = await runOf('incoming/broken.csv', 'FAILED');
  if (!existsSync(CHROMIUM)) return;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  mkdirSync(artifacts, { recursive: true });
});
after(async () => {
  await browser?.close();
  await db?.terminate();
  await stack?.stop();
});

test('the runs table lists the sample run with its state, attempts and evaluation headline', async (t) => {
  if (withoutBrowser(t)) return;
  const page = await browser.newPage();
  await page.goto(stack.urls.status!);
  await page.waitForSelector('body[data-ready="true"]');
  const row = page.locator(`tr[data-run="${runs.completed}"]`);
  assert.equal(await row.locator('[data-state]').getAttribute('data-state'), 'COMPLETED');
  assert.match(await row.innerText(), /dashboard\s+gemini-3\.5-flash-lite\s+1/);
  assert.match(await row.innerText(), /json_fields [\d.]+% → [\d.]+%/);
  assert.equal(await page.locator(`tr[data-run="${runs.failed}"] [data-state]`).getAttribute('data-state'), 'FAILED');
  await page.screenshot({ path: `${artifacts}dashboard-runs.png`, fullPage: true });
  await page.close();
});

test('a run page draws its loss and accuracy curves from the stored metric points, and shows the evaluation', async (t) => {
  if (withoutBrowser(t)) return;
  const page = await browser.newPage();
  await page.goto(`${stack.urls.status}#/runs/${runs.completed}`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.waitForSelector('[data-chart="loss"] canvas');
  const chart = await page.evaluate(() => {
    const charts = (window as unknown as { __charts: Record<string, { data: (number | null)[][] }> }).__charts;
    return { loss: charts.loss!.data, accuracy: charts.accuracy!.data };
  });
  const stored = (await db.collection(`runs/${runs.completed}/metrics`).get()).docs.map((doc) => doc.data());
  const trainLoss = stored.find((doc) => doc.metric === '/train_total_loss')!.points as Record<string, { value: number }>;
  const evalLoss = stored.find((doc) => doc.metric === '/eval_total_loss')!.points as Record<string, { value: number }>;
  const steps = Object.keys(trainLoss)
    .map(Number)
    .sort((a, b) => a - b);
  assert.deepEqual(chart.loss[0], steps, 'x: every stored step');
  assert.deepEqual(
    chart.loss[1],
    steps.map((s) => trainLoss[String(s)]!.value),
    'train loss: the stored values',
  );
  assert.deepEqual(
    chart.loss[2]!.filter((v) => v !== null),
    Object.keys(evalLoss)
      .map(Number)
      .sort((a, b) => a - b)
      .map((s) => evalLoss[String(s)]!.value),
    'eval loss',
  );
  assert.ok(chart.loss[1]!.at(-1)! < chart.loss[1]![0]!, 'the loss fell');
  assert.equal(chart.accuracy[0]!.length, steps.length);
  assert.match(await page.locator('#evaluation').innerText(), /held-out examples; headline json_fields/);
  assert.match(
    await page.locator('#judge').innerText(),
    /judge \(default\): tuned preferred on \d+, base on \d+, neither on \d+ of \d+ examples/,
  );
  assert.match(
    await page.locator('#timeline').innerText(),
    /attempt 1 in us-central1: .*\/locations\/us-central1\/tuningJobs\/\d+ submitted/,
  );
  assert.match(await page.locator('#dataset').innerText(), /25 valid, 1 rejected/);
  await page.screenshot({ path: `${artifacts}dashboard-run.png`, fullPage: true });

  // Example by example: every held-out example, then only those the tuned model did better on.
  const result = (await db.doc(`runs/${runs.completed}`).get()).data()!.evaluation.result as {
    n: number;
    verdicts: { better: number; worse: number; same: number };
  };
  await page.waitForSelector('#examples-list[data-verdict="all"]');
  assert.equal(await page.locator('#examples-table tbody tr').count(), result.n);
  await page.click('#example-filters button[data-verdict="better"]');
  await page.waitForSelector('#examples-list[data-verdict="better"]');
  const better = await page.locator('#examples-table tbody tr').count();
  assert.equal(result.verdicts.better > 0 ? better : 0, result.verdicts.better);
  if (better > 0) assert.match(await page.locator('#examples-table tbody tr').first().innerText(), /better/);
  assert.equal(await page.locator('#examples-table thead th').nth(2).innerText(), 'judge');
  if (better > 0) assert.match(await page.locator('#examples-table tbody tr td').nth(2).innerText(), /^(tuned|base|tie)$/);
  await page.screenshot({ path: `${artifacts}dashboard-examples.png`, fullPage: true });
  await page.close();
});

test('a failed run shows its reason', async (t) => {
  if (withoutBrowser(t)) return;
  const page = await browser.newPage();
  await page.goto(`${stack.urls.status}#/runs/${runs.failed}`);
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.locator('#failure').count(), 1, `no failure reason on the page:\n${await page.locator('body').innerText()}`);
  assert.match(await page.locator('#failure').innerText(), /Dataset validation failed: invalid example at line 4/);
  await page.screenshot({ path: `${artifacts}dashboard-failed.png`, fullPage: true });
  await page.close();
});

test('the read API: filters, paging, one run as the run document, ETags that answer 304', async () => {
  const api = (path: string, headers: Record<string, string> = {}) => fetch(new URL(path, stack.urls.status), { headers });
  const all = (await (await api('api/runs')).json()) as { runs: { runId: string; state: string }[] };
  assert.deepEqual(new Set(all.runs.map((r) => r.runId)), new Set([runs.completed, runs.failed]));
  const failed = (await (await api('api/runs?state=FAILED')).json()) as { runs: { runId: string; note: string }[] };
  assert.deepEqual(
    failed.runs.map((r) => r.runId),
    [runs.failed],
  );
  assert.match(failed.runs[0]!.note, /Dataset validation failed/);
  const page1 = (await (await api('api/runs?pageSize=1')).json()) as { runs: { runId: string }[]; nextPageToken: string };
  const page2 = (await (await api(`api/runs?pageSize=1&pageToken=${page1.nextPageToken}`)).json()) as {
    runs: { runId: string }[];
    nextPageToken: string | null;
  };
  assert.deepEqual([...page1.runs, ...page2.runs].map((r) => r.runId).sort(), [runs.completed, runs.failed].sort());
  assert.equal(page2.nextPageToken, null);
  const future = (await (await api(`api/runs?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).json()) as {
    runs: unknown[];
  };
  assert.equal(future.runs.length, 0);
  assert.equal((await api('api/runs?state=NOPE')).status, 400);
  const one = await api(`api/runs/${runs.completed}`);
  const etag = one.headers.get('etag')!;
  assert.equal(((await one.json()) as { state: string }).state, 'COMPLETED');
  assert.equal((await api(`api/runs/${runs.completed}`, { 'if-none-match': etag })).status, 304);
  const evaluation = (await (await api(`api/runs/${runs.completed}/evaluation`)).json()) as { evaluation: { result: { n: number } } };
  assert.ok(evaluation.evaluation.result.n > 0);
  assert.equal((await api('api/runs/no-such-run')).status, 404);
});

test('a run page follows a live run without a reload: attempt 1 cancelled as stuck, attempt 2 resubmitted, then COMPLETED', async (t) => {
  if (withoutBrowser(t)) return;
  stack.simulator.control.stickNextJobs(1);
  const bucket = stack.storage.bucket(stack.rawBucket);
  await bucket.file('incoming/stuck.csv.launch.json').save(JSON.stringify({ launch: { experiment: 'dashboard-stuck' } }));
  await bucket.file('incoming/stuck.csv').save(readFileSync(`${root}samples/support-tickets.csv`));
  const runId = await waitFor('the stuck run to be submitted', async () => {
    const dataset = (await db.collection('datasets').where('source.name', '==', 'incoming/stuck.csv').get()).docs[0]?.data();
    const run = dataset?.launch?.runId ? (await db.doc(`runs/${dataset.launch.runId}`).get()).data() : undefined;
    return run?.attempts?.length === 1 ? (run.runId as string) : undefined;
  });
  const page = await browser.newPage();
  await page.goto(`${stack.urls.status}#/runs/${runId}`);
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.locator('#timeline li').count(), 1, 'one attempt when the page opened');
  assert.equal(await page.locator('#live').innerText(), '● live');
  // No navigation from here on: the page's own refresh must bring the rest.
  await page.waitForSelector('#run-title [data-state="COMPLETED"]', { timeout: 120_000 });
  const attempts = await page.locator('#timeline li').allInnerTexts();
  assert.equal(attempts.length, 2, attempts.join('\n'));
  assert.match(attempts[0]!, /JOB_STATE_CANCELLED/);
  assert.match(attempts[1]!, /stuck in Vertex's queue/);
  assert.match(await page.locator('#evaluation').innerText(), /headline json_fields/);
  assert.equal(await page.locator('#live').innerText(), '', 'a finished run stops refreshing');
  await page.screenshot({ path: `${artifacts}dashboard-resubmitted.png`, fullPage: true });
  await page.close();
});
