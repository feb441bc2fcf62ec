import { formatDuration } from '../duration.ts';
import type { ErrorInfo, RunDocument } from './schema.ts';

/**
 * A launch stranded without a job: its message went to the dead-letter topic (a Vertex outage
 * longer than the redelivery window), or the delivery holding it died and nothing came again. The
 * poller publishes its request again, with doubling waits, for a bounded time; then the run is
 * FAILED with the reason, and `sft-pipeline retry RUN_ID` can still send it. Publishing again is
 * safe at any time: the launcher's claim and job labels make one job of any number of messages.
 */
export interface LaunchRecoveryPolicy {
  firstDelayMs: number;
  maxDelayMs: number;
  giveUpAfterMs: number;
}

export type LaunchRecoveryDecision =
  | { action: 'none' }
  | { action: 'republish'; changes: Pick<RunDocument, 'launchDeliveries' | 'warning'>; reason: string }
  | { action: 'fail'; error: ErrorInfo; reason: string };

export function decideLaunchRecovery(run: RunDocument, nowMs: number, policy: LaunchRecoveryPolicy): LaunchRecoveryDecision {
  if (run.state !== 'ACCEPTED') return { action: 'none' };
  if (run.lease && Date.parse(run.lease.expiresAt) > nowMs) return { action: 'none' };
  const deliveries = run.launchDeliveries ?? {
    failed: 0,
    lastAttempt: null,
    deadLettered: false,
    recoveries: 0,
    nextRecoveryAt: null,
    strandedSince: null,
  };
  // Not dead-lettered: Pub/Sub is still redelivering, unless nothing has happened for a while.
  if (!deliveries.deadLettered && nowMs - Date.parse(run.updateTime) < policy.firstDelayMs) return { action: 'none' };
  const nowIso = new Date(nowMs).toISOString();
  const since = deliveries.strandedSince ?? nowIso;
  if (nowMs - Date.parse(since) > policy.giveUpAfterMs) {
    const last = run.error ? ` (last error: ${run.error.code}: ${run.error.message})` : '';
    const message = `the launch found no working delivery for ${formatDuration(nowMs - Date.parse(since))} after ${deliveries.recoveries} retries${last}; run \`sft-pipeline retry ${run.runId}\` once the cause is fixed`;
    return { action: 'fail', error: { kind: 'transient', code: 'LAUNCH_UNDELIVERABLE', message }, reason: message };
  }
  if (deliveries.nextRecoveryAt && Date.parse(deliveries.nextRecoveryAt) > nowMs) return { action: 'none' };
  const recoveries = deliveries.recoveries + 1;
  const delay = Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** (recoveries - 1));
  const why = deliveries.deadLettered ? 'its message went to the dead-letter topic' : 'no delivery has acted on it';
  const reason = `launch stranded (${why}): published again (retry ${recoveries}; next in ${formatDuration(delay)} if needed)`;
  return {
    action: 'republish',
    reason,
    changes: {
      launchDeliveries: { ...deliveries, recoveries, nextRecoveryAt: new Date(nowMs + delay).toISOString(), strandedSince: since },
      warning: reason,
    },
  };
}
