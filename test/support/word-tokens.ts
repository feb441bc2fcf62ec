import type { TokenCounter } from '../../shared/convert/types.ts';

/** A deterministic stand-in counter for rule tests: one token per whitespace-separated word. */
export const wordTokens: TokenCounter = {
  count: (text) => text.split(/\s+/).filter(Boolean).length,
};
