import { parse, type CsvError } from 'csv-parse';
import type { RawRecord, RecordParseFailure } from '../types.ts';
import { UnusableInputError } from './errors.ts';

export interface DelimitedRecords {
  header: string[];
  records: AsyncGenerator<RawRecord | RecordParseFailure>;
}

/**
 * CSV or TSV with a header row, through csv-parse (quoted fields with commas and newlines,
 * doubled quotes, a UTF-8 BOM). Each row becomes header → cell, located at the line its record
 * starts on. A malformed row (e.g. an unclosed quote) is a located failure and reading goes on.
 * Text must be UTF-8: bytes that are not are an unusable input, named with their line.
 */
export async function readDelimited(chunks: AsyncIterable<Uint8Array>, delimiter: ',' | '\t'): Promise<DelimitedRecords> {
  const queue: (RawRecord | RecordParseFailure | { header: string[] })[] = [];
  let lastLine = 0;
  let header: string[] | undefined;
  const parser = parse({
    delimiter,
    bom: true,
    info: true,
    relax_column_count: true,
    skip_empty_lines: false,
    skip_records_with_error: true,
    on_skip: (error: CsvError | undefined) => {
      const line = lastLine + 1;
      const reported = Number((error as { lines?: unknown } | undefined)?.lines);
      lastLine = Number.isFinite(reported) && reported >= line ? reported : line;
      queue.push({ line, code: 'csv_parse_error', message: error?.message ?? 'the record could not be parsed' });
      return undefined;
    },
  });
  parser.on('data', ({ info, record }: { info: { lines: number }; record: string[] }) => {
    const line = lastLine + 1;
    lastLine = info.lines;
    if (!header) {
      header = record.map((name) => name.trim());
      queue.push({ header });
      return;
    }
    queue.push(toRow(record, header, line, delimiter));
  });
  let parseError: Error | undefined;
  parser.on('error', (error) => {
    parseError = error;
  });

  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const source = chunks[Symbol.asyncIterator]();
  let newlinesSeen = 0;
  const feed = async (): Promise<boolean> => {
    const next = await source.next();
    if (next.done) {
      try {
        utf8.decode();
      } catch {
        throw new UnusableInputError(`not UTF-8 text (the file ends inside a character, line ${newlinesSeen + 1})`);
      }
      await new Promise<void>((resolve) => parser.end(resolve));
      return false;
    }
    const chunk = next.value;
    try {
      utf8.decode(chunk, { stream: true });
    } catch {
      throw new UnusableInputError(`not UTF-8 text (near line ${newlinesSeen + 1}); save the file as UTF-8`);
    }
    for (const byte of chunk) if (byte === 0x0a) newlinesSeen += 1;
    await new Promise<void>((resolve, reject) => parser.write(chunk, (error) => (error ? reject(error) : resolve())));
    return true;
  };

  // Read until the header is known, so callers can resolve columns before the first row.
  while (!header) {
    const more = await feed();
    if (parseError) throw new UnusableInputError(`the header could not be read: ${parseError.message}`);
    if (!more && !header) throw new UnusableInputError('the file has no header row');
  }
  const first = queue.shift() as { header: string[] };

  async function* records(): AsyncGenerator<RawRecord | RecordParseFailure> {
    for (;;) {
      while (queue.length > 0) yield queue.shift() as RawRecord | RecordParseFailure;
      if (parseError) throw parseError;
      if (!(await feed())) break;
    }
    while (queue.length > 0) yield queue.shift() as RawRecord | RecordParseFailure;
  }
  return { header: first.header, records: records() };
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
