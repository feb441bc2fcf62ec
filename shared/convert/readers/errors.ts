/** The input as a whole cannot be converted (empty, not text, format not recognised). Exit 2. */
export class UnusableInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnusableInputError';
  }
}

/**
 * The per-record limit unless configured. The largest example Gemini tuning takes is 131,072
 * tokens (models.ts): about 0.5 MB of text, a few MB at most JSON-escaped. 8 MiB leaves room for
 * that many times over, and keeps a conversion's peak memory within the converter function's
 * 1 GiB (README, "Memory"; bench/record-limit.ts).
 */
export const DEFAULT_MAX_RECORD_BYTES = 8 * 1024 * 1024;
