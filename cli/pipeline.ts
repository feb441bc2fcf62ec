import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { PubSub } from '@google-cloud/pubsub';
import { Storage } from '@google-cloud/storage';
import { z } from 'zod';
import { listRuns, readRun } from '../adapters/firestore/run-reader.ts';
import { createFirestore } from '../adapters/firestore/run-store.ts';
import { createRunEventPublisher } from '../adapters/pubsub/run-events.ts';
import { createAdmissionStore } from '../adapters/firestore/admission-store.ts';
import { createLaunchPublisher } from '../adapters/pubsub/launch-publisher.ts';
import { createBatchService } from '../adapters/vertex/batch.ts';
import { createTuningService } from '../adapters/vertex/tuning.ts';
import { classifyError } from '../shared/errors/classify.ts';
import { datasetIdFor } from '../shared/datasets/schema.ts';
import { isBatchDone } from '../shared/evaluation/schema.ts';
import { launchMessageSchema, runIdFor } from '../shared/launch/schema.ts';
import { PIPELINE_USAGE } from './pipeline-usage.ts';
import { withEvent } from '../shared/runs/outbox.ts';
import { queueNote } from '../shared/runs/admission.ts';
import { isRunId } from '../shared/status/api.ts';
import { examplesCsv, verdictSchema, type ExampleComparison } from '../shared/evaluation/examples.ts';
import { createStatusReader } from '../adapters/firestore/status-reader.ts';
import { runDocumentSchema, TERMINAL_STATES, type RunDocument } from '../shared/runs/schema.ts';
import { applyTransition, canTransition } from '../shared/runs/transitions.ts';

/**
 * `sft-pipeline upload | launch | status | cancel`: the pipeline from a terminal, against the
 * local stack (its emulator variables exported, as `npm start` prints them) or a deployed
 * project (`gcloud auth application-default login`, names from `terraform output`). Flags win
 * over the environment.
 */
const targetSchema = z.object({
  project: z.string().min(1, 'the project: --project or GOOGLE_CLOUD_PROJECT'),
  location: z.string().min(1),
  rawBucket: z.string().optional(),
  prefix: z.string(),
  launchTopic: z.string().min(1),
  runEventsTopic: z.string().min(1),
  vertexBaseUrl: z.string().url().optional(),
});
type Target = z.infer<typeof targetSchema>;

interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

const OPTIONS = {
  project: { type: 'string' },
  location: { type: 'string' },
  'raw-bucket': { type: 'string' },
  prefix: { type: 'string' },
  'launch-topic': { type: 'string' },
  'run-events-topic': { type: 'string' },
  launch: { type: 'string' },
  name: { type: 'string' },
  watch: { type: 'boolean' },
  json: { type: 'boolean' },
  experiment: { type: 'string' },
  state: { type: 'string' },
  reason: { type: 'string' },
  interval: { type: 'string' },
  verdict: { type: 'string' },
  csv: { type: 'boolean' },
} as const;

