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

async function* utf16ToUtf8(input: AsyncIterable<Uint8Array>, encoding: 'utf-16le' | 'utf-16be'): AsyncGenerator<Uint8Array> {
  // TextDecoder drops the byte-order mark and carries a pair split across chunks to the next one.
  const decoder = new TextDecoder(encoding, { fatal: true });
  const encoder = new TextEncoder();
  for await (const chunk of input) {
    const text = decoder.decode(chunk, { stream: true });
    if (text) yield encoder.encode(text);
  }
  const rest = decoder.decode();
  if (rest) yield encoder.encode(rest);
}
