import type { TokenCounter } from '../convert/types.ts';
import type { VocabData } from './vocab-format.ts';

/**
 * An exact, fast encoder for SentencePiece-style BPE vocabularies in Hugging Face form, built
 * for the Gemma 3 vocabulary Google's LocalTokenizer uses for Gemini 2.x. It gives the same
 * tokens as the reference (transformers.js / @lenml/tokenizers), which is proven in the tests,
 * while being about two orders of magnitude faster:
 *
 *  - Added tokens (control tags, runs of newlines and tabs) are split out first, leftmost-longest
 *    on the raw text, exactly as the reference's DictionarySplitter does.
 *  - The normaliser replaces ' ' with '▁'; the reference then runs BPE over each whole section.
 *    No vocabulary token contains '▁' right after another character (checked when the encoder is
 *    built), so no merge can cross such a point: cutting there and encoding the pieces on their
 *    own gives the same tokens, and lets the result of each piece (mostly words) be cached.
 *  - Merges are looked up in an open-addressing hash table of integer keys (left id × 2^18 +
 *    right id), not in a Map of strings; long pieces merge through a binary heap ordered by
 *    (rank, position), short ones by a linear scan, both choosing the lowest-rank, leftmost pair
 *    as the reference does.
 *  - Characters outside the vocabulary fall back to one token per UTF-8 byte.
 *  - When no merge makes a token holding an ASCII digit (true of Gemma's vocabulary, checked when
 *    the tables are built), every digit is a token of its own and no merge crosses it: a piece
 *    is encoded as its digits and the parts between them, each cached. A ticket number or an id
 *    makes every piece holding it new; its parts are not.
 */
const ID_BITS = 2 ** 18;
const SPACE_MARK = '▁';
const SPACE_MARK_CODE = SPACE_MARK.charCodeAt(0);
const WORD_CACHE_LIMIT = 100_000;
const BYTE_TOKEN = /^<0x([0-9A-F]{2})>$/;
const ASCII_DIGIT = /[0-9]/;

/**
 * Everything the encoder needs, in a form worker threads can share: the merge tables are typed
 * arrays over SharedArrayBuffers (passed to a worker without copying), the rest is small.
 */
export interface BpeTables {
  /** Single-character tokens: [code point, id] pairs. */
  charIds: Int32Array;
  /** Ids of the 256 byte-fallback tokens <0x00>..<0xFF> (-1 when absent). */
  byteIds: Int32Array;
  byteFallback: boolean;
  mergeKeys: Float64Array;
  mergeRanks: Int32Array;
  mergeResults: Int32Array;
  /** Added tokens as [string, id], matched leftmost-longest before normalisation. */
  added: [string, number][];
  /** Characters after which a '▁' does not start a new piece (some token spans them). */
  unsafeBeforeMark: string[];
  /** No merge makes a token holding an ASCII digit: digits are pieces' borders. */
  digitsStandAlone: boolean;
}

