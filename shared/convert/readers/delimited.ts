import { parse, type CsvError } from 'csv-parse/sync';
import type { RawRecord, RecordParseFailure } from '../types.ts';
import { plainRecordCells } from './delimited-cells.ts';
import { frameDelimitedRecords, type FramedRecord, type FramingFailure } from './delimited-framing.ts';
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
 * Text must be UTF-8: a record that is not is reported with the line and column of its first
 * bad byte, and the records around it are read (a header that is not makes the file unusable).
 */
export async function readDelimited(
  chunks: AsyncIterable<Uint8Array>,
  delimiter: ',' | '\t',
  options: { maxRecordBytes?: number } = {},
): Promise<DelimitedRecords> {
  const framed = frameDelimitedRecords(chunks, {
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
    let batch: (FramedRecord | FramingFailure)[] = [];
    let batchCharacters = 0;
    const flush = function* () {
      const parsed = parseBatch(
        batch.filter((item): item is FramedRecord => 'text' in item),
        delimiter,
      );
      let next = 0;
      for (const item of batch) {
        if ('code' in item) {
          yield located(item, header);
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

/** A framing failure with its field named by the header, as every other CSV problem is. */
function located(failure: FramingFailure, header: string[]): RecordParseFailure {
  const { field, ...rest } = failure;
  if (field === undefined) return rest;
  return { ...rest, path: header[field] || `column ${field + 1}` };
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
