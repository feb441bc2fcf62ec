import type { EvaluationArm } from './schema.ts';
import type { ModelScores } from './scoring.ts';

/** Where a run's evaluation files live in the outputs bucket. */
export function evaluationFiles(outputsBucket: string, runId: string): { inputUri: string; referencesUri: string } {
  return {
    inputUri: `gs://${outputsBucket}/runs/${runId}/evaluation/requests.jsonl`,
    referencesUri: `gs://${outputsBucket}/runs/${runId}/evaluation/references.jsonl`,
  };
}

export function batchOutputPrefix(outputsBucket: string, runId: string, which: EvaluationArm, attempt: number): string {
  return `gs://${outputsBucket}/runs/${runId}/evaluation/${which}/a${attempt}`;
}

/** Batch jobs take no labels through the genai API: the display name, unique per run, model and attempt, is how a retry finds its job. */
export function batchDisplayName(runId: string, which: EvaluationArm, attempt: number): string {
  return `sft-${runId}-${which}-a${attempt}`;
}

/** The figure the launch request asked for (its `evaluation.metric`), base and tuned, and the gain. */
export function headlineScore(
  metric: string,
  base: ModelScores,
  tuned: ModelScores,
): { base: number | null; tuned: number | null; delta: number | null } {
  const pick = (scores: ModelScores) =>
    metric === 'normalized_match' ? scores.normalizedMatch : metric === 'json_fields' ? scores.jsonFieldAccuracy : scores.exactMatch;
  const b = pick(base);
  const t = pick(tuned);
  return { base: b, tuned: t, delta: b === null || t === null ? null : Number((t - b).toFixed(6)) };
}
