import type { RunDocument, RunState } from './schema.ts';

/**
 * Claim-then-act under at-least-once delivery. A delivery may call Vertex for a run only while
 * it holds the run's lease; the lease carries a fencing token that grows with every holder, so
 * a delivery whose lease expired and was taken over cannot write its late result. The holder is
 * the Pub/Sub message id: a redelivery of the same message (after a crash) takes its own lease
 * back at once, while a duplicate publish of the same request is told the run is in hand.
 */
export type ClaimDecision =
  | { action: 'act'; run: RunDocument; token: number }
  | { action: 'in-hand'; run: RunDocument } // another delivery holds a live lease
  | { action: 'busy'; run: RunDocument } // a delivery of this same message took the lease moments ago: deliver again later
  | { action: 'done'; run: RunDocument }; // already past ACCEPTED: nothing to do

/** Pub/Sub's minimum ack deadline: a real redelivery of a message comes at least this long after the delivery before it. */
export const SAME_MESSAGE_GRACE_MS = 10_000;

/** A run a launcher delivery may act on: accepted, or waiting in the pipeline's queue for a tuning slot. */
const CLAIMABLE: readonly RunState[] = ['ACCEPTED', 'QUEUED'];

export function decideClaim(
  existing: RunDocument | null,
  fresh: () => RunDocument,
  holder: string,
  nowMs: number,
  leaseMs: number,
): ClaimDecision {
  const expiresAt = new Date(nowMs + leaseMs).toISOString();
  if (!existing) {
    const run = fresh();
    return { action: 'act', run: { ...run, lease: { holder, expiresAt, token: 1 } }, token: 1 };
  }
  if (!CLAIMABLE.includes(existing.state)) return { action: 'done', run: existing };
  const lease = existing.lease;
  const live = lease !== null && Date.parse(lease.expiresAt) > nowMs;
  if (lease && live && lease.holder !== holder) return { action: 'in-hand', run: existing };
  // Pub/Sub redelivers a message no sooner than its ack deadline (10 s at the least), so the same
  // message inside that window is a concurrent duplicate, not a redelivery after a crash: taking
  // the lease back would let both call Vertex. It is told to come back instead (not acknowledged).
  if (lease && live && Date.parse(lease.expiresAt) - leaseMs > nowMs - SAME_MESSAGE_GRACE_MS) return { action: 'busy', run: existing };
  const token = (lease?.token ?? 0) + 1;
  return { action: 'act', run: { ...existing, lease: { holder, expiresAt, token }, updateTime: new Date(nowMs).toISOString() }, token };
}

/** Whether a write by the holder of `token` may still land. */
export function holdsLease(run: RunDocument, token: number): boolean {
  return CLAIMABLE.includes(run.state) && run.lease?.token === token;
}
