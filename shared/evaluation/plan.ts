import type { EvaluationArm } from './schema.ts';
import type { ModelScores } from './scoring.ts';
import type { ToolCallScores } from './tool-calls.ts';

/** The launch request's names of the tool-call metrics (Vertex's) and the fields that hold them. */
export const TOOL_METRIC_FIELDS: Partial<Record<string, keyof ToolCallScores>> = {
  tool_call_valid: 'toolCallValid',
  tool_name_match: 'toolNameMatch',
  tool_parameter_key_match: 'toolParameterKeyMatch',
  tool_parameter_kv_match: 'toolParameterKvMatch',
};

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

/** The value of the run's headline metric in a set of scores (a model's, or one example's). */
export function headlineValue(
  metric: string,
  scores: Pick<ModelScores, 'exactMatch' | 'normalizedMatch' | 'jsonFieldAccuracy' | 'rougeL' | 'bleu'> & {
    toolCalls?: ToolCallScores | null;
    toolCallValid?: number | null;
    toolNameMatch?: number | null;
    toolParameterKeyMatch?: number | null;
    toolParameterKvMatch?: number | null;
  },
): number | null {
  const tool = TOOL_METRIC_FIELDS[metric];
  // One example's scores hold them under toolCalls; a model's, flat.
  if (tool) return scores.toolCalls !== undefined ? (scores.toolCalls?.[tool] ?? null) : (scores[tool] ?? null);
  switch (metric) {
    case 'normalized_match':
      return scores.normalizedMatch;
    case 'json_fields':
      return scores.jsonFieldAccuracy;
    case 'rouge_l':
      return scores.rougeL;
    case 'bleu':
      return scores.bleu;
    default:
      return scores.exactMatch;
  }
}

/**
 * Which model scored best by the headline metric: the tuned one unless another beats it. A tie
 * keeps, in order, the tuned model, the later stage, the later checkpoint, then the base model.
 * Null when no model has a figure.
 */
export function bestModel(headline: {
  base: number | null;
  tuned: number | null;
  stage1?: number | null | undefined;
  checkpoints?: Record<string, number | null> | undefined;
}): EvaluationArm | null {
  const candidates: [EvaluationArm, number | null | undefined][] = [
    ['tuned', headline.tuned],
    ['stage1', headline.stage1],
    // Later checkpoints first: a tie goes to the one that trained longer.
    ...(Object.entries(headline.checkpoints ?? {}) as [EvaluationArm, number | null][]).reverse(),
    ['base', headline.base],
  ];
  let best: EvaluationArm | null = null;
  let score = -Infinity;
  for (const [arm, value] of candidates) {
    if (typeof value === 'number' && value > score) {
      best = arm;
      score = value;
    }
  }
  return best;
}

/** The figure the launch request asked for (its `evaluation.metric`), base and tuned, and the gain. */
export function headlineScore(
  metric: string,
  base: ModelScores,
  tuned: ModelScores,
): { base: number | null; tuned: number | null; delta: number | null } {
  const pick = (scores: ModelScores) => headlineValue(metric, scores);
  const b = pick(base);
  const t = pick(tuned);
  return { base: b, tuned: t, delta: b === null || t === null ? null : Number((t - b).toFixed(6)) };
}
