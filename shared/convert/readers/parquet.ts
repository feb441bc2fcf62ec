import { parquetMetadataAsync, parquetReadObjects, type AsyncBuffer } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import type { RawRecord, RecordParseFailure } from '../types.ts';
import { UnusableInputError } from './errors.ts';
import { invalidUtf8Detail } from './invalid-utf8.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A string column's value whose bytes are not UTF-8: held as bytes until its row is reported. */
class NotUtf8 {
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
}

/**
 * hyparquet decodes strings leniently, so bytes that are not UTF-8 would reach the training file
 * as U+FFFD without a word. Decoded strictly here, such a value costs its row, reported at it.
 */
const parsers = {
  stringFromBytes: (bytes: Uint8Array | undefined): unknown => {
    if (!bytes) return bytes;
    try {
      return utf8.decode(bytes);
    } catch {
      return new NotUtf8(bytes);
    }
  },
};

/**
 * A file read by byte range: Parquet keeps its schema and row-group index in a footer at the end,
 * so it is read by range, not as a stream. The CLI passes a file handle, the converter function
 * Cloud Storage range reads.
 */
export interface RandomAccessInput {
  byteLength: number;
  slice(start: number, end: number): Promise<Uint8Array>;
}

/**
 * Parquet (Hugging Face's dataset format) as records, one row group at a time, so memory holds
 * one row group's rows, not the file. Read with hyparquet (pure JavaScript, no native code), with
 * hyparquet-compressors for the codecs writers use (snappy, gzip, zstd, brotli, lz4). A row is
 * a record whose `line` is its 1-based row number; nested columns (`messages`, `conversations`)
 * arrive as the arrays and objects the JSON formats read. Values JSON cannot hold are made plain:
 * 64-bit integers become numbers (or strings past 2^53), bytes a note of their length, dates
 * ISO text.
 */
export async function openParquet(
  input: RandomAccessInput,
): Promise<{ columns: string[]; rows: number; records: AsyncGenerator<RawRecord | RecordParseFailure> }> {
  const file: AsyncBuffer = {
    byteLength: input.byteLength,
    slice: async (start, end) => {
      const bytes = await input.slice(start, end ?? input.byteLength);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
  let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (error) {
    throw new UnusableInputError(
      `the file starts like Parquet but its footer cannot be read (${error instanceof Error ? error.message : String(error)}): is it complete?`,
    );
  }
  const columns = metadata.schema
    .filter((element, index) => index > 0 && isTopLevel(metadata.schema, index))
    .map((element) => element.name);
  async function* records(): AsyncGenerator<RawRecord | RecordParseFailure> {
    let rowStart = 0;
    for (const group of metadata.row_groups) {
      const rowEnd = rowStart + Number(group.num_rows);
      let rows: Record<string, unknown>[];
      try {
        rows = await parquetReadObjects({ file, metadata, rowStart, rowEnd, compressors, parsers: parsers as never });
      } catch (error) {
        // A row group that cannot be decoded is reported at each of its rows; the others still convert.
        const message = `row group rows ${rowStart + 1} to ${rowEnd} cannot be read: ${error instanceof Error ? error.message : String(error)}`;
        for (let row = rowStart; row < rowEnd; row++) yield { line: row + 1, code: 'invalid_parquet', message };
        rowStart = rowEnd;
        continue;
      }
      for (let index = 0; index < rows.length; index++) {
        const line = rowStart + index + 1;
        const value = plain(rows[index]);
        const bad = value === NOT_UTF8 ? notUtf8In(rows[index], '') : undefined;
        if (bad) {
          yield { line, code: 'invalid_utf8', message: `the value is not valid UTF-8 text${invalidUtf8Detail(bad.bytes)}`, path: bad.path };
        } else yield { line, value };
      }
      rowStart = rowEnd;
    }
  }
  return { columns, rows: Number(metadata.num_rows), records: records() };
}

/** Whether schema element `index` is a column of the root (not a field inside a nested one). */
function isTopLevel(schema: { num_children?: number }[], index: number): boolean {
  // The root's children follow it in order, each followed by its own descendants.
  let next = 1;
  for (let child = 0; child < (schema[0]!.num_children ?? 0); child++) {
    if (next === index) return true;
    next = afterSubtree(schema, next);
  }
  return false;
}

function afterSubtree(schema: { num_children?: number }[], index: number): number {
  let next = index + 1;
  for (let child = 0; child < (schema[index]!.num_children ?? 0); child++) next = afterSubtree(schema, next);
  return next;
}

/** What `plain` gives for a row that holds a string that is not UTF-8. */
const NOT_UTF8: unique symbol = Symbol('not UTF-8');

/** The value as JSON can hold it, or NOT_UTF8 when a string in it is not UTF-8. */
function plain(value: unknown): unknown {
  if (typeof value === 'string') return value;
  if (value instanceof NotUtf8) return NOT_UTF8;
  if (typeof value === 'bigint')
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  if (value instanceof Uint8Array) return `(${value.byteLength} bytes of binary data)`;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) {
    const items = value.map(plain);
    return items.includes(NOT_UTF8) ? NOT_UTF8 : items;
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).map(([key, item]) => [key, plain(item)] as const);
    return entries.some(([, item]) => item === NOT_UTF8) ? NOT_UTF8 : Object.fromEntries(entries);
  }
  return value;
}

/** The first string in a row that is not UTF-8, with its path (`messages[2].content`); found only for a row that has one. */
function notUtf8In(value: unknown, path: string): { path: string; bytes: Uint8Array } | undefined {
  if (value instanceof NotUtf8) return { path, bytes: value.bytes };
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = notUtf8In(item, `${path}[${index}]`);
      if (found) return found;
    }
  } else if (value && typeof value === 'object' && !(value instanceof Uint8Array) && !(value instanceof Date)) {
    for (const [key, item] of Object.entries(value)) {
      const found = notUtf8In(item, path ? `${path}.${key}` : key);
      if (found) return found;
    }
  }
  return undefined;
}