/** Builds the tables from a vocabulary; the merge tables live in shared memory. */
export function buildBpeTables(data: VocabData): BpeTables {
  const charPairs: number[] = [];
  const byteIds = new Int32Array(256).fill(-1);
  const unsafe = new Set<string>();
  const tokens = data.tokens;
  const holdsDigit = new Uint8Array(tokens.length);
  for (let id = 0; id < tokens.length; id++) {
    const token = tokens[id]!;
    if (ASCII_DIGIT.test(token)) holdsDigit[id] = 1;
    const first = token.codePointAt(0);
    if (first !== undefined && token.length === (first > 0xffff ? 2 : 1)) charPairs.push(first, id);
    else if (token.length === 6 && token.startsWith('<0x') && token.endsWith('>')) {
      const byte = BYTE_TOKEN.exec(token);
      if (byte) byteIds[parseInt(byte[1]!, 16)] = id;
    }
    // A token with '▁' after another character means merges can cross that point.
    for (let i = token.indexOf(SPACE_MARK, 1); i > 0; i = token.indexOf(SPACE_MARK, i + 1)) {
      if (token[i - 1] !== SPACE_MARK) unsafe.add(token[i - 1]!);
    }
  }
  const mergeCount = data.merges.length / 2;
  let capacity = 1;
  while (capacity < mergeCount * 2) capacity *= 2;
  const mergeKeys = new Float64Array(new SharedArrayBuffer(capacity * 8)).fill(-1);
  const mergeRanks = new Int32Array(new SharedArrayBuffer(capacity * 4));
  const mergeResults = new Int32Array(new SharedArrayBuffer(capacity * 4));
  const mask = capacity - 1;
  let digitsStandAlone = true;
  for (let rank = 0; rank < mergeCount; rank++) {
    const left = data.merges[2 * rank]!;
    const right = data.merges[2 * rank + 1]!;
    const result = data.mergeResults[rank]!;
    if (holdsDigit[result]) digitsStandAlone = false;
    const key = left * ID_BITS + right;
    let slot = hashKey(key) & mask;
    while (mergeKeys[slot] !== -1 && mergeKeys[slot] !== key) slot = (slot + 1) & mask;
    if (mergeKeys[slot] === key) continue; // keep the first (lowest) rank of a repeated pair
    mergeKeys[slot] = key;
    mergeRanks[slot] = rank;
    mergeResults[slot] = result;
  }
  return {
    charIds: Int32Array.from(charPairs),
    byteIds,
    byteFallback: data.byteFallback,
    mergeKeys,
    mergeRanks,
    mergeResults,
    added: Array.from(data.added, (id) => [data.tokens[id]!, id] as [string, number]),
    unsafeBeforeMark: [...unsafe],
    digitsStandAlone,
  };
}

export class BpeTokenizer implements TokenCounter {
  private tokens: string[] | undefined;
  private readonly loadTokens: (() => string[]) | undefined;
  // Single-character tokens: BMP characters in a flat table (-1: none), the rest in a Map.
  private readonly bmpCharIds = new Int32Array(0x10000).fill(-1);
  private readonly astralCharIds = new Map<number, number>();
  private readonly byteIds: Int32Array;
  private readonly byteFallback: boolean;
  private readonly mergeKeys: Float64Array;
  private readonly mergeRanks: Int32Array;
  private readonly mergeResults: Int32Array;
  private readonly mergeMask: number;
  // Added tokens as a trie over UTF-16 code units, entered only at their first characters.
  private readonly addedTrie = new Map<number, TrieNode>();
  // Where an added token may start: the UTF-16 units added tokens begin with, found by a regular
  // expression (a native scan) rather than a test per character.
  private readonly addedStart: RegExp;
  private readonly wordCache = new Map<string, Int32Array>();
  // Scratch space for one piece's merge, reused: a typed array per piece cost more than the merging.
  private symbolIds = new Int32Array(64);
  private symbolNext = new Int32Array(64);
  private symbolPrev = new Int32Array(64);
  private symbolAlive = new Uint8Array(64);
  private readonly heap = new MinHeap();
  private readonly unsafeBeforeMark: Set<string>;
  private readonly digitsStandAlone: boolean;

