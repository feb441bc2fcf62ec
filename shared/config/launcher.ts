import { z } from 'zod';
import { admissionConfigShape, commonConfigSchema, envBoolean } from './common.ts';

/** The launcher's environment (set by Terraform when deployed, by the local stack locally). */
export const launcherConfigSchema = commonConfigSchema.extend({
  ...admissionConfigShape,
  RUNS_COLLECTION: z.string().min(1).default('runs'),
  /** How long a delivery holds a run while it talks to Vertex; longer than the retry budget below. */
  LAUNCH_LEASE_SECONDS: z.coerce.number().int().min(30).max(3600).default(300),
  /** Transient Vertex errors are retried this many times inside one delivery before it fails. */
  VERTEX_RETRIES: z.coerce.number().int().min(0).max(10).default(4),
  /**
   * The launch subscription's max delivery attempts (Terraform sets both from one variable): a
   * delivery that fails at this count sends the message to the dead-letter topic, and the run says so.
   */
  LAUNCH_MAX_DELIVERIES: z.coerce.number().int().min(5).max(100).default(10),
  /**
   * Where a run naming several training datasets gets its merged file
   * (`gs://DATASETS_BUCKET/merged/{runId}/train.jsonl`); unset, the first dataset's bucket is used.
   */
  DATASETS_BUCKET: z.string().min(3).optional(),
  /**
   * Comma-separated gs:// prefixes launches may read besides the datasets bucket
   * (`gs://team-bucket/curated/`). Datasets anywhere else are refused.
   */
  ALLOWED_DATASET_PREFIXES: z
    .string()
    .regex(
      /^$|^(\s*gs:\/\/[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]\/[^,]*\s*)(,\s*gs:\/\/[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]\/[^,]*\s*)*$/,
      'comma-separated gs://BUCKET/ prefixes (each ending in / after the bucket)',
    )
    .optional(),
  /** Per-run spending limit in USD on the converter's estimate; unset: none. */
  MAX_RUN_COST_USD: z.preprocess((value) => (value === '' ? undefined : value), z.coerce.number().positive().optional()),
  /** Monthly (UTC) spending budget in USD, over the estimates of the month's runs; unset: none. */
  COST_BUDGET_USD: z.preprocess((value) => (value === '' ? undefined : value), z.coerce.number().positive().optional()),
  /** With a limit set, whether a run without an estimate (unknown price) may start. */
  ALLOW_UNKNOWN_COST: envBoolean.default(false),
  /** Examples a merge holds in memory at once; larger merges take more passes over the sources, not more memory. */
  MERGE_MEMORY_MB: z.coerce.number().int().min(1).max(4096).default(64),
});
export type LauncherConfig = z.infer<typeof launcherConfigSchema>;
