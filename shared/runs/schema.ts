import { z } from 'zod';
import { mergeSummarySchema } from '../datasets/merge.ts';
import { evaluationSchema } from '../evaluation/schema.ts';
import { metricSummarySchema } from '../metrics/series.ts';
import { launchMessageSchema, tuningMethodSchema } from '../launch/schema.ts';
import { tuningDataStatsSummarySchema } from './data-stats.ts';
import { locationOf } from './regions.ts';

/**
 * The run document, `runs/{runId}` in Firestore: the contract other apps read (documented in
 * docs/run-schema.md). Timestamps are ISO-8601 strings so every reader, in any language, gets
 * the same thing without Firestore's Timestamp type.
 */
export const runStateSchema = z.enum([
  'ACCEPTED', // claimed by a launcher delivery, no Vertex job yet
  'QUEUED', // waiting in the pipeline's own queue for a tuning slot (MAX_CONCURRENT_TUNING_JOBS); no Vertex job yet
  'SUBMITTED', // a Vertex tuning job exists
  'PENDING', // Vertex has it queued
  'RUNNING',
  'SUCCEEDED', // tuning done; later stages take it on
  'EVALUATING', // batch inference with the tuned and the base model on held-out data
  'SCORING', // both batch jobs done; the completion handler scores them
  'COMPLETED', // tuned, measured against the base model (or no held-out data to measure on)
  'FAILED',
  'CANCELLED',
  'REJECTED', // the request itself was invalid; nothing was started
]);
export type RunState = z.infer<typeof runStateSchema>;

export const TERMINAL_STATES: readonly RunState[] = ['COMPLETED', 'FAILED', 'CANCELLED', 'REJECTED'];

export const errorInfoSchema = z.object({
  /** transient: worth retrying; permanent: retrying will not help. */
  kind: z.enum(['transient', 'permanent']),
  code: z.string(),
  message: z.string(),
  httpStatus: z.number().int().optional(),
});
export type ErrorInfo = z.infer<typeof errorInfoSchema>;

export const attemptSchema = z.object({
  number: z.number().int().positive(),
  jobName: z.string().nullable(),
  submittedAt: z.string(),
  startedAt: z.string().nullable().default(null),
  endedAt: z.string().nullable().default(null),
  endState: z.string().nullable().default(null),
  error: errorInfoSchema.nullable().default(null),
  /** When the poller first saw this attempt wait for Vertex's capacity (the stuck clock's start). */
  waitingSince: z.string().nullable().default(null),
  /** Why this attempt was made (first submission, resubmitted after being stuck, ...). */
  reason: z.string(),
  /** The Vertex region its job ran in (FALLBACK_REGIONS may move a stuck run); its tuned model lives there. */
  region: z.string().nullable().default(null),
  /** Which stage of a staged run the attempt belongs to (1 for every other run): the stuck policy counts a stage's attempts. */
  stage: z.number().int().positive().default(1),
});
export type Attempt = z.infer<typeof attemptSchema>;

/** A new attempt: a job submitted (or adopted) for a run, nothing known of it yet. */
export function newAttempt(fields: Pick<Attempt, 'number' | 'jobName' | 'submittedAt' | 'reason'> & { stage?: number }): Attempt {
  return {
    stage: 1,
    ...fields,
    startedAt: null,
    endedAt: null,
    endState: null,
    error: null,
    waitingSince: null,
    region: locationOf(fields.jobName),
  };
}

export const tunedModelSchema = z.object({
  model: z.string(),
  endpoint: z.string().nullable(),
  /** TunedModel.checkpoints (tuning_job.proto): the intermediate checkpoints, when the job kept them. */
  checkpoints: z
    .array(
      z.object({
        checkpointId: z.string(),
        epoch: z.string().nullable(),
        step: z.string().nullable(),
        endpoint: z.string().nullable(),
      }),
    )
    .optional(),
});
export type TunedModel = z.infer<typeof tunedModelSchema>;

/**
 * One stage of a staged run (launch `stages`): its method, the files its job trains on, and once
 * it succeeded, its model (the next stage continues from it), Vertex's data stats and its final
 * training metrics. The run's own `tunedModel` is the last stage's.
 */
export const runStageSchema = z.object({
  number: z.number().int().positive(),
  method: tuningMethodSchema,
  trainingDatasetUri: z.string(),
  validationDatasetUri: z.string().nullable(),
  tunedModel: tunedModelSchema.nullable(),
  endedAt: z.string().nullable(),
  tuningDataStats: tuningDataStatsSummarySchema.nullable(),
  metrics: z.object({ attempt: z.number().int().positive(), summary: z.record(z.string(), metricSummarySchema) }).nullable(),
  /**
   * What the stage's training cost, from Vertex's billable token count × epochs × the model's
   * training price; null when one of them is unknown (costNote says which).
   */
  costUsd: z.number().nonnegative().nullable().optional(),
  costNote: z.string().optional(),
});
export type RunStage = z.infer<typeof runStageSchema>;

export const historyEntrySchema = z.object({
  at: z.string(),
  from: runStateSchema.nullable(),
  to: runStateSchema,
  reason: z.string(),
});

