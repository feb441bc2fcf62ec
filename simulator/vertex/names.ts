import { createHash } from 'node:crypto';

/**
 * Vertex names every resource it returns by project NUMBER (`projects/123456789012/…`), whichever
 * form the request used (the REST reference's resource names; AIP-122 allows either in requests).
 * The simulator gives each project id a fixed 12-digit number of its own, so code that builds a
 * name from the project id and compares it with one Vertex returned fails here as it would there.
 */
export function projectNumberOf(project: string): string {
  if (/^\d+$/.test(project)) return project;
  const digits = BigInt(`0x${createHash('sha256').update(project).digest('hex').slice(0, 15)}`) % 900_000_000_000n;
  return String(100_000_000_000n + digits);
}
