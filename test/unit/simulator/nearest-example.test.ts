import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { nearestExampleModel } from '../../../simulator/vertex/batch.ts';

/** The model's rule written as a plain scan over every example: what the index must agree with. */
function byScan(training: { question: string; answer: string }[], question: string): string {
  const words = (text: string) => new Set(text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []);
  const asked = words(question);
  let best = { score: -1, answer: '' };
  for (const example of training) {
    const own = words(example.question);
    let shared = 0;
    for (const word of asked) if (own.has(word)) shared += 1;
    const score = shared / Math.max(1, asked.size + own.size - shared);
    if (score > best.score) best = { score, answer: example.answer };
  }
  return best.answer;
}

test('the simulator\'s indexed "tuned model" answers exactly as a scan over every training example would', () => {
  const vocabulary = fc.constantFrom('refund', 'order', 'password', 'reset', 'crash', 'ship', 'canada', 'the', 'my', '결제', '配送');
  const sentence = fc.array(vocabulary, { maxLength: 6 }).map((w) => w.join(' '));
  fc.assert(
    fc.property(
      fc.array(fc.record({ question: sentence, answer: fc.string({ maxLength: 5 }) }), { maxLength: 30 }),
      sentence,
      (training, question) => {
        const model = nearestExampleModel(training);
        const answered = model({ contents: [{ role: 'user', parts: [{ text: question }] }] });
        assert.deepEqual(answered, { text: byScan(training, question) });
      },
    ),
    { numRuns: 500 },
  );
});
