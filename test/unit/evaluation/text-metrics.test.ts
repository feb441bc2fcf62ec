import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bleu, metricTokens, rougeL } from '../../../shared/evaluation/text-metrics.ts';

// Reference values: sacreBLEU 2.6.0, sentence_bleu(hyp, [ref], tokenize='none', use_effective_order=True,
// smooth_method='exp') on the same lowercase tokens, run once from its wheel; the pairs are fixed here.
const SACREBLEU: [string, string, number][] = [
  ['the cat is on the mat', 'the cat sat on the mat', 0.379918],
  ['there is a cat on the mat', 'the cat is on the mat', 0.277762],
  ['billing high negative', 'billing high negative', 1],
  ['a', 'the cat sat on the mat', 0],
  ['the quick brown fox jumps over the lazy dog', 'a quick brown dog jumps over the lazy fox', 0.381417],
  ['refund within 30 days from billing', 'you can get a refund within 30 days from the billing page', 0.292564],
  ['hello world', 'goodbye moon', 0],
];

test("sentence BLEU with effective order equals sacreBLEU's on the same tokens", () => {
  for (const [hypothesis, reference, expected] of SACREBLEU)
    assert.equal(bleu(hypothesis, reference), expected, `${hypothesis} | ${reference}`);
});

test('ROUGE-L is the F-measure of the longest common subsequence of tokens', () => {
  // LCS "the cat on the mat": 5 of 6 tokens each way.
  assert.equal(rougeL('the cat is on the mat', 'the cat sat on the mat'), 0.833333);
  // LCS 4 ("cat on the mat"): precision 4/7, recall 4/6.
  assert.equal(
    rougeL('there is a cat on the mat', 'the cat is on the mat'),
    Number(((2 * (4 / 7) * (4 / 6)) / (4 / 7 + 4 / 6)).toFixed(6)),
  );
  assert.equal(rougeL('Billing, HIGH!', 'billing high'), 1, 'case and punctuation do not count');
  assert.equal(rougeL('nothing shared', 'entirely different'), 0);
  assert.equal(rougeL('', ''), 1);
});

test('tokens: letters and digits of any script, each CJK character alone', () => {
  assert.deepEqual(metricTokens('Réponse: 42 fois, déjà!'), ['réponse', '42', 'fois', 'déjà']);
  assert.deepEqual(metricTokens('返金は30日以内'), ['返', '金', 'は', '30', '日', '以', '内']);
  assert.equal(rougeL('返金は30日以内', '返金は30日以内です'), 0.875, 'all 7 tokens of 9: precision 1, recall 7/9');
});
