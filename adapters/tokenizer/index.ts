import { readFileSync } from 'node:fs';
import { brotliDecompressSync } from 'node:zlib';
import { BpeTokenizer, buildBpeTables, type BpeTables } from '../../shared/tokenizer/bpe.ts';
import { decodeVocab } from '../../shared/tokenizer/vocab-format.ts';
import { GEMMA_VOCAB_ASSET } from './vocab-source.ts';

export type GemmaTokenizer = BpeTokenizer;

let loaded: BpeTokenizer | undefined;
let tables: BpeTables | undefined;

/**
 * The Gemma 3 tokenizer (the vocabulary Google's LocalTokenizer uses for Gemini 2.x), loaded
 * once per process from the compact asset shipped in the repository: nothing is downloaded, so
 * it works offline and in a locked-down function. `count` is the number of tokens in the text
 * itself, without BOS/EOS.
 */
export function loadGemmaTokenizer(): GemmaTokenizer {
  if (!loaded) {
    const vocab = decodeVocab(brotliDecompressSync(readFileSync(GEMMA_VOCAB_ASSET)));
    tables = buildBpeTables(vocab);
    // Counting needs no token strings (262,144 of them cost tens of MB); decoding reloads them.
    loaded = new BpeTokenizer(tables, () => decodeVocab(brotliDecompressSync(readFileSync(GEMMA_VOCAB_ASSET))).tokens);
  }
  return loaded;
}

/** The loaded tokenizer's tables, to hand to worker threads (the merge tables are shared memory). */
export function gemmaTokenizerTables(): BpeTables {
  loadGemmaTokenizer();
  return tables!;
}
