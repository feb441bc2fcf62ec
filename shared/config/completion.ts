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
  /** Online evaluation (when Vertex refuses batch prediction for a model): requests in flight at once per delivery. */
  ONLINE_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8),
  /** Requests per prediction file; a delivery that stops loses at most one part's work. */
  ONLINE_PART_SIZE: z.coerce.number().int().min(1).max(10_000).default(100),
  /** How long one delivery sends online requests before handing over to the next (under the 540 s timeout). */
  ONLINE_BUDGET_SECONDS: z.coerce.number().int().min(1).max(3000).default(420),
  /** Judge calls in flight at once, for runs that ask for a judge (the judge model's quota is the limit). */
  JUDGE_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  /** How long one delivery asks the judge before handing the rest to the next (within the lease and the 540 s timeout). */
  JUDGE_BUDGET_SECONDS: z.coerce.number().int().min(1).max(3000).default(240),
  /** When set (not empty), training metrics are also logged to this MLflow tracking server through its REST API. */
  MLFLOW_TRACKING_URI: z.union([z.literal(''), z.string().url()]).optional(),
  /**
   * MLflow's own credential variables: a bearer token, or a user name and password (basic auth).
   * Deployed, they come from Secret Manager (Terraform's mlflow_*_secret), never plain env or state.
   */
  MLFLOW_TRACKING_TOKEN: z.string().optional(),
  MLFLOW_TRACKING_USERNAME: z.string().optional(),
  MLFLOW_TRACKING_PASSWORD: z.string().optional(),
});
export type CompletionConfig = z.infer<typeof completionConfigSchema>;
