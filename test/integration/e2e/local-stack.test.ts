import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Firestore } from '@google-cloud/firestore';
import { startStack, type Stack } from '../../../local/stack.ts';
import { waitFor } from '../../support/wait.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function run(
  command: string,
  args: string[],
  timeoutMs: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

test('the README main command: npm start -- --once runs the sample from the bucket to a completed, evaluated run', async () => {
  // Asynchronously: the stack this file starts for the other tests lives in this process and must keep serving meanwhile.
  const result = await run(process.execPath, [`${root}local/start.ts`, '--once'], 240_000);
  assert.equal(result.status, 0, `${result.stdout.slice(-3000)}\n${result.stderr.slice(-2000)}`);
  assert.match(result.stdout, /converted: 25 valid examples, 1 rejected/);
  assert.match(result.stdout, /history\s+ACCEPTED → SUBMITTED → PENDING → RUNNING → SUCCEEDED → EVALUATING → SCORING → COMPLETED/);
  assert.match(result.stdout, /metrics copied to Firestore: train loss [\d.]+ at step 60/);
  assert.match(result.stdout, /exact match\s+[\d.]+%\s+[\d.]+%/);
  const latencies = result.stdout
    .split('\n')
    .filter((line) => /drop → dataset|dataset → job submitted|drop → tuned|drop → completed/.test(line));
  console.log(`end-to-end latencies on the local stack:\n${latencies.join('\n')}`);
});

test('npm start -- --sample labels | answers | tools: each kind of task gets the measures that fit it', async () => {
  const expectations: Record<string, RegExp[]> = {
    labels: [
      /headline normalized_match|normalized_match base/,
      /accuracy\s+[\d.]+%\s+[\d.]+%/,
      /macro F1/,
      /confusion table of the tuned model/,
    ],
    answers: [
      /completed: rouge_l base/,
      /ROUGE-L\s+[\d.]+%/,
      /BLEU\s+[\d.]+%/,
      /judge \(default\): tuned \/ base \/ neither\s+\d+ \/ \d+ \/ \d+ of \d+/,
    ],
    tools: [/completed: tool_parameter_kv_match base/, /tool call valid\s+[\d.]+%\s+[\d.]+%/, /parameter key-value match/],
  };
  for (const [sample, patterns] of Object.entries(expectations)) {
    const result = await run(process.execPath, [`${root}local/start.ts`, '--once', '--sample', sample], 240_000);
    assert.equal(result.status, 0, `${sample}: ${result.stdout.slice(-3000)}\n${result.stderr.slice(-2000)}`);
    for (const pattern of patterns) assert.match(result.stdout, pattern, sample);
  }
  const refused = await run(process.execPath, [`${root}local/start.ts`, '--once', '--sample', 'nope'], 60_000);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /--sample must be one of tickets, labels, answers, tools/);
});

