import { randomUUID } from 'node:crypto';
import type { CompletionStore } from '../../adapters/firestore/completion-store.ts';
import type { PollStore } from '../../adapters/firestore/poll-store.ts';
import type { RunEventPublisher } from '../../adapters/pubsub/run-events.ts';
import type { BatchService } from '../../adapters/vertex/batch.ts';
import { cancelDuplicateJobs } from '../../adapters/vertex/duplicates.ts';
import type { MetricsReader } from '../../adapters/vertex/metrics.ts';
import type { TuningJobSummary, TuningService } from '../../adapters/vertex/tuning.ts';
import type { AdmissionStore } from '../../adapters/firestore/admission-store.ts';
import type { LaunchPublisher } from '../../adapters/pubsub/launch-publisher.ts';
import { queuePosition, type Admission } from '../../shared/runs/admission.ts';
import { decideLaunchRecovery, type LaunchRecoveryDecision } from '../../shared/runs/launch-recovery.ts';
import { decideBatchTrack, resubmittedTrack, type BatchDecision } from '../../shared/evaluation/batch-poll.ts';
import { continuationEvent, onlineNeedsContinuation, withEvaluationJobs } from '../../shared/evaluation/online.ts';
import { batchDisplayName } from '../../shared/evaluation/plan.ts';
import { armsOf, isBatchDone, type Evaluation, type EvaluationArm } from '../../shared/evaluation/schema.ts';
import { classifyError } from '../../shared/errors/classify.ts';
import type { Logger } from '../../shared/log.ts';
import { LogEvent } from '../../shared/log-events.ts';
import { ATTEMPT_LABEL, RUN_ID_LABEL } from '../../shared/runs/labels.ts';
import { decidePoll, type StuckPolicy } from '../../shared/runs/poll.ts';
import { summarizeSeries } from '../../shared/metrics/series.ts';
import { withEvent } from '../../shared/runs/outbox.ts';
import { newAttempt, type RunDocument } from '../../shared/runs/schema.ts';
import { currentStage, stageJob } from '../../shared/runs/stages.ts';
import { applyTransition } from '../../shared/runs/transitions.ts';
import { locationOf, nextAttemptRegion } from '../../shared/runs/regions.ts';
import { mapConcurrently } from '../../shared/concurrency.ts';

export interface PollerDeps {
  store: PollStore;
  tuning: TuningService;
  /** Batch prediction jobs of runs in EVALUATING (tracked like tuning jobs, stuck handling included). */
  batch: BatchService;
  events: RunEventPublisher;
  log: Logger;
  now: () => number;
  policy: StuckPolicy;
  concurrency: number;
  leaseMs: number;
  pageSize?: number;
  /** When set, a RUNNING job's training metrics are copied to Firestore on every tick (live curves). */
  liveMetrics?: { reader: MetricsReader; store: Pick<CompletionStore, 'writeMetrics' | 'recordMetrics'> };
  /** A run left in SUCCEEDED or SCORING this long (no handler took it) gets its event sent again. */
  stageResendMs?: number;
  /** How long after an attempt's submission the tick looks for a duplicate job (a late create from a dead delivery). */
  duplicateWindowMs?: number;
  /** Admission control: queued runs are admitted (their launch request published again) as tuning slots free up. */
  admission?: { store: AdmissionStore; maxConcurrent: number };
  /** The launch topic: a queued run admitted, or a stranded launch retried, goes to the launcher through it. */
  launches?: LaunchPublisher;
  /** Stranded launches (dead-lettered, or claimed by a delivery that died) are published again with backoff, for this long. */
  launchRecovery?: { firstDelayMs: number; maxDelayMs: number; giveUpAfterMs: number };
  /** FALLBACK_REGIONS: a job stuck waiting for capacity is resubmitted in the next region (unset: where it was). */
  regions?: { primary: string; fallbacks: readonly string[] };
}

/**
 * Active runs read per query page. Large on purpose: every page is a query (Firestore bills a read
 * per document either way), and the Firestore emulator scans the whole collection for each, so
 * five pages of 200 among 100,000 finished runs took five times one page of 2,000 (bench/poller.ts).
 * 2,000 run documents are a few MB.
 */
export const ACTIVE_PAGE_SIZE = 2000;

