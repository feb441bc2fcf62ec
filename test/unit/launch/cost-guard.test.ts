import { test } from 'node:test';
import assert from 'node:assert/strict';
import { costRefusal, launchEstimateUsd, monthStart } from '../../../shared/launch/cost-guard.ts';
import { evaluationEstimate } from '../../../shared/convert/report.ts';

const none = { spentUsd: 0, unknownRuns: 0 };

test('no limit set: every launch passes, estimate or not', () => {
  assert.equal(costRefusal(1_000, { maxRunUsd: null, monthlyBudgetUsd: null, allowUnknown: false }, none), null);
  assert.equal(costRefusal(null, { maxRunUsd: null, monthlyBudgetUsd: null, allowUnknown: false }, none), null);
});

test('a run over MAX_RUN_COST_USD, or over what is left of COST_BUDGET_USD this month, is refused with the figures', () => {
  const limits = { maxRunUsd: 50, monthlyBudgetUsd: 200, allowUnknown: false };
  assert.equal(costRefusal(49.99, limits, none), null);
  assert.equal(costRefusal(50.01, limits, none), 'estimated cost $50.01 is over MAX_RUN_COST_USD $50.00');
  assert.equal(costRefusal(40, limits, { spentUsd: 150, unknownRuns: 0 }), null);
  assert.equal(
    costRefusal(40.5, limits, { spentUsd: 160, unknownRuns: 2 }),
    'estimated cost $40.50 on top of $160.00 estimated this month (and 2 run(s) without an estimate) is over COST_BUDGET_USD $200.00',
  );
});

test('with a limit set, a run without an estimate passes only if the operator allows it', () => {
  assert.match(
    costRefusal(null, { maxRunUsd: 50, monthlyBudgetUsd: null, allowUnknown: false }, none) ?? '',
    /no cost estimate .* ALLOW_UNKNOWN_COST=true/,
  );
  assert.equal(costRefusal(undefined, { maxRunUsd: null, monthlyBudgetUsd: 10, allowUnknown: true }, none), null);
});

test('the month is the calendar month in UTC', () => {
  assert.equal(monthStart(Date.parse('2026-11-30T23:59:59.999Z')), '2026-11-01T00:00:00.000Z');
  assert.equal(monthStart(Date.parse('2026-12-01T00:00:00.000Z')), '2026-12-01T00:00:00.000Z');
});

test("a launch's estimate: training once a stage, plus evaluation when its batch price is known (three models for a staged run)", () => {
  assert.equal(launchEstimateUsd({ usd: 2, evaluationUsd: null }, 1), 2);
  assert.equal(launchEstimateUsd({ usd: 2, evaluationUsd: 0.4 }, 1), 2.4);
  assert.equal(launchEstimateUsd({ usd: 2, evaluationUsd: 0.4 }, 2), 4.6);
  assert.equal(launchEstimateUsd({ usd: null, evaluationUsd: 0.4 }, 2), null, 'no training price: unknown, whatever evaluation costs');
  // The report's evaluation bound: every validation token in and out, for two models.
  assert.equal(evaluationEstimate(10, 500_000, { input: 0.5, output: 2 }), 2.5);
  assert.equal(evaluationEstimate(10, 500_000, null), null);
  assert.equal(evaluationEstimate(0, 0, { input: 0.5, output: 2 }), null);
});
