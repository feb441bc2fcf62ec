import { z } from 'zod';

/**
 * Admission control for Vertex's tuning quota. Vertex's default quota is one concurrent tuning job
 * per project ("every project has a default quota to run at least one tuning job", Vertex's
 * preference-tuning page); a job over it waits RUNNING / WAITING_FOR_QUOTA, and cancelling it gains
 * nothing. So at most `MAX_CONCURRENT_TUNING_JOBS` of the pipeline's runs hold a Vertex job; the
 * others wait in the pipeline's own queue, in order: higher `priority` first, then first come.
 *
 * One document (`admission/tuning`) holds the slot holders and the queue, so every change to
 * either is one Firestore transaction. A holder lets go of its slot when its tuning is over; the
 * store prunes such holders lazily (it reads them in the same transaction), so no path that ends a
 * run has to remember to release.
 */
export const queueEntrySchema = z.object({
  runId: z.string(),
  priority: z.number().int(),
  enqueuedAt: z.string(),
});
export type QueueEntry = z.infer<typeof queueEntrySchema>;

export const admissionSchema = z.object({
  schemaVersion: z.literal(1),
  holders: z.array(z.object({ runId: z.string(), since: z.string() })),
  queue: z.array(queueEntrySchema),
  /** The MAX_CONCURRENT_TUNING_JOBS of the last writer, so tools without the setting (the CLI) can admit too. */
  maxConcurrent: z.number().int().positive().optional(),
  updateTime: z.string(),
});
export type Admission = z.infer<typeof admissionSchema>;

export const EMPTY_ADMISSION: Admission = { schemaVersion: 1, holders: [], queue: [], updateTime: new Date(0).toISOString() };

/** Run states that still need their slot: claimed and about to submit, or a tuning job alive. */
export const SLOT_STATES: readonly string[] = ['ACCEPTED', 'SUBMITTED', 'PENDING', 'RUNNING'];
/** Run states that may wait in the queue. */
export const QUEUE_STATES: readonly string[] = ['ACCEPTED', 'QUEUED'];

/** Queue order: higher priority first, then the earlier arrival, then the run id (a total order). */
export function byQueueOrder(a: QueueEntry, b: QueueEntry): number {
  return b.priority - a.priority || a.enqueuedAt.localeCompare(b.enqueuedAt) || a.runId.localeCompare(b.runId);
}

export type AcquireDecision =
  { status: 'acquired'; admission: Admission } | { status: 'queued'; admission: Admission; position: number; ahead: number };

/** Whether `entry`'s run may take a slot now; if not, it is (or stays) in the queue at its place. */
export function decideAcquire(admission: Admission, entry: QueueEntry, maxConcurrent: number, nowIso: string): AcquireDecision {
  if (admission.holders.some((holder) => holder.runId === entry.runId)) return { status: 'acquired', admission };
  const queue = [...admission.queue.filter((queued) => queued.runId !== entry.runId), entry].sort(byQueueOrder);
  const free = maxConcurrent - admission.holders.length;
  const index = queue.findIndex((queued) => queued.runId === entry.runId);
  if (index < free) {
    return {
      status: 'acquired',
      admission: {
        ...admission,
        holders: [...admission.holders, { runId: entry.runId, since: nowIso }],
        queue: queue.filter((q) => q.runId !== entry.runId),
        updateTime: nowIso,
      },
    };
  }
  // A re-enqueued run keeps the place it had.
  const kept = admission.queue.find((queued) => queued.runId === entry.runId);
  const placed = kept ? [...admission.queue].sort(byQueueOrder) : queue;
  const position = placed.findIndex((queued) => queued.runId === entry.runId) + 1;
  return {
    status: 'queued',
    admission: kept ? admission : { ...admission, queue: placed, updateTime: nowIso },
    position,
    ahead: position - 1,
  };
}

/** The queued runs that may take the slots free now, first in line first. */
export function nextToAdmit(admission: Admission, maxConcurrent: number): QueueEntry[] {
  return [...admission.queue].sort(byQueueOrder).slice(0, Math.max(0, maxConcurrent - admission.holders.length));
}

/** What a QUEUED run waits for, in words (the status API, the CLI). */
export function queueNote(queue: { position: number; of: number; maxConcurrent: number }): string {
  const slots = queue.maxConcurrent === 1 ? '1 run tunes at a time' : `${queue.maxConcurrent} runs tune at a time`;
  return `waiting for a tuning slot: position ${queue.position} of ${queue.of} in the pipeline's queue (${slots})`;
}

/** Where a run stands in the queue (1 = next), or null if it is not queued. */
export function queuePosition(admission: Admission, runId: string): { position: number; of: number } | null {
  const sorted = [...admission.queue].sort(byQueueOrder);
  const index = sorted.findIndex((entry) => entry.runId === runId);
  return index < 0 ? null : { position: index + 1, of: sorted.length };
}
