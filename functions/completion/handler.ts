import { leastThinkingConfig } from '../../shared/gemini/models.ts';
import type { CompletionStore } from '../../adapters/firestore/completion-store.ts';
import type { RunEventPublisher } from '../../adapters/pubsub/run-events.ts';
import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import type { BatchService } from '../../adapters/vertex/batch.ts';
import type { MetricsReader } from '../../adapters/vertex/metrics.ts';
import type { TuningService } from '../../adapters/vertex/tuning.ts';
import { classifyError } from '../../shared/errors/classify.ts';
import { batchDisplayName, batchOutputPrefix, evaluationFiles, headlineScore } from '../../shared/evaluation/plan.ts';
import type { Evaluation } from '../../shared/evaluation/schema.ts';
import { scoreDelta } from '../../shared/evaluation/scoring.ts';
import { decodeMessageData, type PubsubMessagePublished } from '../../shared/launch/envelope.ts';
import type { Logger } from '../../shared/log.ts';
import { LogEvent } from '../../shared/log-events.ts';
import { summarizeSeries } from '../../shared/metrics/series.ts';
import { runEventSchema } from '../../shared/runs/events.ts';
import { withEvent } from '../../shared/runs/outbox.ts';
import type { RunDocument } from '../../shared/runs/schema.ts';
import { applyTransition } from '../../shared/runs/transitions.ts';
import { locationOf } from '../../shared/runs/regions.ts';
import type { OnlinePredictor } from '../../adapters/vertex/online.ts';
import { isBatchRefusal, onlineTrack, withOnlineReleased } from '../../shared/evaluation/online.ts';
import { buildInferenceInput } from './evaluation-input.ts';
import { continueOnlineEvaluation } from './online.ts';
import type { MlflowSink } from './mlflow.ts';
import { loadReferences, scoreOutput } from './score.ts';

export interface CompletionDeps {
  store: CompletionStore;
  tuning: TuningService;
  metrics: MetricsReader;
  batch: BatchService;
  objects: ObjectStore;
  events: RunEventPublisher;
  mlflow: MlflowSink | null;
  log: Logger;
  now: () => number;
  leaseMs: number;
  outputsBucket: string;
  maxExamples: number;
  /** The fallback when Vertex refuses batch prediction for a model. */
  online: { predictor: OnlinePredictor; concurrency: number; partSize: number; budgetMs: number };
}

export type CompletionOutcome = {
  status: 'ignored' | 'skipped' | 'evaluating' | 'scoring' | 'completed' | 'failed';
  runId?: string;
  reason?: string;
};

/** A transient failure: the delivery fails so that Pub/Sub delivers the event again. */
export class RetryableCompletionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetryableCompletionError';
  }
}

/**
 * One delivery of a `run-events` message. A run that SUCCEEDED gets its training metrics copied
 * out of Vertex and two batch prediction jobs started (tuned and base model on the same held-out
 * input; a model Vertex refuses batch prediction for is asked online instead, carried on by
 * EVALUATING events); a run in SCORING (both models' predictions written) gets scored and
 * COMPLETED. Every other event is acknowledged and ignored.
 */