// Faults across stages, on one stack started in this process after the README command's own
// stack has stopped (two stacks at once would halve the CPU each gets on a 2-core machine).
describe('faults across stages', () => {
  let stack: Stack;
  let db: Firestore;
  before(async () => {
    stack = await startStack({
      projectId: 'e2e-faults',
      timing: { validationMs: 300, queueMs: 1000, runMs: 1500 },
      pollEveryMs: 500,
      // Online evaluation in parts of 2 requests, one part per delivery: hand-overs go through Pub/Sub.
      functionEnv: { STUCK_AFTER_SECONDS: '3', ONLINE_PART_SIZE: '2', ONLINE_BUDGET_SECONDS: '1' },
    });
    db = new Firestore({ projectId: stack.projectId });
    // Google documents tuningJobs.list's filter only as "the standard list filter": every fault
    // below runs with a Vertex that ignores it and answers every job, and nothing may change.
    stack.simulator.control.ignoreListFilters(true);
  });
  after(async () => {
    await db?.terminate();
    await stack?.stop();
  });

  const datasetOf = (name: string) =>
    waitFor(`the dataset of ${name}`, async () => (await db.collection('datasets').where('source.name', '==', name).get()).docs[0]?.data());

  test('the happy path through every stage, no stage called directly: a file dropped in the bucket ends COMPLETED with metrics and an evaluation (its base batch job PARTIALLY_SUCCEEDED)', async () => {
    stack.simulator.control.partlyFailNextBatchJobs(1, { every: 2, modelIncludes: 'publishers/' });
    const bucket = stack.storage.bucket(stack.rawBucket);
    await bucket.file('incoming/happy.csv.launch.json').save(JSON.stringify({ launch: { experiment: 'happy' } }));
    await bucket.file('incoming/happy.csv').save(readFileSync(`${root}samples/support-tickets.csv`));
    const run = await waitFor(
      'the run to complete',
      async () => {
        const runId = (await datasetOf('incoming/happy.csv')).launch?.runId;
        const doc = runId ? (await db.doc(`runs/${runId}`).get()).data() : undefined;
        return doc?.state === 'COMPLETED' ? doc : undefined;
      },
      120_000,
    );
    assert.ok(run.metrics.summary['/train_total_loss'].points > 0);
    const metricDocs = await db.collection(`runs/${run.runId}/metrics`).get();
    assert.equal(metricDocs.size, 6, 'train and eval series (the converter split off a validation set)');
    const result = run.evaluation.result;
    assert.equal(result.n, run.evaluation.examples);
    assert.equal(result.tuned.n, result.base.n);
    // Its base model's batch job ended PARTIALLY_SUCCEEDED (a final state): scored, its failed lines counted missing.
    assert.equal(run.evaluation.jobs.base.state, 'JOB_STATE_PARTIALLY_SUCCEEDED');
    assert.ok(result.base.missing > 0 && result.base.missing < result.n);
    assert.equal(result.tuned.missing, 0);

    assert.equal(typeof result.delta.exactMatch, 'number');
    // The scores are computed from prediction files that exist in the outputs bucket.
    const [files] = await stack.storage.bucket(stack.outputsBucket).getFiles({ prefix: `runs/${run.runId}/evaluation/` });
    assert.ok(files.some((file) => /tuned\/a1\/prediction-[^/]+\/predictions_0001\.jsonl$/.test(file.name)));
    assert.ok(files.some((file) => /base\/a1\/prediction-[^/]+\/predictions_0001\.jsonl$/.test(file.name)));
  });

  test('a staged run from a preference file dropped in the bucket: supervised on the preferred answers, then preference tuning from that model; one run, two jobs, a three-way evaluation', async () => {
    const bucket = stack.storage.bucket(stack.rawBucket);
    const launch = { experiment: 'staged', stages: ['SUPERVISED', 'PREFERENCE'], hyperParameters: { beta: 0.2 } };
    const sidecar = { baseModel: 'gemini-3.5-flash', validationSplit: 0.25, seed: 7, launch };
    await bucket.file('incoming/staged.jsonl.launch.json').save(JSON.stringify(sidecar));
    await bucket.file('incoming/staged.jsonl').save(readFileSync(`${root}samples/support-tickets.preference.jsonl`));
    const run = await waitFor(
      'the staged run to complete',
      async () => {
        const runId = (await datasetOf('incoming/staged.jsonl')).launch?.runId;
        const doc = runId ? (await db.doc(`runs/${runId}`).get()).data() : undefined;
        return doc?.state === 'COMPLETED' ? doc : undefined;
      },
      180_000,
    );
    assert.deepEqual(
      run.stages.map((stage: { method: string }) => stage.method),
      ['SUPERVISED', 'PREFERENCE'],
    );
    assert.deepEqual(
      run.attempts.map((attempt: { stage: number }) => attempt.stage),
      [1, 2],
    );
    assert.equal(run.tunedModel.model, run.stages[1].tunedModel.model);
    assert.equal(run.history.filter((entry: { to: string }) => entry.to === 'SUBMITTED').length, 2);
    const [first, second, ...more] = stack.simulator.control.jobs().filter((job) => job.labels.sft_run_id === run.runId);
    assert.equal(more.length, 0, 'one job a stage');
    // Stage 1: supervised, on the preferred answers the launcher wrote beside the dataset.
    const supervised = first!.body.supervisedTuningSpec as { trainingDatasetUri: string; hyperParameters?: Record<string, unknown> };
    assert.equal(supervised.trainingDatasetUri, run.stages[0].trainingDatasetUri);
    assert.equal(supervised.hyperParameters?.beta, undefined);
    const { bucket: derivedBucket, name } = /^gs:\/\/(?<bucket>[^/]+)\/(?<name>.+)$/.exec(supervised.trainingDatasetUri)!.groups!;
    const [derived] = await stack.storage.bucket(derivedBucket!).file(name!).download();
    const lines = derived
      .toString()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(lines.length, (await datasetOf('incoming/staged.jsonl')).report.split.train);
    assert.ok(lines.every((line) => line.contents.at(-1).role === 'model' && line.completions === undefined));
    // Stage 2: preference tuning from stage 1's model, on the preference file, with beta.
    assert.deepEqual(second!.body.preTunedModel, { tunedModelName: run.stages[0].tunedModel.model });
    assert.equal(second!.body.baseModel, undefined);
    const preference = second!.body.preferenceOptimizationSpec as { trainingDatasetUri: string; hyperParameters: Record<string, unknown> };
    assert.equal(preference.trainingDatasetUri, run.trainingDatasetUri);
    assert.equal(preference.hyperParameters.beta, 0.2);
    // Each stage's training metrics, and one evaluation of base, stage 1 and stage 2 on the same held-out prompts.
    assert.ok(Object.keys(run.stages[0].metrics.summary).length > 0);
    assert.ok(Object.keys(run.metrics.summary).length > 0);
    const evaluation = run.evaluation;
    assert.equal(evaluation.jobs.stage1.model, run.stages[0].tunedModel.model);
    assert.equal(evaluation.result.stage1.n, evaluation.result.n);
    assert.ok(evaluation.result.n > 0);
    assert.equal(typeof evaluation.result.headline.stage1, 'number');
    // Which of the three scored best is recorded; without pickBest the run's result stays the final model.
    assert.ok(['tuned', 'stage1', 'base'].includes(evaluation.result.best));
    assert.deepEqual(evaluation.result.selected, { arm: 'tuned', model: run.tunedModel.model });
    assert.match(run.history.at(-1).reason, /base [\d.]+ → after stage 1 [\d.]+ → tuned [\d.]+/);
  });

  test("today's Vertex through Pub/Sub: a finished run's model is tuned further with its lineage recorded; a retired model is refused naming its replacement; a model id we do not know is launched", async () => {
    await stack.storage
      .bucket(stack.datasetsBucket)
      .file('continue/train.jsonl')
      .save(readFileSync(`${root}test/fixtures/minimal-train.jsonl`));
    const base = {
      schemaVersion: 1,
      experiment: 'continue',
      baseModel: 'gemini-3.5-flash',
      trainingDatasetUri: `gs://${stack.datasetsBucket}/continue/train.jsonl`,
      source: 'e2e',
    };
    const completed = (runId: string) =>
      waitFor(
        `run ${runId} to complete`,
        async () => {
          const doc = (await db.doc(`runs/${runId}`).get()).data();
          return doc?.state === 'COMPLETED' ? doc : undefined;
        },
        120_000,
      );
    await stack.pubsub.topic('launch').publishMessage({ json: { ...base, requestId: 'continue-parent' } });
    const parent = await completed('continue-parent');
    const model = parent.tunedModel.model as string;
    await stack.pubsub.topic('launch').publishMessage({
      json: { ...base, requestId: 'continue-child', preTunedModel: { tunedModelName: model, checkpointId: '1' } },
    });
    const child = await completed('continue-child');
    assert.deepEqual(child.lineage, { parentRunId: 'continue-parent', preTunedModel: model, checkpointId: '1' });
    assert.notEqual(child.tunedModel.model, model);
    const job = stack.simulator.control.jobs().find((item) => item.labels.sft_run_id === 'continue-child')!;
    assert.deepEqual(job.body.preTunedModel, { tunedModelName: model, checkpointId: '1' });

    await stack.pubsub.topic('launch').publishMessage({ json: { ...base, requestId: 'retired-model', baseModel: 'gemini-2.0-flash-001' } });
    const retired = await waitFor('the retired model to be refused', async () => {
      const doc = (await db.doc('runs/retired-model').get()).data();
      return doc?.state === 'REJECTED' ? doc : undefined;
    });
    assert.match(retired.rejection, /gemini-2\.0-flash-001 retired on 2026-06-01.*use gemini-/);
    assert.equal(stack.simulator.control.jobs().filter((item) => item.labels.sft_run_id === 'retired-model').length, 0);

    await stack.pubsub.topic('launch').publishMessage({ json: { ...base, requestId: 'unknown-model', baseModel: 'gemini-9-flash' } });
    const unknown = await waitFor('the unknown model to be launched', async () => {
      const doc = (await db.doc('runs/unknown-model').get()).data();
      return doc?.attempts?.length ? doc : undefined;
    });
    assert.equal(unknown.rejection, null);
    assert.equal(
      stack.simulator.control.jobs().find((item) => item.labels.sft_run_id === 'unknown-model')?.body.baseModel,
      'gemini-9-flash',
    );
  });

  test('Vertex refuses batch prediction for the tuned model: the completion function asks its endpoint online, over Pub/Sub continuation events, and the run completes', async () => {
    stack.simulator.control.refuseBatchFor('projects/');
    try {
      const bucket = stack.storage.bucket(stack.rawBucket);
      // The faults stack sends 2 requests per part and hands over after each: continuation events go through the run-events topic.
      await bucket.file('incoming/online.csv.launch.json').save(JSON.stringify({ launch: { experiment: 'online' } }));
      await bucket.file('incoming/online.csv').save(readFileSync(`${root}samples/support-tickets.csv`));
      const run = await waitFor(
        'the online-evaluated run to complete',
        async () => {
          const runId = (await datasetOf('incoming/online.csv')).launch?.runId;
          const doc = runId ? (await db.doc(`runs/${runId}`).get()).data() : undefined;
          return doc?.state === 'COMPLETED' ? doc : undefined;
        },
        120_000,
      );
      const tuned = run.evaluation.jobs.tuned;
      assert.equal(tuned.mode, 'online');
      assert.equal(tuned.online.partsDone, Math.ceil(run.evaluation.examples / tuned.online.partSize));
      assert.equal(run.evaluation.jobs.base.mode, 'batch');
      assert.equal(run.evaluation.result.n, run.evaluation.examples);
      const [parts] = await stack.storage.bucket(stack.outputsBucket).getFiles({ prefix: `runs/${run.runId}/evaluation/tuned/a1/online/` });
      assert.equal(parts.length, tuned.online.partsDone);
    } finally {
      stack.simulator.control.refuseBatchFor(null);
    }
  });

  test('a duplicate storm of launch messages through Pub/Sub gives one job', async () => {
    const before = stack.simulator.control.createdCount();
    const message = {
      schemaVersion: 1,
      requestId: 'storm-e2e',
      experiment: 'storm',
      baseModel: 'gemini-3.5-flash-lite',
      trainingDatasetUri: `gs://${stack.datasetsBucket}/storm/train.jsonl`,
      source: 'e2e',
    };
    await stack.storage
      .bucket(stack.datasetsBucket)
      .file('storm/train.jsonl')
      .save(readFileSync(`${root}test/fixtures/minimal-train.jsonl`));
    await Promise.all(Array.from({ length: 20 }, () => stack.pubsub.topic('launch').publishMessage({ json: message })));
    await waitFor('the storm run to be submitted', async () =>
      (await db.doc('runs/storm-e2e').get()).data()?.attempts?.length ? true : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.equal(stack.simulator.control.createdCount() - before, 1);
  });

  test('the launcher killed mid-delivery and restarted loses nothing: the run gets one live job', async () => {
    // A slow Vertex holds the delivery inside the create call while the launcher process is killed.
    stack.simulator.control.delayNextCalls(1, 3000, { method: 'POST', pathIncludes: '/tuningJobs' });
    const message = {
      schemaVersion: 1,
      requestId: 'killed-e2e',
      experiment: 'killed',
      baseModel: 'gemini-3.5-flash-lite',
      trainingDatasetUri: `gs://${stack.datasetsBucket}/storm/train.jsonl`,
      source: 'e2e',
    };
    await stack.pubsub.topic('launch').publishMessage({ json: message });
    // Claimed: a delivery holds its lease (ACCEPTED, or QUEUED when it waited for a tuning slot first).
    await waitFor('the delivery to claim the run', async () => ((await db.doc('runs/killed-e2e').get()).data()?.lease ? true : undefined));
    const killedAt = Date.now();
    await stack.crashAndRestart('launcher', 500);
    // Redelivery goes through Pub/Sub's push backoff and the same-message grace window: on a
    // loaded 2-core machine it once took over 60 s, so it gets the 120 s the other stage waits get.
    const run = await waitFor(
      'the redelivery to record the job',
      async () => {
        const doc = (await db.doc('runs/killed-e2e').get()).data();
        return doc?.attempts?.length ? doc : undefined;
      },
      120_000,
    );
    assert.equal(run.attempts.length, 1);
    // Until the slow create call has been answered, the killed delivery's job may still appear.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, killedAt + 4000 - Date.now())));
    // The killed delivery's create request may still land after the redelivery made its own job
    // (Vertex takes no idempotency key): the poller cancels that twin, and only the recorded job lives.
    const live = await waitFor('one live job for the run', async () => {
      const jobs = stack.simulator.control.jobs().filter((job) => job.labels.sft_run_id === 'killed-e2e');
      const states = await Promise.all(jobs.map(async (job) => ({ name: job.name, state: await jobState(job.name) })));
      const alive = states.filter((job) => !['JOB_STATE_CANCELLED', 'JOB_STATE_CANCELLING'].includes(job.state));
      return jobs.length >= 1 && alive.length === 1 ? alive : undefined;
    });
    assert.equal(live[0]!.name, (await db.doc('runs/killed-e2e').get()).data()?.currentJobName);
  });

  test('a converter that dies while a file is dropped is started again, and the event it missed is delivered again: nothing lost', async () => {
    const crashed = stack.crashAndRestart('converter', 3000);
    await new Promise((resolve) => setTimeout(resolve, 300)); // it is down now
    const name = 'incoming/während des Absturzes — 落ちた.jsonl';
    await stack.storage
      .bucket(stack.rawBucket)
      .file(name)
      .save(readFileSync(`${root}test/fixtures/minimal-train.jsonl`));
    await crashed;
    const dataset = await waitFor('the dataset of the file dropped during the crash', async () => {
      const doc = await datasetOf(name);
      return doc.state === 'CONVERTED' ? doc : undefined;
    });
    assert.equal(dataset.source.name, name, 'a Unicode name reaches the converter intact');
    assert.ok(dataset.report.examples.valid > 0);
  });

  async function jobState(name: string): Promise<string> {
    const response = await fetch(`${stack.env.VERTEX_BASE_URL}/v1beta1/${name}`, { headers: { authorization: 'Bearer e2e' } });
    return ((await response.json()) as { state: string }).state;
  }

  test('a job stuck in the queue is cancelled and resubmitted by the poller, and the run still completes', async () => {
    stack.simulator.control.stickNextJobs(1);
    const bucket = stack.storage.bucket(stack.rawBucket);
    await bucket.file('incoming/stuck.jsonl.launch.json').save(JSON.stringify({ launch: { experiment: 'stuck' } }));
    await bucket.file('incoming/stuck.jsonl').save(
      readFileSync(`${root}samples/support-chat.openai.jsonl`)
        .toString()
        .split('\n')
        .filter((l) => !l.includes('truncated') && !l.includes('Anyone there'))
        .join('\n'),
    );
    const run = await waitFor(
      'the run to succeed',
      async () => {
        const runId = (await datasetOf('incoming/stuck.jsonl')).launch?.runId;
        const doc = runId ? (await db.doc(`runs/${runId}`).get()).data() : undefined;
        return doc?.state === 'COMPLETED' ? doc : undefined;
      },
      120_000,
    );
    assert.equal(run.attempts.length, 2);
    assert.match(run.attempts[1].reason, /stuck in Vertex's queue/);
    // Vertex's tuningDataStats carry sample training conversations: only counts reach Firestore.
    assert.ok(run.tuningDataStats.exampleCount > 0);
    const dataset = await datasetOf('incoming/stuck.jsonl');
    const [, trainBucket, trainPath] = /^gs:\/\/([^/]+)\/(.+)$/.exec(dataset.outputs.train as string)!;
    const [training] = await stack.storage.bucket(trainBucket!).file(trainPath!).download();
    const texts = training
      .toString()
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { contents: { parts: { text?: string }[] }[] }).contents[0]!.parts[0]!.text ?? '');
    const stored = JSON.stringify((await db.doc(`runs/${run.runId}`).get()).data());
    for (const text of texts.filter((t) => t.length >= 12)) assert.ok(!stored.includes(text), `training text in the run document: ${text}`);
  });

  test('a cancel that races a success: the stuck job succeeds after the poller cancelled it; its model is adopted, the newer job cancelled, and the run completes', async () => {
    stack.simulator.control.stickNextJobs(1);
    stack.simulator.control.succeedNextCancelledJobs(1);
    const message = {
      schemaVersion: 1,
      requestId: 'race-e2e',
      experiment: 'race',
      baseModel: 'gemini-3.5-flash-lite',
      trainingDatasetUri: `gs://${stack.datasetsBucket}/storm/train.jsonl`,
      source: 'e2e',
    };
    await stack.pubsub.topic('launch').publishMessage({ json: message });
    const run = await waitFor(
      'the raced run to complete',
      async () => {
        const doc = (await db.doc('runs/race-e2e').get()).data();
        return doc?.state === 'COMPLETED' ? doc : undefined;
      },
      120_000,
    );
    const [stuck, resubmitted, adopted] = run.attempts;
    assert.equal(run.attempts.length, 3);
    assert.match(resubmitted.reason, /stuck in Vertex's queue/);
    assert.equal(adopted.jobName, stuck.jobName, "the job that won the race is the run's job again");
    assert.match(adopted.reason, /succeeded after it was cancelled: its model is adopted/);
    assert.equal(run.currentJobName, stuck.jobName);
    assert.match(run.tunedModel.model, /\/models\//);
    assert.equal(
      await waitFor(
        'the newer job to be cancelled',
        async () => ((await jobState(resubmitted.jobName)) === 'JOB_STATE_CANCELLED' ? 'JOB_STATE_CANCELLED' : undefined),
        30_000,
      ),
      'JOB_STATE_CANCELLED',
    );
  });

  /** The CLI as a person runs it against the local stack, with the environment `npm start` prints. */
  const cli = (...args: string[]) =>
    run(process.execPath, [`${root}bin/sft-pipeline.mjs`, ...args], 120_000, {
      ...process.env,
      ...stack.env,
      RAW_BUCKET: stack.rawBucket,
      LOG_LEVEL: 'ERROR',
    });

  test('the CLI: upload with a launch spec, then status --watch follows the run to COMPLETED; launch and cancel a run Vertex keeps waiting for quota', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-e2e-'));
    writeFileSync(join(dir, 'launch.json'), JSON.stringify({ launch: { experiment: 'cli-upload' } }));
    const uploaded = await cli(
      'upload',
      `${root}samples/support-tickets.csv`,
      '--launch',
      join(dir, 'launch.json'),
      '--name',
      'cli-tickets.csv',
    );
    assert.equal(uploaded.status, 0, uploaded.stderr);
    assert.match(uploaded.stdout, /uploaded .*support-tickets\.csv to gs:\/\/e2e-faults-raw\/incoming\/cli-tickets\.csv/);
    const runId = await waitFor(
      'the upload to start a run',
      async () => ((await datasetOf('incoming/cli-tickets.csv')).launch?.runId as string | null) || undefined,
    );
    const watched = await cli('status', runId, '--watch', '--interval', '0.5');
    assert.equal(watched.status, 0, watched.stderr);
    assert.match(watched.stdout, /COMPLETED/, `run ${runId}: ${watched.stdout}`);
    assert.match(watched.stdout, /json_fields: base [\d.]+ → tuned [\d.]+/);
    // Every held-out example side by side, as CSV for a spreadsheet: one row each, the header naming both models.
    const exported = await cli('examples', runId, '--csv');
    assert.equal(exported.status, 0, exported.stderr);
    const csvLines = exported.stdout.trimEnd().split('\r\n');
    assert.equal(csvLines[0], '"index","verdict","metric","prompt","reference","base_answer","base_score","tuned_answer","tuned_score"');
    const evaluated = (await db.doc(`runs/${runId}`).get()).data()!;
    assert.equal(csvLines.length - 1, evaluated.evaluation.result.n);
    const better = await cli('examples', runId, '--verdict', 'better');
    assert.equal(
      better.stdout
        .trim()
        .split('\n')
        .filter((line) => line.startsWith('#')).length,
      evaluated.evaluation.result.verdicts.better,
    );
    const listed = await cli('status', '--experiment', 'cli-upload', '--json');
    assert.deepEqual(
      (JSON.parse(listed.stdout) as { runId: string }[]).map((r) => r.runId),
      [runId],
    );

    // Vertex keeps this job waiting for quota (jobs outside the pipeline hold it): live, and never resubmitted for it.
    stack.simulator.control.holdNextJobsForQuota(1);
    await stack.storage
      .bucket(stack.datasetsBucket)
      .file('cli/train.jsonl')
      .save(readFileSync(`${root}test/fixtures/minimal-train.jsonl`));
    writeFileSync(
      join(dir, 'spec.json'),
      JSON.stringify({
        requestId: 'cli-cancel',
        experiment: 'cli-cancel',
        baseModel: 'gemini-3.5-flash-lite',
        trainingDatasetUri: `gs://${stack.datasetsBucket}/cli/train.jsonl`,
      }),
    );
    const launched = await cli('launch', join(dir, 'spec.json'));
    assert.equal(launched.status, 0, launched.stderr);
    assert.match(launched.stdout, /for run cli-cancel/);
    const submitted = await waitFor('the launched run to be queued', async () => {
      const doc = (await db.doc('runs/cli-cancel').get()).data();
      return doc?.currentJobName ? doc : undefined;
    });
    const cancelled = await cli('cancel', 'cli-cancel', '--reason', 'wrong dataset');
    assert.equal(cancelled.status, 0, cancelled.stderr);
    const after = (await db.doc('runs/cli-cancel').get()).data()!;
    assert.equal(after.state, 'CANCELLED');
    assert.equal(after.history.at(-1).reason, 'wrong dataset');
    // Vertex's cancel is asynchronous (CancelTuningJob): CANCELLING, then CANCELLED.
    await waitFor(
      'the job to be cancelled',
      async () => ((await jobState(submitted.currentJobName as string)) === 'JOB_STATE_CANCELLED' ? true : undefined),
      30_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 4000)); // past the 3 s stuck threshold: the poller must not resubmit a cancelled run
    assert.equal((await db.doc('runs/cli-cancel').get()).data()!.attempts.length, 1);
    assert.equal((await cli('cancel', 'cli-cancel')).status, 1, 'a finished run cannot be cancelled again');
  });

  test('a bad file gives a REJECTED dataset and no job', async () => {
    const before = stack.simulator.control.createdCount();
    const bucket = stack.storage.bucket(stack.rawBucket);
    await bucket.file('incoming/garbage.jsonl.launch.json').save(JSON.stringify({ launch: { experiment: 'garbage' } }));
    await bucket.file('incoming/garbage.jsonl').save('this is not a dataset\n');
    const dataset = await waitFor('the rejection', async () => {
      const doc = await datasetOf('incoming/garbage.jsonl');
      return doc.state === 'REJECTED' ? doc : undefined;
    });
    assert.match(dataset.rejection, /format not recognised/);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(stack.simulator.control.createdCount(), before);
  });

  test('three launches with one tuning slot run one after another: the waiting ones show their place, none is resubmitted for quota', async () => {
    await stack.storage
      .bucket(stack.datasetsBucket)
      .file('queue/train.jsonl')
      .save(readFileSync(`${root}test/fixtures/minimal-train.jsonl`));
    const ids = ['queue-e2e-1', 'queue-e2e-2', 'queue-e2e-3'];
    // The first job trains until the other two are seen queued, however slow this machine is
    // (with 1.5 s of training, a loaded CI machine delivered the third launch after the first
    // job had ended); then the simulator's clock is moved past its end.
    stack.simulator.control.setTiming({ runMs: 600_000 });
    for (const requestId of ids) {
      const message = {
        schemaVersion: 1,
        requestId,
        experiment: 'queue',
        baseModel: 'gemini-3.5-flash-lite',
        trainingDatasetUri: `gs://${stack.datasetsBucket}/queue/train.jsonl`,
        source: 'e2e',
      };
      await stack.pubsub.topic('launch').publishMessage({ json: message });
    }
    // While the first holds the slot, the others wait in the pipeline's queue, told where they stand
    // (a run that arrives later can sort earlier, by its creation time: the poller's next tick corrects the places).
    const positions = await waitFor('two runs queued with their places', async () => {
      const docs = await Promise.all(ids.map(async (id) => (await db.doc(`runs/${id}`).get()).data()));
      const queued = docs.filter((doc) => doc?.state === 'QUEUED' && doc.queue?.position);
      const places = queued.map((doc) => doc!.queue.position as number).sort();
      return places.length === 2 && places[0] !== places[1] ? places : undefined;
    });
    assert.deepEqual(positions, [1, 2]);
    stack.simulator.control.setTiming({ runMs: 1500 });
    stack.simulator.control.advance(600_000);
    const done = await waitFor(
      'all three tuned',
      async () => {
        const docs = await Promise.all(ids.map(async (id) => (await db.doc(`runs/${id}`).get()).data()));
        return docs.every((doc) => doc && ['SUCCEEDED', 'EVALUATING', 'SCORING', 'COMPLETED'].includes(doc.state)) ? docs : undefined;
      },
      120_000,
    );
    for (const run of done) {
      assert.equal(run!.attempts.length, 1, `${run!.runId}: never resubmitted`);
      assert.ok(
        !run!.history.some((entry: { reason: string }) => /WAITING_FOR_QUOTA/.test(entry.reason)),
        `${run!.runId}: never waited for Vertex's quota`,
      );
    }
    assert.equal(
      done.filter((run) => run!.history.some((entry: { to: string }) => entry.to === 'QUEUED')).length,
      2,
      'two of them waited in the queue',
    );
  });
});
