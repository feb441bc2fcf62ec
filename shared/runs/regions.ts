import { z } from 'zod';

/**
 * Which Vertex region a resource lives in, and where a stuck run goes next.
 *
 * Vertex names every resource with its location (`projects/P/locations/L/tuningJobs/ID`), and
 * every call about a resource must go to that location's endpoint ("for operations other than
 * creating datasets or importing models, you must use the location of the resources you're
 * working with", https://cloud.google.com/vertex-ai/docs/general/locations). A tuning job "runs
 * and the tuned model uploads" in the region it was created in
 * (https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-supervised-tuning-region-settings),
 * so a run resubmitted in a fallback region has its model, and its evaluation, there.
 */
export function locationOf(resourceName: string | null | undefined): string | null {
  return /^projects\/[^/]+\/locations\/([^/]+)\//.exec(resourceName ?? '')?.[1] ?? null;
}

/** A Google Cloud region id, as the tuning region settings page lists them (`us-central1`, `europe-west4`). */
export const regionIdSchema = z.string().regex(/^[a-z]+-[a-z]+[0-9]+$/, 'a region id such as europe-west4');

/** `FALLBACK_REGIONS`: comma-separated region ids, in the order a stuck run tries them; empty turns fallback off. */
export const fallbackRegionsSchema = z
  .string()
  .default('')
  .transform((value) =>
    value
      .split(',')
      .map((region) => region.trim())
      .filter(Boolean),
  )
  .pipe(z.array(regionIdSchema).refine((regions) => new Set(regions).size === regions.length, 'a region is listed twice'));

/**
 * The region a run's next attempt uses. Only a job stuck waiting for capacity moves on (quota is
 * project-wide across regions, and a transient failure is retried where it happened); it goes to
 * the region after its own in `[primary, ...fallbacks]`, round the list, so with fallback off every
 * attempt stays in the primary region.
 */
export function nextAttemptRegion(
  regions: { primary: string; fallbacks: readonly string[] },
  current: string | null,
  why: 'STUCK_IN_QUEUE' | 'TRANSIENT_FAILURE',
): string {
  const order = [regions.primary, ...regions.fallbacks.filter((region) => region !== regions.primary)];
  const from = current ?? regions.primary;
  if (why !== 'STUCK_IN_QUEUE' || order.length === 1) return from;
  const index = order.indexOf(from);
  return order[(index + 1) % order.length]!;
}
