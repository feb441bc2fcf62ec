import { z } from 'zod';
import { modelOverrideSchema } from '../gemini/models.ts';

/**
 * MODEL_CATALOGUE: the operator's model rows as JSON, an array of objects (a new model needs
 * every field of shared/gemini/models.ts; a known one only those to correct). Empty: none.
 */
export const modelCatalogueSchema = z
  .string()
  .optional()
  .transform((text, context) => {
    if (text === undefined || text.trim() === '') return [];
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      context.addIssue({ code: 'custom', message: `not JSON: ${error instanceof Error ? error.message : String(error)}` });
      return z.NEVER;
    }
  })
  .pipe(z.array(modelOverrideSchema));

/**
 * Settings every deployed component shares. The emulator hosts are the standard variables the
 * Google client libraries read themselves; they are listed here so that config is documented
 * in one place and a typo fails at start-up.
 */
export const commonConfigSchema = z.object({
  GOOGLE_CLOUD_PROJECT: z.string().min(1).default('local-sft-project'),
  GOOGLE_CLOUD_LOCATION: z.string().min(1).default('us-central1'),
  /** e.g. `127.0.0.1:8080`; set only when talking to the Firestore emulator. */
  FIRESTORE_EMULATOR_HOST: z.string().optional(),
  /** e.g. `127.0.0.1:8085`; set only when talking to the Pub/Sub emulator. */
  PUBSUB_EMULATOR_HOST: z.string().optional(),
  /** e.g. `http://127.0.0.1:9023` (with the scheme); set only when talking to the storage emulator. */
  STORAGE_EMULATOR_HOST: z.string().url().optional(),
  /** Base URL of the Vertex AI simulator; unset in production, where the real endpoint is used. */
  VERTEX_BASE_URL: z.string().url().optional(),
  LOG_LEVEL: z.enum(['DEBUG', 'INFO', 'WARNING', 'ERROR']).default('INFO'),
  /** Operator rows over the built-in model catalogue (models.ts); applied by loadConfig. */
  MODEL_CATALOGUE: modelCatalogueSchema,
  /**
   * `production` when deployed: the functions-framework's own error pages (a request its router
   * refuses before our code runs, such as a malformed %-encoding) then carry no stack trace.
   */
  NODE_ENV: z.enum(['production', 'development', 'test']).optional(),
});

export type CommonConfig = z.infer<typeof commonConfigSchema>;

/** Env values are strings; this reads "true"/"1"/"yes" and "false"/"0"/"no" as booleans. */
export const envBoolean = z.enum(['true', 'false', '1', '0', 'yes', 'no', '']).transform((v) => v === 'true' || v === '1' || v === 'yes');

/**
 * Admission control, shared by the launcher (takes a slot or queues the run) and the poller
 * (admits the next queued run when a slot frees). Vertex's default quota is one concurrent tuning
 * job per project; 0 turns admission off (every run submits at once and Vertex queues them).
 */
export const admissionConfigShape = {
  MAX_CONCURRENT_TUNING_JOBS: z.coerce.number().int().min(0).max(100).default(1),
  ADMISSION_COLLECTION: z.string().min(1).default('admission'),
};
