import { createHash } from 'node:crypto';
import { z } from 'zod';
import { judgeSpecSchema } from '../evaluation/judge.ts';

/**
 * The launch message: what upstream systems and the converter publish to ask for a tuning run.
 * Versioned; upstream teams import this schema (or read docs/run-schema.md) to build messages.
 */
// A bucket name is at most 222 characters and an object name at most 1,024 bytes (Cloud Storage's naming rules).
const gcsUri = z
  .string()
  .max(1300, 'a gs:// URI is at most 1,300 characters (bucket 222, object 1,024 bytes)')
  .regex(/^gs:\/\/[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]\/.+/, 'must be gs://bucket/object');

/**
 * Google's label rules (TuningJob.labels in tuning_job.proto; Resource Manager's labels page):
 * keys and values at most 63 characters of lowercase letters, digits, `_` and `-`, international
 * characters allowed; a key starts with a lowercase letter; at most 64 labels a resource.
 */
const labelKey = z
  .string()
  .regex(
    /^\p{Ll}[\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u,
    'label keys: a lowercase letter first, then lowercase letters, digits, _ and -, at most 63',
  );
const labelValue = z.string().regex(/^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u, 'label values: lowercase letters, digits, _ and -, at most 63');
/** 64 per resource, less the two the pipeline adds (run id and attempt). */
export const MAX_USER_LABELS = 62;

export const ADAPTER_SIZES = [1, 2, 4, 8, 16] as const;

export const hyperParametersSchema = z
  .object({
    epochCount: z.number().int().min(1).max(100).optional(),
    learningRateMultiplier: z.number().positive().max(100).optional(),
    adapterSize: z.union([z.literal(1), z.literal(2), z.literal(4), z.literal(8), z.literal(16)]).optional(),
    /**
     * Preference tuning only: the weight of the KL-divergence regularisation, "how closely the
     * tuned model aligns with its baseline" (PreferenceOptimizationHyperParameters.beta in
     * @google/genai; "Tune Gemini models by using preference tuning").
     */
    beta: z.number().min(0).max(100).optional(),
  })
  .strict();

/**
 * The tuning method: supervised fine-tuning (the default, and what a message without `method`
 * means), or preference tuning on a dataset of Vertex's preference format (`method: PREFERENCE`,
 * @google/genai's PREFERENCE_TUNING, sent as TuningJob.preferenceOptimizationSpec).
 */
export const tuningMethodSchema = z.enum(['SUPERVISED', 'PREFERENCE']);

/**
 * Continuous tuning ("Use continuous tuning for Gemini models"): the job starts from a tuned
 * model (TuningJob.pre_tuned_model in tuning_job.proto, the `source_model` oneof with
 * base_model), at its default checkpoint or the one named. The model's resource name is
 * `projects/{project}/locations/{location}/models/{model}[@{version}]`.
 */
export const preTunedModelSchema = z
  .object({
    tunedModelName: z
      .string()
      .regex(
        /^projects\/[^/]+\/locations\/[a-z0-9-]+\/models\/[^/@\s]+(@[^/\s]+)?$/,
        'a tuned model: projects/PROJECT/locations/REGION/models/ID[@VERSION]',
      ),
    checkpointId: z.string().min(1).max(128).optional(),
  })
  .strict();
export type PreTunedModel = z.infer<typeof preTunedModelSchema>;
export type LaunchTuningMethod = z.infer<typeof tuningMethodSchema>;

/** The one staged run Google advises: supervised on the preferred answers, then preference tuning from that model. */
export const launchStagesSchema = z
  .array(tuningMethodSchema)
  .refine(
    (stages) => stages.length === 2 && stages[0] === 'SUPERVISED' && stages[1] === 'PREFERENCE',
    'the one staged run is ["SUPERVISED", "PREFERENCE"] (supervised on the preferred answers, then preference tuning from that model)',
  );

export const evaluationMetricSchema = z.enum([
  'exact_match',
  'normalized_match',
  'json_fields',
  'rouge_l',
  'bleu',
  'tool_call_valid',
  'tool_name_match',
  'tool_parameter_key_match',
  'tool_parameter_kv_match',
]);

export const evaluationSpecSchema = z.object({
  /** The held-out file; absent: the validation dataset (the settings below still apply). */
  datasetUri: gcsUri.optional(),
  /**
   * The headline measure: exact, normalised or JSON-field match for answers with one right form;
   * ROUGE-L or BLEU for free text; the tool-call metrics Vertex's evaluation service names for
   * function calls. Absent: picked from the references (function calls → tool_parameter_kv_match,
   * JSON → json_fields, class labels → normalized_match, free text → rouge_l;
   * shared/evaluation/classification.ts).
   */
  metric: evaluationMetricSchema.optional(),
  /**
   * The measures the run is about, the first one its headline unless `metric` names another.
   * Every measure that applies is computed either way (they cost no call); these are the ones
   * the result lists first (`result.metrics`).
   */
  metrics: z.array(evaluationMetricSchema).min(1).max(9).optional(),
  /**
   * Evaluate this checkpoint of the tuned model (TunedModel.checkpoints' checkpoint_id) instead
   * of Vertex's default one. "Use checkpoints in supervised fine-tuning for Gemini models":
   * intermediate checkpoints are deployed to endpoints of their own, so it is asked there, online.
   */
  checkpointId: z.string().min(1).max(128).optional(),
  /**
   * "all": every intermediate checkpoint the job kept is asked too, online at its own endpoint,
   * on the same examples; the run records which model scored best (with `pickBest`, it becomes
   * the run's result). Checkpoints are kept unless the job exported the last one only.
   */
  checkpoints: z.literal('all').optional(),
  /**
   * A staged run reports as its result the model that scored best (the first stage's when the
   * second did worse), not always the last one: the run's `result.model`.
   */
  pickBest: z.boolean().optional(),
  /**
   * Opt-in: Vertex's evaluation service judges tuned against base on each held-out example (a
   * pairwise model-based metric), giving a win rate and the judge's reasons. Billed per example
   * judged, hence `maxExamples` (shared/evaluation/judge.ts).
   */
  judge: judgeSpecSchema.optional(),
});

export const launchMessageSchema = z
  .object({
    schemaVersion: z.literal(1),
    /** Optional idempotency key; when absent the run id is a hash of the request. */
    requestId: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'requestId: lowercase letters, digits and dashes, at most 40')
      .optional(),
    /** The display name jobs and models are grouped under. */
    experiment: z.string().min(1).max(128),
    baseModel: z.string().min(1),
    /** Absent: SUPERVISED (messages of before this field launch as they did, with the same run id). */
    method: tuningMethodSchema.optional(),
    /**
     * Continue from a tuned model instead of starting from `baseModel` (which then names the Gemini
     * model it descends from, for limits, price and the base side of evaluation). New data is
     * otherwise tuned from the base model over all of it (several trainingDatasetUri): continuing
     * is an explicit choice.
     */
    preTunedModel: preTunedModelSchema.optional(),
    /**
     * A staged run on one preference dataset: `["SUPERVISED", "PREFERENCE"]` tunes on the preferred
     * answers first, then continues from that model with preference tuning (Google's advice in
     * "About preference tuning for Gemini models"). One run, one job per stage. Not with `method`.
     */
    stages: launchStagesSchema.optional(),
    /** SFT's and preference tuning's export_last_checkpoint_only: keep only the last checkpoint. */
    exportLastCheckpointOnly: z.boolean().optional(),
    /** One dataset, or several: a tuned model cannot be trained further, so more data means a new run over all of it. */
    trainingDatasetUri: z.union([gcsUri, z.array(gcsUri).min(1).max(50)]),
    validationDatasetUri: gcsUri.optional(),
    hyperParameters: hyperParametersSchema.default({}),
    labels: z
      .record(labelKey, labelValue)
      .refine(
        (labels) => Object.keys(labels).length <= MAX_USER_LABELS,
        `at most ${MAX_USER_LABELS} labels (Vertex takes 64; the pipeline adds 2)`,
      )
      .optional(),
    evaluation: evaluationSpecSchema.optional(),
    /** A budget guard: the run is rejected when the dataset's estimated cost is above it. */
    maxEstimatedCostUsd: z.number().positive().optional(),
    /** The converter's estimate for this dataset, when the converter sent the message. */
    estimatedCostUsd: z.number().nonnegative().nullable().optional(),
    /** The converter's dataset id, linking the run to its dataset document. */
    datasetId: z.string().min(1).max(200).optional(),
    /**
     * Place in the pipeline's queue for a tuning slot when MAX_CONCURRENT_TUNING_JOBS are busy:
     * higher first, then first come. Not part of the run's identity.
     */
    priority: z.number().int().min(-1000).max(1000).optional(),
    /** Who asked: a system name, a user, "converter". */
    source: z.string().min(1).max(256),
  })
  .strict()
  .refine((message) => !(message.stages && message.method), {
    message: 'give either method (one job) or stages (one job a stage), not both',
    path: ['stages'],
  });