/** DUPLICATE_CHECK_SECONDS' default: how long after a submission a twin job is looked for. */
const DEFAULT_DUPLICATE_WINDOW_MS = 15 * 60_000;

export interface TickStats {
  runsRead: number;
  vertexCalls: number;
  updated: number;
  resubmitted: number;
  failed: number;
  vertexErrors: number;
  eventsPublished: number;
  /** Queued runs whose launch was published again because a tuning slot was free. */
  admitted: number;
}

/**
 * One tick: every active run's job is asked about (bounded concurrency) and the run brought up
 * to date; stuck jobs are cancelled and resubmitted under the policy. A Vertex error on one run
 * is counted and logged and the tick goes on with the others.
 */
export async function runTick(deps: PollerDeps): Promise<TickStats> {
  const stats: TickStats = {
    runsRead: 0,
    vertexCalls: 0,
    updated: 0,
    resubmitted: 0,
    failed: 0,
    vertexErrors: 0,
    eventsPublished: 0,
    admitted: 0,
  };
  const holder = `poller-${randomUUID()}`;
  await admitQueuedRuns(deps, stats);
  const admission = deps.admission ? await deps.admission.store.read() : null;
  let after: RunDocument | undefined;
  for (;;) {
    const page = await deps.store.activePage(deps.pageSize ?? ACTIVE_PAGE_SIZE, after);
    stats.runsRead += page.length;
    const listed = await listYoungAttemptJobs(page, deps, stats);
    await mapConcurrently(page, deps.concurrency, (run) =>
      run.state === 'QUEUED'
        ? keepQueuedRun(run, admission, deps)
        : run.state === 'ACCEPTED'
          ? recoverStrandedLaunch(run, deps, stats)
          : pollRun(run, holder, deps, stats, listed),
    );
    if (page.length < (deps.pageSize ?? ACTIVE_PAGE_SIZE)) break;
    after = page.at(-1);
  }
  // Slots this tick freed (a job that ended) go to the next runs in line now, not a tick later.
  await admitQueuedRuns(deps, stats);
  deps.log.info(LogEvent.pollTickFinished, `tick: ${stats.runsRead} active runs`, { ...stats });
  return stats;
}

/** The tuning job's own states: the ones whose young attempts may still see a twin job land. */
const TUNING_STATES: ReadonlySet<RunDocument['state']> = new Set(['SUBMITTED', 'PENDING', 'RUNNING']);

function isYoungAttempt(run: RunDocument, nowMs: number, deps: PollerDeps): boolean {
  const current = run.attempts.at(-1);
  return (
    TUNING_STATES.has(run.state) &&
    !!run.currentJobName &&
    !!current &&
    nowMs - Date.parse(current.submittedAt) < (deps.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS)
  );
}

/**
 * The jobs carrying the run-id label of each young attempt on the page (submitted within the
 * duplicate window), for the twin check: one tuningJobs.list per region for up to
 * LABEL_VALUES_PER_LIST runs, not one per run. A region whose list failed is left out: its runs
 * are checked by the next tick.
 */
async function listYoungAttemptJobs(
  page: readonly RunDocument[],
  deps: PollerDeps,
  stats: TickStats,
): Promise<Map<string, TuningJobSummary[]>> {
  const nowMs = deps.now();
  // A job name without a region (never seen) goes to the service's default region, as findByLabels would.
  const runIdsByRegion = new Map<string | null, string[]>();
  for (const run of page) {
    if (!isYoungAttempt(run, nowMs, deps)) continue;
    const region = locationOf(run.currentJobName);
    const runIds = runIdsByRegion.get(region) ?? [];
    runIds.push(run.runId);
    runIdsByRegion.set(region, runIds);
  }
  const listed = new Map<string, TuningJobSummary[]>();
  for (const [region, runIds] of runIdsByRegion) {
    try {
      const { jobs, calls } = await deps.tuning.findByLabelValues(RUN_ID_LABEL, runIds, region);
      stats.vertexCalls += calls;
      for (const runId of runIds) listed.set(runId, []);
      for (const job of jobs) listed.get(job.labels[RUN_ID_LABEL]!)?.push(job);
    } catch (error) {
      stats.vertexErrors += 1;
      deps.log.warn(
        LogEvent.pollVertexError,
        `could not list young jobs in ${region ?? 'the default region'} for duplicates; the next tick will`,
        {
          error: classifyError(error),
          runs: runIds.length,
        },
      );
    }
  }
  return listed;
}

