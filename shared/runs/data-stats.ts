import { z } from 'zod';

/**
 * What the run document keeps of a tuning job's `tuningDataStats`. Vertex's
 * SupervisedTuningDataStats (google/cloud/aiplatform/v1beta1/tuning_job.proto) carries sample
 * training conversations (`userDatasetExamples`) and histograms: customers' data in a document
 * every app may read, and unbounded against Firestore's 1 MiB limit. The run keeps counts, and
 * what people must act on: examples Vertex truncated or dropped, said as warnings.
 */
const MAX_INDICES = 100;
const MAX_REASONS = 20;
const MAX_REASON_CHARS = 300;

export const tuningDataStatsSummarySchema = z.object({
  exampleCount: z.number().int().nonnegative().nullable(),
  billableTokenCount: z.number().int().nonnegative().nullable(),
  tuningStepCount: z.number().int().nonnegative().nullable(),
  truncatedExampleCount: z.number().int().nonnegative(),
  /** The first truncated examples' indices in the training file (0-based, as Vertex gives them). */
  truncatedExampleIndices: z.array(z.number().int().nonnegative()).max(MAX_INDICES),
  droppedExampleReasons: z.array(z.string().max(MAX_REASON_CHARS)).max(MAX_REASONS),
  /** Truncated or dropped examples, in words, for the status API and the dashboard. */
  warnings: z.array(z.string()),
});
export type TuningDataStatsSummary = z.infer<typeof tuningDataStatsSummarySchema>;

const count = (value: unknown): number | null => {
  const number = typeof value === 'string' || typeof value === 'number' ? Number(value) : Number.NaN;
  return Number.isSafeInteger(number) && number >= 0 ? number : null;
};

/** The summary of a job's `tuningDataStats` (any method's stats object; supervised is read). */
export function summarizeTuningDataStats(raw: Record<string, unknown> | undefined): TuningDataStatsSummary | null {
  if (!raw) return null;
  const stats = (raw.supervisedTuningDataStats ?? raw.preferenceOptimizationDataStats ?? {}) as Record<string, unknown>;
  const indices = Array.isArray(stats.truncatedExampleIndices)
    ? stats.truncatedExampleIndices.map(count).filter((n): n is number => n !== null)
    : [];
  const truncated = count(stats.totalTruncatedExampleCount) ?? indices.length;
  const reasons = Array.isArray(stats.droppedExampleReasons) ? stats.droppedExampleReasons.map(String) : [];
  const warnings: string[] = [];
  if (truncated > 0) {
    const shown = indices
      .slice(0, 10)
      .map((index) => index + 1)
      .join(', ');
    warnings.push(
      `Vertex truncated ${truncated} training example(s) to the model's limit${shown ? ` (lines ${shown}${indices.length > 10 ? ', …' : ''})` : ''}: what was cut is not trained on`,
    );
  }
  if (reasons.length > 0)
    warnings.push(`Vertex dropped ${reasons.length} training example(s): ${clip(reasons[0]!)}${reasons.length > 1 ? ' …' : ''}`);
  return {
    exampleCount: count(stats.tuningDatasetExampleCount),
    billableTokenCount: count(stats.totalBillableTokenCount),
    tuningStepCount: count(stats.tuningStepCount),
    truncatedExampleCount: truncated,
    truncatedExampleIndices: indices.slice(0, MAX_INDICES),
    droppedExampleReasons: reasons.slice(0, MAX_REASONS).map(clip),
    warnings,
  };
}

function clip(text: string): string {
  return text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS - 1)}…` : text;
}
