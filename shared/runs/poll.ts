import type { Attempt, ErrorInfo, RunDocument, RunState } from './schema.ts';
import { formatDuration } from '../duration.ts';
import { summarizeTuningDataStats } from './data-stats.ts';
import type { RunStage } from './schema.ts';
import { currentStage, nextStage, stageAttempts, stageCost } from './stages.ts';

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
  tunedModel?: {
    model: string;
    endpoint: string | null;
    checkpoints?: { checkpointId: string; epoch: string | null; step: string | null; endpoint: string | null }[];
  };
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
  | { action: 'fail'; reason: string; error: ErrorInfo; cancelFirst: boolean }
  /** A staged run's stage succeeded: record it (`changes`) and submit the next stage's job, continuing from its model. */
  | { action: 'advance'; reason: string; stage: number; changes: Partial<RunDocument>; cancelFirst: false };

/**
 * Where a job is on its way to a model. Vertex reports a tuning job that waits as
 * `JOB_STATE_RUNNING` with a `tuningJobState` detail ("the detail state of the tuning job (while
 * the overall JobState is running)", @google/genai's TuningJob), so the coarse state alone says
 * nothing about training: the detail decides. QUEUED and PENDING (job_state.proto) are waits too.
 * A RUNNING job with no detail (an API version without the field) is taken as training.
 */
export type JobProgress = 'waiting-for-quota' | 'processing-dataset' | 'waiting-for-capacity' | 'training' | 'other';

export function jobProgress(job: Pick<JobView, 'state' | 'tuningJobState'>): JobProgress {
  if (job.state === 'JOB_STATE_QUEUED' || job.state === 'JOB_STATE_PENDING') return 'waiting-for-capacity';
  if (job.state !== 'JOB_STATE_RUNNING') return 'other';
  switch (job.tuningJobState) {
    case 'TUNING_JOB_STATE_WAITING_FOR_QUOTA':
      return 'waiting-for-quota';
    case 'TUNING_JOB_STATE_PROCESSING_DATASET':
      return 'processing-dataset';
    case 'TUNING_JOB_STATE_WAITING_FOR_CAPACITY':
      return 'waiting-for-capacity';
    default:
      return 'training';
  }
}

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
  return {
    kind: transientCode && !aboutData ? 'transient' : 'permanent',
    code: code === undefined ? 'JOB_FAILED' : `GRPC_${code}`,
    message,
  };
}

