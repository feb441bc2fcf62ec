/** The input as a whole cannot be converted (empty, not text, format not recognised). Exit 2. */
export class UnusableInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnusableInputError';
  }
}

export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024 * 1024;
