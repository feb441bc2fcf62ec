import { createHash } from 'node:crypto';
import { z } from 'zod';
import { columnMapSchema, formatOptionSchema, methodOptionSchema, reportSchema } from '../convert/types.ts';
import { evaluationSpecSchema, hyperParametersSchema, launchStagesSchema } from '../launch/schema.ts';

/**
 * The sidecar a team uploads beside a data file (`NAME.launch.json` for `NAME`) to choose how it
 * is converted and, with `launch`, to start a tuning run on it. Checked like any message.
 */
export const sidecarSchema = z
  .object({
    format: formatOptionSchema.optional(),
    columnMap: columnMapSchema.optional(),
    validationSplit: z.number().min(0).max(0.5).optional(),
    seed: z.number().int().optional(),
    baseModel: z.string().min(1).optional(),
    epochs: z.number().int().min(1).max(100).optional(),
    maxPartTokens: z.number().int().min(16).optional(),
    /** What the dataset is for; `auto` (the default): preference tuning when the file holds preference data. */
    method: methodOptionSchema.optional(),
    launch: z
      .object({
        experiment: z.string().min(1).max(128),
        hyperParameters: hyperParametersSchema.default({}),
        labels: z.record(z.string(), z.string()).optional(),
        evaluation: evaluationSpecSchema.optional(),
        maxEstimatedCostUsd: z.number().positive().optional(),
        /** A preference dataset tuned in two stages (supervised on the preferred answers, then preference): the launch message's `stages`. */
        stages: launchStagesSchema.optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type Sidecar = z.infer<typeof sidecarSchema>;

export const SIDECAR_SUFFIX = '.launch.json';
/** The custom metadata key that may hold the sidecar's JSON instead of a sidecar file (`x-goog-meta-sft-sidecar`). */
export const SIDECAR_METADATA_KEY = 'sft-sidecar';

/**
 * Per-prefix defaults (the converter's PREFIX_DEFAULTS): the sidecar of the longest prefix the
 * object's name starts with, for data files dropped with neither a sidecar file nor metadata.
 */
export function defaultSidecarFor(name: string, defaults: Readonly<Record<string, Sidecar>>): { prefix: string; sidecar: Sidecar } | null {
  const prefix = Object.keys(defaults)
    .filter((candidate) => name.startsWith(candidate))
    .sort((a, b) => b.length - a.length)[0];
  return prefix === undefined ? null : { prefix, sidecar: defaults[prefix]! };
}

/**
 * The dataset id: a hash of the source object's bucket, name and generation. A redelivered
 * event gives the same id; a hostile name (`..`, control characters, 1,000 characters) can never
 * reach the output path, where only the id appears. The name is kept as data.
 */
export function datasetIdFor(bucket: string, name: string, generation: string): string {
  return `ds-${createHash('sha256').update(`${bucket}\u0000${name}\u0000${generation}`).digest('hex').slice(0, 24)}`;
}

export const datasetStateSchema = z.enum(['CONVERTING', 'CONVERTED', 'REJECTED']);

export const datasetDocumentSchema = z.object({
  schemaVersion: z.literal(1),
  datasetId: z.string(),
  state: datasetStateSchema,
  source: z.object({
    bucket: z.string(),
    name: z.string(),
    generation: z.string(),
    size: z.number().int().nonnegative(),
    /** The object's hashes from the finalize event: what makes two uploads "the same bytes". */
    md5Hash: z.string().optional(),
    crc32c: z.string().optional(),
  }),
  /** Why an unusable input was rejected. */
  rejection: z.string().nullable(),
  report: reportSchema.nullable(),
  outputs: z.object({ train: z.string().nullable(), validation: z.string().nullable(), report: z.string() }),
  sidecar: sidecarSchema.nullable(),
  launch: z.object({
    /** DUPLICATE: the same bytes with the same launch spec were launched moments before; runId is that run. */
    state: z.enum(['NONE', 'CLAIMED', 'PUBLISHED', 'SKIPPED', 'DUPLICATE']),
    reason: z.string().nullable(),
    runId: z.string().nullable(),
    messageId: z.string().nullable(),
    /** While CLAIMED: the delivery (event id) publishing it, and since when. */
    holder: z.string().nullable().optional(),
    claimedAt: z.string().nullable().optional(),
  }),
  lease: z.object({ holder: z.string(), expiresAt: z.string() }).nullable(),
  createTime: z.string(),
  updateTime: z.string(),
});
export type DatasetDocument = z.infer<typeof datasetDocumentSchema>;

/** The storage CloudEvent's data: the object resource (https://cloud.google.com/eventarc/docs/cloudevents#storage). */
export const storageObjectEventSchema = z.object({
  bucket: z.string().min(1),
  name: z.string().min(1),
  generation: z.union([z.string(), z.number()]).transform(String),
  size: z.union([z.string(), z.number()]).transform(Number).optional(),
  contentType: z.string().optional(),
  /** The object's hashes (base64), as the object resource carries them. */
  md5Hash: z.string().optional(),
  crc32c: z.string().optional(),
  /** Custom metadata (Eventarc passes the object resource's `metadata`). */
  metadata: z.record(z.string(), z.string()).nullish(),
});
export type StorageObjectEvent = z.infer<typeof storageObjectEventSchema>;

export type ObjectRouting = { kind: 'data' } | { kind: 'sidecar'; dataName: string } | { kind: 'ignore'; reason: string };

const DATA_EXTENSIONS = /\.(jsonl|ndjson|json|csv|tsv|tab)(\.gz)?$|\.parquet$/i;

/** What to do with an object that appeared in the raw bucket. */
export function routeObject(name: string, prefix: string): ObjectRouting {
  if (!name.startsWith(prefix)) return { kind: 'ignore', reason: `outside the input prefix ${prefix}` };
  if (name.endsWith(SIDECAR_SUFFIX)) return { kind: 'sidecar', dataName: name.slice(0, -SIDECAR_SUFFIX.length) };
  if (name.endsWith('/')) return { kind: 'ignore', reason: 'a folder placeholder' };
  if (!DATA_EXTENSIONS.test(name))
    return { kind: 'ignore', reason: 'not a data file (.jsonl, .ndjson, .json, .csv, .tsv, any of them .gz, or .parquet)' };
  return { kind: 'data' };
}

export function isOversize(size: number | undefined, maxBytes: number): boolean {
  return size !== undefined && size > maxBytes;
}

/** A launch claim nobody turned into a published message within this long is taken over: its delivery died. */
export const LAUNCH_CLAIM_STALE_MS = 2 * 60_000;

/**
 * Whether a delivery may claim the dataset's launch message now: nobody has, or the claim went
 * stale (the delivery that made it died between claiming and publishing; a publish takes
 * seconds). A fresh claim means a message is being published right now.
 */
export function mayClaimLaunch(launch: DatasetDocument['launch'], nowMs: number): boolean {
  if (launch.state === 'NONE') return true;
  return launch.state === 'CLAIMED' && (!launch.claimedAt || nowMs - Date.parse(launch.claimedAt) > LAUNCH_CLAIM_STALE_MS);
}
