import { costRefusal, monthStart, type CostLimits } from '../../shared/launch/cost-guard.ts';
import { locationOf } from '../../shared/runs/regions.ts';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { AdmissionStore } from '../../adapters/firestore/admission-store.ts';
import type { RunStore } from '../../adapters/firestore/run-store.ts';
import { parseGsUri, type ObjectStore } from '../../adapters/storage/object-store.ts';
import { cancelDuplicateJobs } from '../../adapters/vertex/duplicates.ts';
import type { TuningService } from '../../adapters/vertex/tuning.ts';
import { MergeInputError, mergedDatasetUri, type MergeSummary } from '../../shared/datasets/merge.ts';
import { classifyError } from '../../shared/errors/classify.ts';
import {
  continuationRefusal,
  describedModelRefusal,
  launchRefusal,
  newRun,
  rawRequestOf,
  rejectedRun,
} from '../../shared/launch/decide.ts';
import { modelStanding } from '../../shared/gemini/models.ts';
import { datasetLocationRefusal } from '../../shared/launch/dataset-locations.ts';
import { decodeMessageData, type PubsubMessagePublished } from '../../shared/launch/envelope.ts';
import { launchMessageSchema, runIdFor, trainingDatasets, type LaunchMessage } from '../../shared/launch/schema.ts';
import { plannedStages, preferredAnswersUri, stageJob } from '../../shared/runs/stages.ts';
import { newAttempt, type RawRequest, type RunStage } from '../../shared/runs/schema.ts';
import { SAME_MESSAGE_GRACE_MS } from '../../shared/runs/lease.ts';
import { ATTEMPT_LABEL, RUN_ID_LABEL } from '../../shared/runs/labels.ts';
import type { Logger } from '../../shared/log.ts';
import { LogEvent } from '../../shared/log-events.ts';
import { mergeTrainingDatasets } from './merge.ts';
import { writePreferredAnswers } from './preferred-answers.ts';

export interface LauncherDeps {
  runs: RunStore;
  tuning: TuningService;
  log: Logger;
  now: () => number;
  leaseMs: number;
  /** Reads the training datasets and writes the merged file when a run names several. */
  objects: ObjectStore;
  merge: { bucket?: string | undefined; memoryBytes: number };
  /** The launch subscription's dead-letter limit (see LAUNCH_MAX_DELIVERIES). */
  maxDeliveries: number;
  /** gs:// prefixes launches may read (the datasets bucket and the operator's list); null: anywhere (tests). */
  allowedDatasetPrefixes?: readonly string[] | null;
  /** How a delivery waits (tests pass one that moves their clock). */
  sleep?: (ms: number) => Promise<void>;
  /** The operator's spending limits (MAX_RUN_COST_USD, COST_BUDGET_USD, ALLOW_UNKNOWN_COST); none when absent. */
  costLimits?: CostLimits;
  /** Admission control (MAX_CONCURRENT_TUNING_JOBS): without it every run submits at once. */
  admission?: { store: AdmissionStore; maxConcurrent: number };
}

export type LaunchOutcome =
  | { status: 'submitted' | 'adopted' | 'duplicate' | 'in-hand' | 'failed' | 'queued'; runId: string; jobName?: string }
  | { status: 'rejected'; runId: string; reason: string };

/** A transient failure: the delivery must fail so that Pub/Sub delivers the message again. */
export class RetryableLaunchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetryableLaunchError';
  }
}

/**
 * One delivery of a launch message → at most one Vertex tuning job per run, however many times
 * and however concurrently the message (or a re-publish of the same request) arrives.
 */
