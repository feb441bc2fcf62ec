import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * Merging several training datasets into one file for a run. A tuned Gemini model cannot be
 * trained further, so "more data" means a new run from the base model over all of it; the
 * merged file is de-duplicated and in a stable order (by example hash), so the same sources give
 * the same bytes whatever order they were named in and however often the merge runs.
 */

/** Buckets of the first hash byte: the unit the merge plans its passes over. */
export const HASH_BUCKETS = 256;

/** Object keys sorted at every depth: two lines that differ only in key order or spacing are one example. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) return inner;
    return Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

/** The hash of an example's canonical JSON text (see canonicalJson). */
export function exampleHash(canonical: string): string {
  return createHash('sha256').update(canonical).digest('hex');
}

export function hashBucket(hash: string): number {
  return Number.parseInt(hash.slice(0, 2), 16);
}

/**
 * Which hash buckets each pass over the sources writes: consecutive buckets while their bytes fit
 * the memory budget, so one pass holds at most `budgetBytes` of examples (a single bucket larger
 * than the budget gets a pass of its own). Passes in order give the whole file in hash order.
 */
export function planMergePasses(bytesPerBucket: readonly number[], budgetBytes: number): Array<{ from: number; to: number }> {
  const passes: Array<{ from: number; to: number }> = [];
  let from = 0;
  let bytes = 0;
  for (let bucket = 0; bucket < bytesPerBucket.length; bucket += 1) {
    const size = bytesPerBucket[bucket]!;
    if (bucket > from && bytes + size > budgetBytes) {
      passes.push({ from, to: bucket - 1 });
      from = bucket;
      bytes = 0;
    }
    bytes += size;
  }
  if (bytes > 0 || passes.length === 0) passes.push({ from, to: bytesPerBucket.length - 1 });
  return passes.filter((pass) => bytesPerBucket.slice(pass.from, pass.to + 1).some((size) => size > 0));
}

/** Where a run's merged training file lives: one path per run, so a retried merge rewrites the same object. */
export function mergedDatasetUri(bucket: string, runId: string): string {
  return `gs://${bucket}/merged/${runId}/train.jsonl`;
}

export const mergeSourceSummarySchema = z.object({
  uri: z.string(),
  /** Examples read from this source. */
  examples: z.number().int().nonnegative(),
  /** Of those, examples already present (in an earlier source, or earlier in this one). */
  duplicates: z.number().int().nonnegative(),
});

/** What the run records about its merged training file. */
export const mergeSummarySchema = z.object({
  uri: z.string(),
  sources: z.array(mergeSourceSummarySchema),
  /** Examples in the merged file. */
  examples: z.number().int().nonnegative(),
  duplicatesDropped: z.number().int().nonnegative(),
  /** Passes over the sources the memory budget needed (1 for anything that fits). */
  passes: z.number().int().positive(),
});
export type MergeSummary = z.infer<typeof mergeSummarySchema>;

/** A source line that is not one JSON example: the merge refuses rather than silently dropping training data. */
export class MergeInputError extends Error {
  readonly uri: string;
  readonly line: number;
  constructor(uri: string, line: number, problem: string) {
    super(`${uri} line ${line}: ${problem}`);
    this.name = 'MergeInputError';
    this.uri = uri;
    this.line = line;
  }
}
