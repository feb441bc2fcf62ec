import { z } from 'zod';
import { normalizeAnswer } from './normalize.ts';
import { parseJsonAnswer } from './scoring.ts';
import { isToolCallReference } from './tool-calls.ts';

/**
 * Which measure fits the task, read from the held-out references, and for classification tasks
 * (short labels) the per-label report: precision, recall and F1 for each label, their macro
 * average, and the confusion table (reference label → predicted label → count). Labels are
 * compared normalised (case, spacing, Unicode form: scoring.ts normalizeAnswer).
 */

/** At most this many distinct labels, each at most this long, for references to read as labels. */
export const MAX_LABELS = 50;
export const MAX_LABEL_CHARS = 64;
/** A prediction that is none of the reference labels (or no answer) is counted under this name. */
export const OTHER_LABEL = '(other)';

/** Whether the references are class labels: short, few distinct values, each seen more than once on average. */
export function looksLikeLabels(references: readonly string[]): boolean {
  if (references.length < 2) return false;
  const labels = new Set<string>();
  for (const reference of references) {
    if (reference.length > MAX_LABEL_CHARS || isJson(reference)) return false;
    labels.add(normalizeAnswer(reference));
  }
  return labels.size <= MAX_LABELS && labels.size <= references.length / 2;
}

/**
 * The headline measure when the request names none: function calls → parameter key-value match
 * (the strictest of the tool-call metrics short of exact match); JSON answers → field-level
 * accuracy; class labels → exact (normalised) match, the accuracy; free text → ROUGE-L.
 */
export function pickMetric(references: readonly string[]): 'tool_parameter_kv_match' | 'json_fields' | 'normalized_match' | 'rouge_l' {
  const calls = references.filter(isToolCallReference).length;
  if (references.length > 0 && calls * 2 >= references.length) return 'tool_parameter_kv_match';
  const json = references.filter(isJson).length;
  if (references.length > 0 && json * 2 >= references.length) return 'json_fields';
  return looksLikeLabels(references) ? 'normalized_match' : 'rouge_l';
}

export const classificationReportSchema = z.object({
  accuracy: z.number(),
  macroF1: z.number(),
  labels: z.array(z.object({ label: z.string(), precision: z.number(), recall: z.number(), f1: z.number(), support: z.number().int() })),
  /** reference label → predicted label (or "(other)") → count. */
  confusion: z.record(z.string(), z.record(z.string(), z.number().int())),
});
export type ClassificationReport = z.infer<typeof classificationReportSchema>;

/** The report for one model: `predictions[i]` answers `references[i]` (null: no answer). */
export function classificationReport(references: readonly string[], predictions: readonly (string | null)[]): ClassificationReport {
  const truth = references.map(normalizeAnswer);
  const labels = [...new Set(truth)].sort();
  const known = new Set(labels);
  const guessed = predictions.map((prediction) => {
    const label = prediction === null ? OTHER_LABEL : normalizeAnswer(prediction);
    return known.has(label) ? label : OTHER_LABEL;
  });
  const confusion: Record<string, Record<string, number>> = {};
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    const row = (confusion[truth[i]!] ??= {});
    row[guessed[i]!] = (row[guessed[i]!] ?? 0) + 1;
    if (guessed[i] === truth[i]) correct += 1;
  }
  const rawF1: number[] = [];
  const perLabel = labels.map((label) => {
    const truePositive = confusion[label]?.[label] ?? 0;
    const predicted = guessed.filter((g) => g === label).length;
    const support = truth.filter((t) => t === label).length;
    const precision = predicted === 0 ? 0 : truePositive / predicted;
    const recall = support === 0 ? 0 : truePositive / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    rawF1.push(f1);
    return { label, precision: round(precision), recall: round(recall), f1: round(f1), support };
  });
  const macroF1 = rawF1.length === 0 ? 0 : rawF1.reduce((sum, f1) => sum + f1, 0) / rawF1.length;
  return { accuracy: round(truth.length === 0 ? 0 : correct / truth.length), macroF1: round(macroF1), labels: perLabel, confusion };
}

function isJson(text: string): boolean {
  const value = parseJsonAnswer(text);
  return value !== null && typeof value === 'object';
}

const round = (value: number) => Number(value.toFixed(6));
