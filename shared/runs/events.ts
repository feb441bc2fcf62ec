import { z } from 'zod';
import { runStateSchema } from './schema.ts';

/** A run's state change, published to the `run-events` topic for the completion handler and anyone else. */
export const runEventSchema = z.object({
  schemaVersion: z.literal(1),
  runId: z.string(),
  experiment: z.string(),
  from: runStateSchema.nullable(),
  to: runStateSchema,
  attempt: z.number().int().nonnegative(),
  reason: z.string(),
  at: z.string(),
});
export type RunEvent = z.infer<typeof runEventSchema>;