export async function handleRunEvent(envelope: PubsubMessagePublished, deps: CompletionDeps): Promise<CompletionOutcome> {
  const decoded = decodeMessageData(envelope);
  const event = 'json' in decoded ? runEventSchema.safeParse(decoded.json) : null;
  if (!event?.success) {
    deps.log.error(LogEvent.completionIgnored, 'not a run event: acknowledged and dropped', { messageId: envelope.message.messageId });
    return { status: 'ignored', reason: 'not a run event' };
  }
  const { runId, to } = event.data;
  if (to === 'EVALUATING') return continueOnline(runId, envelope.message.messageId, deps);
  if (to !== 'SUCCEEDED' && to !== 'SCORING') return { status: 'ignored', runId };
  const claim = await deps.store.claim(runId, to, envelope.message.messageId, deps.now(), deps.leaseMs);
  const log = deps.log.child({ runId, messageId: envelope.message.messageId });
  if ('skip' in claim) {
    log.info(LogEvent.completionDuplicate, `nothing to do: ${claim.skip}`);
    return { status: 'skipped', runId, reason: claim.skip };
  }
  try {
    return to === 'SUCCEEDED' ? await startEvaluation(claim.run, claim.token, deps, log) : await score(claim.run, claim.token, deps, log);
  } catch (error) {
    const info = classifyError(error);
    if (info.kind === 'transient') {
      await deps.store.release(runId, claim.token).catch(() => undefined);
      log.warn(LogEvent.completionRetry, `a transient error (${info.code}); the event will be redelivered`, { error: info });
      throw new RetryableCompletionError(`transient error for ${runId}: ${info.message}`);
    }
    const reason = `${to === 'SUCCEEDED' ? 'evaluation could not start' : 'scoring failed'}: ${info.message}`;
    const failed = await deps.store.finish(runId, claim.token, to, (run) =>
      withEvent(run, applyTransition(run, 'FAILED', reason, iso(deps.now()), { error: info }), reason),
    );
    if (failed) await flush(failed, deps);
    log.error(LogEvent.completionFailed, reason, { error: info });
    return { status: 'failed', runId, reason };
  }
}

async function startEvaluation(run: RunDocument, token: number, deps: CompletionDeps, log: Logger): Promise<CompletionOutcome> {
  await copyMetrics(run, deps, log);
  const request = run.request!;
  const datasetUri = request.evaluation?.datasetUri ?? request.validationDatasetUri;
  if (!datasetUri)
    return complete(run, token, deps, 'tuned; no evaluation: the request has no evaluation or validation dataset to measure on');
  if (!run.tunedModel) throw Object.assign(new Error('the succeeded run has no tuned model recorded'), { code: 'NO_TUNED_MODEL' });

  const files = evaluationFiles(deps.outputsBucket, run.runId);
  // Tuned and base model are asked alike, with the least thinking the model allows (Google's advice for tuned tasks).
  const input = await buildInferenceInput(deps.objects, datasetUri, files, deps.maxExamples, leastThinkingConfig(run.baseModel));
  log.info(LogEvent.evaluationInputBuilt, `${input.examples} evaluation requests from ${datasetUri}`, { skipped: input.skipped });
  if (input.examples === 0)
    return complete(
      run,
      token,
      deps,
      `tuned; no evaluation: no usable example in ${datasetUri}${input.firstSkip ? ` (${input.firstSkip})` : ''}`,
    );

  const models = { tuned: run.tunedModel.model, base: run.baseModel } as const;
  const jobs = {} as Evaluation['jobs'];
  for (const which of ['tuned', 'base'] as const) {
    const displayName = batchDisplayName(run.runId, which, 1);
    const outputPrefix = batchOutputPrefix(deps.outputsBucket, run.runId, which, 1);
    // A delivery that died after creating the job left it under this name: adopt it.
    let job;
    try {
      job =
        (await deps.batch.findByDisplayName(displayName, locationOf(models[which]))) ??
        (await deps.batch.create({ model: models[which], inputUri: files.inputUri, outputPrefix, displayName }));
    } catch (error) {
      const info = classifyError(error);
      if (!isBatchRefusal(info)) throw error;
      // The tuned model is asked at its endpoint; the base model by its id.
      const target = which === 'tuned' ? (run.tunedModel.endpoint ?? run.tunedModel.model) : run.baseModel;
      jobs[which] = onlineTrack(
        models[which],
        target,
        info.message,
        `${outputPrefix}/online`,
        input.examples,
        deps.online.partSize,
        iso(deps.now()),
      );
      log.warn(
        LogEvent.batchRefused,
        `Vertex refused batch prediction for the ${which} model (${info.message}): online requests to ${target} instead`,
        { error: info },
      );
      continue;
    }
    jobs[which] = {
      model: models[which],
      attempts: [
        {
          number: 1,
          jobName: job.name,
          submittedAt: job.createTime ?? iso(deps.now()),
          endedAt: null,
          endState: null,
          error: null,
          reason: 'first submission',
        },
      ],
      currentJobName: job.name,
      state: job.state,
      outputDirectory: job.outputDirectory,
      mode: 'batch',
    };
    log.info(LogEvent.batchJobCreated, `batch prediction for the ${which} model: ${job.name}`);
  }
  const evaluation: Evaluation = { datasetUri, ...files, examples: input.examples, skipped: input.skipped, jobs, result: null };
  const online = (['tuned', 'base'] as const).filter((which) => jobs[which].mode === 'online');
  const reason = `batch inference started on ${input.examples} held-out examples (tuned and base model)${online.length ? `; ${online.join(' and ')} online: batch refused` : ''}`;
  const after = await deps.store.finish(run.runId, token, 'SUCCEEDED', (current) =>
    withEvent(current, applyTransition(current, 'EVALUATING', reason, iso(deps.now()), { evaluation }), reason),
  );
  if (after) await flush(after, deps);
  return { status: 'evaluating', runId: run.runId };
}

