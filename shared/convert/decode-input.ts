import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { UnusableInputError } from './readers/errors.ts';

/**
 * Inputs that are text once decoded: gzip (RFC 1952, `1f 8b`; `.jsonl.gz`, `.csv.gz` as data
 * teams and Hugging Face exports keep them) is decompressed as it streams, and UTF-16 (a byte-
 * order mark, or one NUL byte in nearly every pair of ASCII-range text: what Excel's "Unicode
 * Text" and PowerShell write) is re-encoded as UTF-8, so every reader sees UTF-8 bytes. Nothing
 * is held whole; the per-record limit still bounds what a record may take.
 */
export type InputEncoding = 'gzip' | 'utf-16le' | 'utf-16be';

export function inputEncoding(head: Uint8Array): InputEncoding | null {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0xff && head[1] === 0xfe) return 'utf-16le';
  if (head[0] === 0xfe && head[1] === 0xff) return 'utf-16be';
  const pairs = Math.floor(Math.min(head.length, 512) / 2);
  if (pairs < 4) return null;
  let evenNul = 0;
  let oddNul = 0;
  for (let i = 0; i < pairs; i++) {
    if (head[2 * i] === 0) evenNul += 1;
    if (head[2 * i + 1] === 0) oddNul += 1;
  }
  if (Math.min(evenNul, oddNul) >= pairs * 0.1) return null;
  if (oddNul > pairs * 0.6) return 'utf-16le'; // 'A' is 41 00
  if (evenNul > pairs * 0.6) return 'utf-16be'; // 'A' is 00 41
  return null;
}

/** The input decoded to UTF-8 bytes, and the name its format is told by (`data.csv.gz` → `data.csv`). */
export function decodeInput(
  input: AsyncIterable<Uint8Array>,
  encoding: InputEncoding,
  fileName: string,
): { stream: AsyncIterable<Uint8Array>; fileName: string } {
  if (encoding === 'gzip') {
    const gunzip = Readable.from(input, { objectMode: false }).pipe(createGunzip());
    return { stream: namingFailures(gunzip as AsyncIterable<Uint8Array>, 'gzip data'), fileName: fileName.replace(/\.gz$/i, '') };
  }
  return { stream: namingFailures(utf16ToUtf8(input, encoding), `${encoding.toUpperCase()} text`), fileName };
}

/** A decoding failure anywhere in the file (a truncated gzip, an unpaired UTF-16 surrogate) names the file's encoding. */
async function* namingFailures(stream: AsyncIterable<Uint8Array>, what: string): AsyncGenerator<Uint8Array> {
  let bytes = 0;
  try {
    for await (const chunk of stream) {
      bytes += chunk.length;
      yield chunk;
    }
  } catch (error) {
    if (error instanceof UnusableInputError) throw error;
    throw new UnusableInputError(
      `the file is ${what} that breaks off after ${bytes} decoded bytes (${error instanceof Error ? error.message : String(error)}): nothing after that could be read`,
    );
  }
}

/**
 * UTF-16 re-encoded as UTF-8, chunk by chunk. A surrogate without its other half (a cell cut
 * inside an emoji, say) cannot be UTF-8: it is written as the three bytes UTF-8 would give it
 * (ED A0-BF xx, which no UTF-8 decoder accepts), so the reader refuses the one record that holds
 * it, at its line, and reads the rest. A last odd byte (the file ends inside a code unit) becomes
 * 0xFF, refused the same way.
 */
async function* utf16ToUtf8(input: AsyncIterable<Uint8Array>, encoding: 'utf-16le' | 'utf-16be'): AsyncGenerator<Uint8Array> {
  let odd: number | null = null;
  let high = ''; // a high surrogate that ended the last chunk, for its pair in the next one
  let first = true;
  for await (const chunk of input) {
    if (chunk.length === 0) continue;
    const bytes = Buffer.allocUnsafe(chunk.length + (odd === null ? 0 : 1));
    if (odd !== null) bytes[0] = odd;
    bytes.set(chunk, odd === null ? 0 : 1);
    const even = bytes.length - (bytes.length % 2);
    odd = even < bytes.length ? bytes[even]! : null;
    const units = bytes.subarray(0, even);
    if (encoding === 'utf-16be') units.swap16();
    let text = high + units.toString('utf16le');
    high = '';
    if (first && text.length > 0) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const last = text.charCodeAt(text.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      high = text.slice(-1);
      text = text.slice(0, -1);
    }
    if (text) yield toUtf8(text);
  }
  const rest = high ? toUtf8(high) : null;
  if (rest) yield rest;
  if (odd !== null) yield Uint8Array.of(0xff);
}

/** UTF-8 of text, an unpaired surrogate as its three bytes (Buffer.from would make it U+FFFD and hide it). */
function toUtf8(text: string): Uint8Array {
  if (text.isWellFormed()) return Buffer.from(text, 'utf8');
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const match of text.matchAll(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g)) {
    pieces.push(Buffer.from(text.slice(from, match.index), 'utf8'));
    const unit = match[0].charCodeAt(0);
    pieces.push(Uint8Array.of(0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)));
    from = match.index + 1;
  }
  pieces.push(Buffer.from(text.slice(from), 'utf8'));
  return Buffer.concat(pieces);
}
