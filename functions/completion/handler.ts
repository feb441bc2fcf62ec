import { leastThinkingConfig } from '../../shared/gemini/models.ts';
import type { CompletionStore } from '../../adapters/firestore/completion-store.ts';
import type { RunEventPublisher } from '../../adapters/pubsub/run-events.ts';
import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import type { BatchService } from '../../adapters/vertex/batch.ts';
import type { MetricsReader } from '../../adapters/vertex/metrics.ts';
import type { TuningService } from '../../adapters/vertex/tuning.ts';
import { classifyError } from '../../shared/errors/classify.ts';
import {
  batchDisplayName,
  batchOutputPrefix,
  bestModel,
  evaluationFiles,
  headlineScore,
  headlineValue,
} from '../../shared/evaluation/plan.ts';
import {
  armName,
  checkpointArm,
  CHECKPOINT_ARM_PREFIX,
  EVALUATION_ARMS,
  armsOf,
  type Evaluation,
  type EvaluationArm,
} from '../../shared/evaluation/schema.ts';
import { scoreDelta, type ExampleScore, type ModelScores } from '../../shared/evaluation/scoring.ts';
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
import { loadPrompts, loadReferences, scoreOutput } from './score.ts';
import { compareExamples, pairedValues } from '../../shared/evaluation/examples.ts';
import { pairedBootstrap } from '../../shared/evaluation/bootstrap.ts';
import { classificationReport, looksLikeLabels, pickMetric } from '../../shared/evaluation/classification.ts';
import type { EvaluationService } from '../../adapters/vertex/evaluation.ts';
import type { ExampleComparison } from '../../shared/evaluation/examples.ts';
import {
  examplesToJudge,
  judgeInstance,
  judgmentOf,
  PAIRWISE_TEMPLATE,
  summarizeJudgments,
  type Judgment,
  type JudgeSummary,
} from '../../shared/evaluation/judge.ts';
import { mapConcurrently } from '../../shared/concurrency.ts';

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
  /**
   * Vertex's evaluation service, for runs that ask for a judge (absent: such runs say there is
   * none); `budgetMs`: how long one delivery judges before handing the rest to the next.
   */
  judge?: { service: EvaluationService; concurrency: number; budgetMs: number };
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
  await copyEarlierStagesMetrics(run, deps, log);
  await copyMetrics(run, deps, log);
  const request = run.request!;
  const datasetUri = request.evaluation?.datasetUri ?? request.validationDatasetUri;
  if (!datasetUri)
    return complete(run, token, deps, 'tuned; no evaluation: the request has no evaluation or validation dataset to measure on');
  if (!run.tunedModel) throw Object.assign(new Error('the succeeded run has no tuned model recorded'), { code: 'NO_TUNED_MODEL' });

  // A named checkpoint is served at an endpoint of its own; Vertex's default one is the tuned model's.
  const checkpointId = request.evaluation?.checkpointId ?? null;
  const checkpoint = checkpointId ? run.tunedModel.checkpoints?.find((item) => item.checkpointId === checkpointId) : undefined;
  if (checkpointId && !checkpoint?.endpoint) {
    const kept = run.tunedModel.checkpoints?.map((item) => item.checkpointId).join(', ') || 'none';
    return complete(run, token, deps, `tuned; no evaluation: the request names checkpoint ${checkpointId}, and the job kept ${kept}`);
  }
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

  // A staged run's model after its first stage is asked too: each stage's gain shows.
  const stage1 = run.stages?.length ? (run.stages[0]!.tunedModel ?? null) : null;
  const models: Partial<Record<EvaluationArm, string>> = {
    tuned: run.tunedModel.model,
    base: run.baseModel,
    ...(stage1 ? { stage1: stage1.model } : {}),
  };
  const endpoints: Partial<Record<EvaluationArm, string>> = {
    tuned: run.tunedModel.endpoint ?? run.tunedModel.model,
    base: run.baseModel,
    ...(stage1 ? { stage1: stage1.endpoint ?? stage1.model } : {}),
  };
  const arms: EvaluationArm[] = EVALUATION_ARMS.filter((arm) => models[arm] !== undefined);
  const jobs = {} as Evaluation['jobs'];
  // Every intermediate checkpoint, asked online at its own endpoint (batch prediction takes a model, not a checkpoint).
  const others = request.evaluation?.checkpoints === 'all' ? otherCheckpoints(run.tunedModel, checkpoint?.checkpointId) : [];
  for (const other of others) {
    const arm = checkpointArm(other.checkpointId);
    const why = `checkpoint ${other.checkpointId} is served at its own endpoint`;
    jobs[arm] = onlineTrack(
      other.endpoint,
      other.endpoint,
      why,
      `${batchOutputPrefix(deps.outputsBucket, run.runId, arm, 1)}/online`,
      input.examples,
      deps.online.partSize,
      iso(deps.now()),
      `${why}: online requests to it`,
    );
  }
  for (const which of arms) {
    const model = models[which]!;
    const displayName = batchDisplayName(run.runId, which, 1);
    const outputPrefix = batchOutputPrefix(deps.outputsBucket, run.runId, which, 1);
    if (which === 'tuned' && checkpoint?.endpoint) {
      // Batch prediction takes a model, and Google documents no way to name a checkpoint in it.
      const why = `checkpoint ${checkpoint.checkpointId} is served at its own endpoint`;
      jobs.tuned = onlineTrack(
        model,
        checkpoint.endpoint,
        why,
        `${outputPrefix}/online`,
        input.examples,
        deps.online.partSize,
        iso(deps.now()),
        `${why}: online requests to it`,
      );
      continue;
    }
    // A delivery that died after creating the job left it under this name: adopt it.
    let job;
    try {
      job =
        (await deps.batch.findByDisplayName(displayName, locationOf(model))) ??
        (await deps.batch.create({ model, inputUri: files.inputUri, outputPrefix, displayName }));
    } catch (error) {
      const info = classifyError(error);
      if (!isBatchRefusal(info)) throw error;
      // A tuned model is asked at its endpoint; the base model by its id.
      const target = endpoints[which]!;
      jobs[which] = onlineTrack(
        model,
        target,
        info.message,
        `${outputPrefix}/online`,
        input.examples,
        deps.online.partSize,
        iso(deps.now()),
      );
      log.warn(
        LogEvent.batchRefused,
        `Vertex refused batch prediction for the ${armName(which)} model (${info.message}): online requests to ${target} instead`,
        { error: info },
      );
      continue;
    }
    jobs[which] = {
      model,
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
    log.info(LogEvent.batchJobCreated, `batch prediction for the ${armName(which)} model: ${job.name}`);
  }
  const evaluation: Evaluation = {
    datasetUri,
    ...files,
    examples: input.examples,
    skipped: input.skipped,
    jobs,
    ...(checkpointId ? { checkpointId } : {}),
    result: null,
  };
  const online = arms
    .filter((which) => jobs[which]!.mode === 'online' && !(which === 'tuned' && checkpoint))
    .map((which) => armName(which));
  const names = arms.map((which) => armName(which));
  const asked = `${names.slice(0, -1).join(', ')} and ${names.at(-1)!}`;
  const everyCheckpoint =
    request.evaluation?.checkpoints !== 'all'
      ? ''
      : others.length > 0
        ? `; intermediate checkpoints ${others.map((item) => item.checkpointId).join(', ')} online at their endpoints`
        : '; no intermediate checkpoint to ask (the job kept none besides the default)';
  const reason = `batch inference started on ${input.examples} held-out examples (${asked} model)${checkpoint ? `; the tuned model at checkpoint ${checkpoint.checkpointId}, online at its endpoint` : ''}${everyCheckpoint}${online.length ? `; ${online.join(' and ')} online: batch refused` : ''}`;
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
  const arms = evaluation ? armsOf(evaluation) : [];
  if (!evaluation || arms.some((arm) => !evaluation.jobs[arm]!.outputDirectory)) {
    throw Object.assign(new Error('the run is SCORING but a batch job has no output directory'), { code: 'NO_OUTPUT' });
  }
  const references = await loadReferences(deps.objects, evaluation.referencesUri);
  const scores: Partial<Record<EvaluationArm, ModelScores>> = {};
  const perExample: Partial<Record<EvaluationArm, ExampleScore[]>> = {};
  for (const arm of arms) {
    const {
      unmatched: _unmatched,
      examples,
      ...armScores
    } = await scoreOutput(deps.objects, evaluation.jobs[arm]!.outputDirectory!, references);
    scores[arm] = armScores;
    perExample[arm] = examples;
  }
  // Every example side by side, beside the run; and how sure the headline gain is.
  const ordered = [...references.values()].flat().sort((a, b) => a.index - b.index);
  const referenceTexts = ordered.map((entry) => entry.reference);
  // The request's measure, else the one the references call for (JSON fields, label accuracy, ROUGE-L).
  const requested = run.request?.evaluation?.metric ?? run.request?.evaluation?.metrics?.[0];
  const metric = requested ?? pickMetric(referenceTexts);
  const classification = looksLikeLabels(referenceTexts)
    ? Object.fromEntries(
        arms.map((arm) => [
          arm,
          classificationReport(
            referenceTexts,
            referenceTexts.map((_, index) => perExample[arm]![index]?.answer ?? null),
          ),
        ]),
      )
    : undefined;
  const prompts = await loadPrompts(deps.objects, evaluation.inputUri);
  const table = compareExamples(run.runId, metric, prompts, referenceTexts, perExample as Record<string, ExampleScore[]>);
  await deps.store.writeExamples(run.runId, table);
  const { judgments, ...judged } = await judgeExamples(run, table, deps, log);
  const paired = pairedValues(metric, perExample.base!, perExample.tuned!);
  const confidence = pairedBootstrap(paired.base, paired.tuned);
  const verdicts = { better: 0, worse: 0, same: 0 };
  for (const example of table) verdicts[example.verdict] += 1;
  const [baseScores, tunedScores, stage1Scores] = [scores.base!, scores.tuned!, scores.stage1];
  const stage1Headline = stage1Scores ? headlineValue(metric, stage1Scores) : undefined;
  const checkpointArms = arms.filter((arm) => arm.startsWith(CHECKPOINT_ARM_PREFIX));
  const checkpointScores = Object.fromEntries(checkpointArms.map((arm) => [arm, scores[arm]!]));
  const headline = {
    ...headlineScore(metric, baseScores, tunedScores),
    ...(stage1Scores ? { stage1: stage1Headline ?? null } : {}),
    ...(checkpointArms.length
      ? { checkpoints: Object.fromEntries(checkpointArms.map((arm) => [arm, headlineValue(metric, scores[arm]!)])) }
      : {}),
  };
  const best = bestModel(headline);
  const selectedArm = run.request?.evaluation?.pickBest && best ? best : 'tuned';
  const result = {
    metric,
    headline,
    n: tunedScores.n,
    base: baseScores,
    tuned: tunedScores,
    ...(stage1Scores ? { stage1: stage1Scores } : {}),
    ...(checkpointArms.length ? { checkpoints: checkpointScores } : {}),
    delta: scoreDelta(baseScores, tunedScores),
    blocked: { base: baseScores.blocked, tuned: tunedScores.blocked, ...(stage1Scores ? { stage1: stage1Scores.blocked } : {}) },
    confidence,
    verdicts,
    best,
    selected: { arm: selectedArm, model: evaluation.jobs[selectedArm]!.model },
    metricSource: requested ? ('request' as const) : ('data' as const),
    ...(run.request?.evaluation?.metrics ? { metrics: run.request.evaluation.metrics } : {}),
    ...(classification ? { classification } : {}),
    ...judged,
    scoredAt: iso(deps.now()),
  };
  const middle = stage1Scores ? ` → after stage 1 ${stage1Headline}` : '';
  const byCheckpoint = headline.checkpoints
    ? `; checkpoints ${Object.entries(headline.checkpoints)
        .map(([arm, value]) => `${arm.slice(CHECKPOINT_ARM_PREFIX.length)}: ${value}`)
        .join(', ')}; best: ${best ? armName(best) : 'none'}`
    : '';
  const sure = confidence
    ? `; delta 95% interval [${confidence.low}, ${confidence.high}]${confidence.significant ? '' : ', not significant'}`
    : '';
  const picked = selectedArm !== 'tuned' ? `; the ${armName(selectedArm)} model scored best and is the run's result (pickBest)` : '';
  const judge = judged.judge
    ? `; the judge preferred tuned on ${judged.judge.tunedWins}, base on ${judged.judge.baseWins}, neither on ${judged.judge.ties} of ${judged.judge.judged}`
    : judged.judgeFailure
      ? `; ${judged.judgeFailure}`
      : '';
  const reason = `evaluated on ${result.n} held-out examples: ${metric} base ${headline.base}${middle} → tuned ${headline.tuned}${sure}${byCheckpoint}${picked}${judge}`;
  const after = await deps.store.finish(run.runId, token, 'SCORING', (current) =>
    withEvent(current, applyTransition(current, 'COMPLETED', reason, iso(deps.now()), { evaluation: { ...evaluation, result } }), reason),
  );
  if (after) await flush(after, deps);
  log.info(LogEvent.evaluationScored, reason, { headline });
  if (after && deps.mlflow) {
    await deps.mlflow
      .logEvaluation(
        after,
        after.attempts.length,
        table.map((example) => (judgments?.has(example.index) ? { ...example, judge: judgments.get(example.index)! } : example)),
      )
      .then(({ artifact, reason: why }) =>
        artifact
          ? log.info(LogEvent.metricsCopied, `the per-example table is MLflow artifact ${artifact}`)
          : log.warn(LogEvent.metricsSinkFailed, `no per-example table in MLflow: ${why}`),
      )
      .catch((error: unknown) =>
        log.warn(LogEvent.metricsSinkFailed, 'the MLflow sink failed; the evaluation stays in Firestore', { error: classifyError(error) }),
      );
  }
  return { status: 'completed', runId: run.runId };
}

