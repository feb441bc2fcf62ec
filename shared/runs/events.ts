/** A run's state change, published to the `run-events` topic (defined beside the run document, which queues them). */
export { runEventSchema, type RunEvent } from './schema.ts';
