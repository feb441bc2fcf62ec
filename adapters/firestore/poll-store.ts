import type { DocumentData, Firestore, Timestamp } from '@google-cloud/firestore';
import { FieldValue } from '@google-cloud/firestore';
import { classifyError } from '../../shared/errors/classify.ts';
import { runDocumentSchema, TERMINAL_STATES, type RunDocument } from '../../shared/runs/schema.ts';
import { isTerminal } from '../../shared/runs/transitions.ts';

/**
 * The poller's view of the run store. Reads only active runs (an indexed `state` query, paged),
 * never the history. Every write first checks the run is still what the tick saw (same current
 * job, no live lease), so overlapping ticks cannot both act: a run the tick read from a page is
 * written with that read's update time as a precondition (one round trip; Firestore refuses the
 * write if anyone changed the run since), and anything else, or a refused write, in a transaction.
 */
export interface PollStore {
  get(runId: string): Promise<RunDocument | null>;
  /** Active (not terminal) runs, a page at a time, ordered by state then document id. */
  activePage(pageSize: number, after?: RunDocument): Promise<RunDocument[]>;
  /** Applies `change` if the run still has `jobName` as its current job ('' for none yet) and nobody holds it. */
  update(
    run: RunDocument,
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
  removeEvents(run: RunDocument, eventIds: string[]): Promise<void>;
}

/** gRPC's FAILED_PRECONDITION and NOT_FOUND, as classifyError names them: the run changed, or went, since it was read. */
const CHANGED_SINCE_READ = new Set(['GRPC_9', 'GRPC_5']);

/** What the store last read or wrote for a run object it handed out: the stored fields and their version. */
interface SeenVersion {
  stored: DocumentData;
  updateTime: Timestamp;
}

export function createPollStore(db: Firestore, collection = 'runs'): PollStore {
  const ref = (runId: string) => db.collection(collection).doc(runId);
  const leaseLive = (run: RunDocument, nowMs: number) => run.lease !== null && Date.parse(run.lease.expiresAt) > nowMs;
  /** `update`'s guard, on whichever copy it decides on: the run moved to another job, ended, or is held. */
  const movedOn = (run: RunDocument, jobName: string, nowMs: number) =>
    (run.currentJobName ?? '') !== jobName || isTerminal(run.state) || leaseLive(run, nowMs);
  const withoutEvents = (run: RunDocument, eventIds: string[]) =>
    (run.pendingEvents ?? []).filter((event) => !eventIds.includes(event.eventId));
  // Keyed by the very objects handed to the tick, so nothing outlives the tick that holds them.
  const seen = new WeakMap<RunDocument, SeenVersion>();
  /**
   * Writes `next` over the version `from` was read at, or returns null when the run changed since
   * (FAILED_PRECONDITION). Only the fields that differ are sent; the result equals a whole `set`.
   */
  const writeOver = async (runId: string, from: SeenVersion, next: DocumentData): Promise<Timestamp | null> => {
    const fields: DocumentData = {};
    for (const [key, value] of Object.entries(next))
      if (value !== undefined && JSON.stringify(value) !== JSON.stringify(from.stored[key])) fields[key] = value;
    for (const key of Object.keys(from.stored)) if (next[key] === undefined) fields[key] = FieldValue.delete();
    if (Object.keys(fields).length === 0) return from.updateTime;
    try {
      return (await ref(runId).update(fields, { lastUpdateTime: from.updateTime })).writeTime;
    } catch (error) {
      if (CHANGED_SINCE_READ.has(classifyError(error).code)) return null;
      throw error;
    }
  };
  return {
    async get(runId) {
      const snapshot = await ref(runId).get();
      return snapshot.exists ? runDocumentSchema.parse(snapshot.data()) : null;
    },
    async activePage(pageSize, after) {
      // `not-in` the four terminal states rather than `in` the eight active ones: the same index
      // (state, runId) in Firestore, but the emulator scans the collection once per `in` value, so
      // among 100,000 finished runs the query took 8 s instead of 1.5 s (bench/poller.ts).
      let query = db
        .collection(collection)
        .where('state', 'not-in', [...TERMINAL_STATES])
        .orderBy('state')
        .orderBy('runId')
        .limit(pageSize);
      if (after) query = query.startAfter(after.state, after.runId);
      const snapshot = await query.get();
      return snapshot.docs.map((doc) => {
        const stored = doc.data();
        const run = runDocumentSchema.parse(stored);
        seen.set(run, { stored, updateTime: doc.updateTime });
        return run;
      });
    },
    async update(run, jobName, nowMs, change) {
      const version = seen.get(run);
      if (version) {
        if (movedOn(run, jobName, nowMs)) return null;
        const after = change(run);
        if (!after) return null;
        const stored = runDocumentSchema.parse(after);
        const updateTime = await writeOver(run.runId, version, stored);
        if (updateTime) {
          seen.set(after, { stored, updateTime });
          return { before: run, after };
        }
        // Someone changed the run since the page was read: decide again on what is stored now.
      }
      const runId = run.runId;
      return db.runTransaction(async (tx) => {
        const snapshot = await tx.get(ref(runId));
        if (!snapshot.exists) return null;
        const before = runDocumentSchema.parse(snapshot.data());
        if (movedOn(before, jobName, nowMs)) return null;
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
    async removeEvents(run, eventIds) {
      const runId = run.runId;
      const version = seen.get(run);
      if (version) {
        if (await writeOver(runId, version, { ...version.stored, pendingEvents: withoutEvents(run, eventIds) })) return;
      }
      await db.runTransaction(async (tx) => {
        const snapshot = await tx.get(ref(runId));
        if (!snapshot.exists) return;
        const run = runDocumentSchema.parse(snapshot.data());
        tx.set(ref(runId), { ...run, pendingEvents: withoutEvents(run, eventIds) });
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