  /** `tokens` (id → string, or a function that loads them on first use) is needed only to decode. */
  constructor(tables: BpeTables, tokens?: string[] | (() => string[])) {
    this.tokens = typeof tokens === 'function' ? undefined : tokens;
    this.loadTokens = typeof tokens === 'function' ? tokens : undefined;
    for (let i = 0; i < tables.charIds.length; i += 2) {
      const codePoint = tables.charIds[i]!;
      if (codePoint < 0x10000) this.bmpCharIds[codePoint] = tables.charIds[i + 1]!;
      else this.astralCharIds.set(codePoint, tables.charIds[i + 1]!);
    }
    this.byteIds = tables.byteIds;
    this.byteFallback = tables.byteFallback;
    this.mergeKeys = tables.mergeKeys;
    this.mergeRanks = tables.mergeRanks;
    this.mergeResults = tables.mergeResults;
    this.mergeMask = tables.mergeKeys.length - 1;
    this.unsafeBeforeMark = new Set(tables.unsafeBeforeMark);
    this.digitsStandAlone = tables.digitsStandAlone;
    for (const [token, id] of tables.added) {
      let level = this.addedTrie;
      let node: TrieNode | undefined;
      for (let i = 0; i < token.length; i++) {
        const code = token.charCodeAt(i);
        node = level.get(code);
        if (!node) {
          node = { id: -1, children: new Map() };
          level.set(code, node);
        }
        level = node.children;
      }
      if (node) node.id = id;
    }
    const firstUnits = [...this.addedTrie.keys()].map((unit) => `\\u${unit.toString(16).padStart(4, '0')}`);
    // A vocabulary without added tokens gets a class that matches nothing.
    this.addedStart = new RegExp(firstUnits.length > 0 ? `[${firstUnits.join('')}]` : '[^\\s\\S]', 'g');
  }

  static fromVocab(data: VocabData): BpeTokenizer {
    return new BpeTokenizer(buildBpeTables(data), data.tokens);
  }

  count(text: string): number {
    let total = 0;
    this.forEachPiece(text, (ids) => {
      total += ids.length;
    });
    return total;
  }

  tokenEnds(text: string): Int32Array {
    const ends: number[] = [];
    this.forEachPiece(
      text,
      () => undefined,
      (piece, offset, added) => {
        if (added) ends.push(offset + piece.length);
        else for (const end of this.bpeEnds(piece)) ends.push(offset + end);
      },
    );
    return Int32Array.from(ends);
  }

  encode(text: string): number[] {
    const out: number[] = [];
    this.forEachPiece(text, (ids) => {
      for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
    });
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    const bytes: number[] = [];
    let text = '';
    const flush = () => {
      if (bytes.length > 0) {
        text += new TextDecoder('utf-8', { ignoreBOM: true }).decode(new Uint8Array(bytes));
        bytes.length = 0;
      }
    };
    for (let i = 0; i < ids.length; i++) {
      this.tokens ??= this.loadTokens?.();
      if (!this.tokens) throw new Error('this tokenizer was built without token strings and cannot decode');
      const token = this.tokens[ids[i]!] ?? '';
      const byte = /^<0x([0-9A-F]{2})>$/.exec(token);
      if (byte) bytes.push(parseInt(byte[1]!, 16));
      else {
        flush();
        text += token.replaceAll(SPACE_MARK, ' ');
      }
    }
    flush();
    return text;
  }

  /**
   * Calls `emit` with the ids of each piece of `text`, in order; with `visit`, calls it instead
   * with each piece's (normalised) text and its offset in `text`, and encodes nothing.
   */
  private forEachPiece(
    text: string,
    emit: (ids: Int32Array | readonly number[]) => void,
    visit?: (piece: string, offset: number, added: boolean) => void,
  ): void {
    let sectionStart = 0;
    for (let i = 0; i < text.length;) {
      this.addedStart.lastIndex = i;
      const candidate = this.addedStart.exec(text);
      if (!candidate) break;
      i = candidate.index;
      const first = this.addedTrie.get(text.charCodeAt(i));
      if (first) {
        // Leftmost-longest match of an added token starting here.
        let node: TrieNode | undefined = first;
        let matchId = -1;
        let matchEnd = -1;
        let j = i + 1;
        for (;;) {
          if (node.id >= 0) {
            matchId = node.id;
            matchEnd = j;
          }
          if (j >= text.length) break;
          node = node.children.get(text.charCodeAt(j));
          if (!node) break;
          j++;
        }
        if (matchId >= 0) {
          if (i > sectionStart)
            this.encodeSection(text.slice(sectionStart, i), emit, visit && ((piece, at) => visit(piece, sectionStart + at, false)));
          if (visit) visit(text.slice(i, matchEnd), i, true);
          else emit([matchId]);
          i = matchEnd;
          sectionStart = i;
          continue;
        }
      }
      i++;
    }
    if (sectionStart < text.length)
      this.encodeSection(text.slice(sectionStart), emit, visit && ((piece, at) => visit(piece, sectionStart + at, false)));
  }