async function pollRun(
  run: RunDocument,
  holder: string,
  deps: PollerDeps,
  stats: TickStats,
  listed: ReadonlyMap<string, TuningJobSummary[]>,
): Promise<void> {
  const jobName = run.currentJobName;
  if (!jobName) return;
  const log = deps.log.child({ runId: run.runId });
  // Events an earlier tick could not publish go out first, in order.
  if (run.pendingEvents?.length) await flushEvents(run, deps, stats);
  if (run.state === 'EVALUATING') return pollEvaluation(run, jobName, holder, deps, stats);
  // SUCCEEDED and SCORING wait for the completion handler; the tick only flushed their events,
  // and resends the event if no handler has taken the run for a long while (it went to the dead-letter topic, say).
  if (run.state === 'SUCCEEDED' || run.state === 'SCORING') return resendStaleStageEvent(run, deps, stats);
  if (run.attempts.slice(0, -1).some((attempt) => attempt.endState === 'JOB_STATE_CANCELLING')) {
    const settled = await settleCancelledAttempts(run, holder, deps, stats);
    if (settled !== run) return settled ? pollRun(settled, holder, deps, stats, listed) : undefined;
  }
  let job;
  try {
    stats.vertexCalls += 1;
    job = await deps.tuning.get(jobName);
  } catch (error) {
    stats.vertexErrors += 1;
    log.warn(LogEvent.pollVertexError, `could not read ${jobName}; next tick will try again`, { error: classifyError(error) });
    return;
  }
  const nowMs = deps.now();
  const nowIso = new Date(nowMs).toISOString();
  // A young attempt may still see a create request from a dead delivery land late: keep the recorded job, cancel any twin.
  const current = run.attempts.at(-1);
  const jobsOfRun = listed.get(run.runId);
  if (current && jobsOfRun && isYoungAttempt(run, nowMs, deps)) {
    const labels = { [RUN_ID_LABEL]: run.runId, [ATTEMPT_LABEL]: String(current.number) };
    await cancelDuplicateJobs(deps.tuning, labels, jobName, log, jobsOfRun).catch((error: unknown) =>
      log.warn(LogEvent.pollVertexError, 'could not cancel a duplicate job; the next tick will', { error: classifyError(error) }),
    );
  }
  const decision = decidePoll(run, job, nowMs, deps.policy);
  if (job.state === 'JOB_STATE_RUNNING' && job.experiment && deps.liveMetrics)
    await copyLiveMetrics(run, job.experiment, deps.liveMetrics, deps, stats);
  if (decision.action === 'none') return;

  if (decision.action === 'update') {
    const result = await deps.store.update(run, jobName, nowMs, (current) =>
      withEvent(current, applyTransition(current, decision.to, decision.reason, nowIso, decision.changes), decision.reason),
    );
    if (result) {
      stats.updated += 1;
      await flushEvents(result.after, deps, stats);
    }
    return;
  }

  // Cancelling and resubmitting touch Vertex: only the poller holding the run's lease may.
  const token = await deps.store.claim(run.runId, jobName, holder, nowMs, deps.leaseMs);
  if (token === null) return;
  try {
    if (decision.cancelFirst) {
      await deps.tuning.cancel(jobName).catch((error: unknown) => {
        // Already finished or gone: nothing left to cancel.
        if (classifyError(error).kind === 'transient') throw error;
      });
    }
    if (decision.action === 'fail') {
      const result = await deps.store.release(run.runId, token, (current) =>
        withEvent(
          current,
          applyTransition(current, 'FAILED', decision.reason, nowIso, {
            error: decision.error,
            ...endAttempt(current, job.state, nowIso, decision.error),
          }),
          decision.reason,
        ),
      );
      if (result) {
        stats.failed += 1;
        log.warn(LogEvent.pollRunFailed, decision.reason);
        await flushEvents(result.after, deps, stats);
      }
      return;
    }
    const attemptNumber = run.attempts.length + 1;
    const request = run.request!;
    const labels = { ...request.labels, [RUN_ID_LABEL]: run.runId, [ATTEMPT_LABEL]: String(attemptNumber) };
    const from = locationOf(jobName);
    // A staged run's next stage: the stage that succeeded is recorded, and its model is what the next one starts from.
    const advance = decision.action === 'advance' ? decision : null;
    const stage = advance ? advance.stage : currentStage(run);
    const spec = stageJob(advance ? { ...run, ...advance.changes } : run, stage);
    // A continuation stays where its tuned model lives; other runs may move to a fallback region.
    const region = spec.preTunedModel
      ? locationOf(spec.preTunedModel.tunedModelName)
      : deps.regions && decision.action === 'resubmit'
        ? nextAttemptRegion(deps.regions, from, decision.why)
        : from;
    const reason =
      region && from && region !== from && !advance
        ? `${decision.reason} in ${region} (FALLBACK_REGIONS; ${from} had no capacity)`
        : decision.reason;
    // A poller that died after creating this attempt's job left it labelled: adopt it.
    const existing = await deps.tuning.findByLabels({ [RUN_ID_LABEL]: run.runId, [ATTEMPT_LABEL]: String(attemptNumber) }, region);
    const newJob =
      existing[0] ??
      (await deps.tuning.create({
        ...(region ? { location: region } : {}),
        baseModel: run.baseModel,
        ...spec,
        displayName: `${run.experiment}-${run.runId}-a${attemptNumber}`.slice(0, 128),
        labels,
      }));
    const attempt = newAttempt({ number: attemptNumber, jobName: newJob.name, submittedAt: newJob.createTime ?? nowIso, reason, stage });
    const result = await deps.store.release(run.runId, token, (current) =>
      withEvent(
        current,
        applyTransition(current, 'SUBMITTED', reason, nowIso, {
          ...(advance ? advance.changes : {}),
          attempts: [
            ...(advance
              ? (advance.changes.attempts ?? current.attempts)
              : // A cancel is asynchronous and best effort: the attempt ends CANCELLING until its job is seen to end.
                endAttempt(current, decision.cancelFirst ? 'JOB_STATE_CANCELLING' : job.state, nowIso, null).attempts),
            attempt,
          ],
          currentJobName: newJob.name,
          tuningJobState: undefined,
        }),
        reason,
        true,
      ),
    );
    if (result) {
      stats.resubmitted += 1;
      log.info(advance ? LogEvent.pollStageAdvanced : LogEvent.pollRunResubmitted, reason, {
        oldJob: jobName,
        newJob: newJob.name,
        attempt: attemptNumber,
        stage,
        region,
      });
      await flushEvents(result.after, deps, stats);
    }
  } catch (error) {
    // The lease expires on its own; the next tick (or another poller) finishes the work.
    stats.vertexErrors += 1;
    log.warn(LogEvent.pollVertexError, `resubmission of ${run.runId} interrupted; the next tick goes on`, { error: classifyError(error) });
  }
}

