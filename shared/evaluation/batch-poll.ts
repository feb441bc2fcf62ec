import { stuckThresholdMs, type StuckPolicy } from '../runs/poll.ts';
import { armName, BATCH_FINAL_FAILURES, armsOf, isBatchDone, type BatchTrack, type Evaluation, type EvaluationArm } from './schema.ts';

/**
 * What a poller tick does with one of a run's batch prediction jobs, given what Vertex says about
 * it: the same policy as tuning jobs (batch jobs can sit PENDING for over a day), as a pure
 * decision. A failed or stuck job is resubmitted while attempts remain, then the run fails.
 */
export interface BatchJobView {
  name: string;
  state: string;
  createTime: string | null;
  error: { code?: number; message?: string } | null;
  outputDirectory: string | null;
  completionStats?: { successful: number; failed: number } | null;
}

export type BatchDecision =
  | { action: 'none' }
  | { action: 'update'; track: BatchTrack }
  | { action: 'resubmit'; reason: string; cancelFirst: boolean; endState: string }
  | { action: 'fail'; reason: string; cancelFirst: boolean };

const QUEUED = new Set(['JOB_STATE_QUEUED', 'JOB_STATE_PENDING']);

export function decideBatchTrack(
  which: EvaluationArm,
  track: BatchTrack,
  job: BatchJobView,
  nowMs: number,
  policy: StuckPolicy,
): BatchDecision {
  const attempt = track.attempts.length;
  const exhausted = attempt >= policy.maxAttempts;
  const nowIso = new Date(nowMs).toISOString();
  if (isBatchDone(job.state)) {
    const completionStats = job.completionStats ?? null;
    return {
      action: 'update',
      track: {
        ...track,
        state: job.state,
        outputDirectory: job.outputDirectory,
        completionStats,
        attempts: endLastAttempt(track, job.state, null, nowIso),
      },
    };
  }
  if (BATCH_FINAL_FAILURES.includes(job.state)) {
    const why = `the ${armName(which)} model's batch job ${job.name} ended ${job.state}${job.error?.message ? `: ${job.error.message}` : ''}`;
    return exhausted
      ? { action: 'fail', reason: `${why} (attempt ${attempt} of ${policy.maxAttempts})`, cancelFirst: false }
      : { action: 'resubmit', reason: `${why}; resubmitted`, cancelFirst: false, endState: job.state };
  }
  if (QUEUED.has(job.state)) {
    const waited = nowMs - Date.parse(job.createTime ?? track.attempts.at(-1)?.submittedAt ?? nowIso);
    if (waited > stuckThresholdMs(policy, attempt)) {
      const why = `the ${armName(which)} model's batch job waited ${Math.round(waited / 60_000)} min in the queue`;
      return exhausted
        ? { action: 'fail', reason: `${why}, and no attempts are left (${attempt} of ${policy.maxAttempts})`, cancelFirst: true }
        : { action: 'resubmit', reason: `${why}: cancelled and resubmitted`, cancelFirst: true, endState: 'JOB_STATE_CANCELLED' };
    }
  }
  return job.state === track.state ? { action: 'none' } : { action: 'update', track: { ...track, state: job.state } };
}

/** The track after resubmission: the old attempt ended, the new one current. */
export function resubmittedTrack(
  track: BatchTrack,
  endState: string,
  job: { name: string; createTime: string | null; state: string },
  reason: string,
  nowIso: string,
): BatchTrack {
  return {
    ...track,
    attempts: [
      ...endLastAttempt(track, endState, null, nowIso),
      {
        number: track.attempts.length + 1,
        jobName: job.name,
        submittedAt: job.createTime ?? nowIso,
        endedAt: null,
        endState: null,
        error: null,
        reason,
      },
    ],
    currentJobName: job.name,
    state: job.state,
    outputDirectory: null,
  };
}

/** Every model of the evaluation has answered (batch jobs done, online parts written). */
export function allDone(evaluation: Evaluation): boolean {
  return armsOf(evaluation).every((arm) => isBatchDone(evaluation.jobs[arm]!.state));
}

/** The attempts with the last one ended (kept as it was if it had ended already). */
export function endLastAttempt(track: BatchTrack, endState: string, error: string | null, nowIso: string): BatchTrack['attempts'] {
  return track.attempts.map((a, i) =>
    i === track.attempts.length - 1 ? { ...a, endedAt: a.endedAt ?? nowIso, endState, error: error ?? a.error } : a,
  );
}