/**
 * The checkpoints besides the one evaluated as the tuned model: "the tuned model endpoint
 * represents the endpoint of the default checkpoint" ("Use checkpoints in supervised fine-tuning
 * for Gemini models"), so a checkpoint served there is the tuned model itself.
 */
function otherCheckpoints(
  tuned: NonNullable<RunDocument['tunedModel']>,
  evaluatedAsTuned: string | undefined,
): { checkpointId: string; endpoint: string }[] {
  return (tuned.checkpoints ?? []).filter(
    (item): item is typeof item & { endpoint: string } =>
      item.endpoint !== null &&
      item.checkpointId !== evaluatedAsTuned &&
      (evaluatedAsTuned !== undefined || item.endpoint !== tuned.endpoint),
  );
}

/**
 * The judge, when the run asked for it: each chosen example not judged yet is sent to the
 * evaluation service (tuned as candidate, base as baseline) and its judgment recorded on the
 * example at once, so a redelivery after a transient error asks only about the rest. A permanent
 * refusal (a bad judge model name, say) is recorded as the reason; the scores stand without it.
 */
async function judgeExamples(
  run: RunDocument,
  table: readonly ExampleComparison[],
  deps: CompletionDeps,
  log: Logger,
): Promise<{ judge?: JudgeSummary; judgeFailure?: string; judgments?: Map<number, Judgment> }> {
  const spec = run.request?.evaluation?.judge;
  if (!spec) return {};
  if (!deps.judge) return { judgeFailure: 'the run asked for a judge, but this deployment has no evaluation service' };
  const chosen = examplesToJudge(table, spec.maxExamples);
  const done = await deps.store.readJudgments(run.runId);
  const startedAt = deps.now();
  let asked = 0;
  let outOfTime = false;
  try {
    await mapConcurrently(
      chosen.filter((example) => !done.has(example.index)),
      deps.judge.concurrency,
      async (example) => {
        // Past the delivery's budget no new call starts (each delivery makes at least one per worker, so it always gets on).
        if (asked >= deps.judge!.concurrency && deps.now() - startedAt >= deps.judge!.budgetMs) return void (outOfTime = true);
        asked += 1;
        const answer = await deps.judge!.service.pairwise({
          template: PAIRWISE_TEMPLATE,
          instance: judgeInstance(example),
          autoraterModel: spec.model,
        });
        const judgment = judgmentOf(answer.choice, answer.explanation);
        if (!judgment) return; // PAIRWISE_CHOICE_UNSPECIFIED: counted undecided in the summary
        await deps.store.recordJudgment(run.runId, example.index, judgment);
        done.set(example.index, judgment);
      },
    );
  } catch (error) {
    const info = classifyError(error);
    if (info.kind === 'transient') throw error;
    log.warn(LogEvent.evaluationJudgeFailed, `the judge refused: ${info.message}; the scores stand without it`, { error: info });
    return { judgeFailure: `the judge failed: ${info.message}` };
  }
  if (outOfTime) {
    // DEADLINE_EXCEEDED, a transient end: the lease is released and the redelivery judges the rest.
    throw Object.assign(new Error(`the judge's budget for one delivery ran out after ${asked} examples; the next one carries on`), {
      code: 4,
    });
  }
  return {
    judge: summarizeJudgments(
      spec.model ?? 'default',
      chosen.map((example) => done.get(example.index) ?? null),
    ),
    judgments: done,
  };
}

