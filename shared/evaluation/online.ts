import type { ErrorInfo, RunDocument, RunEvent } from '../runs/schema.ts';
import { withEvent } from '../runs/outbox.ts';
import { applyTransition } from '../runs/transitions.ts';
import { allDone, endLastAttempt } from './batch-poll.ts';
import { BATCH_DONE, armsOf, isBatchDone, type BatchTrack, type Evaluation } from './schema.ts';

/**
 * The online fallback's rules, pure. Batch prediction on tuned Gemini models was refused in late
 * 2024 (googleapis/python-aiplatform#4609: "a custom gemini model is not supported now"), and
 * Vertex answers unsupported models with 400 INVALID_ARGUMENT "Do not support publisher model …"
 * (googleapis/python-genai#704). Google's batch samples gained tuned-model notes in May 2025
 * (GoogleCloudPlatform/python-docs-samples#13392), so batch is tried first and this is the way
 * out when a project or model still gets the refusal.
 */
const REFUSAL = /\b(do(es)? not|don't|not) support|unsupported|not supported/i;

export function isBatchRefusal(error: ErrorInfo): boolean {
  if (error.kind !== 'permanent') return false;
  const refusedStatus = error.httpStatus === 400 || error.httpStatus === 501 || ['GRPC_3', 'GRPC_9', 'GRPC_12'].includes(error.code);
  return refusedStatus && REFUSAL.test(error.message);
}

/** The prediction file of one part: zero-padded so listing order is request order. */
export function onlinePartUri(outputDirectory: string, part: number): string {
  return `${outputDirectory.replace(/\/$/, '')}/part-${String(part).padStart(5, '0')}.jsonl`;
}

export function onlinePartCount(progress: { requests: number; partSize: number }): number {
  return Math.ceil(progress.requests / progress.partSize);
}

/** The track of a model evaluated online, as recorded when batch was refused. */
export function onlineTrack(
  model: string,
  target: string,
  refusal: string,
  outputDirectory: string,
  requests: number,
  partSize: number,
  nowIso: string,
  reason = `batch prediction refused (${refusal}): online requests instead`,
): BatchTrack {
  return {
    model,
    attempts: [
      {
        number: 1,
        jobName: `online:${target}`,
        submittedAt: nowIso,
        endedAt: null,
        endState: null,
        error: null,
        reason,
      },
    ],
    currentJobName: target,
    state: 'JOB_STATE_RUNNING',
    outputDirectory,
    mode: 'online',
    online: { target, refusal, requests, partSize, partsDone: 0, holder: null, leaseUntil: null, heartbeatAt: nowIso },
  };
}

export type OnlineClaim = { claimed: BatchTrack } | { skip: string };

/** Whether `holder` may work on the track now: nobody else holds a live lease, and parts remain. */
export function claimOnlineTrack(track: BatchTrack, holder: string, nowMs: number, leaseMs: number): OnlineClaim {
  const online = track.online;
  if (track.mode !== 'online' || !online) return { skip: 'not an online track' };
  if (isBatchDone(track.state)) return { skip: 'every part is written' };
  if (online.holder && online.holder !== holder && online.leaseUntil && Date.parse(online.leaseUntil) > nowMs)
    return { skip: `${online.holder} is working on it` };
  const nowIso = new Date(nowMs).toISOString();
  return { claimed: { ...track, online: { ...online, holder, leaseUntil: new Date(nowMs + leaseMs).toISOString(), heartbeatAt: nowIso } } };
}

/** Progress after a part is written (the lease renewed), or the track done after the last part. */
export function onlineProgressed(track: BatchTrack, partsDone: number, holder: string, nowMs: number, leaseMs: number): BatchTrack {
  const online = track.online!;
  const nowIso = new Date(nowMs).toISOString();
  const done = partsDone >= onlinePartCount(online);
  return {
    ...track,
    state: done ? BATCH_DONE : track.state,
    attempts: done ? endLastAttempt(track, BATCH_DONE, null, nowIso) : track.attempts,
    online: {
      ...online,
      partsDone: Math.max(online.partsDone, partsDone),
      holder: done ? null : holder,
      leaseUntil: done ? null : new Date(nowMs + leaseMs).toISOString(),
      heartbeatAt: nowIso,
    },
  };
}

/** The track released by a delivery that stops before the end (its time budget), for the next one to carry on. */
export function onlineReleased(track: BatchTrack, holder: string, nowIso: string): BatchTrack {
  const online = track.online;
  return online && online.holder === holder
    ? { ...track, online: { ...online, holder: null, leaseUntil: null, heartbeatAt: nowIso } }
    : track;
}

/** The run with every online track `holder` works on released (it stops: its budget is used, or an error). */
export function withOnlineReleased(run: RunDocument, holder: string, nowIso: string): RunDocument {
  const jobs = run.evaluation!.jobs;
  return {
    ...run,
    evaluation: {
      ...run.evaluation!,
      jobs: Object.fromEntries(
        armsOf(run.evaluation!).map((arm) => [arm, onlineReleased(jobs[arm]!, holder, nowIso)]),
      ) as Evaluation['jobs'],
    },
  };
}

/** Whether an online track waits for someone to carry it on: unfinished, nobody holding it, quiet for `quietMs`. */
export function onlineNeedsContinuation(track: BatchTrack, nowMs: number, quietMs: number): boolean {
  const online = track.online;
  if (track.mode !== 'online' || !online || isBatchDone(track.state)) return false;
  const held = online.leaseUntil !== null && Date.parse(online.leaseUntil) > nowMs;
  return !held && nowMs - Date.parse(online.heartbeatAt) >= quietMs;
}

/** An EVALUATING event that asks the completion handler to carry the online requests on (an id of its own, so it is not taken for a redelivery). */
export function continuationEvent(run: RunDocument, reason: string, nowIso: string): RunEvent {
  const done = Object.values(run.evaluation?.jobs ?? {})
    .map((t) => t.online?.partsDone ?? 0)
    .join('-');
  return {
    schemaVersion: 1,
    eventId: `${run.runId}:${run.history.length}:${run.attempts.length}:online-${done}-${Date.parse(nowIso)}`,
    runId: run.runId,
    experiment: run.experiment,
    from: run.state,
    to: run.state,
    attempt: run.attempts.length,
    reason,
    at: nowIso,
  };
}

/** The run with its evaluation's jobs replaced, and SCORING (with its event) once both are done. */
export function withEvaluationJobs(current: RunDocument, jobs: Evaluation['jobs'], nowIso: string): RunDocument {
  const next = { ...current.evaluation!, jobs };
  if (!allDone(next)) return { ...current, evaluation: next, updateTime: nowIso };
  const arms = armsOf(next);
  const every = arms.length === 2 ? 'both' : `all ${arms.length}`;
  const reason = arms.some((arm) => jobs[arm]!.mode === 'online')
    ? `${every} models answered every held-out request (batch and online)`
    : `${every} batch prediction jobs succeeded`;
  return withEvent(current, applyTransition(current, 'SCORING', reason, nowIso, { evaluation: next }), reason);
}