/**
 * The runs first in line for the tuning slots free now get their launch request published again:
 * the launcher takes the slot and submits, exactly once per run (its claim and job labels). A
 * failure is logged and left to the next tick.
 */
async function admitQueuedRuns(deps: PollerDeps, stats: TickStats): Promise<void> {
  const admission = deps.admission;
  if (!admission || !deps.launches) return;
  try {
    const nowIso = new Date(deps.now()).toISOString();
    for (const entry of await admission.store.admissible(admission.maxConcurrent, nowIso)) {
      const run = await deps.store.get(entry.runId);
      if (!run?.request) continue;
      await deps.launches.publish(run.request);
      stats.admitted += 1;
      deps.log.info(LogEvent.queuedRunAdmitted, `a tuning slot is free: ${entry.runId} goes to the launcher`, { runId: entry.runId });
    }
  } catch (error) {
    deps.log.warn(LogEvent.pollVertexError, 'could not admit queued runs; the next tick tries again', { error: classifyError(error) });
  }
}

/** A launch stranded without a job is published again with backoff, then failed with the reason (shared/runs/launch-recovery.ts). */
async function recoverStrandedLaunch(run: RunDocument, deps: PollerDeps, stats: TickStats): Promise<void> {
  if (!deps.launches || !deps.launchRecovery || !run.request) return;
  const policy = deps.launchRecovery;
  const nowMs = deps.now();
  const nowIso = new Date(nowMs).toISOString();
  if (decideLaunchRecovery(run, nowMs, policy).action === 'none') return;
  let decided: LaunchRecoveryDecision = { action: 'none' };
  const result = await deps.store.update(run, '', nowMs, (current) => {
    decided = decideLaunchRecovery(current, nowMs, policy);
    if (decided.action === 'republish') return { ...current, ...decided.changes, updateTime: nowIso };
    if (decided.action === 'fail')
      return withEvent(
        current,
        applyTransition(current, 'FAILED', decided.reason, nowIso, { error: decided.error, warning: null }),
        decided.reason,
      );
    return null;
  });
  if (!result) return;
  const done = decided as LaunchRecoveryDecision;
  if (done.action === 'fail') {
    stats.failed += 1;
    deps.log.warn(LogEvent.pollRunFailed, done.reason, { runId: run.runId });
    await flushEvents(result.after, deps, stats);
    return;
  }
  try {
    await deps.launches.publish(run.request);
    stats.admitted += 1;
    deps.log.warn(LogEvent.launchRecovered, done.action === 'republish' ? done.reason : 'published again', { runId: run.runId });
  } catch (error) {
    deps.log.warn(LogEvent.pollVertexError, `could not publish ${run.runId}'s launch again; the next due tick tries again`, {
      error: classifyError(error),
    });
  }
}

