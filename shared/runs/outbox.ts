import type { RunDocument, RunEvent } from './schema.ts';

/**
 * Queues the event announcing a state change (or a resubmission, with `always`) in the same
 * write as the change: the run's `pendingEvents` outbox. Whoever made the change publishes it
 * afterwards and removes it; if publishing fails, the poller's next tick does, so an event can
 * be late but never lost.
 */
export function withEvent(before: RunDocument, after: RunDocument, reason: string, always = false): RunDocument {
  if (before.state === after.state && !always) return after;
  const event: RunEvent = {
    schemaVersion: 1,
    eventId: `${after.runId}:${after.history.length}:${after.attempts.length}`,
    runId: after.runId,
    experiment: after.experiment,
    from: before.state,
    to: after.state,
    attempt: after.attempts.length,
    reason,
    at: after.updateTime,
  };
  return { ...after, pendingEvents: [...(after.pendingEvents ?? []), event] };
}