/** An EVALUATING event: a model evaluated online gets its missing parts sent (no-op for batch-only runs). */
async function continueOnline(runId: string, holder: string, deps: CompletionDeps): Promise<CompletionOutcome> {
  const log = deps.log.child({ runId, messageId: holder });
  try {
    const outcome = await continueOnlineEvaluation(runId, holder, { ...deps, ...deps.online, leaseMs: deps.leaseMs });
    if (outcome.status === 'skipped') return { status: 'skipped', runId, reason: outcome.reason };
    await flush(outcome.run, deps);
    return {
      status: outcome.run.state === 'SCORING' ? 'scoring' : 'evaluating',
      runId,
      reason: `${outcome.partsWritten} parts written online (${outcome.status})`,
    };
  } catch (error) {
    const info = classifyError(error);
    if (info.kind === 'transient') {
      // Released at once, so the redelivery (or the poller's resend) carries on from the first missing part.
      await deps.store
        .update(runId, (run) => (run.state === 'EVALUATING' && run.evaluation ? withOnlineReleased(run, holder, iso(deps.now())) : null))
        .catch(() => undefined);
      log.warn(LogEvent.completionRetry, `online evaluation interrupted (${info.code}); the event will be redelivered`, { error: info });
      throw new RetryableCompletionError(`transient error for ${runId}: ${info.message}`);
    }
    const reason = `online evaluation failed: ${info.message}`;
    const failed = await deps.store.update(runId, (run) =>
      run.state === 'EVALUATING' ? withEvent(run, applyTransition(run, 'FAILED', reason, iso(deps.now()), { error: info }), reason) : null,
    );
    if (failed) await flush(failed, deps);
    log.error(LogEvent.completionFailed, reason, { error: info });
    return { status: 'failed', runId, reason };
  }
}

