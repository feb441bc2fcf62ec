import type { RawRecord, RecordParseFailure } from '../types.ts';
import { DEFAULT_MAX_RECORD_BYTES, UnusableInputError } from './errors.ts';
import { invalidUtf8Detail } from './invalid-utf8.ts';
import { concat } from './jsonl.ts';

const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;

/**
 * The items of a top-level JSON array, streamed: a whole-file `JSON.parse` would need memory
 * in proportion to the file. A byte scanner finds each item's extent (tracking strings and
 * nesting), then each item alone is parsed. `line` is the physical line the item starts on and
 * `item` its 1-based index (a minified array has every item on line 1: issue paths then begin
 * with the item's place, `[2].contents…`); a JSON error is placed
 * at its line and column in the file.
 */
export async function* readJsonArray(
  chunks: AsyncIterable<Uint8Array>,
  options: { maxRecordBytes?: number } = {},
): AsyncGenerator<RawRecord | RecordParseFailure> {
  const maxBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let started = false;
  let ended = false;
  let depth = 0; // nesting inside the current item
  let inString = false;
  let escaped = false;
  let item: Uint8Array[] = [];
  let itemBytes = 0;
  let overflowing = false;
  let index = 0;
  let itemOpen = false;
  // Where the scan is in the file, and where the current item began (1-based; column in bytes).
  let fileLine = 1;
  let fileColumn = 0;
  let itemLine = 1;
  let itemColumn = 1;

  const finishItem = (): RawRecord | RecordParseFailure | undefined => {
    if (!itemOpen) return undefined;
    itemOpen = false;
    index += 1;
    const at = { line: itemLine, item: index };
    if (overflowing) {
      overflowing = false;
      return {
        ...at,
        code: 'record_too_large',
        message: `the item at [${index - 1}] is over the per-record limit of ${maxBytes} bytes and was not read (MAX_RECORD_BYTES, or --max-record-bytes, raises it)`,
      };
    }
    const bytes = concat(item, itemBytes);
    item = [];
    itemBytes = 0;
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      const detail = invalidUtf8Detail(bytes);
      return {
        ...at,
        code: 'invalid_utf8',
        message: `the item at [${index - 1}] is not valid UTF-8 text${detail}; save the file as UTF-8`,
      };
    }
    try {
      return { ...at, value: JSON.parse(text) };
    } catch (error) {
      return {
        ...at,
        code: 'invalid_json',
        message: `the item at [${index - 1}] is not valid JSON: ${placeInFile(error instanceof Error ? error.message : String(error), itemLine, itemColumn)}`,
      };
    }
  };

  for await (const chunk of chunks) {
    // An item that started in an earlier chunk goes on from this chunk's first byte.
    let itemStart = itemOpen ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (byte === 0x0a) {
        fileLine += 1;
        fileColumn = 0;
      } else {
        fileColumn += 1;
      }
      if (ended) {
        if (!isSpace(byte)) throw new UnusableInputError('data after the end of the top-level JSON array');
        continue;
      }
      if (!started) {
        if (isSpace(byte) || byte === 0xef || byte === 0xbb || byte === 0xbf) continue; // whitespace, BOM
        if (byte !== OPEN_BRACKET) throw new UnusableInputError('a .json file must hold an array of examples');
        started = true;
        continue;
      }
      if (inString) {
        if (escaped) escaped = false;
        else if (byte === BACKSLASH) escaped = true;
        else if (byte === QUOTE) inString = false;
        continue;
      }
      if (depth === 0 && (byte === COMMA || byte === CLOSE_BRACKET)) {
        if (itemStart >= 0) appendItem(chunk.subarray(itemStart, i));
        itemStart = -1;
        const record = finishItem();
        if (record) yield record;
        if (byte === CLOSE_BRACKET) ended = true;
        continue;
      }
      if (depth === 0 && isSpace(byte)) continue;
      if (!itemOpen) {
        itemOpen = true;
        itemStart = i;
        itemLine = fileLine;
        itemColumn = fileColumn;
      }
      if (byte === QUOTE) inString = true;
      else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth += 1;
      else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) depth = Math.max(0, depth - 1);
    }
    if (itemStart >= 0) appendItem(chunk.subarray(itemStart));
  }
  if (!started) return;
  if (!ended) {
    if (itemOpen) {
      index += 1;
      yield {
        line: itemLine,
        item: index,
        code: 'invalid_json',
        message: `the file ends inside the item at [${index - 1}] (from line ${itemLine}): the JSON array is truncated, or a brace or quote in it never closes; the ${index - 1} item(s) before it were read, and anything after it was taken as part of it`,
      };
    }
    return;
  }

  function appendItem(bytes: Uint8Array) {
    if (overflowing) return;
    if (itemBytes + bytes.length > maxBytes) {
      overflowing = true;
      item = [];
      itemBytes = 0;
      return;
    }
    item.push(bytes.slice());
    itemBytes += bytes.length;
  }
}

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * JSON.parse places an error within the item's own text ("… in JSON at position 21 (line 1
 * column 22)"); the user needs it in the file: the item's first line is at `line`, `column`.
 */
export function placeInFile(message: string, line: number, column: number): string {
  return message.replace(/\s*\(line (\d+) column (\d+)\)/, (_, itemLine: string, itemColumn: string) => {
    const atLine = line + Number(itemLine) - 1;
    const atColumn = Number(itemLine) === 1 ? column + Number(itemColumn) - 1 : Number(itemColumn);
    return ` (line ${atLine}, column ${atColumn} of the file)`;
  });
}
