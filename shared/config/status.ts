import { z } from 'zod';
import { commonConfigSchema } from './common.ts';

/** The status function's environment (read-only access to runs, their metrics and datasets). */
export const statusConfigSchema = commonConfigSchema.extend({
  RUNS_COLLECTION: z.string().min(1).default('runs'),
  DATASETS_COLLECTION: z.string().min(1).default('datasets'),
});
export type StatusConfig = z.infer<typeof statusConfigSchema>;
