import { getModelSpec } from '../gemini/models.ts';
import type { LaunchMessage, LaunchTuningMethod, PreTunedModel } from '../launch/schema.ts';
import type { TuningDataStatsSummary } from './data-stats.ts';
import type { Attempt, RunDocument, RunStage } from './schema.ts';

/**
 * The stages of a run, pure. A single-job run is one stage; a staged run (launch `stages`,
 * Google's "supervised fine-tuning on the preferred answers, then preference tuning from that
 * model") has one job a stage, each with its own attempts, stuck policy and files, the next
 * starting from the model the one before made (continuous tuning: TuningJob.pre_tuned_model).
 */

/** The stage the run is in: its latest attempt's (1 before the first). */
export function currentStage(run: Pick<RunDocument, 'attempts'>): number {
  return run.attempts.at(-1)?.stage ?? 1;
}

/** The current stage's attempts: the stuck policy's count and thresholds start again for each stage. */
export function stageAttempts(run: Pick<RunDocument, 'attempts'>): Attempt[] {
  const stage = currentStage(run);
  return run.attempts.filter((attempt) => attempt.stage === stage);
}

/** The stage after the current one, when the run has one left. */
export function nextStage(run: Pick<RunDocument, 'attempts' | 'stages'>): RunStage | null {
  const stage = currentStage(run);
  return run.stages?.find((item) => item.number === stage + 1) ?? null;
}

/** Where a staged run's supervised stage reads its files: the preferred answers of the preference dataset. */
export function preferredAnswersUri(bucket: string, runId: string, which: 'training' | 'validation'): string {
  return `gs://${bucket}/derived/${runId}/stage-1-${which}.jsonl`;
}

/** A staged run's stages as the launcher records them, nothing run yet. */
export function plannedStages(
  message: LaunchMessage,
  preference: { trainingDatasetUri: string; validationDatasetUri: string | null },
  preferredAnswers: { trainingDatasetUri: string; validationDatasetUri: string | null },
): RunStage[] {
  const files = { SUPERVISED: preferredAnswers, PREFERENCE: preference };
  return (message.stages ?? []).map((method, index) => ({
    number: index + 1,
    method,
    ...files[method],
    tunedModel: null,
    endedAt: null,
    tuningDataStats: null,
    metrics: null,
  }));
}

/**
 * A finished stage's training cost: Vertex's billable tokens ("number of billable tokens in the
 * tuning dataset", tuning_job.proto) × the epochs asked × the model's training price per 1M
 * tokens. Vertex picks the epochs when the request gives none, and does not say how many.
 */
export function stageCost(
  stats: TuningDataStatsSummary | null,
  epochs: number | undefined,
  baseModel: string,
): { costUsd: number | null; costNote: string } {
  const price = getModelSpec(baseModel)?.trainingPricePerMillionUsd ?? null;
  const tokens = stats?.billableTokenCount ?? null;
  if (tokens === null) return { costUsd: null, costNote: 'Vertex gave no billable token count' };
  if (epochs === undefined)
    return { costUsd: null, costNote: `${tokens} billable tokens; the epochs were Vertex's default, not known here` };
  if (price === null) return { costUsd: null, costNote: `${tokens * epochs} billed tokens; the training price of ${baseModel} is unknown` };
  return {
    costUsd: Math.round(((tokens * epochs) / 1_000_000) * price * 10_000) / 10_000,
    costNote: `${tokens} billable tokens × ${epochs} epochs at $${price} per 1M`,
  };
}

/** What the job of a stage is asked to do (the tuning service's spec, less names, labels and region). */
export interface StageJob {
  method?: LaunchTuningMethod;
  preTunedModel?: PreTunedModel;
  trainingDatasetUri: string;
  validationDatasetUri?: string;
  hyperParameters: LaunchMessage['hyperParameters'];
  exportLastCheckpointOnly?: boolean;
}

/**
 * The job of stage `stage` (default: the current one). A later stage continues from the model the
 * stage before it made, at Vertex's default checkpoint; `beta` goes to preference stages only.
 */
export function stageJob(
  run: Pick<RunDocument, 'request' | 'trainingDatasetUri' | 'stages' | 'attempts'>,
  stage = currentStage(run),
): StageJob {
  const request = run.request!;
  const common = request.exportLastCheckpointOnly ? { exportLastCheckpointOnly: true } : {};
  const planned = run.stages?.find((item) => item.number === stage);
  if (!planned) {
    return {
      ...(request.method ? { method: request.method } : {}),
      ...(request.preTunedModel ? { preTunedModel: request.preTunedModel } : {}),
      trainingDatasetUri: run.trainingDatasetUri,
      ...(request.validationDatasetUri ? { validationDatasetUri: request.validationDatasetUri } : {}),
      hyperParameters: request.hyperParameters,
      ...common,
    };
  }
  const before = run.stages!.find((item) => item.number === stage - 1);
  if (before && !before.tunedModel) throw new Error(`stage ${stage} cannot start: stage ${before.number} has no tuned model recorded`);
  const preTunedModel = before ? { tunedModelName: before.tunedModel!.model } : request.preTunedModel;
  const { beta, ...supervisedHyperParameters } = request.hyperParameters;
  return {
    method: planned.method,
    ...(preTunedModel ? { preTunedModel } : {}),
    trainingDatasetUri: planned.trainingDatasetUri,
    ...(planned.validationDatasetUri ? { validationDatasetUri: planned.validationDatasetUri } : {}),
    hyperParameters: planned.method === 'PREFERENCE' || beta === undefined ? request.hyperParameters : supervisedHyperParameters,
    ...common,
  };
}
