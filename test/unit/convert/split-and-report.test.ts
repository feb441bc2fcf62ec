import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadGemmaTokenizer } from '../../../adapters/tokenizer/index.ts';
import { assignSplit } from '../../../shared/convert/assign-split.ts';
import { ColumnMapError, parseColumnMap, resolveColumns } from '../../../shared/convert/columns.ts';
import { convertRecord } from '../../../shared/convert/convert-record.ts';
import { ReportBuilder } from '../../../shared/convert/report.ts';
import { useModelOverrides } from '../../../shared/gemini/models.ts';
import { splitTextByTokens } from '../../../shared/convert/split-parts.ts';
import { wordTokens } from '../../support/word-tokens.ts';

const gemma = loadGemmaTokenizer();

test('a long text splits at paragraphs first, every piece within the limit, joined back exactly', () => {
  const paragraph = 'This sentence has exactly eight words in it. '.repeat(10).trim();
  const text = [paragraph, paragraph, paragraph].join('\n\n');
  const pieces = splitTextByTokens(text, 100, wordTokens);
  assert.equal(pieces.join(''), text);
  assert.equal(pieces.length, 3);
  assert.ok(pieces.every((p) => wordTokens.count(p) <= 100));
  assert.ok(pieces[0]!.endsWith('\n\n'), 'the separator stays with the piece before it');
});

test('with no paragraph or sentence boundary it falls back to words, then to token boundaries', () => {
  const words = 'alpha beta gamma delta epsilon zeta eta theta';
  assert.deepEqual(splitTextByTokens(words, 3, wordTokens), ['alpha beta gamma ', 'delta epsilon zeta ', 'eta theta']);
  const noSpaces = '日本語のテキスト'.repeat(300);
  const pieces = splitTextByTokens(noSpaces, 50, gemma);
  assert.equal(pieces.join(''), noSpaces);
  assert.ok(pieces.length > 1 && pieces.every((p) => gemma.count(p) <= 50));
});

test('parts are balanced: as few as the token count needs (8,343 tokens at 1,000 make 9, not one per 600-token paragraph), natural boundaries kept where the budget allows', () => {
  const sentence = 'The courier scanned the parcel at the depot and the tracking page updated an hour later. ';
  const paragraph = (tokens: number) => {
    let text = '';
    while (gemma.count(text + sentence) <= tokens) text += sentence;
    return text.trimEnd();
  };
  // Paragraphs of about 600 tokens: packing whole paragraphs gave one per part.
  const long = Array.from({ length: 14 }, () => paragraph(600)).join('\n\n');
  const total = gemma.count(long);
  const pieces = splitTextByTokens(long, 1000, gemma);
  assert.equal(pieces.join(''), long);
  assert.equal(pieces.length, Math.ceil(total / 1000), `${total} tokens: ${pieces.map((p) => gemma.count(p)).join(', ')}`);
  assert.ok(pieces.every((p) => gemma.count(p) <= 1000));
  // No part fits two paragraphs: the cuts fall at sentences, and only when the budget forces it at a word.
  const cuts = pieces.slice(0, -1);
  assert.ok(
    cuts.every((p) => /\s$/.test(p)),
    'every cut at least between words',
  );
  assert.ok(
    cuts.filter((p) => /[.!?]\s*$/.test(p)).length >= cuts.length - 1,
    `cuts: ${cuts.map((p) => JSON.stringify(p.slice(-12))).join(' ')}`,
  );

  // With room to spare, cuts fall between paragraphs, and the parts are even.
  const roomy = Array.from({ length: 19 }, () => paragraph(230)).join('\n\n');
  const roomyTotal = gemma.count(roomy);
  const roomyPieces = splitTextByTokens(roomy, 1000, gemma);
  assert.equal(roomyPieces.join(''), roomy);
  assert.equal(roomyPieces.length, Math.ceil(roomyTotal / 1000));
  assert.ok(
    roomyPieces.slice(0, -1).every((p) => p.endsWith('\n\n')),
    'every cut between paragraphs',
  );
  const sizes = roomyPieces.map((p) => gemma.count(p));
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 250, `even parts: ${sizes.join(', ')}`);
});