export function decidePoll(run: RunDocument, job: JobView, nowMs: number, policy: StuckPolicy): PollDecision {
  // The stuck policy counts the current stage's attempts: a staged run's next stage starts afresh.
  const attempt = stageAttempts(run).length;
  const current = run.attempts.at(-1);
  const nowIso = new Date(nowMs).toISOString();
  const attemptChanges = (patch: Partial<Attempt>): Partial<RunDocument> => ({
    attempts: run.attempts.map((a, i) => (i === run.attempts.length - 1 ? { ...a, ...patch } : a)),
  });
  const detail = job.tuningJobState ? { tuningJobState: job.tuningJobState } : {};
  const progress = jobProgress(job);
  const stats = job.tuningDataStats ? { tuningDataStats: summarizeTuningDataStats(job.tuningDataStats) } : {};

  if (progress === 'waiting-for-quota' || progress === 'processing-dataset') {
    // Quota is not capacity: a job waiting for the project's tuning quota gains nothing by being
    // cancelled and resubmitted (the pipeline's own admission queue keeps it from happening).
    const what = progress === 'waiting-for-quota' ? "waiting for the project's tuning job quota" : 'Vertex is processing the dataset';
    const stale = run.state === 'PENDING' && sameDetail(run, job) && (current?.waitingSince ?? null) === null;
    return stale
      ? { action: 'none' }
      : {
          action: 'update',
          to: 'PENDING',
          reason: `${what} (${job.tuningJobState})`,
          changes: { ...detail, ...stats, ...attemptChanges({ waitingSince: null }) },
        };
  }
  if (progress === 'waiting-for-capacity') {
    // The stuck clock runs from when the attempt began to wait for capacity, so a quota wait or a
    // dataset check seen before never counts: from now if a tick saw it doing either; else from the
    // job's start (QUEUED and PENDING: its creation), the earliest the wait can have begun.
    const sawOtherPhase =
      run.state !== 'SUBMITTED' &&
      run.tuningJobState !== undefined &&
      jobProgress({ state: 'JOB_STATE_RUNNING', tuningJobState: run.tuningJobState }) !== 'waiting-for-capacity';
    const since = job.state === 'JOB_STATE_RUNNING' ? (job.startTime ?? job.createTime) : job.createTime;
    const firstSeen = current?.waitingSince ?? (sawOtherPhase ? nowIso : (since ?? current?.submittedAt ?? run.updateTime));
    const waited = nowMs - Date.parse(firstSeen);
    if (waited > stuckThresholdMs(policy, attempt)) {
      const wait = formatDuration(waited);
      if (attempt >= policy.maxAttempts) {
        return {
          action: 'fail',
          reason: `STUCK_IN_QUEUE: attempt ${attempt} of ${policy.maxAttempts} waited ${wait} for Vertex's capacity`,
          error: { kind: 'transient', code: 'STUCK_IN_QUEUE', message: `waited ${wait} for capacity on the last allowed attempt` },
          cancelFirst: true,
        };
      }
      return {
        action: 'resubmit',
        why: 'STUCK_IN_QUEUE',
        reason: `stuck in Vertex's queue for ${wait} (${job.tuningJobState ?? job.state}): cancelled and resubmitted`,
        cancelFirst: true,
      };
    }
    if (run.state === 'PENDING' && sameDetail(run, job) && current?.waitingSince === firstSeen) return { action: 'none' };
    return {
      action: 'update',
      to: 'PENDING',
      reason: `waiting for Vertex's capacity (${job.tuningJobState ?? job.state})`,
      changes: { ...detail, ...stats, ...attemptChanges({ waitingSince: firstSeen }) },
    };
  }
  if (progress === 'training') {
    // Training began when the poller first saw it train: Vertex's startTime is when the job
    // first entered RUNNING, which includes every wait.
    const started = current?.startedAt ?? nowIso;
    const runFor = nowMs - Date.parse(started);
    const warning = runFor > policy.runningWarningMs ? `training for ${formatDuration(runFor)}, longer than expected` : null;
    if (run.state === 'RUNNING' && (run.warning ?? null) === warning && sameDetail(run, job) && current?.startedAt)
      return { action: 'none' };
    return {
      action: 'update',
      to: 'RUNNING',
      reason: 'training started',
      changes: { ...detail, ...stats, ...attemptChanges({ startedAt: started }), warning },
    };
  }
  if (job.state === 'JOB_STATE_SUCCEEDED') {
    const next = nextStage(run);
    const stage = currentStage(run);
    const stageStats = stats.tuningDataStats ?? null;
    const finished = (item: RunStage): RunStage =>
      item.number !== stage
        ? item
        : {
            ...item,
            tunedModel: job.tunedModel ?? null,
            endedAt: job.endTime ?? nowIso,
            tuningDataStats: stageStats,
            ...stageCost(stageStats, run.request?.hyperParameters.epochCount, run.baseModel),
          };
    if (next && !job.tunedModel) {
      const message = `stage ${stage}'s job succeeded but names no tuned model: stage ${next.number} has nothing to continue from`;
      return { action: 'fail', reason: message, error: { kind: 'permanent', code: 'NO_TUNED_MODEL', message }, cancelFirst: false };
    }
    if (next && job.tunedModel) {
      return {
        action: 'advance',
        stage: next.number,
        cancelFirst: false,
        reason: `stage ${stage} (${run.stages![stage - 1]?.method ?? ''}) succeeded with ${job.tunedModel.model}: stage ${next.number} (${next.method}) continues from it`,
        changes: {
          ...detail,
          ...attemptChanges({ startedAt: current?.startedAt ?? null, endedAt: job.endTime ?? null, endState: job.state }),
          stages: run.stages!.map(finished),
          error: null,
          warning: null,
        },
      };
    }
    return {
      action: 'update',
      to: 'SUCCEEDED',
      reason: 'tuning succeeded',
      changes: {
        ...detail,
        ...attemptChanges({ startedAt: current?.startedAt ?? null, endedAt: job.endTime ?? null, endState: job.state }),
        tunedModel: job.tunedModel ?? null,
        tuningDataStats: stageStats ?? run.tuningDataStats,
        ...(run.stages ? { stages: run.stages.map(finished) } : {}),
        error: null,
      },
    };
  }
  if (job.state === 'JOB_STATE_FAILED' || job.state === 'JOB_STATE_EXPIRED') {
    const error = classifyJobFailure(job.error);
    if (error.kind === 'transient' && attempt < policy.maxAttempts) {
      return {
        action: 'resubmit',
        why: 'TRANSIENT_FAILURE',
        reason: `the job failed with a transient error (${error.code}: ${error.message}): resubmitted`,
        cancelFirst: false,
      };
    }
    return { action: 'fail', reason: `the tuning job failed (${error.kind}): ${error.message}`, error, cancelFirst: false };
  }
  if ((job.state === 'JOB_STATE_CANCELLED' || job.state === 'JOB_STATE_CANCELLING') && run.lease !== null) {
    // A poller cancelled it to resubmit (or to give up) and died before recording: finish that.
    if (attempt >= policy.maxAttempts) {
      return {
        action: 'fail',
        reason: `STUCK_IN_QUEUE: attempt ${attempt} of ${policy.maxAttempts} was given up on`,
        error: { kind: 'transient', code: 'STUCK_IN_QUEUE', message: 'the last allowed attempt was cancelled as stuck' },
        cancelFirst: false,
      };
    }
    return {
      action: 'resubmit',
      why: 'STUCK_IN_QUEUE',
      reason: 'finishing a resubmission a poller started and did not record',
      cancelFirst: false,
    };
  }
  if (job.state === 'JOB_STATE_CANCELLING') {
    // Cancelling is asynchronous and best effort (CancelTuningJob): the job may still succeed, so wait for its end.
    return { action: 'none' };
  }
  if (job.state === 'JOB_STATE_CANCELLED') {
    return {
      action: 'update',
      to: 'CANCELLED',
      reason: 'the tuning job was cancelled outside the pipeline',
      changes: { ...attemptChanges({ endedAt: job.endTime ?? null, endState: job.state }) },
    };
  }
  return { action: 'none' };
}

function sameDetail(run: RunDocument, job: JobView): boolean {
  return run.tuningJobState === job.tuningJobState;
}
