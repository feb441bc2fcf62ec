import type { Firestore } from '@google-cloud/firestore';
import { runDocumentSchema, type RunDocument } from '../../shared/runs/schema.ts';
import { isTerminal } from '../../shared/runs/transitions.ts';

/**
 * States the poller visits: the tuning job's (SUBMITTED, PENDING, RUNNING), the batch jobs'
 * (EVALUATING), and the two that wait for the completion handler (SUCCEEDED, SCORING), whose
 * queued events the tick publishes if the handler could not.
 */
export const ACTIVE_STATES = ['ACCEPTED', 'QUEUED', 'SUBMITTED', 'PENDING', 'RUNNING', 'SUCCEEDED', 'EVALUATING', 'SCORING'] as const;

/**
 * The poller's view of the run store. Reads only active runs (an indexed `state` query, paged),
 * never the history; every write is a transaction that first checks the run is still what the
 * tick saw (same current job, no live lease), so overlapping ticks cannot both act.
 */
export interface PollStore {
  get(runId: string): Promise<RunDocument | null>;
  /** Active runs, a page at a time, in document-id order. */
  activePage(pageSize: number, afterRunId?: string): Promise<RunDocument[]>;
  /** Applies `change` if the run still has `jobName` as its current job ('' for none yet) and nobody holds it. */
  update(
    runId: string,
    jobName: string,
    nowMs: number,
    change: (run: RunDocument) => RunDocument | null,
  ): Promise<{ before: RunDocument; after: RunDocument } | null>;
  /** Takes the run for a resubmission: returns the fencing token, or null when another poller has it. */
  claim(runId: string, jobName: string, holder: string, nowMs: number, leaseMs: number): Promise<number | null>;
  /** Finishes what `claim` started, if the token still holds the lease. */
  release(
    runId: string,
    token: number,
    change: (run: RunDocument) => RunDocument,
  ): Promise<{ before: RunDocument; after: RunDocument } | null>;
  /** Removes published events from the run's outbox. */
  removeEvents(runId: string, eventIds: string[]): Promise<void>;
}

export function createPollStore(db: Firestore, collection = 'runs'): PollStore {
  const ref = (runId: string) => db.collection(collection).doc(runId);
  const leaseLive = (run: RunDocument, nowMs: number) => run.lease !== null && Date.parse(run.lease.expiresAt) > nowMs;
  return {
    async get(runId) {
      const snapshot = await ref(runId).get();
      return snapshot.exists ? runDocumentSchema.parse(snapshot.data()) : null;
    },
    async activePage(pageSize, afterRunId) {
      let query = db
        .collection(collection)
        .where('state', 'in', [...ACTIVE_STATES])
        .orderBy('runId')
        .limit(pageSize);
      if (afterRunId) query = query.startAfter(afterRunId);
      const snapshot = await query.get();
      return snapshot.docs.map((doc) => runDocumentSchema.parse(doc.data()));
    },
    update(runId, jobName, nowMs, change) {
      return db.runTransaction(async (tx) => {
        const snapshot = await tx.get(ref(runId));
        if (!snapshot.exists) return null;
        const before = runDocumentSchema.parse(snapshot.data());
        if ((before.currentJobName ?? '') !== jobName || isTerminal(before.state) || leaseLive(before, nowMs)) return null;
        const after = change(before);
        if (!after) return null;
        tx.set(ref(runId), runDocumentSchema.parse(after));
        return { before, after };
      });
    },
    claim(runId, jobName, holder, nowMs, leaseMs) {
      return db.runTransaction(async (tx) => {
        const snapshot = await tx.get(ref(runId));
        if (!snapshot.exists) return null;
        const run = runDocumentSchema.parse(snapshot.data());
        if (run.currentJobName !== jobName || isTerminal(run.state) || leaseLive(run, nowMs)) return null;
        const token = (run.lease?.token ?? 0) + 1;
        tx.set(ref(runId), { ...run, lease: { holder, expiresAt: new Date(nowMs + leaseMs).toISOString(), token } });
        return token;
      });
    },
    async removeEvents(runId, eventIds) {
      await db.runTransaction(async (tx) => {
        const snapshot = await tx.get(ref(runId));
        if (!snapshot.exists) return;
        const run = runDocumentSchema.parse(snapshot.data());
        tx.set(ref(runId), { ...run, pendingEvents: (run.pendingEvents ?? []).filter((event) => !eventIds.includes(event.eventId)) });
      });
    },
    release(runId, token, change) {
      return db.runTransaction(async (tx) => {
        const snapshot = await tx.get(ref(runId));
        if (!snapshot.exists) return null;
        const before = runDocumentSchema.parse(snapshot.data());
        if (before.lease?.token !== token) return null;
        const after = { ...change(before), lease: null };
        tx.set(ref(runId), runDocumentSchema.parse(after));
        return { before, after };
      });
    },
  };
}
