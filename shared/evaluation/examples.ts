import { z } from 'zod';
import { headlineValue } from './plan.ts';
import type { ExampleScore } from './scoring.ts';
import { judgmentSchema } from './judge.ts';
import { toolCallScoresSchema } from './tool-calls.ts';

/**
 * The per-example comparison: for each held-out example, its prompt, the reference, every model's
 * answer and scores, and whether the tuned model did better than the base one by the run's
 * headline metric. Stored beside the run (`runs/{runId}/examples/{id}`, never in the run document:
 * 5,000 examples would pass Firestore's 1 MiB), paged by the status API and exported by the CLI.
 */
/** Texts are kept to this many characters each (a Firestore document is at most 1 MiB). */
export const MAX_EXAMPLE_TEXT = 4000;

const exampleScoreSchema = z.object({
  status: z.enum(['answered', 'blocked', 'empty', 'missing']),
  exactMatch: z.number(),
  normalizedMatch: z.number(),
  jsonFieldAccuracy: z.number().nullable(),
  rougeL: z.number(),
  bleu: z.number(),
  /** Only when the reference calls a function (tool-calls.ts). */
  toolCalls: toolCallScoresSchema.nullable().optional(),
});

export const verdictSchema = z.enum(['better', 'worse', 'same']);
export type Verdict = z.infer<typeof verdictSchema>;

export const exampleComparisonSchema = z.object({
  schemaVersion: z.literal(1),
  runId: z.string(),
  index: z.number().int().nonnegative(),
  prompt: z.string(),
  reference: z.string(),
  /** By model: tuned, base and, for a staged run, stage1. Null: no answer (blocked, empty, missing). */
  answers: z.record(z.string(), z.string().nullable()),
  scores: z.record(z.string(), exampleScoreSchema),
  metric: z.string(),
  /** Tuned against base by the headline metric. */
  verdict: verdictSchema,
  /** The judge's preference, when the run asked for one (judge.ts); written after the rest. */
  judge: judgmentSchema.optional(),
});
export type ExampleComparison = z.infer<typeof exampleComparisonSchema>;

/** The document id of an example: its index, padded so ids sort as the examples do. */
export function exampleDocumentId(index: number): string {
  return `e${String(index).padStart(6, '0')}`;
}

const clip = (text: string) => (text.length > MAX_EXAMPLE_TEXT ? `${text.slice(0, MAX_EXAMPLE_TEXT - 1)}…` : text);

/** Every example's comparison, from the prompts and references (in file order) and each model's per-example scores. */
export function compareExamples(
  runId: string,
  metric: string,
  prompts: readonly string[],
  references: readonly string[],
  byModel: Readonly<Record<string, readonly (ExampleScore | undefined)[]>>,
): ExampleComparison[] {
  return references.map((reference, index) => {
    const answers: Record<string, string | null> = {};
    const scores: Record<string, z.infer<typeof exampleScoreSchema>> = {};
    for (const [model, examples] of Object.entries(byModel)) {
      const { answer, ...score } = examples[index] ?? missingScore();
      answers[model] = answer === null ? null : clip(answer);
      scores[model] = score;
    }
    const tuned = scores.tuned ? headlineValue(metric, scores.tuned) : null;
    const base = scores.base ? headlineValue(metric, scores.base) : null;
    const verdict: Verdict = tuned === null || base === null || tuned === base ? 'same' : tuned > base ? 'better' : 'worse';
    return {
      schemaVersion: 1,
      runId,
      index,
      prompt: clip(prompts[index] ?? ''),
      reference: clip(reference),
      answers,
      scores,
      metric,
      verdict,
    };
  });
}

/** The headline metric's per-example values of two models, paired, examples where either is undefined left out. */
export function pairedValues(
  metric: string,
  base: readonly ExampleScore[],
  tuned: readonly ExampleScore[],
): { base: number[]; tuned: number[] } {
  const paired = { base: [] as number[], tuned: [] as number[] };
  for (let index = 0; index < Math.max(base.length, tuned.length); index++) {
    const b = base[index] ? headlineValue(metric, base[index]!) : null;
    const t = tuned[index] ? headlineValue(metric, tuned[index]!) : null;
    if (b === null || t === null) continue;
    paired.base.push(b);
    paired.tuned.push(t);
  }
  return paired;
}

function missingScore(): ExampleScore {
  return {
    status: 'missing',
    answer: null,
    exactMatch: 0,
    normalizedMatch: 0,
    jsonFieldAccuracy: null,
    rougeL: 0,
    bleu: 0,
    toolCalls: null,
  };
}

/** The table as CSV (RFC 4180: fields quoted, quotes doubled), one row per example. */
export function examplesCsv(examples: readonly ExampleComparison[]): string {
  const models = [...new Set(examples.flatMap((example) => Object.keys(example.answers)))].sort();
  // The judge's columns only when some example was judged.
  const judged = examples.some((example) => example.judge);
  const header = [
    'index',
    'verdict',
    'metric',
    'prompt',
    'reference',
    ...models.flatMap((m) => [`${m}_answer`, `${m}_score`]),
    ...(judged ? ['judge_winner', 'judge_explanation'] : []),
  ];
  const quote = (value: unknown) => `"${String(value ?? '').replaceAll('"', '""')}"`;
  const rows = examples.map((example) =>
    [
      example.index,
      example.verdict,
      example.metric,
      example.prompt,
      example.reference,
      ...models.flatMap((model) => {
        const score = example.scores[model];
        return [example.answers[model] ?? '', score ? (headlineValue(example.metric, score) ?? '') : ''];
      }),
      ...(judged ? [example.judge?.winner ?? '', example.judge?.explanation ?? ''] : []),
    ]
      .map(quote)
      .join(','),
  );
  return `${[header.map(quote).join(','), ...rows].join('\r\n')}\r\n`;
}
