import type { RecordParseFailure } from '../types.ts';
import { describeInvalidUtf8, firstInvalidUtf8 } from './invalid-utf8.ts';
import { concat } from './jsonl.ts';

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
// Each record is decoded alone, so a byte order mark that starts one is dropped, as ever. Fatal:
// bytes that are not UTF-8 cost their record, not the file (a fatal decode costs what a lenient one does).
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** One CSV/TSV record's text (no line break), and the line it starts on. */
export interface FramedRecord {
  line: number;
  text: string;
}

/** A record that could not be framed or decoded; `field`: the 0-based field the failure is in, when known. */
export interface FramingFailure extends RecordParseFailure {
  field?: number;
}

/**
 * Finds where each CSV/TSV record begins and ends, before any field is parsed, with the quoting
 * rules csv-parse applies (RFC 4180: a quote opens a field only at its start; inside, `""` is a
 * quote, and a quote followed by anything else closes the field). Framing first is what keeps a
 * broken record from taking others with it, and memory bounded:
 * - a record over `maxRecordBytes` is skipped to its end, never held whole, and reported;
 * - a quote that never closes is reported at the line where it opened; when what it swallowed
 *   was held (under the limit), the lines after that line are framed again as records of their
 *   own, so one stray quote costs one record, not the rest of the file;
 * - a record whose quotes are malformed in another way (`"abc"d`) ends at its own line break.
 * Line breaks are LF, CRLF or a lone CR; line numbers are 1-based, counted in the file.
 */
export async function* frameDelimitedRecords(
  chunks: AsyncIterable<Uint8Array>,
  options: { delimiter: number; maxRecordBytes: number },
): AsyncGenerator<FramedRecord | FramingFailure> {
  const framer = new DelimitedFramer(options.delimiter, options.maxRecordBytes);
  let first = true;
  for await (const chunk of chunks) {
    // A UTF-8 byte order mark is not part of the first field.
    const body = first && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf ? chunk.subarray(3) : chunk;
    first = false;
    yield* framer.feed(body);
  }
  yield* framer.end();
}

class DelimitedFramer {
  private line = 1;
  private recordLine = 1;
  private parts: Uint8Array[] = [];
  private held = 0;
  private overflowing = false;
  private inQuotes = false;
  private quotePending = false;
  private fieldStart = true;
  private crPending = false;
  /** The previous byte was a CR: an LF now ends the same line break. */
  private afterCr = false;
  private quoteLine = 0;
  /** Where the open quote's line ends, within the held record: the place to frame again from. */
  private quoteLineEnd: number | null = null;

  private readonly delimiter: number;
  private readonly maxBytes: number;

  constructor(delimiter: number, maxBytes: number) {
    this.delimiter = delimiter;
    this.maxBytes = maxBytes;
  }

  *feed(chunk: Uint8Array): Generator<FramedRecord | FramingFailure> {
    // Bytes that change nothing are skipped in tight loops over locals; only the few that can
    // (quotes, line breaks, delimiters) reach the state below (a 100 MB CSV's framing: 533 ms
    // with a step per byte through it, about 200 ms so).
    const delimiter = this.delimiter;
    const length = chunk.length;
    let segment = 0;
    let i = 0;
    while (i < length) {
      if (this.crPending) {
        this.crPending = false;
        if (chunk[i] !== LF) {
          // A lone CR ended the record (old Mac line breaks); this byte begins the next one.
          const record = this.endRecord(chunk, segment, i);
          segment = i;
          this.line += 1;
          this.recordLine = this.line;
          if (record) yield record;
        }
      }
      if (this.quotePending) {
        this.quotePending = false;
        if (chunk[i] === QUOTE) {
          i += 1; // `""`: a quote inside the field
          continue;
        }
        this.inQuotes = false;
      }
      const from = i;
      let byte = 0;
      if (this.inQuotes) {
        while (i < length && (byte = chunk[i]!) !== QUOTE && byte !== LF && byte !== CR) i += 1;
        if (i > from) this.afterCr = false;
        if (i === length) break;
        if (byte === QUOTE) this.quotePending = true;
        else if (byte === CR || !this.afterCr) this.lineBreakInQuotes(i - segment);
        this.afterCr = byte === CR;
        i += 1;
        continue;
      }
      while (i < length && (byte = chunk[i]!) !== QUOTE && byte !== LF && byte !== CR && byte !== delimiter) i += 1;
      if (i > from) {
        this.afterCr = false;
        this.fieldStart = false;
      }
      if (i === length) break;
      this.afterCr = byte === CR;
      if (byte === QUOTE && this.fieldStart) {
        this.inQuotes = true;
        this.quoteLine = this.line;
        this.quoteLineEnd = null;
        this.fieldStart = false;
      } else if (byte === delimiter) {
        this.fieldStart = true;
      } else if (byte === LF) {
        const record = this.endRecord(chunk, segment, i);
        segment = i + 1;
        this.line += 1;
        this.recordLine = this.line;
        if (record) yield record;
      } else if (byte === CR) {
        this.crPending = true;
      } else {
        this.fieldStart = false; // a quote inside an unquoted field: a character of it
      }
      i += 1;
    }
    this.hold(chunk.subarray(segment));
  }