/** A run's state change, published to the `run-events` topic for the completion handler and anyone else. */
export const runEventSchema = z.object({
  schemaVersion: z.literal(1),
  /** `${runId}:${n}`, n counting the run's state changes: subscribers de-duplicate on it. */
  eventId: z.string(),
  runId: z.string(),
  experiment: z.string(),
  from: runStateSchema.nullable(),
  to: runStateSchema,
  attempt: z.number().int().nonnegative(),
  reason: z.string(),
  at: z.string(),
});
export type RunEvent = z.infer<typeof runEventSchema>;

export const RAW_PREVIEW_CHARS = 4096;

export const rawRequestSchema = z.object({
  /** The Pub/Sub message id: with the dead-letter topic's copy, the whole message can be found. */
  messageId: z.string(),
  bytes: z.number().int().nonnegative(),
  sha256: z.string(),
  /** The start of the message text, as text (at most RAW_PREVIEW_CHARS characters). */
  preview: z.string().max(RAW_PREVIEW_CHARS),
  truncated: z.boolean(),
});
export type RawRequest = z.infer<typeof rawRequestSchema>;

export const runDocumentSchema = z.object({
  schemaVersion: z.literal(1),
  runId: z.string(),
  state: runStateSchema,
  experiment: z.string(),
  baseModel: z.string(),
  /** The launch request; null when the message itself was invalid (see rawRequest). */
  request: launchMessageSchema.nullable(),
  /**
   * What arrived, when it was not a valid launch message: a bounded copy of its text and its
   * hash, never the parsed value (Firestore refuses arrays of arrays, `__name__` or empty keys,
   * deep nesting and large documents, and a poison message must still become a REJECTED run).
   */
  rawRequest: rawRequestSchema.optional(),
  /** The training file the job uses (the merged file when the request named several). */
  trainingDatasetUri: z.string(),
  sourceDatasets: z.array(z.string()),
  /** When the request named several training datasets: the merged file and what each source gave. */
  merge: mergeSummarySchema.optional(),
  /**
   * Launch deliveries that failed on a transient error (each one is redelivered by Pub/Sub). When
   * the last failed delivery reached the subscription's limit, the message went to the dead-letter
   * topic: the run stays ACCEPTED, and re-publishing the same request picks it up again.
   */
  launchDeliveries: z
    .object({
      failed: z.number().int().nonnegative(),
      lastAttempt: z.number().int().positive().nullable(),
      deadLettered: z.boolean(),
      /** Times the poller (or `sft-pipeline retry`) published a stranded launch again, the next time it will, and since when it is stranded. */
      recoveries: z.number().int().nonnegative().default(0),
      nextRecoveryAt: z.string().nullable().default(null),
      strandedSince: z.string().nullable().default(null),
    })
    .optional(),
  attempts: z.array(attemptSchema),
  currentJobName: z.string().nullable(),
  tunedModel: tunedModelSchema.nullable(),
  /** A staged run's stages, in order; absent on single-job runs. */
  stages: z.array(runStageSchema).optional(),
  /** Continuous tuning: the tuned model this run started from, and the run of ours that made it (null when another made it). */
  lineage: z.object({ parentRunId: z.string().nullable(), preTunedModel: z.string(), checkpointId: z.string().nullable() }).optional(),
  /** A bounded summary of Vertex's tuningDataStats: counts and warnings, never training examples. */
  tuningDataStats: tuningDataStatsSummarySchema.nullable(),
  error: errorInfoSchema.nullable(),
  rejection: z.string().nullable(),
  history: z.array(historyEntrySchema),
  createTime: z.string(),
  updateTime: z.string(),
  /** Training metrics copied out of Vertex (points in `runs/{runId}/metrics`): final and best value per metric. */
  metrics: z
    .object({
      attempt: z.number().int().positive(),
      summary: z.record(z.string(), metricSummarySchema),
      readAt: z.string(),
      /** True once the finished job's metrics were copied (completion handler); live copies while RUNNING are false. */
      final: z.boolean().default(false),
      /** Why the last read failed (it does not block evaluation); null after a good read. */
      error: z.string().nullable(),
    })
    .optional(),
  /** Batch inference and the tuned-vs-base scores; null when there was no held-out data to measure on. */
  evaluation: evaluationSchema.nullable().optional(),
  /** While QUEUED: its place in the pipeline's queue for a tuning slot (1 = next), kept up to date by the poller. */
  queue: z
    .object({
      position: z.number().int().positive(),
      of: z.number().int().positive(),
      priority: z.number().int(),
      enqueuedAt: z.string(),
      maxConcurrent: z.number().int().positive(),
      seenAt: z.string(),
    })
    .nullable()
    .optional(),
  /** Vertex's detailed state of the current job (WAITING_FOR_CAPACITY, TUNING, ...): why it waits. */
  tuningJobState: z.string().optional(),
  /** Something people should look at, without a state change (e.g. running far longer than expected). */
  warning: z.string().nullable().optional(),
  /**
   * Events written in the same transaction as the state change they announce and removed once
   * published (an outbox): a publish that fails is retried by the next tick, never lost.
   */
  pendingEvents: z.array(runEventSchema).optional(),
  /** Which delivery may act on the run, until when (a lease with a fencing token). */
  lease: z.object({ holder: z.string(), expiresAt: z.string(), token: z.number().int() }).nullable(),
});
export type RunDocument = z.infer<typeof runDocumentSchema>;
