import { createHash } from 'node:crypto';

/**
 * Train or validation, from a stable hash of the example itself (and the seed), never from its
 * position: re-ordering or appending to a file does not move existing examples between splits,
 * and the same input and seed always give the same split.
 */
export function assignSplit(serializedExample: string, seed: number, validationFraction: number): 'train' | 'validation' {
  if (validationFraction <= 0) return 'train';
  if (validationFraction >= 1) return 'validation';
  const digest = createHash('sha256').update(`${seed}\u0000${serializedExample}`).digest();
  // 48 bits of the digest as a uniform number in [0, 1).
  const unit = digest.readUIntBE(0, 6) / 2 ** 48;
  return unit < validationFraction ? 'validation' : 'train';
}

/** A stable id of an example's content, for de-duplication and merging across datasets. */
export function exampleHash(serializedExample: string): string {
  return createHash('sha256').update(serializedExample).digest('hex');
}
