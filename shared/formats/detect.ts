import type { RawFormat } from '../convert/types.ts';
import { isRecord } from './mapping.ts';

/**
 * The raw format of a file, from its extension and its first record. CSV and TSV are told by
 * extension (their first record is a header, not JSON); JSON formats by the keys of the first
 * record. Returns null when nothing matches, which the caller reports as an unusable input.
 */
export function detectFormat(fileName: string, firstRecord: unknown): RawFormat | null {
  const lower = fileName.toLowerCase().replace(/\.(gz)$/, '');
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.tsv') || lower.endsWith('.tab')) return 'tsv';
  return detectJsonFormat(firstRecord);
}

export function detectJsonFormat(record: unknown): RawFormat | null {
  if (!isRecord(record)) return null;
  if (Array.isArray(record.contents)) return 'gemini';
  if (Array.isArray(record.conversations)) return 'sharegpt';
  if (Array.isArray(record.messages)) return 'openai';
  if ('instruction' in record && ('output' in record || 'chosen' in record)) return 'alpaca';
  // Preference layouts without a conversation field: TRL's prompt/chosen/rejected and
  // prompt/completion/label, and OpenAI's preference fine-tuning (input.messages).
  if ('prompt' in record && ('chosen' in record || 'completion' in record)) return 'openai';
  if ('preferred_output' in record && isRecord(record.input)) return 'openai';
  return null;
}

/** Whether a file is one of the JSON formats (JSONL, or a JSON array of records). */
export function looksLikeDelimited(fileName: string): 'csv' | 'tsv' | null {
  const format = detectFormat(fileName, undefined);
  return format === 'csv' || format === 'tsv' ? format : null;
}