  /** A section between added tokens: normalise, cut before each word's '▁', encode the pieces. */
  private encodeSection(section: string, emit: (ids: Int32Array) => void, visit?: (piece: string, offset: number) => void): void {
    // Without a '▁' of its own, a section's '▁'s are its spaces: cut at the spaces (a native
    // search) and normalise only the pieces the cache does not know.
    if (!visit && !section.includes(SPACE_MARK)) {
      let start = 0;
      for (let i = section.indexOf(' ', 1); i !== -1; i = section.indexOf(' ', i + 1)) {
        const before = section[i - 1]!;
        if (before !== ' ' && !this.unsafeBeforeMark.has(before)) {
          this.emitPiece(section.slice(start, i), emit, true);
          start = i;
        }
      }
      this.emitPiece(section.slice(start), emit, true);
      return;
    }
    const normalised = section.replaceAll(' ', SPACE_MARK);
    const take = (start: number, end: number) =>
      visit ? visit(normalised.slice(start, end), start) : this.emitPiece(normalised.slice(start, end), emit);
    let start = 0;
    for (let i = 1; i < normalised.length; i++) {
      if (normalised.charCodeAt(i) === SPACE_MARK_CODE) {
        const before = normalised[i - 1]!;
        if (before !== SPACE_MARK && !this.unsafeBeforeMark.has(before)) {
          take(start, i);
          start = i;
        }
      }
    }
    take(start, normalised.length);
  }

  /** Where each token of one piece ends (UTF-16 offsets in the piece), from the same merges as `bpe`. */
  private bpeEnds(piece: string): number[] {
    const starts: number[] = [];
    const unknown: number[] = [];
    this.reserve(piece.length);
    let n = 0;
    for (let offset = 0; offset < piece.length;) {
      const code = piece.codePointAt(offset)!;
      const id = this.charId(code);
      starts.push(offset);
      this.symbolIds[n++] = id ?? -1;
      offset += code > 0xffff ? 2 : 1;
      unknown.push(id === undefined ? new TextEncoder().encode(String.fromCodePoint(code)).length : 0);
    }
    this.merge(n);
    const ids = this.symbolIds;
    const next = this.symbolNext;
    const ends: number[] = [];
    for (let i = 0; i >= 0; i = next[i]!) {
      const end = next[i]! >= 0 ? starts[next[i]!]! : piece.length;
      // A character outside the vocabulary is one token per UTF-8 byte, all ending with it.
      for (let k = 0; k < (ids[i]! >= 0 ? 1 : unknown[i]!); k++) ends.push(end);
    }
    return ends;
  }

  /**
   * Emits a piece's ids: from the word cache, or for a piece with digits (when they stand alone,
   * see the top) as those of its digits and of the parts between them, each cached and emitted in
   * turn. Such a piece is mostly new (a number, an id) and is not cached itself; its parts are.
   */
  private emitPiece(piece: string, emit: (ids: Int32Array) => void, raw = false): void {
    const cached = this.wordCache.get(piece);
    if (cached) return emit(cached);
    if (!this.digitsStandAlone || piece.length < 2 || !ASCII_DIGIT.test(piece)) return emit(this.encodeUncached(piece, raw));
    const normalised = raw ? piece.replaceAll(' ', SPACE_MARK) : piece;
    let start = 0;
    for (let i = 0; i < normalised.length; i++) {
      const code = normalised.charCodeAt(i);
      if (code < 0x30 || code > 0x39) continue;
      if (i > start) emit(this.encodePiece(normalised.slice(start, i)));
      emit(this.encodePiece(normalised[i]!));
      start = i + 1;
    }
    if (start < normalised.length) emit(this.encodePiece(normalised.slice(start)));
  }