export type LaunchMessage = z.infer<typeof launchMessageSchema>;
export type LaunchMessageInput = z.input<typeof launchMessageSchema>;

export function trainingDatasets(message: LaunchMessage): string[] {
  return Array.isArray(message.trainingDatasetUri) ? message.trainingDatasetUri : [message.trainingDatasetUri];
}

/**
 * The run id: the requestId when given, else a hash of what makes two requests the same run
 * (datasets, model, experiment, hyperparameters), so a re-published request is the same run.
 * Usable as a Firestore document id and as a GCP label value.
 */
export function runIdFor(message: LaunchMessage): string {
  if (message.requestId) return message.requestId;
  const identity = {
    experiment: message.experiment,
    baseModel: message.baseModel,
    training: [...trainingDatasets(message)].sort(),
    validation: message.validationDatasetUri ?? null,
    hyperParameters: sortKeys(message.hyperParameters),
    // A message without a metric hashed as exact_match when that was the default: its run id stays.
    evaluation: message.evaluation ? { ...message.evaluation, metric: message.evaluation.metric ?? 'exact_match' } : null,
    // Only when given: a message from before the field keeps its run id.
    ...(message.method && message.method !== 'SUPERVISED' ? { method: message.method } : {}),
    ...(message.stages ? { stages: message.stages } : {}),
    ...(message.preTunedModel ? { preTunedModel: message.preTunedModel } : {}),
    ...(message.exportLastCheckpointOnly ? { exportLastCheckpointOnly: true } : {}),
  };
  return `run-${createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 24)}`;
}

function sortKeys(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}
