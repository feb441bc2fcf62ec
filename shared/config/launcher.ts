import { z } from 'zod';
import { commonConfigSchema } from './common.ts';

/** The launcher's environment (set by Terraform when deployed, by the local stack locally). */
export const launcherConfigSchema = commonConfigSchema.extend({
  RUNS_COLLECTION: z.string().min(1).default('runs'),
  /** How long a delivery holds a run while it talks to Vertex; longer than the retry budget below. */
  LAUNCH_LEASE_SECONDS: z.coerce.number().int().min(30).max(3600).default(300),
  /** Transient Vertex errors are retried this many times inside one delivery before it fails. */
  VERTEX_RETRIES: z.coerce.number().int().min(0).max(10).default(4),
});
export type LauncherConfig = z.infer<typeof launcherConfigSchema>;
