import type { Firestore } from '@google-cloud/firestore';
import { exampleDocumentId, type ExampleComparison } from '../../shared/evaluation/examples.ts';
import { judgmentSchema, type Judgment } from '../../shared/evaluation/judge.ts';
import { metricDocumentId, newPoints, type MetricDocument, type MetricSeries } from '../../shared/metrics/series.ts';
import { runDocumentSchema, type RunDocument, type RunState } from '../../shared/runs/schema.ts';

/**
 * The completion handler's view of the run store. Each stage claims the run in the state it
 * acts on (SUCCEEDED: start evaluation; SCORING: score) with a lease and fencing token, the same
 * claim-then-act pattern as the launcher, so a redelivered or concurrent event acts once.
 */
export interface CompletionStore {
  get(runId: string): Promise<RunDocument | null>;
  claim(
    runId: string,
    state: RunState,
    holder: string,
    nowMs: number,
    leaseMs: number,
  ): Promise<{ token: number; run: RunDocument } | { skip: string }>;
  /** Applies `change` and drops the lease, if `token` still holds it and the run is still in `state`. */
  finish(runId: string, token: number, state: RunState, change: (run: RunDocument) => RunDocument): Promise<RunDocument | null>;
  /** Drops the lease after a transient failure, so the redelivery may act at once. */
  release(runId: string, token: number): Promise<void>;
  /** Writes new points only (by step); returns how many were new. */
  writeMetrics(runId: string, attempt: number, series: readonly MetricSeries[], nowIso: string): Promise<number>;
  /** Sets the run's metrics summary (any state: a late read never moves the run). */
  recordMetrics(runId: string, metrics: NonNullable<RunDocument['metrics']>): Promise<void>;
  readMetrics(runId: string): Promise<MetricDocument[]>;
  removeEvents(runId: string, eventIds: string[]): Promise<void>;
  /** Applies `change` in a transaction (null: leave the run as it is); the online evaluation's progress, outside the stage lease. */
  update(runId: string, change: (run: RunDocument) => RunDocument | null): Promise<RunDocument | null>;
  /** The per-example comparison, at `runs/{runId}/examples/{e000123}`: the same documents however often written. */
  writeExamples(runId: string, examples: readonly ExampleComparison[]): Promise<void>;
  /** The judgments already recorded on the examples (by example index): a redelivery judges only the rest. */
  readJudgments(runId: string): Promise<Map<number, Judgment>>;
  recordJudgment(runId: string, index: number, judgment: Judgment): Promise<void>;
}

export function createCompletionStore(db: Firestore, collection = 'runs'): CompletionStore {
  const ref = (runId: string) => db.collection(collection).doc(runId);
  const parse = (data: unknown) => runDocumentSchema.parse(data);
  const update = (runId: string, change: (run: RunDocument) => RunDocument | null) =>
    db.runTransaction(async (tx) => {
      const snapshot = await tx.get(ref(runId));
      if (!snapshot.exists) return null;
      const after = change(parse(snapshot.data()));
      if (after) tx.set(ref(runId), parse(after));
      return after;
    });
  return {
    async get(runId) {
      const snapshot = await ref(runId).get();
      return snapshot.exists ? parse(snapshot.data()) : null;
    },
    async claim(runId, state, holder, nowMs, leaseMs) {
      // A plain read first: a redelivered event for a run that moved on needs no transaction.
      const seen = await ref(runId).get();
      if (!seen.exists) return { skip: 'no such run' };
      const current = parse(seen.data());
      if (current.state !== state) return { skip: `the run is ${current.state}, not ${state}: already done` };
      return db.runTransaction(async (tx) => {
        const snapshot = await tx.get(ref(runId));
        if (!snapshot.exists) return { skip: 'no such run' };
        const run = parse(snapshot.data());
        if (run.state !== state) return { skip: `the run is ${run.state}, not ${state}: already done` };
        const lease = run.lease;
        if (lease && lease.holder !== holder && Date.parse(lease.expiresAt) > nowMs) return { skip: 'another delivery holds the run' };
        const token = (lease?.token ?? 0) + 1;
        const claimed = { ...run, lease: { holder, expiresAt: new Date(nowMs + leaseMs).toISOString(), token } };
        tx.set(ref(runId), claimed);
        return { token, run: claimed };
      });
    },
    finish(runId, token, state, change) {
      return update(runId, (run) => (run.state === state && run.lease?.token === token ? { ...change(run), lease: null } : null));
    },
    async release(runId, token) {
      await update(runId, (run) => (run.lease?.token === token ? { ...run, lease: null } : null));
    },
    async writeExamples(runId, examples) {
      // Batches of 500 writes (Firestore's limit per batch); a redelivery writes the same documents again.
      for (let start = 0; start < examples.length; start += 500) {
        const batch = db.batch();
        for (const example of examples.slice(start, start + 500))
          // Merged, so a judgment written earlier (recordJudgment) outlives a redelivery's rewrite.
          batch.set(ref(runId).collection('examples').doc(exampleDocumentId(example.index)), example, { merge: true });
        await batch.commit();
      }
    },
    async readJudgments(runId) {
      const snapshot = await ref(runId).collection('examples').select('index', 'judge').get();
      const judgments = new Map<number, Judgment>();
      for (const doc of snapshot.docs) {
        const judge = judgmentSchema.safeParse(doc.get('judge'));
        if (judge.success) judgments.set(Number(doc.get('index')), judge.data);
      }
      return judgments;
    },
    async recordJudgment(runId, index, judgment) {
      await ref(runId).collection('examples').doc(exampleDocumentId(index)).set({ judge: judgment }, { merge: true });
    },
    async writeMetrics(runId, attempt, series, nowIso) {
      let written = 0;
      await Promise.all(
        series.map(async ({ metric, points }) => {
          const doc = ref(runId).collection('metrics').doc(metricDocumentId(metric, attempt));
          const stored = await doc.get();
          const fresh = newPoints(stored.exists ? (stored.get('points') as MetricDocument['points']) : undefined, points);
          if (fresh.length === 0) return;
          written += fresh.length;
          // A merge of the points map: steps already stored stay, new ones are added; a concurrent writer writes the same values.
          await doc.set(
            {
              schemaVersion: 1,
              runId,
              attempt,
              metric,
              points: Object.fromEntries(fresh.map((p) => [String(p.step), { value: p.value, wallTime: p.wallTime }])),
              updateTime: nowIso,
            },
            { merge: true },
          );
        }),
      );
      return written;
    },
    async recordMetrics(runId, metrics) {
      // A late live copy (a tick that saw the job still RUNNING) must not replace the final one of the same attempt.
      await update(runId, (run) =>
        run.metrics?.final && !metrics.final && run.metrics.attempt === metrics.attempt ? null : { ...run, metrics },
      );
    },
    async readMetrics(runId) {
      const snapshot = await ref(runId).collection('metrics').get();
      return snapshot.docs.map((doc) => doc.data() as MetricDocument);
    },
    update,
    async removeEvents(runId, eventIds) {
      await update(runId, (run) => ({
        ...run,
        pendingEvents: (run.pendingEvents ?? []).filter((event) => !eventIds.includes(event.eventId)),
      }));
    },
  };
}