/**
 * A QUEUED run's place in line, kept on its document for other apps. A queued run the queue does
 * not know (its launch delivery died between the two writes) is sent to the launcher again, which
 * puts it back in line.
 */
async function keepQueuedRun(run: RunDocument, admission: Admission | null, deps: PollerDeps): Promise<void> {
  if (!admission || !run.queue || !deps.launches) return;
  const place = queuePosition(admission, run.runId);
  if (!place) {
    if (!admission.holders.some((holder) => holder.runId === run.runId) && run.request)
      await deps.launches.publish(run.request).catch(() => undefined);
    return;
  }
  if (place.position === run.queue.position && place.of === run.queue.of) return;
  const nowMs = deps.now();
  const seenAt = new Date(nowMs).toISOString();
  await deps.store.update(run, '', nowMs, (current) =>
    current.state === 'QUEUED' && current.queue ? { ...current, queue: { ...current.queue, ...place, seenAt }, updateTime: seenAt } : null,
  );
}

/**
 * Attempts the poller cancelled end CANCELLING: Vertex's cancel is asynchronous and best effort
 * ("the server makes a best effort to cancel the job, but success is not guaranteed",
 * CancelTuningJob), so their jobs are read until they end. CANCELLED or FAILED is recorded. A job
 * that SUCCEEDED anyway lost the race to its cancel and holds a finished model: the run adopts it
 * as a new attempt and cancels the newer job, which has not finished (a finished model now beats
 * one hours away). Returns the run to go on with: the same object when nothing changed, null when
 * this tick should leave the run alone.
 */
