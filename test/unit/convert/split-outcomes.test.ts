import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignSplit } from '../../../shared/convert/assign-split.ts';
import { convertStream } from '../../../shared/convert/pipeline.ts';
import { wordTokens } from '../../support/word-tokens.ts';

const example = (i: number) => ({
  contents: [
    { role: 'user', parts: [{ text: `question ${i}` }] },
    { role: 'model', parts: [{ text: `answer ${i}` }] },
  ],
});

async function convert(examples: unknown[], validationFraction = 0.1) {
  const lines = { train: [] as string[], validation: [] as string[] };
  const bytes = new TextEncoder().encode(examples.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const report = await convertStream({
    input: (async function* () {
      yield bytes;
    })(),
    fileName: 'data.jsonl',
    format: 'auto',
    maxPartTokens: 8192,
    baseModel: 'gemini-3.5-flash-lite',
    validationFraction,
    seed: 42,
    epochs: null,
    tokens: wordTokens,
    sinks: { train: { write: (line) => void lines.train.push(line) }, validation: { write: (line) => void lines.validation.push(line) } },
  });
  return { report, lines };
}

test('a small file whose only examples all hash to validation trains on them instead, and says so: never an empty training file', async () => {
  // Examples the stable split sends to validation at a share of 0.5, found rather than assumed.
  const toValidation = Array.from({ length: 200 }, (_, i) => example(i))
    .filter((e) => assignSplit(JSON.stringify(e), 42, 0.5) === 'validation')
    .slice(0, 3);
  assert.equal(toValidation.length, 3);
  const { report, lines } = await convert(toValidation, 0.5);
  assert.equal(lines.train.length, 3);
  assert.equal(lines.validation.length, 0);
  assert.deepEqual(report.split, { train: 3, validation: 0 });
  assert.deepEqual(report.warnings.map((w) => w.code).sort(), ['few_training_examples', 'validation_split_skipped']);
});

test('validation examples held while training is empty go to validation once training has one; under 100 training examples is a warning', async () => {
  const examples = Array.from({ length: 60 }, (_, i) => example(i));
  const { report, lines } = await convert(examples, 0.2);
  const expectedValidation = examples.filter((e) => assignSplit(JSON.stringify(e), 42, 0.2) === 'validation').length;
  assert.ok(expectedValidation > 0);
  assert.equal(lines.validation.length, expectedValidation, 'the stable split is kept');
  assert.equal(lines.train.length + lines.validation.length, 60);
  assert.match(
    report.warnings.find((w) => w.code === 'few_training_examples')!.message,
    /\d+ training example\(s\); Google recommends starting with 100/,
  );
});

test('no valid example: an error of its own (the training file would be empty), not a silent success', async () => {
  const { report, lines } = await convert([{ contents: [] }, { contents: [{ role: 'model', parts: [{ text: 'a' }] }] }]);
  assert.equal(lines.train.length, 0);
  assert.ok(report.errors.some((e) => e.code === 'no_training_examples'));
});
