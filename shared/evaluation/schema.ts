import { z } from 'zod';
import { classificationReportSchema } from './classification.ts';
import { judgeSummarySchema } from './judge.ts';

/** An intermediate checkpoint's track is `checkpoint-{checkpointId}`. */
export const CHECKPOINT_ARM_PREFIX = 'checkpoint-';
export type CheckpointArm = `checkpoint-${string}`;
export type EvaluationArm = 'tuned' | 'base' | 'stage1' | CheckpointArm;

export const evaluationArmSchema = z.custom<EvaluationArm>(
  (value) =>
    typeof value === 'string' &&
    (value === 'tuned' || value === 'base' || value === 'stage1' || /^checkpoint-[A-Za-z0-9_.-]{1,128}$/.test(value)),
  { message: 'a model track: tuned, base, stage1 or checkpoint-{id}' },
);

/**
 * The evaluation stage as recorded on the run (`runs/{runId}.evaluation`): the inference input
 * built from held-out data, the two batch prediction jobs (tuned and base model, on the same
 * input) with their attempts, and once both are done, the scores.
 */
export const batchAttemptSchema = z.object({
  number: z.number().int().positive(),
  jobName: z.string(),
  submittedAt: z.string(),
  endedAt: z.string().nullable(),
  endState: z.string().nullable(),
  error: z.string().nullable(),
  reason: z.string(),
});
export type BatchAttempt = z.infer<typeof batchAttemptSchema>;

/**
 * Online requests instead of a batch job, for a model whose batch prediction Vertex refuses
 * (tuned Gemini models were, in late 2024): the requests go to the model's endpoint in parts of
 * `partSize`, each part written create-once as a prediction file, so a delivery that stops (its
 * time budget, a crash) is carried on by the next from the first missing part.
 */
export const onlineProgressSchema = z.object({
  /** What the requests are sent to: the tuned model's endpoint, or the base model id. */
  target: z.string(),
  /** Why batch was not used: Vertex's refusal. */
  refusal: z.string(),
  requests: z.number().int().nonnegative(),
  partSize: z.number().int().positive(),
  partsDone: z.number().int().nonnegative(),
  /** The delivery working on it and until when; null between deliveries. */
  holder: z.string().nullable(),
  leaseUntil: z.string().nullable(),
  heartbeatAt: z.string(),
});
export type OnlineProgress = z.infer<typeof onlineProgressSchema>;

export const batchTrackSchema = z.object({
  /** The model the batch job runs: the tuned model's resource name, or the base model id. */
  model: z.string(),
  attempts: z.array(batchAttemptSchema),
  /** The batch job; in online mode, the target the requests go to. */
  currentJobName: z.string(),
  /** Vertex's state of the current job (JOB_STATE_…); in online mode RUNNING until every part is written. */
  state: z.string(),
  outputDirectory: z.string().nullable(),
  /** Vertex's completionStats of the finished job: a partly succeeded job's failed lines are scored as missing. */
  completionStats: z.object({ successful: z.number().int().nonnegative(), failed: z.number().int().nonnegative() }).nullable().optional(),
  mode: z.enum(['batch', 'online']).default('batch'),
  online: onlineProgressSchema.optional(),
});
export type BatchTrack = z.infer<typeof batchTrackSchema>;

export const modelScoresSchema = z.object({
  n: z.number().int().nonnegative(),
  exactMatch: z.number(),
  normalizedMatch: z.number(),
  jsonValid: z.number().nullable(),
  jsonFieldAccuracy: z.number().nullable(),
  blocked: z.number().int().nonnegative(),
  empty: z.number().int().nonnegative(),
  missing: z.number().int().nonnegative(),
  /** Per-example ROUGE-L F and sentence BLEU, averaged (absent from runs scored before they existed). */
  rougeL: z.number().optional(),
  bleu: z.number().optional(),
  /** Over examples whose reference calls a function (tool-calls.ts); null when none does. */
  toolCallValid: z.number().nullable().optional(),
  toolNameMatch: z.number().nullable().optional(),
  toolParameterKeyMatch: z.number().nullable().optional(),
  toolParameterKvMatch: z.number().nullable().optional(),
});