async function settleCancelledAttempts(run: RunDocument, holder: string, deps: PollerDeps, stats: TickStats): Promise<RunDocument | null> {
  const log = deps.log.child({ runId: run.runId });
  for (const [index, attempt] of run.attempts.slice(0, -1).entries()) {
    if (attempt.endState !== 'JOB_STATE_CANCELLING' || !attempt.jobName) continue;
    let job;
    try {
      stats.vertexCalls += 1;
      job = await deps.tuning.get(attempt.jobName);
    } catch (error) {
      stats.vertexErrors += 1;
      log.warn(LogEvent.pollVertexError, `could not read cancelled job ${attempt.jobName}; next tick will try again`, {
        error: classifyError(error),
      });
      continue;
    }
    if (!['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED', 'JOB_STATE_EXPIRED'].includes(job.state)) continue;
    const nowMs = deps.now();
    const nowIso = new Date(nowMs).toISOString();
    const settle = (current: RunDocument): RunDocument['attempts'] =>
      current.attempts.map((a, i) => (i === index ? { ...a, endState: job.state, endedAt: job.endTime ?? a.endedAt } : a));
    if (job.state !== 'JOB_STATE_SUCCEEDED') {
      const result = await deps.store.update(run, run.currentJobName!, nowMs, (current) => ({
        ...current,
        attempts: settle(current),
        updateTime: nowIso,
      }));
      if (result) log.info(LogEvent.pollCancelledJobSettled, `attempt ${attempt.number}'s job ended ${job.state} after its cancel`);
      return result?.after ?? null;
    }
    const token = await deps.store.claim(run.runId, run.currentJobName!, holder, nowMs, deps.leaseMs);
    if (token === null) return null;
    try {
      await deps.tuning.cancel(run.currentJobName!).catch(ignoreFinished);
      const reason = `attempt ${attempt.number}'s job succeeded after it was cancelled: its model is adopted and the newer job cancelled`;
      const result = await deps.store.release(run.runId, token, (current) => {
        const attempts = settle(current).map((a, i, all) =>
          i === all.length - 1 ? { ...a, endState: 'JOB_STATE_CANCELLING', endedAt: a.endedAt ?? nowIso } : a,
        );
        const adopted = newAttempt({
          number: attempts.length + 1,
          jobName: job.name,
          submittedAt: attempt.submittedAt,
          reason,
          stage: attempt.stage,
        });
        return { ...current, attempts: [...attempts, adopted], currentJobName: job.name, tuningJobState: undefined, updateTime: nowIso };
      });
      if (!result) return null;
      log.warn(LogEvent.pollCancelledJobAdopted, reason, { adopted: job.name, cancelled: run.currentJobName });
      return result.after;
    } catch (error) {
      stats.vertexErrors += 1;
      log.warn(LogEvent.pollVertexError, `adopting ${job.name} for ${run.runId} was interrupted; the next tick goes on`, {
        error: classifyError(error),
      });
      return null;
    }
  }
  return run;
}

