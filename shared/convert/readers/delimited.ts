import { isUtf8 } from 'node:buffer';
import { parse, type CsvError } from 'csv-parse/sync';
import type { RawRecord, RecordParseFailure } from '../types.ts';
import { plainRecordCells } from './delimited-cells.ts';
import { frameDelimitedRecords, type FramedRecord } from './delimited-framing.ts';
import { DEFAULT_MAX_RECORD_BYTES, UnusableInputError } from './errors.ts';

export interface DelimitedRecords {
  header: string[];
  records: AsyncGenerator<RawRecord | RecordParseFailure>;
}

/**
 * Records read per batch. Small, because what a batch holds survives young-generation garbage
 * collections, which copy it: 500 cost 4-5 % of the tokenless conversion (bench/convert.ts). The
 * few records csv-parse reads (those not plain, delimited-cells.ts) still take one call per
 * batch: a call per record costs about 6× as much.
 */
const BATCH_RECORDS = 64;
const BATCH_CHARACTERS = 1024 * 1024;

/**
 * CSV or TSV with a header row. Records are framed first (delimited-framing.ts: where each begins
 * and ends, the per-record byte limit, unclosed quotes named at the line they opened), then their
 * fields are parsed by csv-parse (quoted fields with delimiters and newlines, doubled quotes), a
 * batch at a time; a batch with a malformed record is parsed again record by record, so the error
 * is that record's alone. Each row becomes header → cell, located at the line its record starts on.
 * Text must be UTF-8: bytes that are not are an unusable input, named with their line.
 */
export async function readDelimited(
  chunks: AsyncIterable<Uint8Array>,
  delimiter: ',' | '\t',
  options: { maxRecordBytes?: number } = {},
): Promise<DelimitedRecords> {
  const framed = frameDelimitedRecords(utf8Checked(chunks), {
    delimiter: delimiter.charCodeAt(0),
    maxRecordBytes: options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
  });
  const first = await framed.next();
  if (first.done) throw new UnusableInputError('the file has no header row');
  if ('code' in first.value) throw new UnusableInputError(`the header could not be read: ${first.value.message}`);
  const [parsedHeader] = parseBatch([first.value], delimiter);
  if (!parsedHeader || 'code' in parsedHeader)
    throw new UnusableInputError(`the header could not be read: ${parsedHeader?.message ?? 'it is empty'}`);
  const header = parsedHeader.cells.map((name) => name.trim());

  async function* records(): AsyncGenerator<RawRecord | RecordParseFailure> {
    let batch: (FramedRecord | RecordParseFailure)[] = [];
    let batchCharacters = 0;
    const flush = function* () {
      const parsed = parseBatch(
        batch.filter((item): item is FramedRecord => 'text' in item),
        delimiter,
      );
      let next = 0;
      for (const item of batch) {
        if ('code' in item) {
          yield item;
          continue;
        }
        const row = parsed[next++]!;
        yield 'code' in row ? row : toRow(row.cells, header, row.line, delimiter);
      }
      batch = [];
      batchCharacters = 0;
    };
    for await (const item of framed) {
      batch.push(item);
      batchCharacters += 'text' in item ? item.text.length : 0;
      if (batch.length >= BATCH_RECORDS || batchCharacters >= BATCH_CHARACTERS) yield* flush();
    }
    yield* flush();
  }
  return { header, records: records() };
}

type ParsedRow = { line: number; cells: string[] } | RecordParseFailure;

/**
 * Each framed record's cells, in order: plain records split directly (delimited-cells.ts), the
 * rest by one csv-parse call for them all, or one per record when any is malformed.
 */
