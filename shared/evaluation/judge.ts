import { z } from 'zod';
import type { ExampleComparison } from './examples.ts';

/**
 * The judge: Vertex's Gen AI evaluation service compares the tuned and the base model's answers
 * to each held-out prompt (a pairwise model-based metric, EvaluateInstances'
 * PairwiseMetricInput; its judge is a Gemini model). Opt-in per run (`evaluation.judge`): every
 * example judged is a call to the judge model, billed and under its quota.
 *
 * The candidate is the tuned model, the baseline the base one: the service's pairwise results
 * name them CANDIDATE and BASELINE (PairwiseChoice), its templates Response B and Response A.
 * The template below is ours, written in the structure of Google's PairwiseMetricPromptTemplate
 * (python-aiplatform vertexai/evaluation/metrics/metric_prompt_template.py: instruction,
 * criteria, rating rubric "A" / "SAME" / "B", evaluation steps, then the inputs and the two
 * responses, the baseline as A), with its input fields `prompt` and `reference` besides the two
 * responses (`baseline_model_response`, `response`: the SDK's default field names).
 */
export const PAIRWISE_TEMPLATE = [
  '# Instruction',
  'You are an expert evaluator. Compare two AI-generated responses (Response A and Response B) to the same user input. A reference answer written by the task owner is given: a response that agrees with it in substance and form is better.',
  '',
  '# Evaluation',
  '## Criteria',
  'Correctness: the response gives the same facts, labels, values or function calls as the reference.',
  'Instruction following: the response answers the user input in the form the reference shows (length, format, language).',
  '',
  '## Rating Rubric',
  '"A": Response A is better than Response B.',
  '"SAME": Response A and Response B are equally good (or equally bad).',
  '"B": Response B is better than Response A.',
  '',
  '## Evaluation Steps',
  'Step 1: Analyze Response A against the criteria and the reference.',
  'Step 2: Analyze Response B against the criteria and the reference.',
  'Step 3: Compare them, and output "A", "SAME" or "B" to the pairwise_choice field according to the rubric.',
  'Step 4: Output your reasoning in the explanation field.',
  '',
  '# User Inputs and AI-generated Responses',
  '## User Inputs',
  '### prompt',
  '{prompt}',
  '',
  '### reference',
  '{reference}',
  '',
  '## AI-generated Responses',
  '### Response A',
  '{baseline_model_response}',
  '',
  '### Response B',
  '{response}',
].join('\n');

export const judgeSpecSchema = z.object({
  /** At most this many examples are judged (the first ones, in file order): the judge is billed per call. */
  maxExamples: z.number().int().positive().max(5000).default(200),
  /**
   * The judge model (AutoraterConfig.autorater_model: a publisher model,
   * `projects/…/locations/…/publishers/google/models/…`, or a tuned judge's endpoint). Absent:
   * the service's default judge.
   */
  model: z.string().min(1).optional(),
});
export type JudgeSpec = z.infer<typeof judgeSpecSchema>;

/** One example's judgment, in the pipeline's terms: which model's answer the judge preferred. */
export const judgmentSchema = z.object({
  winner: z.enum(['tuned', 'base', 'tie']),
  explanation: z.string(),
});
export type Judgment = z.infer<typeof judgmentSchema>;

/** The judge's explanation is kept to this many characters (it lives in the example's document). */
export const MAX_EXPLANATION = 2000;

/** PairwiseChoice → the pipeline's terms; null when the judge gave no choice (PAIRWISE_CHOICE_UNSPECIFIED). */
export function judgmentOf(choice: string, explanation: string): Judgment | null {
  const winner = choice === 'CANDIDATE' ? 'tuned' : choice === 'BASELINE' ? 'base' : choice === 'TIE' ? 'tie' : null;
  if (!winner) return null;
  return { winner, explanation: explanation.length > MAX_EXPLANATION ? `${explanation.slice(0, MAX_EXPLANATION - 1)}…` : explanation };
}

/**
 * The fields the template renders, for one example: the prompt, the reference and both answers
 * (an unanswered side is empty), as the examples' table keeps them: at most MAX_EXAMPLE_TEXT
 * (4,000) characters each, so a judge of long answers sees their beginnings.
 */
export function judgeInstance(example: Pick<ExampleComparison, 'prompt' | 'reference' | 'answers'>): Record<string, string> {
  return {
    prompt: example.prompt,
    reference: example.reference,
    baseline_model_response: example.answers.base ?? '',
    response: example.answers.tuned ?? '',
  };
}

/** Which examples the judge is asked about: those with an answer from at least one model, the first `maxExamples`. */
export function examplesToJudge<T extends Pick<ExampleComparison, 'index' | 'answers'>>(examples: readonly T[], maxExamples: number): T[] {
  return examples.filter((example) => example.answers.tuned !== null || example.answers.base !== null).slice(0, maxExamples);
}

export const judgeSummarySchema = z.object({
  /** The judge model asked (`default`: the service's own). */
  model: z.string(),
  judged: z.number().int().nonnegative(),
  tunedWins: z.number().int().nonnegative(),
  baseWins: z.number().int().nonnegative(),
  ties: z.number().int().nonnegative(),
  /** Shares of the judged examples, as the evaluation SDK's pairwise summary gives them (candidate / baseline model win rate). */
  tunedWinRate: z.number(),
  baseWinRate: z.number(),
  /** Examples the judge gave no choice for. */
  undecided: z.number().int().nonnegative(),
});
export type JudgeSummary = z.infer<typeof judgeSummarySchema>;

export function summarizeJudgments(model: string, judgments: readonly (Judgment | null)[]): JudgeSummary {
  const count = (winner: Judgment['winner']) => judgments.filter((j) => j?.winner === winner).length;
  const decided = judgments.filter((j) => j !== null).length;
  const share = (n: number) => (decided === 0 ? 0 : Number((n / decided).toFixed(6)));
  const tunedWins = count('tuned');
  const baseWins = count('base');
  return {
    model,
    judged: decided,
    tunedWins,
    baseWins,
    ties: count('tie'),
    tunedWinRate: share(tunedWins),
    baseWinRate: share(baseWins),
    undecided: judgments.length - decided,
  };
}