/** The run's batch prediction jobs (one a model): states brought up to date, failed or stuck ones resubmitted, SCORING once all are done. */
async function pollEvaluation(run: RunDocument, tuningJobName: string, holder: string, deps: PollerDeps, stats: TickStats): Promise<void> {
  const evaluation = run.evaluation;
  if (!evaluation) return;
  const log = deps.log.child({ runId: run.runId });
  const decisions: Partial<Record<EvaluationArm, BatchDecision>> = {};
  // Online requests have no Vertex job to read: the completion handler writes their progress; the tick only makes sure someone does.
  if (Object.values(evaluation.jobs).some((track) => track.mode === 'online'))
    await resendOnlineContinuation(run, tuningJobName, deps, stats);
  for (const which of armsOf(evaluation)) {
    const track = evaluation.jobs[which]!;
    if (isBatchDone(track.state) || track.mode === 'online') continue;
    try {
      stats.vertexCalls += 1;
      decisions[which] = decideBatchTrack(which, track, await deps.batch.get(track.currentJobName), deps.now(), deps.policy);
    } catch (error) {
      stats.vertexErrors += 1;
      log.warn(LogEvent.pollVertexError, `could not read ${track.currentJobName}; next tick will try again`, {
        error: classifyError(error),
      });
      return;
    }
  }
  const nowMs = deps.now();
  const nowIso = new Date(nowMs).toISOString();
  const entries = Object.entries(decisions) as [EvaluationArm, BatchDecision][];
  const fail = entries.find(([, d]) => d.action === 'fail');
  const resubmits = entries.filter(([, d]) => d.action === 'resubmit');
  const updates = entries.filter(([, d]) => d.action === 'update') as [EvaluationArm, Extract<BatchDecision, { action: 'update' }>][];

  const withUpdates = (current: RunDocument, jobs: Evaluation['jobs']): RunDocument => withEvaluationJobs(current, jobs, nowIso);
  // The tick acts only if the jobs are still the ones it read (another poller may have moved them).
  const sameJobs = (current: RunDocument) =>
    current.state === 'EVALUATING' &&
    entries.every(([which]) => current.evaluation?.jobs[which]?.currentJobName === evaluation.jobs[which]!.currentJobName);

  if (!fail && resubmits.length === 0) {
    if (updates.length === 0) return;
    const result = await deps.store.update(run, tuningJobName, nowMs, (current) => {
      if (!sameJobs(current)) return null;
      const jobs = { ...current.evaluation!.jobs };
      for (const [which, decision] of updates) jobs[which] = decision.track;
      return withUpdates(current, jobs);
    });
    if (result) {
      stats.updated += 1;
      await flushEvents(result.after, deps, stats);
    }
    return;
  }

  // Cancelling and resubmitting touch Vertex: only the poller holding the run's lease may.
  const token = await deps.store.claim(run.runId, tuningJobName, holder, nowMs, deps.leaseMs);
  if (token === null) return;
  try {
    if (fail) {
      const [which, decision] = fail as [EvaluationArm, Extract<BatchDecision, { action: 'fail' }>];
      if (decision.cancelFirst) await deps.batch.cancel(evaluation.jobs[which]!.currentJobName).catch(ignoreFinished);
      const reason = `evaluation failed: ${decision.reason}`;
      const result = await deps.store.release(run.runId, token, (current) =>
        withEvent(
          current,
          applyTransition(current, 'FAILED', reason, nowIso, {
            error: { kind: 'permanent', code: 'BATCH_PREDICTION_FAILED', message: decision.reason },
          }),
          reason,
        ),
      );
      if (result) {
        stats.failed += 1;
        log.warn(LogEvent.pollRunFailed, reason);
        await flushEvents(result.after, deps, stats);
      }
      return;
    }
    // Only the tracks this tick decided on are replaced: an online track moves on meanwhile (the completion handler writes it).
    const jobs: Partial<Evaluation['jobs']> = {};
    for (const [which, decision] of updates) jobs[which] = decision.track;
    for (const [which, decision] of resubmits as [EvaluationArm, Extract<BatchDecision, { action: 'resubmit' }>][]) {
      const track = evaluation.jobs[which]!;
      if (decision.cancelFirst) await deps.batch.cancel(track.currentJobName).catch(ignoreFinished);
      const attempt = track.attempts.length + 1;
      const displayName = batchDisplayName(run.runId, which, attempt);
      // The evaluation files sit beside the batch outputs: the same bucket and run folder.
      const outputPrefix = evaluation.inputUri.replace(/requests\.jsonl$/, `${which}/a${attempt}`);
      const job =
        (await deps.batch.findByDisplayName(displayName, locationOf(track.model))) ??
        (await deps.batch.create({ model: track.model, inputUri: evaluation.inputUri, outputPrefix, displayName }));
      jobs[which] = resubmittedTrack(track, decision.endState, job, decision.reason, nowIso);
      stats.resubmitted += 1;
      log.info(LogEvent.pollBatchResubmitted, decision.reason, { oldJob: track.currentJobName, newJob: job.name, attempt });
    }
    const result = await deps.store.release(run.runId, token, (current) =>
      withUpdates(current, { ...current.evaluation!.jobs, ...jobs } as Evaluation['jobs']),
    );
    if (result) {
      stats.updated += 1;
      await flushEvents(result.after, deps, stats);
    }
  } catch (error) {
    stats.vertexErrors += 1;
    log.warn(LogEvent.pollVertexError, `batch resubmission of ${run.runId} interrupted; the next tick goes on`, {
      error: classifyError(error),
    });
  }
}

/** Live points while the job trains; a failure only costs this tick's points (the completion handler reads them all at the end). */
async function copyLiveMetrics(
  run: RunDocument,
  experiment: string,
  live: NonNullable<PollerDeps['liveMetrics']>,
  deps: PollerDeps,
  stats: TickStats,
): Promise<void> {
  try {
    stats.vertexCalls += 1;
    const series = await live.reader.read(experiment);
    const attempt = run.attempts.length;
    const nowIso = new Date(deps.now()).toISOString();
    const written = await live.store.writeMetrics(run.runId, attempt, series, nowIso);
    if (written > 0)
      await live.store.recordMetrics(run.runId, {
        attempt,
        summary: Object.fromEntries(series.map((s) => [s.metric, summarizeSeries(s)])),
        readAt: nowIso,
        final: false,
        error: null,
      });
  } catch (error) {
    deps.log.warn(LogEvent.metricsReadFailed, `could not read live metrics of ${run.runId}; the next tick tries again`, {
      error: classifyError(error),
    });
  }
}

/**
 * An online track nobody works on (the delivery carrying it died, or its continuation event was
 * lost) gets a fresh EVALUATING event, so the completion handler carries it on from the first
 * missing part.
 */
