/**
 * The compact binary form of a BPE vocabulary, so a tokenizer loads in tens of MB instead of
 * the hundreds a 32 MB tokenizer.json costs once parsed. Layout (little-endian):
 *
 *   magic "SFTBPE2\0" | u32 vocabSize | u32 mergeCount | u32 addedCount | u32 stringBytes
 *   | u32 offsets[vocabSize + 1] (into the string blob) | u8 strings[stringBytes] (UTF-8)
 *   | u32 merges[mergeCount * 2] (left id, right id; the index is the merge rank)
 *   | u32 mergeResults[mergeCount] (the id of the token each merge makes)
 *   | u32 added[addedCount] (ids of tokens split out before BPE, matched on the raw text)
 *   | u8 flags (bit 0: byte fallback)
 */
export interface VocabData {
  /** Token strings by id. */
  tokens: string[];
  /** Merges in rank order, as pairs of token ids. */
  merges: Uint32Array;
  /**
   * The token each merge makes (the id of left + right), by rank. Stored rather than found at
   * load: finding them is 515,000 string lookups, most of a tokenizer's start-up.
   */
  mergeResults: Uint32Array;
  /** Ids of added tokens (matched leftmost-longest on the raw text before normalisation). */
  added: Uint32Array;
  byteFallback: boolean;
}

const MAGIC = 'SFTBPE2\0';

export function encodeVocab(data: VocabData): Uint8Array {
  const encoder = new TextEncoder();
  const encoded = data.tokens.map((t) => encoder.encode(t));
  const stringBytes = encoded.reduce((sum, bytes) => sum + bytes.length, 0);
  const headerBytes = 8 + 4 * 4;
  const size =
    headerBytes + 4 * (data.tokens.length + 1) + stringBytes + 4 * (data.merges.length + data.mergeResults.length + data.added.length) + 1;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(encoder.encode(MAGIC), 0);
  let at = 8;
  for (const value of [data.tokens.length, data.merges.length / 2, data.added.length, stringBytes]) {
    view.setUint32(at, value, true);
    at += 4;
  }
  let offset = 0;
  for (const bytes of encoded) {
    view.setUint32(at, offset, true);
    at += 4;
    offset += bytes.length;
  }
  view.setUint32(at, offset, true);
  at += 4;
  for (const bytes of encoded) {
    out.set(bytes, at);
    at += bytes.length;
  }
  for (const value of data.merges) {
    view.setUint32(at, value, true);
    at += 4;
  }
  for (const value of data.mergeResults) {
    view.setUint32(at, value, true);
    at += 4;
  }
  for (const value of data.added) {
    view.setUint32(at, value, true);
    at += 4;
  }
  out[at] = data.byteFallback ? 1 : 0;
  return out;
}

export function decodeVocab(bytes: Uint8Array): VocabData {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) throw new Error('not a tokenizer vocabulary file');
  const vocabSize = view.getUint32(8, true);
  const mergeCount = view.getUint32(12, true);
  const addedCount = view.getUint32(16, true);
  const stringBytes = view.getUint32(20, true);
  let at = 24;
  const offsetsAt = at;
  at += 4 * (vocabSize + 1);
  const blob = bytes.subarray(at, at + stringBytes);
  at += stringBytes;
  // One decode of the whole blob, then each token sliced out by its UTF-16 offsets: 262,144
  // decode calls cost more than the decoding. ignoreBOM: tokens made of U+FEFF must keep it.
  // Each token is whole UTF-8 (encodeVocab wrote it from a string), so the joined decode is the
  // tokens' decodes joined; a byte that starts a character adds one UTF-16 unit, a 4-byte one two.
  const text = new TextDecoder('utf-8', { ignoreBOM: true, fatal: true }).decode(blob);
  const tokens = new Array<string>(vocabSize);
  let byteAt = 0;
  let unitAt = 0;
  for (let id = 0; id < vocabSize; id++) {
    const end = view.getUint32(offsetsAt + 4 * (id + 1), true);
    const start = unitAt;
    for (; byteAt < end; byteAt++) {
      const byte = blob[byteAt]!;
      if ((byte & 0xc0) !== 0x80) unitAt += byte >= 0xf0 ? 2 : 1;
    }
    tokens[id] = text.slice(start, unitAt);
  }
  const merges = new Uint32Array(mergeCount * 2);
  for (let i = 0; i < merges.length; i++, at += 4) merges[i] = view.getUint32(at, true);
  const mergeResults = new Uint32Array(mergeCount);
  for (let i = 0; i < mergeResults.length; i++, at += 4) mergeResults[i] = view.getUint32(at, true);
  const added = new Uint32Array(addedCount);
  for (let i = 0; i < added.length; i++, at += 4) added[i] = view.getUint32(at, true);
  return { tokens, merges, mergeResults, added, byteFallback: (bytes[at] ?? 0) === 1 };
}