export async function pipelineCommand(command: string, argv: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (error) {
    io.stderr.write(`sft-pipeline ${command}: ${(error as Error).message}\n${PIPELINE_USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const target = targetSchema.safeParse({
    project: values.project ?? io.env.GOOGLE_CLOUD_PROJECT ?? '',
    location: values.location ?? io.env.GOOGLE_CLOUD_LOCATION ?? 'us-central1',
    rawBucket: values['raw-bucket'] ?? io.env.RAW_BUCKET,
    prefix: values.prefix ?? io.env.INPUT_PREFIX ?? 'incoming/',
    launchTopic: values['launch-topic'] ?? io.env.LAUNCH_TOPIC ?? 'launch',
    runEventsTopic: values['run-events-topic'] ?? io.env.RUN_EVENTS_TOPIC ?? 'run-events',
    vertexBaseUrl: io.env.VERTEX_BASE_URL || undefined,
  });
  if (!target.success) {
    io.stderr.write(`sft-pipeline ${command}: ${target.error.issues.map((issue) => issue.message).join('; ')}\n`);
    return 2;
  }
  const say = (line: string) => io.stdout.write(`${line}\n`);
  try {
    if (command === 'upload') return await upload(positionals, values, target.data, say, io);
    if (command === 'launch') return await launch(positionals, target.data, say, io);
    if (command === 'status') return await status(positionals, values, target.data, say, io);
    if (command === 'cancel') return await cancel(positionals, values, target.data, say, io);
    if (command === 'retry') return await retry(positionals, target.data, say, io);
    if (command === 'examples') return await examples(positionals, values, target.data, say, io);
  } catch (error) {
    io.stderr.write(`sft-pipeline ${command}: ${classifyError(error).message}\n`);
    return 1;
  }
  io.stderr.write(`sft-pipeline: unknown command "${command}"\n${PIPELINE_USAGE}\n`);
  return 2;
}

async function upload(
  positionals: string[],
  values: { launch?: string; name?: string },
  target: Target,
  say: (line: string) => void,
  io: Io,
): Promise<number> {
  const [file] = positionals;
  if (!file || !target.rawBucket) {
    io.stderr.write(`sft-pipeline upload: ${!file ? 'expected FILE' : 'the raw bucket: --raw-bucket or RAW_BUCKET'}\n`);
    return 2;
  }
  const name = `${target.prefix}${values.name ?? basename(file)}`;
  const bucket = new Storage({ projectId: target.project }).bucket(target.rawBucket);
  if (values.launch) {
    // The sidecar goes first, so the converter finds it when the data's finalize event arrives.
    const sidecar: unknown = JSON.parse(readFileSync(values.launch, 'utf8'));
    await bucket.file(`${name}.launch.json`).save(JSON.stringify(sidecar, null, 2), { contentType: 'application/json' });
    say(`uploaded ${values.launch} to gs://${target.rawBucket}/${name}.launch.json`);
  }
  const file_ = bucket.file(name);
  await file_.save(readFileSync(file));
  const [metadata] = await file_.getMetadata();
  say(`uploaded ${file} to gs://${target.rawBucket}/${name} (generation ${metadata.generation})`);
  say(
    `dataset id ${datasetIdFor(target.rawBucket, name, String(metadata.generation))}: see datasets/{id} in Firestore${values.launch ? ', and its run with `sft-pipeline status`' : ''}`,
  );
  return 0;
}

async function launch(positionals: string[], target: Target, say: (line: string) => void, io: Io): Promise<number> {
  const [specFile] = positionals;
  if (!specFile) {
    io.stderr.write('sft-pipeline launch: expected SPEC.json\n');
    return 2;
  }
  const raw = JSON.parse(readFileSync(specFile, 'utf8')) as Record<string, unknown>;
  const parsed = launchMessageSchema.safeParse({ schemaVersion: 1, source: `cli:${io.env.USER ?? 'unknown'}`, ...raw });
  if (!parsed.success) {
    io.stderr.write(
      `sft-pipeline launch: ${specFile}: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(message)'}: ${issue.message}`).join('; ')}\n`,
    );
    return 2;
  }
  const pubsub = new PubSub({ projectId: target.project });
  try {
    const messageId = await pubsub.topic(target.launchTopic).publishMessage({ json: parsed.data });
    say(
      `published launch message ${messageId} for run ${runIdFor(parsed.data)} (follow it with: sft-pipeline status ${runIdFor(parsed.data)} --watch)`,
    );
  } finally {
    await pubsub.close();
  }
  return 0;
}

/** The run's per-example comparison, all pages, as CSV (for a spreadsheet) or a line per example. */
async function examples(
  positionals: string[],
  values: { verdict?: string; csv?: boolean },
  target: Target,
  say: (line: string) => void,
  io: Io,
): Promise<number> {
  const runId = runIdArgument('examples', positionals[0], io);
  if (typeof runId === 'number') return runId;
  const verdict = values.verdict === undefined ? undefined : verdictSchema.safeParse(values.verdict);
  if (verdict && !verdict.success) {
    io.stderr.write(`sft-pipeline examples: --verdict is better, worse or same, not "${values.verdict}"\n`);
    return 2;
  }
  const db = createFirestore(target.project);
  try {
    const reader = createStatusReader(db);
    const rows: ExampleComparison[] = [];
    let pageToken: string | undefined;
    do {
      const page = await reader.listExamples(runId, {
        pageSize: 500,
        ...(verdict ? { verdict: verdict.data } : {}),
        ...(pageToken ? { pageToken } : {}),
      });
      rows.push(...page.examples);
      pageToken = page.nextPageToken ?? undefined;
    } while (pageToken);
    if (rows.length === 0 && !(await readRun(db, runId))) {
      io.stderr.write(`sft-pipeline examples: no run ${runId}\n`);
      return 1;
    }
    if (values.csv) io.stdout.write(examplesCsv(rows));
    else {
      for (const row of rows)
        say(
          `#${row.index} ${row.verdict}: ${JSON.stringify(row.prompt.slice(0, 80))} → tuned ${JSON.stringify((row.answers.tuned ?? '(none)').slice(0, 60))}, base ${JSON.stringify((row.answers.base ?? '(none)').slice(0, 60))}`,
        );
      if (rows.length === 0) say('(no examples: the run has not been scored, or none has this verdict)');
    }
    return 0;
  } finally {
    await db.terminate();
  }
}