async function resendOnlineContinuation(run: RunDocument, tuningJobName: string, deps: PollerDeps, stats: TickStats): Promise<void> {
  const nowMs = deps.now();
  const quietMs = deps.stageResendMs ?? 15 * 60_000;
  const tracks = Object.values(run.evaluation!.jobs);
  if (run.pendingEvents?.length || !tracks.some((track) => onlineNeedsContinuation(track, nowMs, quietMs))) return;
  const nowIso = new Date(nowMs).toISOString();
  const result = await deps.store.update(run, tuningJobName, nowMs, (current) => {
    if (
      current.state !== 'EVALUATING' ||
      !Object.values(current.evaluation!.jobs).some((track) => onlineNeedsContinuation(track, nowMs, quietMs))
    )
      return null;
    const event = continuationEvent(current, 'online evaluation requests stalled: carry them on', nowIso);
    // The heartbeat moves so the next tick does not send another before a handler had its chance.
    const jobs = Object.fromEntries(
      Object.entries(current.evaluation!.jobs).map(([which, track]) => [
        which,
        track.online ? { ...track, online: { ...track.online, heartbeatAt: nowIso } } : track,
      ]),
    ) as Evaluation['jobs'];
    return {
      ...current,
      evaluation: { ...current.evaluation!, jobs },
      pendingEvents: [...(current.pendingEvents ?? []), event],
      updateTime: nowIso,
    };
  });
  if (result) {
    deps.log.warn(LogEvent.stageEventResent, `online evaluation of ${run.runId} stalled; asked the completion handler to carry it on`, {
      runId: run.runId,
    });
    await flushEvents(result.after, deps, stats);
  }
}

async function resendStaleStageEvent(run: RunDocument, deps: PollerDeps, stats: TickStats): Promise<void> {
  const nowMs = deps.now();
  const leaseLive = run.lease !== null && Date.parse(run.lease.expiresAt) > nowMs;
  if (run.pendingEvents?.length || leaseLive || nowMs - Date.parse(run.updateTime) < (deps.stageResendMs ?? 15 * 60_000)) return;
  const entry = run.history.at(-1)!;
  const reason = `${entry.reason} (sent again: no handler took the run for ${Math.round((nowMs - Date.parse(run.updateTime)) / 1000)} s)`;
  // The same event id as the first time: it is the same event, delivered again.
  const event = {
    schemaVersion: 1 as const,
    eventId: `${run.runId}:${run.history.length}:${run.attempts.length}`,
    runId: run.runId,
    experiment: run.experiment,
    from: entry.from,
    to: run.state,
    attempt: run.attempts.length,
    reason,
    at: entry.at,
  };
  const result = await deps.store.update(run, run.currentJobName!, nowMs, (current) =>
    current.state === run.state && current.updateTime === run.updateTime
      ? { ...current, pendingEvents: [...(current.pendingEvents ?? []), event], updateTime: new Date(nowMs).toISOString() }
      : null,
  );
  if (result) {
    deps.log.warn(LogEvent.stageEventResent, reason, { runId: run.runId });
    await flushEvents(result.after, deps, stats);
  }
}

/** A job already finished or gone has nothing left to cancel; only a transient error is worth surfacing. */
function ignoreFinished(error: unknown): void {
  if (classifyError(error).kind === 'transient') throw error;
}

function endAttempt(
  run: RunDocument,
  endState: string,
  nowIso: string,
  error: RunDocument['error'],
): { attempts: RunDocument['attempts'] } {
  return {
    attempts: run.attempts.map((attempt, index) =>
      index === run.attempts.length - 1
        ? { ...attempt, endedAt: attempt.endedAt ?? nowIso, endState, error: error ?? attempt.error }
        : attempt,
    ),
  };
}

/** Publishes the run's queued events in order and removes the published ones; a failure leaves the rest for the next tick. */
async function flushEvents(run: RunDocument, deps: PollerDeps, stats: TickStats): Promise<void> {
  const published: string[] = [];
  for (const event of run.pendingEvents ?? []) {
    try {
      await deps.events.publish(event);
      published.push(event.eventId);
      stats.eventsPublished += 1;
    } catch (error) {
      deps.log.error(LogEvent.runEventPublishFailed, `could not publish the ${event.to} event of ${event.runId}; the next tick retries`, {
        error: classifyError(error),
      });
      break;
    }
  }
  if (published.length > 0) await deps.store.removeEvents(run, published);
}
