import { z } from 'zod';
import { fallbackRegionsSchema } from '../runs/regions.ts';
import { admissionConfigShape, commonConfigSchema, envBoolean } from './common.ts';

/** The poller's environment. Defaults are the stuck policy stated in the README. */
export const pollerConfigSchema = commonConfigSchema.extend({
  ...admissionConfigShape,
  /** Where a queued run's launch request is published again when a tuning slot frees up. */
  LAUNCH_TOPIC: z.string().min(1).default('launch'),
  RUNS_COLLECTION: z.string().min(1).default('runs'),
  /**
   * A launch stranded without a job (its message dead-lettered after a long Vertex outage, or its
   * delivery died holding it) is published again: first after this long, then with doubling waits
   * up to the maximum, for LAUNCH_RECOVERY_HOURS; then the run is FAILED and says how to retry.
   */
  LAUNCH_RECOVERY_FIRST_SECONDS: z.coerce.number().int().min(1).default(300),
  LAUNCH_RECOVERY_MAX_DELAY_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .default(6 * 3600),
  LAUNCH_RECOVERY_HOURS: z.coerce.number().min(0.01).default(48),
  RUN_EVENTS_TOPIC: z.string().min(1).default('run-events'),
  /** A first attempt still queued after this long is cancelled and resubmitted; later attempts wait twice as long as the one before. */
  STUCK_AFTER_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .default(6 * 3600),
  /** Vertex jobs per run at most (the first submission included). */
  MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  /** A job running longer than this gets a warning on its run (it is not cancelled). */
  RUNNING_WARNING_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .default(24 * 3600),
  /** Vertex calls in flight at once during a tick. */
  POLL_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8),
  /** How long a poller may hold a run while it cancels and resubmits its job. */
  RESUBMIT_LEASE_SECONDS: z.coerce.number().int().min(30).default(300),
  VERTEX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  /** Copy a RUNNING job's training metrics to Firestore on every tick, so curves are live (a few Vertex reads per running run per tick). */
  LIVE_METRICS: envBoolean.default(true),
  /** A run left this long in SUCCEEDED or SCORING with no handler acting on it gets its run event published again. */
  STAGE_RESEND_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .default(15 * 60),
  /**
   * Opt-in: a job stuck waiting for capacity past the threshold is resubmitted in the next of these
   * regions (comma-separated, tried in order after GOOGLE_CLOUD_LOCATION, round the list), not where
   * it waited. Its tuned model, metrics and evaluation then live in that region. Empty: off.
   */
  FALLBACK_REGIONS: fallbackRegionsSchema,
  /** For this long after a submission, each tick checks for a twin job (a late create from a dead delivery) and cancels it. */
  DUPLICATE_CHECK_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .default(15 * 60),
});
export type PollerConfig = z.infer<typeof pollerConfigSchema>;
