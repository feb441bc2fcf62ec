import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { convertRecord } from '../../../shared/convert/convert-record.ts';
import { convertStream } from '../../../shared/convert/pipeline.ts';
import { UnusableInputError } from '../../../shared/convert/readers/errors.ts';
import { rawFormatSchema } from '../../../shared/convert/types.ts';
import { geminiExampleSchema } from '../../../shared/gemini/schema.ts';
import { wordTokens } from '../../support/word-tokens.ts';

const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).filter((s) => s.trim() !== '');
const turnPair = fc.tuple(text, text).map(([q, a]) => [
  { role: 'user', parts: [{ text: q }] },
  { role: 'model', parts: [{ text: a }] },
]);
const validExample = fc.record(
  {
    systemInstruction: text.map((t) => ({ parts: [{ text: t }] })),
    contents: fc.array(turnPair, { minLength: 1, maxLength: 4 }).map((pairs) => pairs.flat()),
  },
  { requiredKeys: ['contents'] },
);

test('property: valid Gemini examples round-trip through conversion unchanged and schema-valid', () => {
  fc.assert(
    fc.property(validExample, (example) => {
      const result = convertRecord(
        { line: 1, value: example },
        { format: 'gemini', maxPartTokens: 8192, baseModel: 'gemini-3.5-flash-lite' },
        wordTokens,
      );
      assert.deepEqual(result.errors, []);
      assert.equal(JSON.stringify(result.example), JSON.stringify(example));
      geminiExampleSchema.parse(JSON.parse(JSON.stringify(result.example)));
    }),
    { numRuns: 300, seed: 1 },
  );
});

test('property: any JSON value in any format converts or is rejected with located errors, never throws', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 5 }), fc.constantFrom(...rawFormatSchema.options), (value, format) => {
      const result = convertRecord(
        { line: 5, value },
        { format, columnMap: { user: 'a', model: 'b' }, maxPartTokens: 3, baseModel: 'gemini-3.5-flash-lite' },
        wordTokens,
      );
      if (result.example === null && !result.skipped) assert.ok(result.errors.length > 0);
      for (const issue of [...result.errors, ...result.warnings]) assert.equal(issue.line, 5);
      if (result.example) geminiExampleSchema.parse(result.example);
    }),
    { numRuns: 500, seed: 2 },
  );
});

test('property: random bytes through the whole stream give a report or an UnusableInputError, nothing else', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), fc.constantFrom('x.jsonl', 'x.json', 'x.csv', 'x.tsv'), async (bytes, fileName) => {
      const sink = { write: () => {} };
      try {
        const report = await convertStream({
          input: (async function* () {
            yield bytes;
          })(),
          fileName,
          format: 'auto',
          maxPartTokens: 8192,
          baseModel: 'gemini-3.5-flash-lite',
          validationFraction: 0.1,
          seed: 1,
          epochs: null,
          tokens: wordTokens,
          sinks: { train: sink, validation: sink },
        });
        assert.equal(report.examples.total, report.examples.valid + report.examples.invalid);
      } catch (error) {
        assert.ok(error instanceof UnusableInputError, String(error));
      }
    }),
    { numRuns: 300, seed: 3 },
  );
});
