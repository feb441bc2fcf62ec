import { classifyError } from '../../shared/errors/classify.ts';
import type { Logger } from '../../shared/log.ts';
import { LogEvent } from '../../shared/log-events.ts';
import { locationOf } from '../../shared/runs/regions.ts';
import type { TuningJobSummary, TuningService } from './tuning.ts';

/**
 * Vertex's tuningJobs.create takes no idempotency key, so a create request sent by a delivery
 * that then died can still land after the redelivery created its own job. Whoever holds the
 * run keeps `keepName` and cancels every other job carrying the same run and attempt labels;
 * returns how many were cancelled. `listed`: jobs the caller already listed (the poller lists a
 * whole page's young runs at once); only those carrying every one of `labels` count.
 */
export async function cancelDuplicateJobs(
  tuning: TuningService,
  labels: Record<string, string>,
  keepName: string,
  log: Logger,
  listed?: readonly TuningJobSummary[],
): Promise<number> {
  const jobs = (listed ?? (await tuning.findByLabels(labels, locationOf(keepName)))).filter((job) =>
    Object.entries(labels).every(([key, value]) => job.labels[key] === value),
  );
  let cancelled = 0;
  for (const job of jobs) {
    if (job.name === keepName || ['JOB_STATE_CANCELLED', 'JOB_STATE_CANCELLING', 'JOB_STATE_FAILED'].includes(job.state)) continue;
    try {
      await tuning.cancel(job.name);
      cancelled += 1;
      log.warn(
        LogEvent.duplicateJobCancelled,
        `cancelled ${job.name}: a duplicate of ${keepName} (a create request from an earlier delivery landed late)`,
        { kept: keepName },
      );
    } catch (error) {
      if (classifyError(error).kind === 'transient') throw error;
    }
  }
  return cancelled;
}