async function status(
  positionals: string[],
  values: { watch?: boolean; json?: boolean; experiment?: string; state?: string; interval?: string },
  target: Target,
  say: (line: string) => void,
  io: Io,
): Promise<number> {
  const db = createFirestore(target.project);
  try {
    const [runId] = positionals;
    if (!runId) {
      const state = values.state ? runDocumentSchema.shape.state.safeParse(values.state) : null;
      if (state && !state.success) {
        io.stderr.write(`sft-pipeline status: unknown state "${values.state}"\n`);
        return 2;
      }
      const runs = await listRuns(db, {
        ...(state?.success ? { state: state.data } : {}),
        ...(values.experiment ? { experiment: values.experiment } : {}),
      });
      if (values.json) say(JSON.stringify(runs, null, 2));
      else {
        say(`${'run'.padEnd(30)} ${'state'.padEnd(11)} ${'experiment'.padEnd(20)} ${'attempts'.padStart(8)}  updated`);
        for (const run of runs)
          say(
            `${run.runId.padEnd(30)} ${run.state.padEnd(11)} ${run.experiment.slice(0, 20).padEnd(20)} ${String(run.attempts.length).padStart(8)}  ${run.updateTime}`,
          );
        if (runs.length === 0) say('(no runs)');
      }
      return 0;
    }
    if (typeof runIdArgument('status', runId, io) === 'number') return 1;
    let last = '';
    for (;;) {
      const run = await readRun(db, runId);
      if (!run) {
        io.stderr.write(`sft-pipeline status: no run ${runId}\n`);
        return 1;
      }
      const text = values.json ? JSON.stringify(run, null, 2) : describe(run);
      if (text !== last) say(text);
      last = text;
      if (!values.watch || TERMINAL_STATES.includes(run.state)) return run.state === 'FAILED' || run.state === 'REJECTED' ? 1 : 0;
      await sleep(Number(values.interval ?? 2) * 1000);
    }
  } finally {
    await db.terminate();
  }
}

function describe(run: RunDocument): string {
  const lines = [`${run.runId}  ${run.state}  (${run.experiment}, ${run.baseModel})`];
  for (const attempt of run.attempts)
    lines.push(
      `  attempt ${attempt.number}${run.stages ? ` (stage ${attempt.stage})` : ''}: ${attempt.jobName ?? '-'} ${attempt.endState ?? 'current'} — ${attempt.reason}`,
    );
  for (const stage of run.stages ?? [])
    lines.push(
      `  stage ${stage.number} ${stage.method}: ${stage.tunedModel ? stage.tunedModel.model : 'not tuned yet'}${stage.costNote ? ` (cost ${stage.costUsd === null || stage.costUsd === undefined ? 'unknown' : `$${stage.costUsd}`}: ${stage.costNote})` : ''}`,
    );
  if (run.state === 'QUEUED' && run.queue) lines.push(`  ${queueNote(run.queue)}`);
  if (run.tuningJobState) lines.push(`  Vertex: ${run.tuningJobState}`);
  if (run.warning) lines.push(`  warning: ${run.warning}`);
  for (const warning of run.tuningDataStats?.warnings ?? []) lines.push(`  data: ${warning}`);
  if (run.rejection) lines.push(`  rejected: ${run.rejection}`);
  if (run.error) lines.push(`  error: ${run.error.message}`);
  const loss = run.metrics?.summary['/train_total_loss'];
  if (loss) lines.push(`  train loss: ${loss.final} at step ${loss.finalStep} (best ${loss.best})`);
  if (run.tunedModel) lines.push(`  tuned model: ${run.tunedModel.model}`);
  const evaluation = run.evaluation;
  if (evaluation) {
    const stage1 = evaluation.jobs.stage1 ? `, after stage 1 ${evaluation.jobs.stage1.state}` : '';
    lines.push(
      `  evaluation: ${evaluation.examples} examples; tuned ${evaluation.jobs.tuned.state}, base ${evaluation.jobs.base.state}${stage1}`,
    );
    const headline = evaluation.result?.headline;
    if (headline) {
      const middle = headline.stage1 !== undefined ? ` → after stage 1 ${headline.stage1}` : '';
      lines.push(`  ${evaluation.result!.metric}: base ${headline.base}${middle} → tuned ${headline.tuned} (delta ${headline.delta})`);
    }
  }
  lines.push(`  history: ${run.history.map((entry) => entry.to).join(' → ')}`);
  return lines.join('\n');
}

/** The RUN_ID argument, or the exit code after one clear line: 2 when it is missing, 1 when it cannot name a run. */
function runIdArgument(command: string, runId: string | undefined, io: Io): string | number {
  if (!runId) {
    io.stderr.write(`sft-pipeline ${command}: expected RUN_ID\n`);
    return 2;
  }
  if (!isRunId(runId)) {
    io.stderr.write(`sft-pipeline ${command}: no run ${JSON.stringify(runId.slice(0, 100))}: a run id is letters, digits, _ and -\n`);
    return 1;
  }
  return runId;
}