export const evaluationResultSchema = z.object({
  /** The measure the launch request named (exact_match, normalized_match, json_fields) and its tuned − base gain. */
  metric: z.string(),
  headline: z.object({
    base: z.number().nullable(),
    tuned: z.number().nullable(),
    delta: z.number().nullable(),
    /** A staged run: the model after its first stage, so each stage's gain shows. */
    stage1: z.number().nullable().optional(),
    /** With `evaluation.checkpoints: "all"`: each intermediate checkpoint's, by arm (`checkpoint-2`). */
    checkpoints: z.record(z.string(), z.number().nullable()).optional(),
  }),
  n: z.number().int().nonnegative(),
  base: modelScoresSchema,
  tuned: modelScoresSchema,
  /** A staged run's model after stage 1 (SUPERVISED), on the same requests. */
  stage1: modelScoresSchema.optional(),
  /** Each intermediate checkpoint's scores, by arm (`checkpoint-2`), on the same requests. */
  checkpoints: z.record(z.string(), modelScoresSchema).optional(),
  delta: z.record(z.string(), z.number().nullable()),
  blocked: z.object({ base: z.number().int(), tuned: z.number().int(), stage1: z.number().int().optional() }),
  /**
   * The headline delta's 95 % paired-bootstrap interval over the examples (bootstrap.ts), and
   * whether the gain is significant (the interval leaves out 0).
   */
  confidence: z
    .object({
      level: z.number(),
      delta: z.number(),
      low: z.number(),
      high: z.number(),
      n: z.number().int(),
      resamples: z.number().int(),
      significant: z.boolean(),
    })
    .nullable()
    .optional(),
  /** The model that scored best by the headline metric (tuned, stage1, a checkpoint or base). */
  best: evaluationArmSchema.nullable().optional(),
  /**
   * The model the run reports as its result: the tuned one, or with `evaluation.pickBest` the best
   * one (a checkpoint's `model` is its endpoint: where it is served).
   */
  selected: z.object({ arm: evaluationArmSchema, model: z.string() }).optional(),
  /** The measures the launch request said the run is about (`evaluation.metrics`), headline first. */
  metrics: z.array(z.string()).optional(),
  /** Where the headline measure came from: the launch request, or the references (classification.ts pickMetric). */
  metricSource: z.enum(['request', 'data']).optional(),
  /** When the references are class labels: each model's per-label precision, recall, F1 and confusion table. */
  classification: z.record(z.string(), classificationReportSchema).optional(),
  /** How many examples the tuned model got better, worse or the same as the base one (the table: runs/{runId}/examples). */
  verdicts: z.object({ better: z.number().int(), worse: z.number().int(), same: z.number().int() }).optional(),
  /** The judge's pairwise verdicts, tuned against base (judge.ts), when the run asked for them. */
  judge: judgeSummarySchema.optional(),
  /** Why the judge gave no verdicts (a permanent error from the evaluation service): the rest of the result stands. */
  judgeFailure: z.string().optional(),
  scoredAt: z.string(),
});
export type EvaluationResult = z.infer<typeof evaluationResultSchema>;

/** tuned and base always; stage1 on a staged run; `checkpoint-{id}` with `evaluation.checkpoints: "all"`. */
export type EvaluationJobs = { tuned: BatchTrack; base: BatchTrack; stage1?: BatchTrack } & { [arm: CheckpointArm]: BatchTrack };

const jobsSchema = z
  .object({ tuned: batchTrackSchema, base: batchTrackSchema, stage1: batchTrackSchema.optional() })
  .catchall(batchTrackSchema)
  .superRefine((jobs, context) => {
    for (const key of Object.keys(jobs))
      if (!evaluationArmSchema.safeParse(key).success)
        context.addIssue({ code: 'custom', message: `no such model track: ${key}`, path: [key] });
  }) as unknown as z.ZodType<EvaluationJobs>;

export const evaluationSchema = z.object({
  /** The held-out file: the launch request's evaluation dataset, else its validation dataset. */
  datasetUri: z.string(),
  inputUri: z.string(),
  referencesUri: z.string(),
  examples: z.number().int().nonnegative(),
  /** Held-out lines that could not become a request (no model turn to compare with, ...). */
  skipped: z.number().int().nonnegative(),
  /**
   * One prediction track per model: tuned, base, for a staged run the model after stage 1, and
   * with `evaluation.checkpoints: "all"` each intermediate checkpoint (`checkpoint-{id}`).
   */
  jobs: jobsSchema,
  /** The tuned model's checkpoint evaluated, when the request named one (else Vertex's default checkpoint). */
  checkpointId: z.string().nullable().optional(),
  result: evaluationResultSchema.nullable(),
});
export type Evaluation = z.infer<typeof evaluationSchema>;

/** The models an evaluation may ask besides the checkpoints: `stage1` only on a staged run. */
export const EVALUATION_ARMS = ['tuned', 'base', 'stage1'] as const;

/** The models an evaluation asks, in order: tuned, base, stage 1, then the intermediate checkpoints by id. */
export function armsOf(evaluation: { jobs: Record<string, unknown> }): EvaluationArm[] {
  const fixed = EVALUATION_ARMS.filter((arm) => evaluation.jobs[arm] !== undefined);
  const checkpoints = Object.keys(evaluation.jobs)
    .filter((key): key is CheckpointArm => key.startsWith(CHECKPOINT_ARM_PREFIX))
    .sort(byCheckpoint);
  return [...fixed, ...checkpoints];
}

/** Checkpoint ids compared as numbers when both are (Vertex's are epochs or steps), else as text. */
function byCheckpoint(a: string, b: string): number {
  const [x, y] = [a.slice(CHECKPOINT_ARM_PREFIX.length), b.slice(CHECKPOINT_ARM_PREFIX.length)];
  return /^\d+$/.test(x) && /^\d+$/.test(y) ? Number(x) - Number(y) : x.localeCompare(y);
}

export function checkpointArm(checkpointId: string): CheckpointArm {
  return `${CHECKPOINT_ARM_PREFIX}${checkpointId}`;
}

/** How an arm is named in reasons and logs. */
export function armName(arm: EvaluationArm): string {
  if (arm === 'stage1') return 'stage-1 (supervised)';
  if (arm.startsWith(CHECKPOINT_ARM_PREFIX)) return `checkpoint ${arm.slice(CHECKPOINT_ARM_PREFIX.length)}`;
  return arm;
}

/** The state of the two batch jobs a run waits for. */
export const BATCH_DONE = 'JOB_STATE_SUCCEEDED';
/**
 * Final states with predictions to score: JOB_STATE_PARTIALLY_SUCCEEDED is final too ("the job is
 * partially succeeded, some results may be missing due to errors", job_state.proto).
 */
export const BATCH_DONE_STATES: readonly string[] = [BATCH_DONE, 'JOB_STATE_PARTIALLY_SUCCEEDED'];
export const isBatchDone = (state: string): boolean => BATCH_DONE_STATES.includes(state);
export const BATCH_FINAL_FAILURES = ['JOB_STATE_FAILED', 'JOB_STATE_CANCELLED', 'JOB_STATE_EXPIRED'];