  /**
   * A piece's ids, from the word cache or merged and cached. `raw`: the piece still holds its
   * spaces, and is normalised only when the cache misses. It is cached under that text: with no
   * '▁' in the section, raw and normalised pieces map one to one, and a raw key equal to some
   * normalised key (no spaces) is that same piece.
   */
  private encodePiece(piece: string, raw = false): Int32Array {
    return this.wordCache.get(piece) ?? this.encodeUncached(piece, raw);
  }

  /** A piece the word cache does not hold: merged, then cached (see encodePiece). */
  private encodeUncached(piece: string, raw: boolean): Int32Array {
    const ids = this.bpe(raw ? piece.replaceAll(' ', SPACE_MARK) : piece);
    if (piece.length <= 64) {
      if (this.wordCache.size >= WORD_CACHE_LIMIT) this.wordCache.clear();
      // A slice can keep its whole parent string alive (V8 sliced strings); cache a copy.
      this.wordCache.set((' ' + piece).slice(1), ids);
    }
    return ids;
  }

  private bpe(piece: string): Int32Array {
    // Symbols: one per code point; -1 marks a character outside the vocabulary.
    this.reserve(piece.length);
    let n = 0;
    let unknowns = false;
    for (let offset = 0; offset < piece.length;) {
      const code = piece.codePointAt(offset)!;
      const id = this.charId(code);
      this.symbolIds[n++] = id ?? -1;
      if (id === undefined) unknowns = true;
      offset += code > 0xffff ? 2 : 1;
    }
    this.merge(n);
    const ids = this.symbolIds;
    const next = this.symbolNext;
    if (!unknowns) {
      let count = 0;
      for (let i = 0; i >= 0; i = next[i]!) count++;
      const out = new Int32Array(count);
      for (let i = 0, k = 0; i >= 0; i = next[i]!) out[k++] = ids[i]!;
      return out;
    }
    // A character outside the vocabulary becomes its UTF-8 bytes' tokens: the rare path.
    const chars = Array.from(piece);
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]!) {
      const id = ids[i]!;
      if (id >= 0) out.push(id);
      else this.pushBytes(chars[i]!, out);
    }
    return Int32Array.from(out);
  }

  /** Room for a piece of `length` UTF-16 units (at most that many symbols) in the scratch arrays. */
  private reserve(length: number): void {
    if (this.symbolIds.length >= length) return;
    let size = this.symbolIds.length;
    while (size < length) size *= 2;
    this.symbolIds = new Int32Array(size);
    this.symbolNext = new Int32Array(size);
    this.symbolPrev = new Int32Array(size);
    this.symbolAlive = new Uint8Array(size);
  }

  /**
   * Applies the merges to the first `n` symbols of the scratch arrays: the final ids stay in
   * symbolIds, linked from 0 by symbolNext (-1 ends the list).
   */
  private merge(n: number): void {
    const next = this.symbolNext;
    const prev = this.symbolPrev;
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    if (n > 1) {
      if (n <= 48) this.mergeByScan(this.symbolIds, next, prev);
      else this.mergeByHeap(this.symbolIds, next, prev, n);
    }
  }

  private mergeByScan(ids: Int32Array, next: Int32Array, prev: Int32Array): void {
    for (;;) {
      let bestRank = Infinity;
      let bestAt = -1;
      let bestResult = -1;
      for (let i = 0; next[i]! >= 0; i = next[i]!) {
        const slot = this.findMerge(ids[i]!, ids[next[i]!]!);
        if (slot >= 0 && this.mergeRanks[slot]! < bestRank) {
          bestRank = this.mergeRanks[slot]!;
          bestAt = i;
          bestResult = this.mergeResults[slot]!;
        }
      }
      if (bestAt < 0) return;
      this.mergeAt(bestAt, bestResult, ids, next, prev);
    }
  }

  private mergeByHeap(ids: Int32Array, next: Int32Array, prev: Int32Array, n: number): void {
    const heap = this.heap;
    heap.size = 0;
    // Keys order by rank, then by position (leftmost first), as the reference does.
    const push = (at: number) => {
      const right = next[at]!;
      if (at < 0 || right < 0) return;
      const slot = this.findMerge(ids[at]!, ids[right]!);
      if (slot >= 0) heap.push(this.mergeRanks[slot]! * 4294967296 + at);
    };
    for (let i = 0; i < n - 1; i++) push(i);
    const alive = this.symbolAlive.fill(1, 0, n);
    while (heap.size > 0) {
      const key = heap.pop();
      const at = key % 4294967296;
      const rank = (key - at) / 4294967296;
      const right = next[at]!;
      if (!alive[at] || right < 0) continue;
      const slot = this.findMerge(ids[at]!, ids[right]!);
      // A stale entry: the pair at this position changed since it was pushed.
      if (slot < 0 || this.mergeRanks[slot] !== rank) continue;
      alive[right] = 0;
      this.mergeAt(at, this.mergeResults[slot]!, ids, next, prev);
      push(prev[at]!);
      push(at);
    }
  }

  private mergeAt(at: number, result: number, ids: Int32Array, next: Int32Array, prev: Int32Array): void {
    const right = next[at]!;
    ids[at] = result;
    const after = next[right]!;
    next[at] = after;
    if (after >= 0) prev[after] = at;
  }

  private pushBytes(char: string, out: number[]): void {
    if (!this.byteFallback) throw new Error('character outside the vocabulary and no byte fallback');
    for (const byte of new TextEncoder().encode(char)) out.push(this.byteIds[byte]!);
  }

  private charId(codePoint: number): number | undefined {
    if (codePoint < 0x10000) {
      const id = this.bmpCharIds[codePoint]!;
      return id >= 0 ? id : undefined;
    }
    return this.astralCharIds.get(codePoint);
  }

  private findMerge(left: number, right: number): number {
    if (left < 0 || right < 0) return -1;
    const key = left * ID_BITS + right;
    let slot = hashKey(key) & this.mergeMask;
    for (;;) {
      const found = this.mergeKeys[slot];
      if (found === key) return slot;
      if (found === -1) return -1;
      slot = (slot + 1) & this.mergeMask;
    }
  }
}

interface TrieNode {
  id: number;
  children: Map<number, TrieNode>;
}

function hashKey(key: number): number {
  // Mix the high and low parts of a key below 2^36 into 32 bits.
  const low = key >>> 0;
  const high = Math.floor(key / 4294967296);
  return Math.imul(low ^ Math.imul(high, 0x9e3779b1), 0x85ebca6b) ^ (low >>> 15);
}

/** A binary min-heap of float64 keys. */
class MinHeap {
  private items = new Float64Array(64);
  size = 0;

  push(key: number): void {
    if (this.size === this.items.length) {
      const grown = new Float64Array(this.items.length * 2);
      grown.set(this.items);
      this.items = grown;
    }
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.items[parent]! <= key) break;
      this.items[i] = this.items[parent]!;
      i = parent;
    }
    this.items[i] = key;
  }

  pop(): number {
    const top = this.items[0]!;
    const last = this.items[--this.size]!;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.size) break;
      const right = left + 1;
      const child = right < this.size && this.items[right]! < this.items[left]! ? right : left;
      if (this.items[child]! >= last) break;
      this.items[i] = this.items[child]!;
      i = child;
    }
    this.items[i] = last;
    return top;
  }
}
