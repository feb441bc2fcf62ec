import { z } from 'zod';
import { sidecarSchema } from '../datasets/schema.ts';
import { byteSizeSchema } from '../byte-size.ts';
import { DEFAULT_MAX_RECORD_BYTES } from '../convert/readers/errors.ts';
import { DEFAULT_BASE_MODEL } from '../gemini/models.ts';
import { commonConfigSchema } from './common.ts';

/** The converter function's environment. */
export const converterConfigSchema = commonConfigSchema.extend({
  RAW_BUCKET: z.string().min(3),
  DATASETS_BUCKET: z.string().min(3),
  /** Only objects under this prefix are converted; everything else in the bucket is left alone. */
  INPUT_PREFIX: z.string().default('incoming/'),
  MAX_OBJECT_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(2 * 1024 * 1024 * 1024),
  /**
   * A record (JSONL line, CSV/TSV row, JSON array item) over this is reported as a located error
   * and skipped without being held: peak memory grows with the largest record read (see the
   * README's memory figures). `8MiB`, `16MB` or a number of bytes.
   */
  MAX_RECORD_BYTES: byteSizeSchema(1024).default(DEFAULT_MAX_RECORD_BYTES),
  LAUNCH_TOPIC: z.string().min(1).default('launch'),
  DATASETS_COLLECTION: z.string().min(1).default('datasets'),
  /** A launch is published only when at most this share of the examples was rejected. */
  MAX_INVALID_SHARE: z.coerce.number().min(0).max(1).default(0.1),
  /**
   * Two uploads of the same bytes with the same launch spec within this many hours start one
   * tuning run, not two (the second dataset points at the first's run). 0 launches every upload.
   */
  DUPLICATE_UPLOAD_WINDOW_HOURS: z.coerce
    .number()
    .min(0)
    .max(24 * 365)
    .default(24),
  DEFAULT_BASE_MODEL: z.string().min(1).default(DEFAULT_BASE_MODEL),
  /** https fileData: `warn` leaves it (with a warning), `copy` copies it into the datasets bucket under media/ and points the example there. */
  HTTPS_MEDIA: z.enum(['warn', 'copy']).default('warn'),
  MEDIA_FETCH_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(300).default(30),
  /**
   * JSON: `{"incoming/support/": {SIDECAR}}`, the launch spec (and format, column map…) for data
   * files under a prefix that come with neither a sidecar file nor `sft-sidecar` metadata.
   */
  PREFIX_DEFAULTS: z
    .string()
    .default('{}')
    .transform((text, context) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        context.addIssue({ code: 'custom', message: 'PREFIX_DEFAULTS is not JSON' });
        return z.NEVER;
      }
    })
    .pipe(z.record(z.string(), sidecarSchema)),
  CONVERSION_LEASE_SECONDS: z.coerce.number().int().min(60).default(600),
});
export type ConverterConfig = z.infer<typeof converterConfigSchema>;
