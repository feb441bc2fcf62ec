import { boundaryOffsets, splitBalanced } from './split-balanced.ts';
import type { TokenCounter } from './types.ts';

/**
 * A text that cannot be over `maxTokens` tokens without being measured: a UTF-16 code unit is at
 * most 3 UTF-8 bytes, and every token covers at least one. Such a text is never counted here.
 */
export function tooShortToSplit(text: string, maxTokens: number): boolean {
  return text.length * 3 <= maxTokens;
}

/**
 * Splits a text longer than `maxTokens` into consecutive pieces, each within the limit, at the
 * most natural boundary available: paragraphs, then sentences, then lines/words, then token
 * boundaries. Every separator stays with the piece before it, so the pieces joined are exactly
 * the original text (Gemini reads consecutive text parts as one text).
 *
 * The seed team's practice: they were told a text part is limited to 8,192 tokens; longer
 * parts are accepted but train worse, so long texts become several parts.
 */
export function splitTextByTokens(text: string, maxTokens: number, tokens: TokenCounter): string[] {
  if (maxTokens < 1) throw new RangeError('maxTokens must be at least 1');
  // Every token covers at least one UTF-8 byte (byte-fallback tokens exactly one), so a text
  // with no more bytes than the limit needs no count at all.
  if (tooShortToSplit(text, maxTokens) || utf8Length(text) <= maxTokens || tokens.count(text) <= maxTokens) return [text];
  // With token ends (the Gemma tokenizer), the fewest, most even parts (split-balanced.ts);
  // a counter without them packs segments greedily, coarsest boundary first.
  if (tokens.tokenEnds) return splitBalanced(text, maxTokens, tokens, tokens.tokenEnds(text), BOUNDARIES);
  return splitAt(text, maxTokens, tokens, 0);
}

// Boundaries from coarse to fine; each regex matches the separator that ends a segment.
const BOUNDARIES: readonly RegExp[] = [
  /\n[ \t]*\n+/g, // paragraphs
  /(?<=[.!?。！？])["')\]»”’]*\s+/g, // sentences
  /\n/g, // lines
  /\s+/g, // words
];

function splitAt(text: string, maxTokens: number, tokens: TokenCounter, level: number): string[] {
  if (level >= BOUNDARIES.length) return splitByTokenBoundary(text, maxTokens, tokens);
  const segments = segmentsOf(text, BOUNDARIES[level]!);
  if (segments.length <= 1) return splitAt(text, maxTokens, tokens, level + 1);

  const pieces: string[] = [];
  let current = '';
  let currentTokens = 0;
  const flush = () => {
    if (current === '') return;
    // The sum of segment counts is an estimate (BPE can merge across a join); confirm exactly.
    if (tokens.count(current) <= maxTokens) pieces.push(current);
    else pieces.push(...splitAt(current, maxTokens, tokens, level + 1));
    current = '';
    currentTokens = 0;
  };
  for (const segment of segments) {
    const segmentTokens = tokens.count(segment);
    if (segmentTokens > maxTokens) {
      flush();
      pieces.push(...splitAt(segment, maxTokens, tokens, level + 1));
      continue;
    }
    if (current !== '' && currentTokens + segmentTokens > maxTokens) flush();
    current += segment;
    currentTokens += segmentTokens;
  }
  flush();
  return pieces;
}

function segmentsOf(text: string, separator: RegExp): string[] {
  const segments: string[] = [];
  let start = 0;
  for (const end of boundaryOffsets(text, separator)) {
    segments.push(text.slice(start, end));
    start = end;
  }
  if (start < text.length) segments.push(text.slice(start));
  return segments;
}

/** Cuts at token boundaries (counters without token ends: a binary search per piece). */
function splitByTokenBoundary(text: string, maxTokens: number, tokens: TokenCounter): string[] {
  return splitBySearch(text, maxTokens, tokens);
}

/** The longest prefix within the limit, found by binary search over code-point boundaries. */
function splitBySearch(text: string, maxTokens: number, tokens: TokenCounter): string[] {
  const pieces: string[] = [];
  let rest = text;
  while (rest !== '') {
    if (tokens.count(rest) <= maxTokens) {
      pieces.push(rest);
      break;
    }
    let low = 1;
    let high = rest.length;
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      if (tokens.count(rest.slice(0, safeCut(rest, mid))) <= maxTokens) low = mid;
      else high = mid - 1;
    }
    const cut = Math.max(safeCut(rest, low), codePointLength(rest));
    pieces.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  return pieces;
}

// Never cut between the two halves of a surrogate pair.
function safeCut(text: string, index: number): number {
  const code = text.charCodeAt(index - 1);
  return code >= 0xd800 && code <= 0xdbff && index < text.length ? index - 1 : index;
}

function codePointLength(text: string): number {
  const code = text.charCodeAt(0);
  return code >= 0xd800 && code <= 0xdbff && text.length > 1 ? 2 : 1;
}

/** UTF-8 byte length without allocating: pure and cheap. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
