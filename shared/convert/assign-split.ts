import { hash } from 'node:crypto';

/**
 * Train or validation, from a stable hash of the example itself (and the seed), never from its
 * position: re-ordering or appending to a file does not move existing examples between splits,
 * and the same input and seed always give the same split.
 */
export function assignSplit(serializedExample: string, seed: number, validationFraction: number): 'train' | 'validation' {
  if (validationFraction <= 0) return 'train';
  if (validationFraction >= 1) return 'validation';
  // The one-shot hash: a Hash object per example cost as much again (bench/convert.ts), and a
  // digest as a Buffer almost twice what it costs in hex.
  const digest = hash('sha256', `${seed}\u0000${serializedExample}`, 'hex');
  // The digest's first 48 bits as a uniform number in [0, 1).
  const unit = parseInt(digest.slice(0, 12), 16) / 2 ** 48;
  return unit < validationFraction ? 'validation' : 'train';
}

/** A stable id of an example's content, for de-duplication and merging across datasets. */
export function exampleHash(serializedExample: string): string {
  return hash('sha256', serializedExample, 'hex');
}