async function score(run: RunDocument, token: number, deps: CompletionDeps, log: Logger): Promise<CompletionOutcome> {
  const evaluation = run.evaluation;
  if (!evaluation?.jobs.tuned.outputDirectory || !evaluation.jobs.base.outputDirectory) {
    throw Object.assign(new Error('the run is SCORING but a batch job has no output directory'), { code: 'NO_OUTPUT' });
  }
  const references = await loadReferences(deps.objects, evaluation.referencesUri);
  const tuned = await scoreOutput(deps.objects, evaluation.jobs.tuned.outputDirectory, references);
  const base = await scoreOutput(deps.objects, evaluation.jobs.base.outputDirectory, references);
  const metric = run.request?.evaluation?.metric ?? 'exact_match';
  const { unmatched: _tunedUnmatched, ...tunedScores } = tuned;
  const { unmatched: _baseUnmatched, ...baseScores } = base;
  const result = {
    metric,
    headline: headlineScore(metric, baseScores, tunedScores),
    n: tunedScores.n,
    base: baseScores,
    tuned: tunedScores,
    delta: scoreDelta(baseScores, tunedScores),
    blocked: { base: baseScores.blocked, tuned: tunedScores.blocked },
    scoredAt: iso(deps.now()),
  };
  const headline = result.headline;
  const reason = `evaluated on ${result.n} held-out examples: ${metric} base ${headline.base} → tuned ${headline.tuned}`;
  const after = await deps.store.finish(run.runId, token, 'SCORING', (current) =>
    withEvent(current, applyTransition(current, 'COMPLETED', reason, iso(deps.now()), { evaluation: { ...evaluation, result } }), reason),
  );
  if (after) await flush(after, deps);
  log.info(LogEvent.evaluationScored, reason, { headline });
  if (after && deps.mlflow) {
    await deps.mlflow
      .logEvaluation(after, after.attempts.length)
      .catch((error: unknown) =>
        log.warn(LogEvent.metricsSinkFailed, 'the MLflow sink failed; the evaluation stays in Firestore', { error: classifyError(error) }),
      );
  }
  return { status: 'completed', runId: run.runId };
}

/** Metrics are worth having but never worth blocking evaluation for: a failed read is recorded and the stage goes on. */
async function copyMetrics(run: RunDocument, deps: CompletionDeps, log: Logger): Promise<void> {
  const attempt = run.attempts.length;
  try {
    const job = await deps.tuning.get(run.currentJobName!);
    if (!job.experiment) throw new Error(`tuning job ${job.name} names no experiment`);
    const series = await deps.metrics.read(job.experiment);
    const written = await deps.store.writeMetrics(run.runId, attempt, series, iso(deps.now()));
    const summary = Object.fromEntries(series.map((s) => [s.metric, summarizeSeries(s)]));
    await deps.store.recordMetrics(run.runId, { attempt, summary, readAt: iso(deps.now()), final: true, error: null });
    log.info(LogEvent.metricsCopied, `${series.length} metric series, ${written} new points`);
    if (deps.mlflow)
      await deps.mlflow
        .logRun(run, attempt, series)
        .catch((error: unknown) =>
          log.warn(LogEvent.metricsSinkFailed, 'the MLflow sink failed; metrics stay in Firestore', { error: classifyError(error) }),
        );
  } catch (error) {
    const info = classifyError(error);
    log.warn(LogEvent.metricsReadFailed, `could not read training metrics: ${info.message}; evaluation goes on`, { error: info });
    await deps.store
      .recordMetrics(run.runId, {
        attempt,
        summary: run.metrics?.summary ?? {},
        readAt: iso(deps.now()),
        final: false,
        error: info.message,
      })
      .catch(() => undefined);
  }
}

async function complete(run: RunDocument, token: number, deps: CompletionDeps, reason: string): Promise<CompletionOutcome> {
  const after = await deps.store.finish(run.runId, token, 'SUCCEEDED', (current) =>
    withEvent(current, applyTransition(current, 'COMPLETED', reason, iso(deps.now()), { evaluation: null }), reason),
  );
  if (after) await flush(after, deps);
  return { status: 'completed', runId: run.runId, reason };
}

/** Publishes the run's queued events; what fails stays queued for the poller's next tick. */
async function flush(run: RunDocument, deps: CompletionDeps): Promise<void> {
  const published: string[] = [];
  for (const event of run.pendingEvents ?? []) {
    try {
      await deps.events.publish(event);
      published.push(event.eventId);
    } catch (error) {
      deps.log.warn(LogEvent.runEventPublishFailed, `could not publish the ${event.to} event of ${event.runId}; the poller retries`, {
        error: classifyError(error),
      });
      break;
    }
  }
  if (published.length > 0) await deps.store.removeEvents(run.runId, published);
}

const iso = (ms: number) => new Date(ms).toISOString();