export async function handleLaunch(envelope: PubsubMessagePublished, deps: LauncherDeps): Promise<LaunchOutcome> {
  const messageId = envelope.message.messageId;
  const nowIso = () => new Date(deps.now()).toISOString();
  const decoded = decodeMessageData(envelope);
  const raw = rawRequestOf(decoded.raw, messageId);
  if ('problem' in decoded) return reject(`msg-${hash(messageId)}`, decoded.problem, null, raw);
  const parsed = launchMessageSchema.safeParse(decoded.json);
  if (!parsed.success) {
    const requestId = z.object({ requestId: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/) }).safeParse(decoded.json);
    const issues = parsed.error.issues;
    const said = issues.slice(0, 10).map((issue) => `${issue.path.map(String).join('.').slice(0, 200) || '(message)'}: ${issue.message}`);
    const reason = `${said.join('; ')}${issues.length > said.length ? `; and ${issues.length - said.length} more` : ''}`;
    return reject(requestId.success ? requestId.data.requestId : `msg-${hash(messageId)}`, `invalid launch message: ${reason}`, null, raw);
  }
  const message = parsed.data;
  const runId = runIdFor(message);
  const log = deps.log.child({ runId, messageId });
  log.info(LogEvent.launchReceived, `launch request from ${message.source}`, { experiment: message.experiment });
  // Continuous tuning from a model one of our runs made: that run's rules and lineage apply.
  const parent = message.preTunedModel ? await deps.runs.findByTunedModel(message.preTunedModel.tunedModelName) : null;
  const refusal =
    launchRefusal(message, deps.now()) ??
    datasetLocationRefusal(message, deps.allowedDatasetPrefixes ?? null) ??
    (parent ? continuationRefusal(message, parent) : null) ??
    (message.preTunedModel && !parent ? await strangerModelRefusal(message.preTunedModel.tunedModelName) : null);
  if (refusal) return reject(runId, refusal, message, raw);
  // Spending limits, before any job exists; a redelivery of a run already created is not judged again.
  if (
    deps.costLimits &&
    (deps.costLimits.maxRunUsd !== null || deps.costLimits.monthlyBudgetUsd !== null) &&
    !(await deps.runs.get(runId))
  ) {
    const month =
      deps.costLimits.monthlyBudgetUsd !== null
        ? await deps.runs.estimatedSpendSince(monthStart(deps.now()))
        : { spentUsd: 0, unknownRuns: 0 };
    const overspend = costRefusal(message.estimatedCostUsd, deps.costLimits, month);
    if (overspend) return reject(runId, overspend, message, raw);
  }
  if (message.preTunedModel && !parent) {
    log.warn(
      LogEvent.continuationUnchecked,
      `${message.preTunedModel.tunedModelName} was not made by a run of this pipeline: its tuning method (supervised only) is left to Vertex to check`,
    );
  }
  const model = modelStanding(message.baseModel, deps.now());
  if (model.standing === 'unknown') log.warn(LogEvent.modelNotInCatalogue, model.message, { baseModel: message.baseModel });
  else if (model.standing === 'available' && model.retiringSoon) {
    log.warn(
      LogEvent.modelRetiringSoon,
      `${model.spec.id} retires on ${model.spec.retiresOn}: Google blocks new tuning access a month before`,
      { baseModel: message.baseModel },
    );
  }

  const claimRun = () =>
    deps.runs.claim(runId, () => newRun(message, nowIso(), parent?.runId ?? null), messageId, deps.now(), deps.leaseMs);
  let claim = await claimRun();
  // The same message moments after a delivery of it took the run: wait out the window rather
  // than fail (a subscription without a retry policy would redeliver at once, again and again):
  // by then the other delivery has finished (done), or it died and this one takes over.
  for (let waits = 0; claim.action === 'busy' && waits < 3; waits++) {
    const grantedAt = Date.parse(claim.run.lease!.expiresAt) - deps.leaseMs;
    log.info(LogEvent.runDuplicate, 'a delivery of this same message took the run moments ago; waiting for it');
    await (deps.sleep ?? delay)(Math.max(100, grantedAt + SAME_MESSAGE_GRACE_MS - deps.now()));
    claim = await claimRun();
  }
  if (claim.action === 'done') {
    log.info(LogEvent.runDuplicate, `run already ${claim.run.state}: nothing to do`);
    return { status: 'duplicate', runId };
  }
  if (claim.action === 'busy')
    throw new RetryableLaunchError(`run ${runId} is being launched by another delivery of the same message; deliver again later`);
  if (claim.action === 'in-hand') {
    log.info(LogEvent.runDuplicate, 'another delivery holds this run; it will finish it');
    return { status: 'in-hand', runId };
  }
  log.info(LogEvent.runClaimed, 'run claimed', { token: claim.token });

  try {
    if (deps.admission) {
      // Quota is not capacity: a run over the tuning quota waits here, not in Vertex (where it would wait WAITING_FOR_QUOTA).
      const entry = { runId, priority: message.priority ?? 0, enqueuedAt: claim.run.createTime };
      const slot = await deps.admission.store.acquire(entry, deps.admission.maxConcurrent, nowIso());
      if (slot.status === 'queued') {
        const queue = {
          position: slot.position,
          of: slot.admission.queue.length,
          priority: entry.priority,
          enqueuedAt: entry.enqueuedAt,
          maxConcurrent: deps.admission.maxConcurrent,
          seenAt: nowIso(),
        };
        await deps.runs.recordQueued(runId, claim.token, queue, nowIso());
        log.info(LogEvent.runQueued, `every tuning slot is taken: queued at position ${slot.position}`, { position: slot.position });
        return { status: 'queued', runId };
      }
    }
    const sources = trainingDatasets(message);
    let merge: MergeSummary | undefined;
    if (sources.length > 1) {
      // Merged before looking for an earlier job, so that an adopted job's run records its merge too; the file is the same bytes every time.
      const target = mergedDatasetUri(deps.merge.bucket ?? parseGsUri(sources[0]!).bucket, runId);
      try {
        merge = await mergeTrainingDatasets(deps.objects, sources, target, deps.merge.memoryBytes);
      } catch (error) {
        const unusable = mergeRefusal(error);
        if (!unusable) throw error;
        await deps.runs.recordRejection(runId, claim.token, unusable, nowIso());
        log.warn(LogEvent.launchRejected, `launch rejected: ${unusable}`);
        return { status: 'rejected', runId, reason: unusable };
      }
      log.info(LogEvent.datasetsMerged, `merged ${sources.length} training datasets into ${merge.uri}`, {
        examples: merge.examples,
        duplicatesDropped: merge.duplicatesDropped,
        passes: merge.passes,
      });
    }
    const trainingDatasetUri = merge?.uri ?? sources[0]!;
    // A staged run's first stage trains on the preferred answers of its preference dataset.
    let stages: RunStage[] | undefined;
    if (message.stages) {
      const derived = await derivePreferredAnswers(message, runId, trainingDatasetUri);
      if ('refusal' in derived) {
        await deps.runs.recordRejection(runId, claim.token, derived.refusal, nowIso());
        log.warn(LogEvent.launchRejected, `launch rejected: ${derived.refusal}`);
        return { status: 'rejected', runId, reason: derived.refusal };
      }
      stages = derived.stages;
    }
    const first = stageJob({ request: message, trainingDatasetUri, stages, attempts: [] }, 1);
    // A delivery that crashed after creating the job left it labelled with the run id: adopt it.
    const jobRegion = first.preTunedModel ? locationOf(first.preTunedModel.tunedModelName) : null;
    const existing = await deps.tuning.findByLabels({ [RUN_ID_LABEL]: runId, [ATTEMPT_LABEL]: '1' }, jobRegion);
    let job = existing[0];
    let status: 'submitted' | 'adopted' = 'adopted';
    if (job) {
      log.info(LogEvent.tuningJobAdopted, `found the run's job ${job.name} from an earlier delivery`);
    } else {
      job = await deps.tuning.create({
        baseModel: message.baseModel,
        ...first,
        // A continuation is created where its tuned model lives.
        ...(jobRegion ? { location: jobRegion } : {}),
        displayName: `${message.experiment}-${runId}`.slice(0, 128),
        labels: { ...message.labels, [RUN_ID_LABEL]: runId, [ATTEMPT_LABEL]: '1' },
      });
      status = 'submitted';
      log.info(LogEvent.tuningJobCreated, `created tuning job ${job.name}`);
      await cancelDuplicateJobs(deps.tuning, { [RUN_ID_LABEL]: runId, [ATTEMPT_LABEL]: '1' }, job.name, log);
    }
    const attempt = newAttempt({ number: 1, jobName: job.name, submittedAt: job.createTime ?? nowIso(), reason: 'first submission' });
    const recorded = await deps.runs.recordSubmission(runId, claim.token, attempt, nowIso(), merge, stages);
    if (!recorded) log.warn(LogEvent.runDuplicate, 'lost the lease before recording; the new holder adopts the same job');
    return { status, runId, jobName: job.name };
  } catch (error) {
    const info = classifyError(error);
    if (info.kind === 'transient') {
      const delivery = { attempt: envelope.deliveryAttempt ?? null, maxAttempts: deps.maxDeliveries };
      await deps.runs.recordTransientError(runId, claim.token, info, nowIso(), delivery).catch(() => undefined);
      const deadLettered = delivery.attempt !== null && delivery.attempt >= delivery.maxAttempts;
      log.warn(
        deadLettered ? LogEvent.launchDeadLettered : LogEvent.tuningJobFailed,
        deadLettered
          ? `a transient error (${info.code}) on delivery ${delivery.attempt} of ${delivery.maxAttempts}: the message goes to the dead-letter topic`
          : `a transient error (${info.code}); the message will be redelivered`,
        { error: info, deliveryAttempt: delivery.attempt },
      );
      throw new RetryableLaunchError(`transient Vertex error for ${runId}: ${info.message}`);
    }
    await deps.runs.recordFailure(runId, claim.token, info, nowIso());
    log.error(LogEvent.tuningJobFailed, `Vertex refused the job (${info.code}): recorded as FAILED, not retried`, { error: info });
    return { status: 'failed', runId };
  }

  /**
   * A tuned model another made, as Vertex describes it: refused when it does not exist or is too
   * old to continue. A refusal to read it (403) leaves the judgement to Vertex; a transient error
   * fails the delivery, so Pub/Sub brings the message again.
   */
  async function strangerModelRefusal(name: string): Promise<string | null> {
    try {
      return describedModelRefusal(name, await deps.tuning.describeModel(name));
    } catch (error) {
      const info = classifyError(error);
      if (info.kind === 'transient') throw new RetryableLaunchError(`could not read ${name} from Vertex: ${info.message}`);
      deps.log.warn(LogEvent.continuationUnchecked, `could not read ${name} (${info.code}): Vertex judges the continuation`, {
        messageId,
      });
      return null;
    }
  }

  /** The staged run's stages, with the first stage's files (the preferred answers) written; or why the data cannot be staged. */
  async function derivePreferredAnswers(
    message: LaunchMessage,
    runId: string,
    trainingDatasetUri: string,
  ): Promise<{ stages: RunStage[] } | { refusal: string }> {
    const bucket = deps.merge.bucket ?? parseGsUri(trainingDatasetUri).bucket;
    const validation = message.validationDatasetUri ?? null;
    const derived = {
      trainingDatasetUri: preferredAnswersUri(bucket, runId, 'training'),
      validationDatasetUri: validation ? preferredAnswersUri(bucket, runId, 'validation') : null,
    };
    try {
      await writePreferredAnswers(deps.objects, trainingDatasetUri, derived.trainingDatasetUri);
      if (validation) await writePreferredAnswers(deps.objects, validation, derived.validationDatasetUri!);
    } catch (error) {
      const unusable = error instanceof MergeInputError ? error.message : mergeRefusal(error);
      if (!unusable) throw error;
      return { refusal: `stages SUPERVISED → PREFERENCE need a preference dataset: ${unusable}` };
    }
    return { stages: plannedStages(message, { trainingDatasetUri, validationDatasetUri: validation }, derived) };
  }

  async function reject(
    runId: string,
    reason: string,
    request: z.infer<typeof launchMessageSchema> | null,
    raw: RawRequest,
  ): Promise<LaunchOutcome> {
    const outcome = await deps.runs.recordRejected(rejectedRun(runId, reason, nowIso(), request, raw));
    deps.log.warn(LogEvent.launchRejected, `launch rejected: ${reason}`, { runId, messageId, outcome });
    return { status: 'rejected', runId, reason };
  }
}

/** Why a merge cannot work whatever the retries (a source missing or not Gemini JSONL), or null for a transient failure. */
function mergeRefusal(error: unknown): string | null {
  if (error instanceof MergeInputError) return `training dataset ${error.message}`;
  const status = (error as { code?: unknown }).code;
  if (status === 404) {
    const missing = /gs:\/\/\S+|No such object: (\S+)/.exec(error instanceof Error ? error.message : String(error));
    return `a training dataset does not exist${missing ? ` (${missing[1] ?? missing[0]})` : ''}`;
  }
  if (status === 403) return 'a training dataset cannot be read by the launcher (permission denied)';
  return null;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 24);
}
