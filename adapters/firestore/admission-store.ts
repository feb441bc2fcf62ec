import type { DocumentReference, Firestore, Transaction } from '@google-cloud/firestore';
import {
  EMPTY_ADMISSION,
  QUEUE_STATES,
  SLOT_STATES,
  admissionSchema,
  byQueueOrder,
  decideAcquire,
  type AcquireDecision,
  type Admission,
  type QueueEntry,
} from '../../shared/runs/admission.ts';

/**
 * The pipeline's tuning slots and queue in Firestore (`admission/tuning`), every change one
 * transaction over the pure rules of shared/runs/admission.ts. Holders whose tuning is over, and
 * queued runs that were cancelled or refused meanwhile, are dropped as they are read.
 */
export interface AdmissionStore {
  /** Takes a slot for the run, or puts it (keeps it) in the queue. Idempotent. */
  acquire(entry: QueueEntry, maxConcurrent: number, nowIso: string): Promise<AcquireDecision>;
  /** The queued runs that may take the slots free now (first in line first); they take them through the launcher. */
  admissible(maxConcurrent: number, nowIso: string): Promise<QueueEntry[]>;
  read(): Promise<Admission>;
}

export function createAdmissionStore(db: Firestore, options: { collection?: string; runsCollection?: string } = {}): AdmissionStore {
  const ref = db.collection(options.collection ?? 'admission').doc('tuning');
  const run = (runId: string) => db.collection(options.runsCollection ?? 'runs').doc(runId);
  const stateOf = async (tx: Transaction, refs: DocumentReference[]) =>
    refs.length === 0 ? [] : (await tx.getAll(...refs)).map((snapshot) => (snapshot.exists ? String(snapshot.get('state')) : null));

  /** The document with its finished holders dropped (read in the same transaction). */
  async function readPruned(tx: Transaction): Promise<{ admission: Admission; changed: boolean }> {
    const snapshot = await tx.get(ref);
    const admission = snapshot.exists ? admissionSchema.parse(snapshot.data()) : EMPTY_ADMISSION;
    const states = await stateOf(
      tx,
      admission.holders.map((holder) => run(holder.runId)),
    );
    const holders = admission.holders.filter((_, index) => SLOT_STATES.includes(states[index] ?? ''));
    return { admission: { ...admission, holders }, changed: !snapshot.exists || holders.length !== admission.holders.length };
  }

  return {
    acquire(entry, maxConcurrent, nowIso) {
      return db.runTransaction(async (tx) => {
        const { admission, changed } = await readPruned(tx);
        const decision = decideAcquire(admission, entry, maxConcurrent, nowIso);
        if (changed || decision.admission !== admission || admission.maxConcurrent !== maxConcurrent)
          tx.set(ref, { ...decision.admission, maxConcurrent, updateTime: nowIso });
        return decision;
      });
    },
    admissible(maxConcurrent, nowIso) {
      return db.runTransaction(async (tx) => {
        const { admission, changed } = await readPruned(tx);
        const free = maxConcurrent - admission.holders.length;
        const next: QueueEntry[] = [];
        const gone = new Set<string>();
        // From the head of the line, skipping (and dropping) runs that stopped waiting meanwhile.
        for (const entry of [...admission.queue].sort(byQueueOrder)) {
          if (next.length >= free) break;
          const [state] = await stateOf(tx, [run(entry.runId)]);
          if (QUEUE_STATES.includes(state ?? '')) next.push(entry);
          else gone.add(entry.runId);
        }
        if (changed || gone.size > 0)
          tx.set(ref, {
            ...admission,
            maxConcurrent,
            queue: admission.queue.filter((entry) => !gone.has(entry.runId)),
            updateTime: nowIso,
          });
        return next;
      });
    },
    async read() {
      const snapshot = await ref.get();
      return snapshot.exists ? admissionSchema.parse(snapshot.data()) : EMPTY_ADMISSION;
    },
  };
}