/** Metrics are worth having but never worth blocking evaluation for: a failed read is recorded and the stage goes on. */
async function copyMetrics(run: RunDocument, deps: CompletionDeps, log: Logger): Promise<void> {
  const attempt = run.attempts.length;
  try {
    const { series, written, summary } = await copyJobMetrics(run.runId, run.currentJobName!, attempt, deps);
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

/** A finished job's training metric series, its points written under `attempt` (runs/{runId}/metrics), and their summary. */
async function copyJobMetrics(runId: string, jobName: string, attempt: number, deps: CompletionDeps) {
  const job = await deps.tuning.get(jobName);
  if (!job.experiment) throw new Error(`tuning job ${job.name} names no experiment`);
  const series = await deps.metrics.read(job.experiment);
  const written = await deps.store.writeMetrics(runId, attempt, series, iso(deps.now()));
  const summary = Object.fromEntries(series.map((item) => [item.metric, summarizeSeries(item)]));
  return { series, written, summary };
}

/**
 * A staged run's earlier stages: each one's last attempt's training metrics, copied (points under
 * that attempt in `runs/{runId}/metrics`) and summed up on the stage. The last stage's are the
 * run's own `metrics`. A failed read is logged and left; evaluation goes on.
 */
async function copyEarlierStagesMetrics(run: RunDocument, deps: CompletionDeps, log: Logger): Promise<void> {
  for (const stage of (run.stages ?? []).slice(0, -1)) {
    const attempt = run.attempts.filter((item) => item.stage === stage.number).at(-1);
    if (!attempt?.jobName || stage.metrics?.attempt === attempt.number) continue;
    try {
      const { series, summary } = await copyJobMetrics(run.runId, attempt.jobName, attempt.number, deps);
      await deps.store.update(run.runId, (current) =>
        current.stages
          ? {
              ...current,
              stages: current.stages.map((item) =>
                item.number === stage.number ? { ...item, metrics: { attempt: attempt.number, summary } } : item,
              ),
            }
          : null,
      );
      log.info(LogEvent.metricsCopied, `stage ${stage.number}: ${series.length} metric series`, { stage: stage.number });
    } catch (error) {
      const info = classifyError(error);
      log.warn(LogEvent.metricsReadFailed, `could not read stage ${stage.number}'s training metrics: ${info.message}; evaluation goes on`, {
        error: info,
      });
    }
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
