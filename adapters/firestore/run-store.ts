import { Firestore } from '@google-cloud/firestore';
import { decideClaim, holdsLease, type ClaimDecision } from '../../shared/runs/lease.ts';
import type { MergeSummary } from '../../shared/datasets/merge.ts';
import { runDocumentSchema, type Attempt, type ErrorInfo, type RunDocument, type RunStage } from '../../shared/runs/schema.ts';
import { applyTransition } from '../../shared/runs/transitions.ts';

/**
 * Runs in Firestore, `runs/{runId}`. Every change is a transaction over the pure rules of
 * shared/runs (claim, lease, transitions), so concurrent deliveries and pollers cannot both win.
 */
export interface RunStore {
  get(runId: string): Promise<RunDocument | null>;
  /** The converter's estimates of the runs created since `sinceIso` (refused ones left out), and how many had none. */
  estimatedSpendSince(sinceIso: string): Promise<{ spentUsd: number; unknownRuns: number }>;
  /** The run that produced a tuned model (`…/models/ID@VERSION`; without a version, any of its versions), if one of ours did. */
  findByTunedModel(modelName: string): Promise<RunDocument | null>;
  /** Creates the run as REJECTED unless it already exists (a re-sent bad message changes nothing). */
  recordRejected(run: RunDocument): Promise<'created' | 'exists'>;
  claim(runId: string, fresh: () => RunDocument, holder: string, nowMs: number, leaseMs: number): Promise<ClaimDecision>;
  /** ACCEPTED → SUBMITTED with the first attempt (and, for a merged run, its training file), if `token` still holds the lease. */
  recordSubmission(
    runId: string,
    token: number,
    attempt: Attempt,
    nowIso: string,
    merge?: MergeSummary,
    stages?: RunStage[],
  ): Promise<boolean>;
  /** ACCEPTED → QUEUED: every tuning slot is taken; the run waits in the pipeline's queue at `queue.position`. */
  recordQueued(runId: string, token: number, queue: NonNullable<RunDocument['queue']>, nowIso: string): Promise<boolean>;
  /** ACCEPTED → REJECTED when the request turns out unusable after the claim (a training dataset missing or malformed). */
  recordRejection(runId: string, token: number, reason: string, nowIso: string): Promise<boolean>;
  /** ACCEPTED → FAILED with a permanent error, if `token` still holds the lease. */
  recordFailure(runId: string, token: number, error: ErrorInfo, nowIso: string): Promise<boolean>;
  /**
   * Notes a transient error on the run (no state change) so people can see why it waits, and
   * counts the failed delivery toward the subscription's dead-letter limit.
   */
  recordTransientError(
    runId: string,
    token: number,
    error: ErrorInfo,
    nowIso: string,
    delivery: { attempt: number | null; maxAttempts: number },
  ): Promise<void>;
}

export function createFirestore(projectId: string): Firestore {
  return new Firestore({ projectId, ignoreUndefinedProperties: true });
}

