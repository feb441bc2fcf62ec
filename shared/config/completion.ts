import { z } from 'zod';
import { commonConfigSchema } from './common.ts';

/** The completion handler's environment (set by Terraform when deployed, by the local stack locally). */
export const completionConfigSchema = commonConfigSchema.extend({
  RUNS_COLLECTION: z.string().min(1).default('runs'),
  RUN_EVENTS_TOPIC: z.string().min(1).default('run-events'),
  /** Where batch inference inputs and predictions are written (`gs://OUTPUTS_BUCKET/runs/{runId}/...`). */
  OUTPUTS_BUCKET: z.string().min(3),
  /** Evaluation examples sent to each model at most (the held-out set is sampled in a stable order above this). */
  EVALUATION_MAX_EXAMPLES: z.coerce.number().int().min(1).max(1_000_000).default(5000),
  /** How long a delivery holds a run while it reads metrics and starts the batch jobs. */
  COMPLETION_LEASE_SECONDS: z.coerce.number().int().min(30).max(3600).default(300),
  VERTEX_RETRIES: z.coerce.number().int().min(0).max(10).default(4),
  /** When set (not empty), training metrics are also logged to this MLflow tracking server through its REST API. */
  MLFLOW_TRACKING_URI: z.union([z.literal(''), z.string().url()]).optional(),
});
export type CompletionConfig = z.infer<typeof completionConfigSchema>;
