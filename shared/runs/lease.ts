import type { RunDocument } from './schema.ts';

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
  | { action: 'done'; run: RunDocument }; // already past ACCEPTED: nothing to do

export function decideClaim(existing: RunDocument | null, fresh: () => RunDocument, holder: string, nowMs: number, leaseMs: number): ClaimDecision {
  const expiresAt = new Date(nowMs + leaseMs).toISOString();
  if (!existing) {
    const run = fresh();
    return { action: 'act', run: { ...run, lease: { holder, expiresAt, token: 1 } }, token: 1 };
  }
  if (existing.state !== 'ACCEPTED') return { action: 'done', run: existing };
  const lease = existing.lease;
  if (lease && lease.holder !== holder && Date.parse(lease.expiresAt) > nowMs) return { action: 'in-hand', run: existing };
  const token = (lease?.token ?? 0) + 1;
  return { action: 'act', run: { ...existing, lease: { holder, expiresAt, token }, updateTime: new Date(nowMs).toISOString() }, token };
}

/** Whether a write by the holder of `token` may still land. */
export function holdsLease(run: RunDocument, token: number): boolean {
  return run.state === 'ACCEPTED' && run.lease?.token === token;
}
