/**
 * The operator's spending limits on tuning, checked before any job exists. The figures are the
 * converter's estimates (training tokens × epochs × the model's training price, Google's padding
 * included); a run without one (a model whose price the catalogue does not know, or a launch
 * from another system that sent none) is unknown, and passes only if the operator allows that.
 * Evaluation inference is in it when the catalogue holds the model's batch price (an operator's MODEL_CATALOGUE row: no stored pricing page lists it).
 */
export interface CostLimits {
  /** Per run (MAX_RUN_COST_USD); null: none. */
  maxRunUsd: number | null;
  /** Per calendar month, UTC, summed over the month's runs (COST_BUDGET_USD); null: none. */
  monthlyBudgetUsd: number | null;
  /** ALLOW_UNKNOWN_COST: a run without an estimate passes the limits above. */
  allowUnknown: boolean;
}

/**
 * A run's estimate from its dataset's report: training once a stage (a stage of a staged run
 * trains at most the preference example's tokens, prompt and the longer completion: an upper
 * bound), plus evaluation when its batch price is known, for each model asked (base and tuned,
 * and stage 1's model too in a staged run). Null when the training price is unknown.
 */
export function launchEstimateUsd(cost: { usd: number | null; evaluationUsd?: number | null | undefined }, stages: number): number | null {
  if (cost.usd === null) return null;
  // The report's evaluation figure is for two models; a staged run asks three.
  const evaluation = (cost.evaluationUsd ?? 0) * (stages > 1 ? 1.5 : 1);
  return Math.round((cost.usd * stages + evaluation) * 10_000) / 10_000;
}

/** The first instant of the month `nowMs` falls in, UTC, as ISO text (runs' createTime compare as text). */
export function monthStart(nowMs: number): string {
  const now = new Date(nowMs);
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString();
}

/**
 * Why a launch must not start under the limits, with the figures, or null. `spentThisMonthUsd`
 * sums the estimates of this month's runs so far (refused ones excluded); `unknownThisMonth`
 * counts those without one.
 */
export function costRefusal(
  estimateUsd: number | null | undefined,
  limits: CostLimits,
  month: { spentUsd: number; unknownRuns: number },
): string | null {
  if (limits.maxRunUsd === null && limits.monthlyBudgetUsd === null) return null;
  if (estimateUsd === null || estimateUsd === undefined) {
    if (limits.allowUnknown) return null;
    return 'the run has no cost estimate (its model has no known training price, or the launch sent none) and MAX_RUN_COST_USD / COST_BUDGET_USD are set: set the price with MODEL_CATALOGUE, or ALLOW_UNKNOWN_COST=true';
  }
  if (limits.maxRunUsd !== null && estimateUsd > limits.maxRunUsd) {
    return `estimated cost $${estimateUsd.toFixed(2)} is over MAX_RUN_COST_USD $${limits.maxRunUsd.toFixed(2)}`;
  }
  if (limits.monthlyBudgetUsd !== null && month.spentUsd + estimateUsd > limits.monthlyBudgetUsd) {
    const unknown = month.unknownRuns > 0 ? ` (and ${month.unknownRuns} run(s) without an estimate)` : '';
    return `estimated cost $${estimateUsd.toFixed(2)} on top of $${month.spentUsd.toFixed(2)} estimated this month${unknown} is over COST_BUDGET_USD $${limits.monthlyBudgetUsd.toFixed(2)}`;
  }
  return null;
}
