import type { Attempt, ErrorInfo, RunDocument, RunState } from './schema.ts';
import { formatDuration } from '../duration.ts';

/**
 * What one poller tick does with one active run, given what Vertex says about its current job:
 * a pure decision, so every rule of the stuck policy is testable without a clock or a network.
 */
export interface JobView {
  name: string;
  state: string;
  tuningJobState?: string;
  createTime?: string;
  startTime?: string;
  endTime?: string;
  error?: { code?: number; message?: string };
  tunedModel?: { model: string; endpoint: string | null };
  tuningDataStats?: Record<string, unknown>;
}

export interface StuckPolicy {
  stuckAfterMs: number;
  maxAttempts: number;
  runningWarningMs: number;
}

export type PollDecision =
  | { action: 'none' }
  | { action: 'update'; to: RunState; reason: string; changes: Partial<RunDocument> }
  | { action: 'resubmit'; reason: string; why: 'STUCK_IN_QUEUE' | 'TRANSIENT_FAILURE'; cancelFirst: boolean }
  | { action: 'fail'; reason: string; error: ErrorInfo; cancelFirst: boolean };

const QUEUED = new Set(['JOB_STATE_QUEUED', 'JOB_STATE_PENDING']);

/** How long attempt `n` (1-based) may wait in the queue: the waits grow, 1×, 2×, 4× ... */
export function stuckThresholdMs(policy: StuckPolicy, attempt: number): number {
  return policy.stuckAfterMs * 2 ** Math.max(0, attempt - 1);
}

/**
 * Transient or capacity failures are worth a new attempt; a failure about the dataset or the
 * request is not. Vertex reports job errors as google.rpc.Status (gRPC codes).
 */
export function classifyJobFailure(error: JobView['error']): ErrorInfo {
  const code = error?.code;
  const message = error?.message ?? 'the job failed without an error message';
  const transientCode = code === 4 || code === 8 || code === 10 || code === 13 || code === 14;
  const aboutData = /dataset|invalid|jsonl|validation|permission|not found/i.test(message);
  return { kind: transientCode && !aboutData ? 'transient' : 'permanent', code: code === undefined ? 'JOB_FAILED' : `GRPC_${code}`, message };
}

export function decidePoll(run: RunDocument, job: JobView, nowMs: number, policy: StuckPolicy): PollDecision {
  const attempt = run.attempts.length;
  const current = run.attempts.at(-1);
  const attemptChanges = (patch: Partial<Attempt>): Partial<RunDocument> => ({
    attempts: run.attempts.map((a, i) => (i === run.attempts.length - 1 ? { ...a, ...patch } : a)),
  });
  const detail = job.tuningJobState ? { tuningJobState: job.tuningJobState } : {};

  if (QUEUED.has(job.state)) {
    const since = Date.parse(job.createTime ?? current?.submittedAt ?? run.updateTime);
    const waited = nowMs - since;
    if (waited > stuckThresholdMs(policy, attempt)) {
      const wait = formatDuration(waited);
      if (attempt >= policy.maxAttempts) {
        return {
          action: 'fail',
          reason: `STUCK_IN_QUEUE: attempt ${attempt} of ${policy.maxAttempts} waited ${wait} in Vertex's queue`,
          error: { kind: 'transient', code: 'STUCK_IN_QUEUE', message: `queued for ${wait} on the last allowed attempt` },
          cancelFirst: true,
        };
      }
      return { action: 'resubmit', why: 'STUCK_IN_QUEUE', reason: `stuck in Vertex's queue for ${wait} (${job.tuningJobState ?? job.state}): cancelled and resubmitted`, cancelFirst: true };
    }
    return run.state === 'PENDING' && sameDetail(run, job) ? { action: 'none' } : { action: 'update', to: 'PENDING', reason: `queued in Vertex (${job.tuningJobState ?? job.state})`, changes: { ...detail } };
  }
  if (job.state === 'JOB_STATE_RUNNING') {
    const started = Date.parse(job.startTime ?? '') || nowMs;
    const warning = nowMs - started > policy.runningWarningMs ? `running for ${formatDuration(nowMs - started)}, longer than expected` : null;
    if (run.state === 'RUNNING' && (run.warning ?? null) === warning && sameDetail(run, job)) return { action: 'none' };
    return { action: 'update', to: 'RUNNING', reason: 'training started', changes: { ...detail, ...attemptChanges({ startedAt: job.startTime ?? null }), warning } };
  }
  if (job.state === 'JOB_STATE_SUCCEEDED') {
    return {
      action: 'update',
      to: 'SUCCEEDED',
      reason: 'tuning succeeded',
      changes: {
        ...detail,
        ...attemptChanges({ startedAt: job.startTime ?? current?.startedAt ?? null, endedAt: job.endTime ?? null, endState: job.state }),
        tunedModel: job.tunedModel ?? null,
        tuningDataStats: job.tuningDataStats ?? run.tuningDataStats,
        error: null,
      },
    };
  }
  if (job.state === 'JOB_STATE_FAILED' || job.state === 'JOB_STATE_EXPIRED') {
    const error = classifyJobFailure(job.error);
    if (error.kind === 'transient' && attempt < policy.maxAttempts) {
      return { action: 'resubmit', why: 'TRANSIENT_FAILURE', reason: `the job failed with a transient error (${error.code}: ${error.message}): resubmitted`, cancelFirst: false };
    }
    return { action: 'fail', reason: `the tuning job failed (${error.kind}): ${error.message}`, error, cancelFirst: false };
  }
  if ((job.state === 'JOB_STATE_CANCELLED' || job.state === 'JOB_STATE_CANCELLING') && run.lease !== null) {
    // A poller cancelled it to resubmit (or to give up) and died before recording: finish that.
    if (attempt >= policy.maxAttempts) {
      return { action: 'fail', reason: `STUCK_IN_QUEUE: attempt ${attempt} of ${policy.maxAttempts} was given up on`, error: { kind: 'transient', code: 'STUCK_IN_QUEUE', message: 'the last allowed attempt was cancelled as stuck' }, cancelFirst: false };
    }
    return { action: 'resubmit', why: 'STUCK_IN_QUEUE', reason: 'finishing a resubmission a poller started and did not record', cancelFirst: false };
  }
  if (job.state === 'JOB_STATE_CANCELLED' || job.state === 'JOB_STATE_CANCELLING') {
    return { action: 'update', to: 'CANCELLED', reason: 'the tuning job was cancelled outside the pipeline', changes: { ...attemptChanges({ endedAt: job.endTime ?? null, endState: job.state }) } };
  }
  return { action: 'none' };
}

function sameDetail(run: RunDocument, job: JobView): boolean {
  return run.tuningJobState === job.tuningJobState;
}