export function createRunStore(db: Firestore, collection = 'runs'): RunStore {
  const ref = (runId: string) => db.collection(collection).doc(runId);
  const parse = (data: unknown) => runDocumentSchema.parse(data);
  const withLease = async (runId: string, token: number, change: (run: RunDocument) => RunDocument): Promise<boolean> =>
    db.runTransaction(async (tx) => {
      const snapshot = await tx.get(ref(runId));
      if (!snapshot.exists) return false;
      const run = parse(snapshot.data());
      if (!holdsLease(run, token)) return false;
      tx.set(ref(runId), change(run));
      return true;
    });
  return {
    async estimatedSpendSince(sinceIso) {
      const month = await db.collection(collection).where('createTime', '>=', sinceIso).select('state', 'request.estimatedCostUsd').get();
      let spentUsd = 0;
      let unknownRuns = 0;
      for (const doc of month.docs) {
        if (doc.get('state') === 'REJECTED') continue;
        const estimate: unknown = doc.get('request.estimatedCostUsd');
        if (typeof estimate === 'number') spentUsd += estimate;
        else unknownRuns += 1;
      }
      return { spentUsd, unknownRuns };
    },
    async findByTunedModel(modelName) {
      const runs = db.collection(collection);
      const exact = await runs.where('tunedModel.model', '==', modelName).limit(1).get();
      if (!exact.empty) return parse(exact.docs[0]!.data());
      if (modelName.includes('@')) return null;
      const versions = await runs
        .where('tunedModel.model', '>=', `${modelName}@`)
        .where('tunedModel.model', '<', `${modelName}@\uf8ff`)
        .limit(1)
        .get();
      return versions.empty ? null : parse(versions.docs[0]!.data());
    },
    async get(runId) {
      const snapshot = await ref(runId).get();
      return snapshot.exists ? parse(snapshot.data()) : null;
    },
    async recordRejected(run) {
      try {
        await ref(run.runId).create(runDocumentSchema.parse(run));
        return 'created';
      } catch (error) {
        if ((error as { code?: number }).code === 6) return 'exists'; // ALREADY_EXISTS
        throw error;
      }
    },
    async claim(runId, fresh, holder, nowMs, leaseMs) {
      // A plain read first: a duplicate of a run already done or in hand needs no transaction, so a
      // storm of duplicates does not queue up on the document's lock (states only move forward).
      const seen = await ref(runId).get();
      if (seen.exists) {
        const early = decideClaim(parse(seen.data()), fresh, holder, nowMs, leaseMs);
        if (early.action !== 'act') return early;
      }
      return db.runTransaction(async (tx) => {
        const snapshot = await tx.get(ref(runId));
        const decision = decideClaim(snapshot.exists ? parse(snapshot.data()) : null, fresh, holder, nowMs, leaseMs);
        if (decision.action === 'act') tx.set(ref(runId), runDocumentSchema.parse(decision.run));
        return decision;
      });
    },
    recordSubmission(runId, token, attempt, nowIso, merge, stages) {
      return withLease(runId, token, (run) =>
        applyTransition(run, 'SUBMITTED', attempt.reason, nowIso, {
          attempts: [...run.attempts, attempt],
          currentJobName: attempt.jobName,
          lease: null,
          queue: null,
          error: null,
          ...(run.launchDeliveries?.deadLettered ? { warning: null } : {}),
          ...(merge ? { merge, trainingDatasetUri: merge.uri } : {}),
          ...(stages ? { stages } : {}),
        }),
      );
    },
    recordQueued(runId, token, queue, nowIso) {
      const reason = `every tuning slot is taken (${queue.maxConcurrent}): waiting in the pipeline's queue, position ${queue.position} of ${queue.of}`;
      return withLease(runId, token, (run) => applyTransition(run, 'QUEUED', reason, nowIso, { queue, lease: null }));
    },
    recordRejection(runId, token, reason, nowIso) {
      return withLease(runId, token, (run) => applyTransition(run, 'REJECTED', reason, nowIso, { rejection: reason, lease: null }));
    },
    recordFailure(runId, token, error, nowIso) {
      return withLease(runId, token, (run) =>
        applyTransition(run, 'FAILED', `Vertex refused the job: ${error.message}`, nowIso, { error, lease: null }),
      );
    },
    async recordTransientError(runId, token, error, nowIso, delivery) {
      await withLease(runId, token, (run) => {
        const failed = (run.launchDeliveries?.failed ?? 0) + 1;
        // Eventarc's CloudEvents do not carry Pub/Sub's delivery number; then the run's own count stands in for it.
        const deadLettered = (delivery.attempt ?? failed) >= delivery.maxAttempts;
        return {
          ...run,
          error,
          launchDeliveries: {
            recoveries: 0,
            nextRecoveryAt: null,
            strandedSince: null,
            ...run.launchDeliveries,
            failed,
            lastAttempt: delivery.attempt,
            deadLettered,
          },
          // This delivery stops acting: the next one (a redelivery or a re-publish) may claim at once and adopts any job by its label.
          lease: null,
          ...(deadLettered
            ? {
                warning: `the launch message failed ${delivery.attempt ?? failed} deliveries and went to the dead-letter topic; re-publish the same request to try again`,
              }
            : {}),
          updateTime: nowIso,
        };
      });
    },
  };
}
