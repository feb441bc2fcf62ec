import { z } from 'zod';

const UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KIB: 1024, MIB: 1024 ** 2, GIB: 1024 ** 3 };

/** A size as people write it: `8388608`, `8MiB`, `16 MB`, `512KB` (KB/MB/GB decimal, KiB/MiB/GiB binary). */
export function parseByteSize(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)\s*([KMG]i?B|B)?$/i.exec(text.trim());
  if (!match) return null;
  const bytes = Math.round(Number(match[1]) * UNITS[(match[2] ?? 'B').toUpperCase()]!);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : null;
}

/** A byte size from an environment variable or a flag, at least `min` bytes. */
export const byteSizeSchema = (min: number) =>
  z.union([z.string(), z.number()]).transform((value, context) => {
    const bytes = typeof value === 'number' ? value : parseByteSize(value);
    if (bytes === null || !Number.isSafeInteger(bytes)) {
      context.addIssue({ code: 'custom', message: `${String(value)} is not a size such as 8MiB or 8388608` });
      return z.NEVER;
    }
    if (bytes < min) {
      context.addIssue({ code: 'custom', message: `${String(value)} is under the minimum of ${min} bytes` });
      return z.NEVER;
    }
    return bytes;
  });
