import type { RawRecord, RecordParseFailure, UnparsedLine } from '../types.ts';
import { DEFAULT_MAX_RECORD_BYTES } from './errors.ts';
import { invalidUtf8Detail } from './invalid-utf8.ts';

const NEWLINE = 0x0a;

/**
 * JSON Lines from a byte stream, one record per non-blank line, with 1-based line numbers.
 * Memory stays bounded whatever the input: a line longer than `maxRecordBytes` is skipped up to
 * its newline and reported as `record_too_large`, never buffered whole. Invalid UTF-8 and invalid
 * JSON are located failures; the reading goes on with the next line.
 */
export function readJsonLines(
  chunks: AsyncIterable<Uint8Array>,
  options?: { maxRecordBytes?: number; deferParse?: false },
): AsyncGenerator<RawRecord | RecordParseFailure>;
/** With `deferParse`, each line's text is yielded unparsed (parseJsonText parses it where it is converted). */
export function readJsonLines(
  chunks: AsyncIterable<Uint8Array>,
  options: { maxRecordBytes?: number; deferParse: true },
): AsyncGenerator<UnparsedLine | RecordParseFailure>;
export async function* readJsonLines(
  chunks: AsyncIterable<Uint8Array>,
  options: { maxRecordBytes?: number; deferParse?: boolean } = {},
): AsyncGenerator<RawRecord | UnparsedLine | RecordParseFailure> {
  const maxBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let overflowing = false;
  let line = 1;

  const finishLine = (): RawRecord | UnparsedLine | RecordParseFailure | undefined => {
    const current = line;
    line += 1;
    if (overflowing) {
      overflowing = false;
      return {
        line: current,
        code: 'record_too_large',
        message: `the line is over the per-record limit of ${maxBytes} bytes and was not read (MAX_RECORD_BYTES, or --max-record-bytes, raises it)`,
      };
    }
    const bytes = pending.length === 1 ? pending[0]! : concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    return readLine(bytes, current, decoder, options.deferParse === true);
  };

  for await (const chunk of chunks) {
    let start = 0;
    while (start < chunk.length) {
      const end = chunk.indexOf(NEWLINE, start);
      const stop = end === -1 ? chunk.length : end;
      if (!overflowing) {
        if (pendingBytes + (stop - start) > maxBytes) {
          overflowing = true;
          pending = [];
          pendingBytes = 0;
        } else if (stop > start) {
          pending.push(chunk.subarray(start, stop));
          pendingBytes += stop - start;
        }
      }
      if (end === -1) break;
      const record = finishLine();
      if (record) yield record;
      start = end + 1;
    }
  }
  if (pendingBytes > 0 || overflowing) {
    const record = finishLine();
    if (record) yield record;
  }
}

function readLine(
  bytes: Uint8Array,
  line: number,
  decoder: { decode(input: Uint8Array): string },
  defer: boolean,
): RawRecord | UnparsedLine | RecordParseFailure | undefined {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { line, code: 'invalid_utf8', message: `the line is not valid UTF-8 text${invalidUtf8Detail(bytes)}; save the file as UTF-8` };
  }
  if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') return undefined;
  return defer ? { line, text } : parseJsonText(text, line);
}

/** One JSON Lines record's text parsed, or the located failure. */
export function parseJsonText(text: string, line: number): RawRecord | RecordParseFailure {
  try {
    return { line, value: JSON.parse(text) };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    // JSON.parse counts lines within the text it was given: a JSON Lines record is one line, so only the column says anything.
    return { line, code: 'invalid_json', message: `not valid JSON: ${reason.replace(/\s*\(line 1 column (\d+)\)/, ' (column $1)')}` };
  }
}

export function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