  *end(): Generator<FramedRecord | FramingFailure> {
    this.crPending = false;
    if (this.inQuotes && !this.quotePending) {
      yield* this.unclosedQuote();
      return;
    }
    this.inQuotes = false;
    this.quotePending = false;
    if (this.held > 0 || this.overflowing) {
      const record = this.endRecord(new Uint8Array(0), 0, 0);
      if (record) yield record;
    }
  }

  private lineBreakInQuotes(offsetInSegment: number): void {
    if (this.quoteLineEnd === null && this.line === this.quoteLine && !this.overflowing)
      this.quoteLineEnd = this.held + offsetInSegment + 1;
    this.line += 1;
  }

  private hold(bytes: Uint8Array): void {
    if (this.overflowing || bytes.length === 0) return;
    if (this.held + bytes.length > this.maxBytes) {
      this.overflowing = true;
      this.parts = [];
      this.held = 0;
      return;
    }
    // Copied: the caller's chunk buffer may be reused once this generator yields.
    this.parts.push(bytes.slice());
    this.held += bytes.length;
  }

  /** The record from the held bytes and `chunk[segment, end)`, its trailing CR dropped; the state reset for the next one. */
  private endRecord(chunk: Uint8Array, segment: number, end: number): FramedRecord | FramingFailure | null {
    let bytes: Uint8Array;
    if (this.parts.length === 0 && !this.overflowing) {
      // A record within one chunk (nearly all) is decoded where it lies, never copied.
      bytes = chunk.subarray(segment, end);
      if (bytes.length > this.maxBytes) this.overflowing = true;
    } else {
      this.hold(chunk.subarray(segment, end));
      bytes = this.overflowing ? new Uint8Array(0) : this.parts.length === 1 ? this.parts[0]! : concat(this.parts, this.held);
    }
    const line = this.recordLine;
    const overflowed = this.overflowing;
    this.parts = [];
    this.held = 0;
    this.overflowing = false;
    this.fieldStart = true;
    this.quoteLineEnd = null;
    if (overflowed) {
      const span = this.line > line ? `lines ${line}–${this.line}` : `line ${line}`;
      return {
        line,
        code: 'record_too_large',
        message: `the record on ${span} is over the per-record limit of ${this.maxBytes} bytes and was not read (MAX_RECORD_BYTES, or --max-record-bytes, raises it)`,
      };
    }
    const body = bytes.at(-1) === CR ? bytes.subarray(0, -1) : bytes;
    try {
      return { line, text: utf8.decode(body) };
    } catch {
      return this.notUtf8(body, line);
    }
  }

  /** The record's bytes are not UTF-8: the failure names the byte, the line it is on and its field. */
  private notUtf8(bytes: Uint8Array, line: number): FramingFailure {
    const offset = firstInvalidUtf8(bytes);
    // Fields and lines before the bad byte, by the same quoting rules as the framing above.
    let field = 0;
    let fieldFrom = 0;
    let byteLine = line;
    let inQuotes = false;
    let fieldStart = true;
    for (let i = 0; i < offset; i++) {
      const byte = bytes[i]!;
      if (byte === LF || (byte === CR && bytes[i + 1] !== LF)) byteLine += 1;
      if (inQuotes) {
        if (byte === QUOTE) {
          if (bytes[i + 1] === QUOTE) i += 1;
          else inQuotes = false;
        }
      } else if (byte === this.delimiter) {
        field += 1;
        fieldFrom = i + 1;
        fieldStart = true;
        continue;
      } else if (byte === QUOTE && fieldStart) {
        inQuotes = true;
      }
      fieldStart = false;
    }
    const where = byteLine === line ? '' : ` (on line ${byteLine})`;
    const detail = offset === -1 ? '' : `: ${describeInvalidUtf8(bytes, offset, fieldFrom)}${where}`;
    return {
      line,
      code: 'invalid_utf8',
      message: `the record is not valid UTF-8 text${detail}; save the file as UTF-8 (in Excel: Save As, CSV UTF-8)`,
      field,
    };
  }

  /** The file ended inside a quoted field. */
  private *unclosedQuote(): Generator<FramedRecord | FramingFailure> {
    const line = this.recordLine;
    const opened = this.quoteLine;
    const lastLine = this.line;
    const held = this.overflowing ? null : concat(this.parts, this.held);
    // A CRLF that ends the quote's line is one break: frame again after its LF.
    const restart =
      this.quoteLineEnd !== null && held !== null && held[this.quoteLineEnd] === LF && held[this.quoteLineEnd - 1] === CR
        ? this.quoteLineEnd + 1
        : this.quoteLineEnd;
    this.parts = [];
    this.held = 0;
    this.overflowing = false;
    this.inQuotes = false;
    this.fieldStart = true;
    this.quoteLineEnd = null;
    if (held === null || restart === null) {
      const unread = opened === lastLine ? `line ${opened}` : `lines ${opened}–${lastLine}`;
      yield {
        line,
        code: 'unclosed_quote',
        message: `a quote opened on line ${opened} never closes: the file ends inside it, and ${unread} could not be read as records; close or remove that quote`,
      };
      return;
    }
    yield {
      line,
      code: 'unclosed_quote',
      message: `a quote opened on line ${opened} never closes (the file ends inside it): the record is skipped, and the lines after line ${opened} are read as records of their own`,
    };
    // Frame again what the quote swallowed, from the line after it opened.
    this.line = opened + 1;
    this.recordLine = this.line;
    this.crPending = false;
    this.afterCr = false;
    yield* this.feed(held.subarray(restart));
    yield* this.end();
  }
}