function parseBatch(framed: FramedRecord[], delimiter: string): ParsedRow[] {
  if (framed.length === 0) return [];
  const texts = framed.map((record) => record.text);
  const rows: (ParsedRow | undefined)[] = texts.map((text, index) => {
    const cells = plainRecordCells(text, delimiter);
    return cells ? { line: framed[index]!.line, cells } : undefined;
  });
  const others = rows.flatMap((row, index) => (row ? [] : [index]));
  if (others.length === 0) return rows as ParsedRow[];
  const together = parseText(others.map((index) => texts[index]).join('\n'), delimiter);
  others.forEach((index, k) => {
    const line = framed[index]!.line;
    if (together.ok && together.rows.length === others.length) {
      rows[index] = { line, cells: together.rows[k]! };
      return;
    }
    const alone = parseText(texts[index]!, delimiter);
    if (alone.ok && alone.rows.length === 1) rows[index] = { line, cells: alone.rows[0]! };
    else rows[index] = { line, code: 'csv_parse_error', message: alone.ok ? 'the record could not be parsed' : alone.message };
  });
  return rows as ParsedRow[];
}

function parseText(text: string, delimiter: string): { ok: true; rows: string[][] } | { ok: false; message: string } {
  let failure: string | null = null;
  const rows = parse(text, {
    delimiter,
    record_delimiter: '\n',
    relax_column_count: true,
    skip_empty_lines: false,
    skip_records_with_error: true,
    on_skip: (error: CsvError | undefined) => {
      // csv-parse counts lines within the text it was given: the caller says which line of the file.
      failure ??= (error?.message ?? 'the record could not be parsed').replace(/\s*at line \d+/, '');
      return undefined;
    },
  }) as string[][];
  return failure === null ? { ok: true, rows } : { ok: false, message: failure };
}

/**
 * The bytes, passed on unchanged once known to be UTF-8; the first that are not end the read with
 * their line. Checked without decoding (buffer.isUtf8): a character cut by a chunk's end is
 * carried over and checked with the next chunk.
 */
async function* utf8Checked(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let newlinesSeen = 0;
  let carried: Uint8Array = new Uint8Array(0);
  for await (const chunk of chunks) {
    let bytes = chunk;
    if (carried.length > 0) {
      // The character the last chunk cut, checked alone: not the whole chunk copied behind it.
      const missing = sequenceLength(carried[0]!) - carried.length;
      const character = Buffer.concat([carried, chunk.subarray(0, missing)]);
      const cutAgain = chunk.length < missing && chunk.every(isContinuation);
      if (!cutAgain && !isUtf8(character)) throw notUtf8(newlinesSeen);
      if (cutAgain) {
        carried = character;
        yield chunk;
        continue;
      }
      bytes = chunk.subarray(missing);
    }
    const whole = wholeCharactersEnd(bytes);
    if (!isUtf8(bytes.subarray(0, whole))) throw notUtf8(newlinesSeen);
    carried = bytes.slice(whole);
    for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, at + 1)) newlinesSeen += 1;
    yield chunk;
  }
  if (carried.length > 0) throw new UnusableInputError(`not UTF-8 text (the file ends inside a character, line ${newlinesSeen + 1})`);
}

/**
 * Where the last whole character of `bytes` ends: before a lead byte at most 3 from the end whose
 * sequence the bytes do not finish. Anything else (a stray byte) is left for isUtf8 to refuse.
 */
function wholeCharactersEnd(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back]!;
    if (isContinuation(byte)) continue;
    return sequenceLength(byte) > back ? bytes.length - back : bytes.length;
  }
  return bytes.length;
}

function notUtf8(newlinesSeen: number): UnusableInputError {
  return new UnusableInputError(`not UTF-8 text (near line ${newlinesSeen + 1}); save the file as UTF-8`);
}

function isContinuation(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

/** How many bytes the UTF-8 sequence a lead byte begins has (a stray byte: 1, for isUtf8 to refuse). */
function sequenceLength(lead: number): number {
  return lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
}

function toRow(cells: string[], header: string[], line: number, delimiter: string): RawRecord | RecordParseFailure {
  if (cells.length > header.length && cells.slice(header.length).some((cell) => cell.trim() !== '')) {
    const separator = delimiter === '\t' ? 'tab' : 'comma';
    return {
      line,
      code: 'csv_parse_error',
      message: `the row has ${cells.length} fields but the header has ${header.length} (an unquoted ${separator} in a field?)`,
    };
  }
  const row: Record<string, string> = {};
  header.forEach((name, index) => {
    row[name] = cells[index] ?? '';
  });
  return { line, value: row };
}
