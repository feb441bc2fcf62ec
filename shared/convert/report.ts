import { getModelSpec, MODEL_TABLE_SOURCE, OPERATOR_PRICE } from '../gemini/models.ts';
import {
  reportSchema,
  type ConversionReport,
  type Issue,
  type RawFormat,
  type RecordParseFailure,
  type TuningMethod,
  type RecordResult,
} from './types.ts';

/** Google's own tuning cost notebook adds 8 tokens of padding per example. */
export const PER_EXAMPLE_BILLING_PADDING = 8;

export interface ReportMeta {
  input: string;
  format: RawFormat;
  method: TuningMethod;
  baseModel: string;
  /** null when the user did not say; the estimate then assumes one epoch and says so. */
  epochs: number | null;
}

/**
 * Accumulates a conversion's outcome in flat memory, whatever the input size: the first
 * `maxIssues` errors and warnings are kept (with full counts), and per-example token counts go
 * into a growable Uint32Array (4 bytes an example) so the p95 is exact.
 */
export class ReportBuilder {
  private readonly maxIssues: number;
  private readonly errors: Issue[] = [];
  private readonly warnings: Issue[] = [];
  private errorCount = 0;
  private warningCount = 0;
  private total = 0;
  private valid = 0;
  private invalid = 0;
  private train = 0;
  private validation = 0;
  private totalTokens = 0;
  private trainTokens = 0;
  private validationTokens = 0;
  private maxTokens = 0;
  private counts = new Uint32Array(1024);

  constructor(options: { maxIssues?: number } = {}) {
    this.maxIssues = options.maxIssues ?? 1000;
  }

  /** A converted record; `split` is where a valid example was written. */
  addResult(result: RecordResult, split?: 'train' | 'validation'): void {
    for (const warning of result.warnings) this.addWarning(warning);
    if (result.skipped) return;
    this.total += 1;
    if (result.example && result.errors.length === 0) {
      this.valid += 1;
      this.totalTokens += result.tokens;
      this.maxTokens = Math.max(this.maxTokens, result.tokens);
      if (this.valid > this.counts.length) {
        const grown = new Uint32Array(this.counts.length * 2);
        grown.set(this.counts);
        this.counts = grown;
      }
      this.counts[this.valid - 1] = result.tokens;
      if (split === 'validation') {
        this.validation += 1;
        this.validationTokens += result.tokens;
      } else {
        this.train += 1;
        this.trainTokens += result.tokens;
      }
    } else {
      this.invalid += 1;
      for (const error of result.errors) this.addError(error);
    }
  }

  /** A record the reader could not parse: it counts as an invalid example. */
  addParseFailure(failure: RecordParseFailure): void {
    this.total += 1;
    this.invalid += 1;
    this.addError({
      line: failure.line,
      code: failure.code,
      message: failure.message,
      path: failure.item === undefined ? (failure.path ?? '') : `[${failure.item - 1}]`,
    });
  }

  addError(issue: Issue): void {
    this.errorCount += 1;
    if (this.errors.length < this.maxIssues) this.errors.push(issue);
  }

  addWarning(issue: Issue): void {
    this.warningCount += 1;
    if (this.warnings.length < this.maxIssues) this.warnings.push(issue);
  }

  get validExamples(): number {
    return this.valid;
  }

  get invalidExamples(): number {
    return this.invalid;
  }

  finish(meta: ReportMeta): ConversionReport {
    const epochs = meta.epochs ?? 1;
    // Only training examples are trained on (and billed); validation examples are not.
    const billable = (this.trainTokens + PER_EXAMPLE_BILLING_PADDING * this.train) * epochs;
    const spec = getModelSpec(meta.baseModel);
    const price = spec?.trainingPricePerMillionUsd ?? null;
    const notes: string[] = [];
    if (!spec) notes.push(`"${meta.baseModel}" is not in the model catalogue: its training price is unknown, so no cost is estimated`);
    else if (price === null)
      notes.push(`the training price of ${spec.id} is unknown (${spec.priceVerifiedOn ?? 'not listed'}), so no cost is estimated`);
    else if (spec.priceVerifiedOn === OPERATOR_PRICE) notes.push(`price ${OPERATOR_PRICE}; text tokens only, media not counted`);
    else notes.push(`price as listed on ${MODEL_TABLE_SOURCE.prices} (read ${spec.priceVerifiedOn}); text tokens only, media not counted`);
    if (meta.epochs === null) notes.push('epochs not given: one epoch assumed, multiply by your epoch count');
    const evaluationUsd = evaluationEstimate(this.validation, this.validationTokens, spec?.batchPricePerMillionUsd ?? null);
    if (this.validation > 0)
      notes.push(
        evaluationUsd === null
          ? `evaluation (batch inference on the ${this.validation} validation examples) is not estimated: the batch price of ${spec?.id ?? meta.baseModel} is not in the catalogue (MODEL_CATALOGUE batchPricePerMillionUsd)`
          : 'evaluation: at most every validation token as input and as output, for the base and the tuned model',
      );
    const report: ConversionReport = {
      input: meta.input,
      format: meta.format,
      method: meta.method,
      baseModel: meta.baseModel,
      epochs,
      examples: { total: this.total, valid: this.valid, invalid: this.invalid },
      errors: this.errors,
      errorCount: this.errorCount,
      warnings: this.warnings,
      warningCount: this.warningCount,
      tokens: {
        total: this.totalTokens,
        perExample: {
          mean: this.valid === 0 ? 0 : round(this.totalTokens / this.valid),
          p95: percentile(this.counts.subarray(0, this.valid), 0.95),
          max: this.maxTokens,
        },
        billable,
      },
      estimatedCost: {
        model: spec?.id ?? meta.baseModel,
        usd: price === null ? null : round((billable / 1_000_000) * price, 4),
        pricePerMillionTokensUsd: price,
        ...(this.validation > 0 ? { evaluationUsd } : {}),
        source: MODEL_TABLE_SOURCE.prices,
        note: notes.join('; '),
      },
      split: { train: this.train, validation: this.validation },
    };
    return reportSchema.parse(report);
  }
}

/**
 * Evaluation's batch inference for the base and the tuned model, an upper bound: each held-out
 * example's tokens taken once as input and once as output (a request is its prompt, the answer
 * is about as long as the reference, and both are within the example). Null without a price.
 */
export function evaluationEstimate(examples: number, tokens: number, price: { input: number; output: number } | null): number | null {
  if (price === null || examples === 0) return null;
  const perModel = (tokens / 1_000_000) * (price.input + price.output);
  return round(perModel * 2, 4);
}

/** Nearest-rank percentile: the smallest value with at least `q` of the values at or below it. */
function percentile(values: Uint32Array, q: number): number {
  if (values.length === 0) return 0;
  const sorted = Uint32Array.from(values).sort();
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? 0;
}

function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
