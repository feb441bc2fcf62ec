import type { TokenCounter } from './types.ts';

/**
 * Splits `text` into the fewest parts of at most `maxTokens` tokens, as even as they can be,
 * each cut at the most natural boundary the budget allows. With `ends` (where each token ends),
 * the text needs `n = ceil(tokens / maxTokens)` parts; part k aims at an equal share of what is
 * left, and ends between a little short of that aim (never so short that the parts left could
 * not hold the rest) and `maxTokens`. Within that window the coarsest boundary level that has one
 * wins (paragraph, then sentence, line, word), nearest the aim; with none, a token boundary at the
 * aim. So 8,343 tokens in paragraphs of 600 at a limit of 1,000 make 9 parts of about 930 tokens
 * ending at sentences, where packing whole paragraphs made 14. A natural cut short of the aim can
 * cost one part more than the count alone needs, when the parts are at the limit already.
 *
 * Each part's count is confirmed alone (BPE can tokenize a cut differently) and backed off if
 * over; the parts joined are exactly the text. Time: one scan per boundary level, then a binary
 * search per part.
 */
/** How far short of its aim a part may end to cut at a natural boundary, as a share of the limit. */
const SLACK = 0.15;

export function splitBalanced(
  text: string,
  maxTokens: number,
  tokens: TokenCounter,
  ends: ArrayLike<number>,
  boundaries: readonly RegExp[],
): string[] {
  const total = ends.length;
  const levels = boundaries.map((separator) => boundaryOffsets(text, separator));
  let parts = Math.ceil(total / maxTokens);
  const pieces: string[] = [];
  let start = 0;
  let startToken = 0;
  for (let k = 0; start < text.length; k++) {
    const remaining = total - startToken;
    if (remaining <= maxTokens) {
      const rest = text.slice(start);
      if (tokens.count(rest) <= maxTokens) {
        pieces.push(rest);
        break;
      }
    }
    const partsLeft = Math.max(2, parts - k);
    const aim = startToken + Math.round(remaining / partsLeft);
    const highest = startToken + Math.min(maxTokens, remaining);
    let lowest = Math.max(startToken + 1, total - (partsLeft - 1) * maxTokens);
    if (lowest > highest) {
      // An earlier cut backed off: one more part than planned keeps every part within the limit.
      parts += 1;
      lowest = startToken + 1;
    }
    // A natural boundary may fall a little short of the aim (the parts after share the rest) or anywhere up to the limit.
    const nearest = Math.max(lowest, aim - Math.ceil(maxTokens * SLACK));
    let cut = naturalCut(levels, ends, start, nearest, highest, aim);
    if (cut === null) cut = ends[clamp(aim, lowest, highest) - 1]!;
    // Confirm the piece alone; back off a little at a time while it is over.
    let cutToken = tokensUpTo(ends, cut);
    while (cutToken - startToken > 1 && tokens.count(text.slice(start, cut)) > maxTokens) {
      cutToken -= Math.max(1, (cutToken - startToken) >> 5);
      cut = ends[cutToken - 1]!;
    }
    if (cut <= start) cut = ends[startToken] ?? text.length;
    pieces.push(text.slice(start, cut));
    start = cut;
    startToken = tokensUpTo(ends, cut);
  }
  return pieces;
}

/** The char offset of the boundary nearest `aim` among those in [lowest, highest] tokens, coarsest level first; null if none. */
function naturalCut(
  levels: number[][],
  ends: ArrayLike<number>,
  start: number,
  lowest: number,
  highest: number,
  aim: number,
): number | null {
  const from = Math.max(ends[lowest - 1]!, start + 1);
  const to = ends[highest - 1]!;
  const aimAt = ends[clamp(aim, lowest, highest) - 1]!;
  for (const offsets of levels) {
    // The boundaries either side of the aim are the only candidates nearest it.
    const after = lowerBound(offsets, aimAt);
    const candidates = [offsets[after - 1], offsets[after]].filter(
      (offset): offset is number => offset !== undefined && offset >= from && offset <= to,
    );
    if (candidates.length === 0) continue;
    return candidates.reduce((best, offset) =>
      Math.abs(tokensUpTo(ends, offset) - aim) < Math.abs(tokensUpTo(ends, best) - aim) ? offset : best,
    );
  }
  return null;
}

/** Where each separator match ends before the text does (the separator stays with the piece before it). */
export function boundaryOffsets(text: string, separator: RegExp): number[] {
  const offsets: number[] = [];
  separator.lastIndex = 0;
  for (let match = separator.exec(text); match; match = separator.exec(text)) {
    if (match[0].length === 0) {
      separator.lastIndex += 1;
      continue;
    }
    const end = match.index + match[0].length;
    if (end < text.length) offsets.push(end);
  }
  return offsets;
}

/** How many tokens end at or before char offset `offset`. */
function tokensUpTo(ends: ArrayLike<number>, offset: number): number {
  let low = 0;
  let high = ends.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (ends[mid]! <= offset) low = mid + 1;
    else high = mid;
  }
  return low;
}

function lowerBound(values: number[], value: number): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (values[mid]! < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(Math.max(value, low), high);
}
