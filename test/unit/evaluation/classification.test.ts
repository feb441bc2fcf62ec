import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classificationReport, looksLikeLabels, pickMetric } from '../../../shared/evaluation/classification.ts';
import { bestModel } from '../../../shared/evaluation/plan.ts';

test('the headline measure is read from the references: JSON → fields, labels → accuracy, free text → ROUGE-L', () => {
  assert.equal(pickMetric(['{"a":1}', '{"a":2}', 'x']), 'json_fields');
  assert.equal(pickMetric(['billing', 'Billing', 'bug', 'bug ', 'account', 'billing']), 'normalized_match');
  assert.equal(
    pickMetric(['You can get a refund within 30 days.', 'Open Settings, then Security.', 'We ship to 40 countries.']),
    'rouge_l',
  );
  assert.equal(looksLikeLabels(['a', 'b', 'c', 'd']), false, 'every reference different: not labels');
  assert.equal(looksLikeLabels(['positive', 'negative', 'positive', 'negative']), true);
});

test('per-label precision, recall and F1, macro F1 and the confusion table, worked by hand', () => {
  const references = ['spam', 'spam', 'spam', 'ham', 'ham', 'ham'];
  const predictions = ['spam', 'Spam', 'ham', 'ham', 'spam', null];
  const report = classificationReport(references, predictions);
  // spam: predicted 3 times (2 right) → precision 2/3; 3 true spam, 2 found → recall 2/3.
  // ham: predicted 2 times (1 right) → precision 1/2; 3 true ham, 1 found → recall 1/3; F1 = 0.4.
  assert.deepEqual(report.labels, [
    { label: 'ham', precision: 0.5, recall: 0.333333, f1: 0.4, support: 3 },
    { label: 'spam', precision: 0.666667, recall: 0.666667, f1: 0.666667, support: 3 },
  ]);
  assert.equal(report.accuracy, 0.5);
  assert.equal(report.macroF1, Number(((0.4 + 2 / 3) / 2).toFixed(6)));
  assert.deepEqual(report.confusion, { spam: { spam: 2, ham: 1 }, ham: { ham: 1, spam: 1, '(other)': 1 } });
});

test('the best model by the headline: the tuned one unless another beats it; ties keep the later stage', () => {
  assert.equal(bestModel({ base: 0.6, tuned: 0.7 }), 'tuned');
  assert.equal(bestModel({ base: 0.6, tuned: 0.65, stage1: 0.72 }), 'stage1', 'preference tuning made it worse than stage 1');
  assert.equal(bestModel({ base: 0.8, tuned: 0.7, stage1: 0.75 }), 'base');
  assert.equal(bestModel({ base: 0.7, tuned: 0.7, stage1: 0.7 }), 'tuned');
  assert.equal(bestModel({ base: null, tuned: null }), null);
  assert.equal(bestModel({ base: 0.5, tuned: 0.6, checkpoints: { 'checkpoint-1': 0.7, 'checkpoint-2': 0.65 } }), 'checkpoint-1');
  assert.equal(
    bestModel({ base: 0.5, tuned: 0.6, checkpoints: { 'checkpoint-1': 0.7, 'checkpoint-2': 0.7 } }),
    'checkpoint-2',
    'a tie goes to the checkpoint that trained longer',
  );
  assert.equal(bestModel({ base: 0.5, tuned: 0.7, checkpoints: { 'checkpoint-1': 0.7 } }), 'tuned');
});