test('property: any text split by real Gemini tokens joins back exactly, each piece within the limit, surrogates intact', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 400 }), fc.integer({ min: 4, max: 40 }), (text, max) => {
      const pieces = splitTextByTokens(text, max, gemma);
      assert.equal(pieces.join(''), text);
      for (const piece of pieces) {
        assert.ok(piece.isWellFormed(), 'no piece ends inside a surrogate pair');
        // A single character over the limit (byte fallback) is the only allowed exception.
        assert.ok(gemma.count(piece) <= max || [...piece].length === 1);
      }
    }),
    { numRuns: 200, seed: 7 },
  );
});

test('convertRecord splits an over-long part into consecutive parts with a warning, and validates the result', () => {
  const long = 'word '.repeat(25).trim();
  const result = convertRecord(
    {
      line: 9,
      value: {
        contents: [
          { role: 'user', parts: [{ text: long }] },
          { role: 'model', parts: [{ text: 'ok' }] },
        ],
      },
    },
    { format: 'gemini', maxPartTokens: 10, baseModel: 'gemini-3.5-flash-lite' },
    wordTokens,
  );
  assert.deepEqual(result.errors, []);
  assert.equal(result.example?.contents[0]?.parts.length, 3);
  assert.deepEqual(
    result.warnings.map((w) => `${w.line}:${w.code}@${w.path}`),
    ['9:text_part_split@contents[0].parts[0].text'],
  );
});

test("convertRecord splits with the tokenizer's token ends: the fewest, even parts, as splitting the text alone gives", () => {
  const text = 'The quick brown fox jumps over the lazy dog. '.repeat(9000);
  const result = convertRecord(
    {
      line: 1,
      value: {
        contents: [
          { role: 'user', parts: [{ text }] },
          { role: 'model', parts: [{ text: 'ok' }] },
        ],
      },
    },
    { format: 'gemini', maxPartTokens: 8192, baseModel: 'gemini-3.5-flash-lite' },
    gemma,
  );
  const parts = (result.example?.contents[0]?.parts ?? []).map((part) => (part as { text: string }).text);
  assert.deepEqual(parts, splitTextByTokens(text, 8192, gemma));
  // A greedy split of this text made 13 parts, the last a tenth of the others.
  assert.equal(parts.length, Math.ceil(gemma.count(text) / 8192));
});

test('the split is a stable function of content and seed, close to the asked fraction', () => {
  const examples = Array.from({ length: 4000 }, (_, i) => JSON.stringify({ contents: [{ role: 'user', parts: [{ text: `q${i}` }] }] }));
  const splits = examples.map((e) => assignSplit(e, 42, 0.1));
  assert.deepEqual(
    examples.map((e) => assignSplit(e, 42, 0.1)),
    splits,
    'same input and seed, same split',
  );
  const share = splits.filter((s) => s === 'validation').length / examples.length;
  assert.ok(share > 0.08 && share < 0.12, `validation share ${share}`);
  assert.notDeepEqual(
    examples.map((e) => assignSplit(e, 43, 0.1)),
    splits,
    'another seed, another split',
  );
  assert.equal(assignSplit(examples[0]!, 42, 0), 'train');
});

test('column recognition, --map overrides, and clear errors naming the header', () => {
  assert.deepEqual(resolveColumns(['Question', 'Answer', 'image_uri']), { user: 'Question', model: 'Answer', file: 'image_uri' });
  assert.deepEqual(resolveColumns(['ticket', 'reply'], parseColumnMap('user=ticket')), { user: 'ticket', model: 'reply' });
  assert.throws(
    () => resolveColumns(['a', 'b']),
    (e: unknown) => e instanceof ColumnMapError && /header \(a, b\)/.test(e.message) && /--map/.test(e.message),
  );
  assert.throws(() => parseColumnMap('speaker=a'), /unknown role "speaker"/);
  assert.throws(() => parseColumnMap('user'), /ROLE=COLUMN/);
  assert.throws(() => resolveColumns(['q', 'a'], { user: 'nope' }), /"nope" for user is not in the header/);
});

