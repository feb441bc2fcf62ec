import { createHash } from 'node:crypto';
import { z } from 'zod';
import { verdictSchema } from '../evaluation/examples.ts';
import { evaluationResultSchema } from '../evaluation/schema.ts';
import { queueNote } from '../runs/admission.ts';
import { runStateSchema, type RunDocument } from '../runs/schema.ts';
import { currentStage } from '../runs/stages.ts';

/**
 * The status API's shapes (`functions/status`): the run table's rows are derived from the run
 * document by `summarizeRun`; a single run is the run document itself (runDocumentSchema), so
 * the typed Firestore reader and the API return the same shapes.
 */
/**
 * What a run id can look like: the ids the launcher makes (`run-…`, `ds-…`, `msg-…`, a requestId)
 * are letters, digits, `_` and `-`. Firestore reserves ids of the form `__…__`, so those are never
 * looked up (asking for one is an error there, not a miss).
 */
export function isRunId(text: string): boolean {
  return /^[A-Za-z0-9_-]{1,100}$/.test(text) && !/^__.*__$/.test(text);
}

const runIdText = z.string().refine(isRunId, 'not a run id (letters, digits, _ and -, at most 100)');

/** Each filter once, as text: repeated (`?a=1&a=2`) or bracketed (`?a[$ne]=x`) parameters are refused, not ignored. */
export const listQuerySchema = z.strictObject({
  experiment: z.string().min(1).optional(),
  state: runStateSchema.optional(),
  /** ISO-8601: runs created at or after. */
  since: z.iso.datetime().optional(),
  /** ISO-8601: runs created before. */
  until: z.iso.datetime().optional(),
  pageSize: z.coerce.number().int().min(1).max(200).default(50),
  /** The last run id of the previous page. */
  pageToken: runIdText.optional(),
});
export type ListQuery = z.infer<typeof listQuerySchema>;

/** The per-example comparison's page query: by verdict (tuned against base), in example order. */
export const examplesQuerySchema = z.strictObject({
  verdict: verdictSchema.optional(),
  pageSize: z.coerce.number().int().min(1).max(500).default(50),
  /** The last example id of the previous page (e000123). */
  pageToken: z
    .string()
    .regex(/^e\d{6}$/, 'an example id such as e000123')
    .optional(),
});
export type ExamplesQuery = z.infer<typeof examplesQuerySchema>;

export const runSummarySchema = z.object({
  runId: z.string(),
  state: runStateSchema,
  experiment: z.string(),
  baseModel: z.string(),
  /** SUPERVISED or PREFERENCE tuning: for a staged run, the method of the stage it is in. */
  method: z.enum(['SUPERVISED', 'PREFERENCE']),
  /** A staged run's stages (null otherwise): each one's method and, once it succeeded, its tuned model. */
  stages: z
    .array(
      z.object({ number: z.number().int().positive(), method: z.enum(['SUPERVISED', 'PREFERENCE']), tunedModel: z.string().nullable() }),
    )
    .nullable(),
  /** The stage a staged run is in (null for other runs). */
  stage: z.number().int().positive().nullable(),
  /** Continuous tuning: the tuned model it started from, and our run that made it (null: another made it). */
  lineage: z.object({ parentRunId: z.string().nullable(), preTunedModel: z.string(), checkpointId: z.string().nullable() }).nullable(),
  attempts: z.number().int().nonnegative(),
  /** Seconds the current attempt waited in Vertex's queue (so far, while it still waits). */
  queueWaitSeconds: z.number().nullable(),
  /** Seconds from the first submission to the end (so far, while the run is live). */
  durationSeconds: z.number().nullable(),
  estimatedCostUsd: z.number().nullable(),
  createTime: z.string(),
  updateTime: z.string(),
  /** Why it failed or was refused, where it waits in the pipeline's queue, or a warning. */
  note: z.string().nullable(),
  /** While QUEUED: its place in the pipeline's queue for a tuning slot (1 = next). */
  queuePosition: z.number().int().positive().nullable(),
  headline: evaluationResultSchema.shape.headline.extend({ metric: z.string() }).nullable(),
  /** The model the run gives as its result once evaluated (the tuned one; with pickBest, the best scoring), else its tuned model. */
  resultModel: z.string().nullable(),
});
export type RunSummary = z.infer<typeof runSummarySchema>;

export const runListSchema = z.object({ runs: z.array(runSummarySchema), nextPageToken: z.string().nullable() });

const seconds = (from: string | null | undefined, to: string | null | undefined) =>
  from && to ? Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000)) : null;

export function summarizeRun(run: RunDocument, nowIso: string): RunSummary {
  const current = run.attempts.at(-1);
  const first = run.attempts[0];
  const finished = ['COMPLETED', 'FAILED', 'CANCELLED', 'REJECTED'].includes(run.state);
  const result = run.evaluation?.result;
  const queued = run.state === 'QUEUED' ? run.queue : null;
  return {
    runId: run.runId,
    state: run.state,
    experiment: run.experiment,
    baseModel: run.baseModel,
    method: run.stages?.find((item) => item.number === currentStage(run))?.method ?? run.request?.method ?? 'SUPERVISED',
    stages: run.stages?.map((item) => ({ number: item.number, method: item.method, tunedModel: item.tunedModel?.model ?? null })) ?? null,
    stage: run.stages ? currentStage(run) : null,
    lineage: run.lineage ?? null,
    attempts: run.attempts.length,
    queueWaitSeconds: current ? seconds(current.submittedAt, current.startedAt ?? current.endedAt ?? (finished ? null : nowIso)) : null,
    durationSeconds: first ? seconds(first.submittedAt, finished ? run.updateTime : nowIso) : null,
    estimatedCostUsd: run.request?.estimatedCostUsd ?? null,
    createTime: run.createTime,
    updateTime: run.updateTime,
    note:
      run.rejection ??
      (run.state === 'FAILED'
        ? (run.history.at(-1)?.reason ?? run.error?.message ?? null)
        : queued
          ? queueNote(queued)
          : (run.warning ?? run.tuningDataStats?.warnings[0] ?? null)),
    queuePosition: queued?.position ?? null,
    headline: result ? { metric: result.metric, ...result.headline } : null,
    resultModel: result?.selected?.model ?? run.tunedModel?.model ?? null,
  };
}

/** A weak ETag from what changes a response, so pollers in other apps can ask cheaply (If-None-Match → 304). */
export function etagOf(parts: readonly string[]): string {
  return `W/"${createHash('sha256').update(parts.join('\u0000')).digest('base64url').slice(0, 22)}"`;
}
