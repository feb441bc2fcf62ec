import { z } from 'zod';

/**
 * Training metrics of a run, as the completion handler copies them out of Vertex (the seed team
 * did this by hand into MLflow). Metric names are Vertex's for Gemini tuning, documented under
 * "Tuning and validation metrics" in
 * https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-use-supervised-tuning:
 * `/train_total_loss`, `/train_fraction_of_correct_next_step_preds`, `/train_num_predictions`,
 * and with a validation set the same three with `/eval_`.
 */
export const KNOWN_METRICS = [
  '/train_total_loss',
  '/train_fraction_of_correct_next_step_preds',
  '/train_num_predictions',
  '/eval_total_loss',
  '/eval_fraction_of_correct_next_step_preds',
  '/eval_num_predictions',
] as const;

export const metricPointSchema = z.object({
  step: z.number().int().nonnegative(),
  value: z.number(),
  wallTime: z.string().nullable(),
});
export type MetricPoint = z.infer<typeof metricPointSchema>;

export interface MetricSeries {
  metric: string;
  points: MetricPoint[];
}

/** `runs/{runId}/metrics/{docId}`: one document per metric and attempt, points by step. */
export const metricDocumentSchema = z.object({
  schemaVersion: z.literal(1),
  runId: z.string(),
  attempt: z.number().int().positive(),
  metric: z.string(),
  /** Keyed by step (as a string: Firestore map keys), so re-reading the same steps writes nothing new. */
  points: z.record(z.string(), z.object({ value: z.number(), wallTime: z.string().nullable() })),
  updateTime: z.string(),
});
export type MetricDocument = z.infer<typeof metricDocumentSchema>;

export const metricSummarySchema = z.object({
  final: z.number().nullable(),
  finalStep: z.number().int().nullable(),
  /** The lowest value for losses, the highest otherwise. */
  best: z.number().nullable(),
  bestStep: z.number().int().nullable(),
  points: z.number().int().nonnegative(),
});
export type MetricSummary = z.infer<typeof metricSummarySchema>;

/** Metric names are paths (`/train_total_loss`); Firestore document ids cannot hold `/`. */
export function metricDocumentId(metric: string, attempt: number): string {
  return `a${attempt}${metric.replace(/[^A-Za-z0-9_-]+/g, '_')}`;
}

const lowerIsBetter = (metric: string) => /loss/.test(metric);

export function summarizeSeries(series: MetricSeries): MetricSummary {
  const points = [...series.points].sort((a, b) => a.step - b.step);
  if (points.length === 0) return { final: null, finalStep: null, best: null, bestStep: null, points: 0 };
  const last = points.at(-1)!;
  let best = points[0]!;
  for (const point of points) if (lowerIsBetter(series.metric) ? point.value < best.value : point.value > best.value) best = point;
  return { final: last.value, finalStep: last.step, best: best.value, bestStep: best.step, points: points.length };
}

/** The points of `incoming` not already stored with the same value: what a re-read must write (nothing, when nothing changed). */
export function newPoints(stored: MetricDocument['points'] | undefined, incoming: readonly MetricPoint[]): MetricPoint[] {
  return incoming.filter((point) => stored?.[String(point.step)]?.value !== point.value);
}