test("the report counts, keeps the first issues, computes p95 and billable tokens as Google's notebook does", () => {
  const report = new ReportBuilder({ maxIssues: 2 });
  const valid = (tokens: number) => ({ line: 1, example: { contents: [] }, errors: [], warnings: [], tokens, multimodal: false });
  for (let i = 1; i <= 100; i++) report.addResult(valid(i), i % 10 === 0 ? 'validation' : 'train');
  for (let i = 0; i < 5; i++) report.addParseFailure({ line: 200 + i, code: 'invalid_json', message: 'bad' });
  const result = report.finish({ input: 'x.jsonl', format: 'gemini', method: 'supervised', baseModel: 'gemini-3.5-flash-lite', epochs: 3 });
  assert.deepEqual(result.examples, { total: 105, valid: 100, invalid: 5 });
  assert.equal(result.errors.length, 2);
  assert.equal(result.errorCount, 5);
  assert.deepEqual(result.split, { train: 90, validation: 10 });
  assert.equal(result.tokens.total, 5050);
  assert.equal(result.tokens.perExample.p95, 95);
  assert.equal(result.tokens.perExample.max, 100);
  const trainTokens = 5050 - (10 + 20 + 30 + 40 + 50 + 60 + 70 + 80 + 90 + 100);
  assert.equal(result.tokens.billable, (trainTokens + 8 * 90) * 3);
  // No stored copy of Google's pricing page lists a tuning price for Gemini 3.x: none is guessed.
  assert.equal(result.estimatedCost.usd, null);
  assert.match(
    result.estimatedCost.note ?? '',
    /training price of gemini-3\.5-flash-lite is unknown \(no tuning price .* set it with MODEL_CATALOGUE\)/,
  );
  // An operator's price makes the estimate.
  useModelOverrides([{ id: 'gemini-3.5-flash-lite', trainingPricePerMillionUsd: 5, priceVerifiedOn: '2026-11-30 (operator)' }]);
  try {
    const priced = report.finish({
      input: 'x.jsonl',
      format: 'gemini',
      method: 'supervised',
      baseModel: 'gemini-3.5-flash-lite',
      epochs: 3,
    });
    assert.equal(priced.estimatedCost.usd, Math.round((priced.tokens.billable / 1e6) * 5 * 1e4) / 1e4);
  } finally {
    useModelOverrides([]);
  }
  const unknown = new ReportBuilder().finish({ input: 'x', format: 'csv', method: 'supervised', baseModel: 'my-model', epochs: null });
  assert.equal(unknown.estimatedCost.usd, null);
  assert.match(unknown.estimatedCost.note ?? '', /not in the model catalogue/);
});

test('token ends agree with the encoder: one end per token, ascending, on every kind of text', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (text) => {
      const ends = gemma.tokenEnds(text);
      assert.equal(ends.length, gemma.encode(text).length);
      for (let i = 1; i < ends.length; i++) assert.ok(ends[i]! >= ends[i - 1]!);
      if (ends.length > 0) assert.equal(ends[ends.length - 1], text.length);
    }),
    { numRuns: 300 },
  );
  assert.equal(gemma.tokenEnds('<start_of_turn>user hello').length, gemma.count('<start_of_turn>user hello'), 'added tokens too');
});

test('the shapes that made splitting superlinear split exactly: one repeated character, a two-character pattern, base64, emoji', () => {
  const shapes: [string, string][] = [
    ['one character repeated', 'a'.repeat(100_000)],
    ['=- repeated', '=-'.repeat(50_000)],
    ['base64', Buffer.from(Array.from({ length: 75_000 }, (_, i) => (i * 2654435761) % 251)).toString('base64')],
    ['emoji and CJK', '😀漢字'.repeat(15_000)],
  ];
  for (const [what, text] of shapes) {
    const pieces = splitTextByTokens(text, 8192, gemma);
    assert.equal(pieces.join(''), text, `${what}: joins back exactly`);
    assert.ok(pieces.length > 1, `${what}: split`);
    for (const piece of pieces) assert.ok(gemma.count(piece) <= 8192, `${what}: every piece within 8,192 tokens`);
  }
});
