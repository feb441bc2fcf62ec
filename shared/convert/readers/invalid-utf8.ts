// Where bytes stop being UTF-8, and how to say so. Only ever called on bytes a fatal decoder
// refused, so its cost does not matter; what matters is a message a user can act on.

/**
 * The first ill-formed sequence in `bytes`, by Unicode's table of well-formed UTF-8 (The Unicode
 * Standard, table 3-7: no overlong forms, no surrogates, nothing over U+10FFFF), which is what
 * the WHATWG decoder refuses. -1 when the bytes are UTF-8.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let at = 0;
  while (at < bytes.length) {
    const expected = sequence(bytes[at]!);
    if (expected.length === 1) {
      at += 1;
      continue;
    }
    const wellFormed =
      expected.length > 1 &&
      at + expected.length <= bytes.length &&
      bytes[at + 1]! >= expected.low &&
      bytes[at + 1]! <= expected.high &&
      bytes.subarray(at + 2, at + expected.length).every(isContinuation);
    if (!wellFormed) return at;
    at += expected.length;
  }
  return -1;
}

/** The length of the sequence a lead byte begins (0: no sequence may begin with it), and its second byte's range. */
function sequence(lead: number): { length: number; low: number; high: number } {
  if (lead < 0x80) return { length: 1, low: 0, high: 0 };
  if (lead >= 0xc2 && lead <= 0xdf) return { length: 2, low: 0x80, high: 0xbf };
  if (lead === 0xe0) return { length: 3, low: 0xa0, high: 0xbf };
  if (lead === 0xed) return { length: 3, low: 0x80, high: 0x9f };
  if (lead >= 0xe1 && lead <= 0xef) return { length: 3, low: 0x80, high: 0xbf };
  if (lead === 0xf0) return { length: 4, low: 0x90, high: 0xbf };
  if (lead >= 0xf1 && lead <= 0xf3) return { length: 4, low: 0x80, high: 0xbf };
  if (lead === 0xf4) return { length: 4, low: 0x80, high: 0x8f };
  return { length: 0, low: 0, high: 0 };
}

function isContinuation(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

/**
 * The bad bytes at `offset` and the text before them, from `contextFrom` at most:
 * `byte 0xE9 after "caf"`, or `a character cut short (0xF0 0x9F) after "ok"` at an input's end.
 */
export function describeInvalidUtf8(bytes: Uint8Array, offset: number, contextFrom = 0): string {
  const rest = bytes.subarray(offset);
  const cutShort = sequence(rest[0]!).length > rest.length && rest.subarray(1).every(isContinuation);
  const hex = (byte: number) => `0x${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  const what = cutShort
    ? `a character cut short (${Array.from(rest, hex).join(' ')})`
    : isEncodedSurrogate(rest)
      ? `a UTF-16 surrogate without its pair (U+${(((rest[0]! & 0x0f) << 12) | ((rest[1]! & 0x3f) << 6) | (rest[2]! & 0x3f)).toString(16).toUpperCase()}; an emoji cut in half?)`
      : `byte ${hex(bytes[offset]!)}`;
  const before = new TextDecoder().decode(bytes.subarray(Math.max(contextFrom, offset - 24), offset)).replace(/^\uFFFD+/, '');
  return `${what} ${before === '' ? 'at its start' : `after ${JSON.stringify(before)}`}`;
}

/** `: byte 0xE9 after "caf"`, the detail a record's refusal ends with; '' if the bytes are UTF-8 after all. */
export function invalidUtf8Detail(bytes: Uint8Array): string {
  const offset = firstInvalidUtf8(bytes);
  return offset === -1 ? '' : `: ${describeInvalidUtf8(bytes, offset)}`;
}

/** ED A0-BF xx: a surrogate encoded as if it were a character (CESU-8, or a UTF-16 file's unpaired half). */
function isEncodedSurrogate(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xed && bytes[1]! >= 0xa0 && bytes[1]! <= 0xbf && isContinuation(bytes[2]!);
}