/**
 * A launch with no job yet (stranded after its message was dead-lettered, or orphaned in the
 * queue) is published again now; the launcher's claim and job labels keep it to one job. Runs
 * that have a job, or have ended, are left alone with a clear line.
 */
async function retry(positionals: string[], target: Target, say: (line: string) => void, io: Io): Promise<number> {
  const runId = runIdArgument('retry', positionals[0], io);
  if (typeof runId === 'number') return runId;
  const db = createFirestore(target.project);
  const pubsub = new PubSub({ projectId: target.project });
  try {
    const run = await readRun(db, runId);
    if (!run) {
      io.stderr.write(`sft-pipeline retry: no run ${runId}\n`);
      return 1;
    }
    if (!['ACCEPTED', 'QUEUED'].includes(run.state) || !run.request) {
      io.stderr.write(
        `sft-pipeline retry: run ${runId} is ${run.state}: only a launch with no job yet (ACCEPTED or QUEUED) can be sent again\n`,
      );
      return 1;
    }
    const messageId = await createLaunchPublisher(pubsub, target.launchTopic).publish(run.request);
    say(`launch of ${runId} published again (message ${messageId}); \`sft-pipeline status ${runId} --watch\` follows it`);
    return 0;
  } finally {
    await db.terminate();
    await pubsub.close();
  }
}

/**
 * The run is marked CANCELLED first (in a transaction, with its event), so that no poller
 * resubmits what is about to be cancelled; then its Vertex jobs are cancelled.
 */
async function cancel(
  positionals: string[],
  values: { reason?: string },
  target: Target,
  say: (line: string) => void,
  io: Io,
): Promise<number> {
  const runId = runIdArgument('cancel', positionals[0], io);
  if (typeof runId === 'number') return runId;
  const db = createFirestore(target.project);
  const pubsub = new PubSub({ projectId: target.project });
  try {
    const reason = values.reason ?? `cancelled by ${io.env.USER ?? 'an operator'} from the CLI`;
    const ref = db.collection('runs').doc(runId);
    const outcome = await db.runTransaction(async (tx) => {
      const snapshot = await tx.get(ref);
      if (!snapshot.exists) return { problem: `no run ${runId}` } as const;
      const run = runDocumentSchema.parse(snapshot.data());
      if (TERMINAL_STATES.includes(run.state) || !canTransition(run.state, 'CANCELLED'))
        return { problem: `run ${runId} is ${run.state}: nothing to cancel` } as const;
      const after = withEvent(run, applyTransition(run, 'CANCELLED', reason, new Date().toISOString(), { lease: null }), reason);
      tx.set(ref, after);
      return { run: after } as const;
    });
    if ('problem' in outcome) {
      io.stderr.write(`sft-pipeline cancel: ${outcome.problem}\n`);
      return 1;
    }
    const run = outcome.run;
    const vertex = {
      project: target.project,
      location: target.location,
      ...(target.vertexBaseUrl ? { baseUrl: target.vertexBaseUrl } : {}),
    };
    const jobs = [
      run.currentJobName && run.attempts.at(-1)?.endState === null ? { kind: 'tuning', name: run.currentJobName } : null,
      ...['tuned', 'base'].map((which) => {
        const track = run.evaluation?.jobs[which as 'tuned' | 'base'];
        return track && !isBatchDone(track.state) ? { kind: 'batch', name: track.currentJobName } : null;
      }),
    ].filter((job): job is { kind: string; name: string } => job !== null);
    const tuning = createTuningService(vertex);
    const batch = createBatchService(vertex);
    for (const job of jobs) {
      try {
        await (job.kind === 'tuning' ? tuning.cancel(job.name) : batch.cancel(job.name));
        say(`cancelled ${job.kind} job ${job.name}`);
      } catch (error) {
        say(`${job.kind} job ${job.name}: ${classifyError(error).message} (already finished?)`);
      }
    }
    // A terminal run is not visited by the poller, so its event is published here.
    const events = createRunEventPublisher(pubsub, target.runEventsTopic);
    for (const event of run.pendingEvents ?? []) await events.publish(event);
    await ref.update({ pendingEvents: [] });
    say(`run ${runId} CANCELLED: ${reason}`);
    // Its tuning slot is free: the next queued run goes to the launcher now, not at the poller's next tick.
    const admission = createAdmissionStore(db);
    const { maxConcurrent } = await admission.read();
    if (maxConcurrent) {
      const launches = createLaunchPublisher(pubsub, target.launchTopic);
      for (const next of await admission.admissible(maxConcurrent, new Date().toISOString())) {
        const queued = await readRun(db, next.runId);
        if (queued?.request) await launches.publish(queued.request);
        say(`run ${next.runId} takes the free tuning slot`);
      }
    }
    return 0;
  } finally {
    await pubsub.close();
    await db.terminate();
  }
}
