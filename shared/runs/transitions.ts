import type { RunDocument, RunState } from './schema.ts';
import { TERMINAL_STATES } from './schema.ts';

/**
 * Which state changes are allowed. A change not listed is a bug or a stale writer, and is
 * refused rather than written: a late delivery must never move a finished run backwards.
 */
const ALLOWED: Record<RunState, readonly RunState[]> = {
  ACCEPTED: ['QUEUED', 'SUBMITTED', 'FAILED', 'REJECTED', 'CANCELLED'],
  QUEUED: ['SUBMITTED', 'FAILED', 'REJECTED', 'CANCELLED'],
  SUBMITTED: ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'],
  PENDING: ['SUBMITTED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'],
  RUNNING: ['SUBMITTED', 'SUCCEEDED', 'FAILED', 'CANCELLED'],
  SUCCEEDED: ['EVALUATING', 'COMPLETED', 'FAILED', 'CANCELLED'],
  EVALUATING: ['SCORING', 'FAILED', 'CANCELLED'],
  SCORING: ['COMPLETED', 'FAILED', 'CANCELLED'],
  COMPLETED: [],
  FAILED: [],
  CANCELLED: [],
  REJECTED: [],
};

export class TransitionError extends Error {
  constructor(from: RunState, to: RunState) {
    super(`a run cannot go from ${from} to ${to}`);
    this.name = 'TransitionError';
  }
}

export function canTransition(from: RunState, to: RunState): boolean {
  return from === to || ALLOWED[from].includes(to);
}

export function isTerminal(state: RunState): boolean {
  return TERMINAL_STATES.includes(state);
}

/**
 * The run after a change: fields merged, and a history entry only when the state really
 * changes (a redelivered event or a poller tick that finds nothing new writes no history).
 */
export function applyTransition(
  run: RunDocument,
  to: RunState,
  reason: string,
  now: string,
  changes: Partial<RunDocument> = {},
): RunDocument {
  if (!canTransition(run.state, to)) throw new TransitionError(run.state, to);
  const history = run.state === to ? run.history : [...run.history, { at: now, from: run.state, to, reason }];
  return { ...run, ...changes, state: to, history, updateTime: now };
}
