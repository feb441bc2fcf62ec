import { requestKey } from './inference-input.ts';
import { normalizeAnswer } from './normalize.ts';
import { NO_TOOL_CALL, TOOL_CALL_SCORES, referenceToolCalls, scoreToolCalls, toolCallText, type ToolCallScores } from './tool-calls.ts';
import { bleu, rougeL } from './text-metrics.ts';

/**
 * Scoring predictions against references, one prediction at a time so that files of any size
 * stream through. Measures: exact match; normalised match (trimmed, case-folded, whitespace
 * collapsed); and when the reference is JSON (the seed team's task answers in JSON), whether
 * the prediction is valid JSON and the share of the reference's fields it gets right. Responses
 * blocked by safety filters or empty are counted apart, and scored as wrong.
 */
export type PredictionOutcome =
  { kind: 'text'; text: string } | { kind: 'blocked'; reason: string } | { kind: 'empty' } | { kind: 'failed'; reason: string };

interface PredictionLine {
  status?: unknown;
  error?: { code?: number; message?: string };
  request?: { contents?: []; systemInstruction?: unknown };
  response?: {
    promptFeedback?: { blockReason?: string };
    candidates?: { content?: { parts?: { text?: unknown; functionCall?: { name?: unknown; args?: unknown } }[] }; finishReason?: string }[];
  };
}

/** What one line of Vertex's batch output (`predictions.jsonl`) says, and the key of its request. */
export function readPrediction(line: unknown): { key: string | null; outcome: PredictionOutcome } {
  const value = (line ?? {}) as PredictionLine;
  const key = value.request ? requestKey(value.request) : null;
  if (typeof value.status === 'string' && value.status !== '' && !value.response)
    return { key, outcome: { kind: 'failed', reason: value.status } };
  // An `errors_*.jsonl` line: the failed instance "followed by an additional `error` field" (google.rpc.Status; batch_prediction_job.proto).
  if (value.error && !value.response)
    return { key, outcome: { kind: 'failed', reason: value.error.message ?? `error ${value.error.code ?? ''}`.trim() } };
  const response = value.response;
  if (!response) return { key, outcome: { kind: 'failed', reason: 'no response' } };
  if (response.promptFeedback?.blockReason) return { key, outcome: { kind: 'blocked', reason: response.promptFeedback.blockReason } };
  const candidate = response.candidates?.[0];
  if (!candidate) return { key, outcome: { kind: 'blocked', reason: 'no candidates' } };
  // A function call is answered in the evaluation service's tool-call text (tool-calls.ts).
  const parts = candidate.content?.parts ?? [];
  const text = toolCallText(parts) ?? parts.map((part) => (typeof part.text === 'string' ? part.text : '')).join('');
  if (text.trim() === '') {
    return {
      key,
      outcome:
        candidate.finishReason && candidate.finishReason !== 'STOP'
          ? { kind: 'blocked', reason: candidate.finishReason }
          : { kind: 'empty' },
    };
  }
  return { key, outcome: { kind: 'text', text } };
}

/** JSON inside a prediction, allowing the ```json fences models like to add. */
export function parseJsonAnswer(text: string): unknown {
  const fenced = /^\s*```(?:json)?\s*([\s\S]*?)\s*```\s*$/.exec(text);
  try {
    return JSON.parse(fenced ? fenced[1]! : text);
  } catch {
    return undefined;
  }
}

/** Leaf fields of a JSON value by path (`a.b[0].c`). */
function leaves(value: unknown, path = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (Array.isArray(value)) value.forEach((item, index) => leaves(item, `${path}[${index}]`, out));
  else if (value !== null && typeof value === 'object')
    for (const [key, inner] of Object.entries(value)) leaves(inner, path ? `${path}.${key}` : key, out);
  else out.set(path, value);
  return out;
}

export interface ModelScores {
  /** Examples scored (every reference, answered or not). */
  n: number;
  exactMatch: number;
  normalizedMatch: number;
  /** Over examples whose reference is a JSON object or array; null when there are none. */
  jsonValid: number | null;
  jsonFieldAccuracy: number | null;
  blocked: number;
  empty: number;
  /** References with no prediction at all (a failed line, or missing from the output). */
  missing: number;
  /** Means over every example (an unanswered one scores 0): text-metrics.ts. */
  rougeL: number;
  bleu: number;
  /** Means over examples whose reference calls a function (tool-calls.ts); null when there are none. */
  toolCallValid: number | null;
  toolNameMatch: number | null;
  toolParameterKeyMatch: number | null;
  toolParameterKvMatch: number | null;
}

/** One example's scores for one model: what the per-example comparison and the bootstrap use. */
export interface ExampleScore {
  status: 'answered' | 'blocked' | 'empty' | 'missing';
  answer: string | null;
  exactMatch: number;
  normalizedMatch: number;
  /** Null when the reference is not JSON. */
  jsonFieldAccuracy: number | null;
  rougeL: number;
  bleu: number;
  /** Null when the reference calls no function. */
  toolCalls: ToolCallScores | null;
}

/** One example scored: pure, so per-example tables and aggregates agree by construction. */
export function scoreExample(
  reference: string,
  outcome: PredictionOutcome | null,
): ExampleScore & { jsonReference: boolean; jsonValid: boolean } {
  const referenceJson = parseJsonAnswer(reference);
  const jsonReference = referenceJson !== null && typeof referenceJson === 'object';
  const toolReference = referenceToolCalls(reference);
  const unanswered = (status: ExampleScore['status']) => ({
    status,
    answer: null,
    exactMatch: 0,
    normalizedMatch: 0,
    jsonFieldAccuracy: jsonReference ? 0 : null,
    rougeL: 0,
    bleu: 0,
    toolCalls: toolReference ? NO_TOOL_CALL : null,
    jsonReference,
    jsonValid: false,
  });
  if (!outcome || outcome.kind === 'failed') return unanswered('missing');
  if (outcome.kind === 'blocked') return unanswered('blocked');
  if (outcome.kind === 'empty') return unanswered('empty');
  let jsonValid = false;
  let fieldShare: number | null = jsonReference ? 0 : null;
  if (jsonReference) {
    const predicted = parseJsonAnswer(outcome.text);
    if (predicted !== undefined) {
      jsonValid = true;
      const want = leaves(referenceJson);
      const got = leaves(predicted);
      let right = 0;
      for (const [path, value] of want) if (got.has(path) && JSON.stringify(got.get(path)) === JSON.stringify(value)) right += 1;
      fieldShare = want.size === 0 ? 1 : right / want.size;
    }
  }
  return {
    status: 'answered',
    answer: outcome.text,
    exactMatch: outcome.text === reference ? 1 : 0,
    normalizedMatch: normalizeAnswer(outcome.text) === normalizeAnswer(reference) ? 1 : 0,
    jsonFieldAccuracy: fieldShare,
    rougeL: rougeL(outcome.text, reference),
    bleu: bleu(outcome.text, reference),
    toolCalls: toolReference ? scoreToolCalls(outcome.text, toolReference) : null,
    jsonReference,
    jsonValid,
  };
}

export class ScoreAccumulator {
  private n = 0;
  private exact = 0;
  private normalized = 0;
  private jsonReferences = 0;
  private jsonValid = 0;
  private fieldShare = 0;
  private blocked = 0;
  private empty = 0;
  private missing = 0;
  private rougeL = 0;
  private bleu = 0;
  private toolReferences = 0;
  private tool: ToolCallScores = { ...NO_TOOL_CALL };
  /** Per example, by its place in the references file (when the caller gives it). */
  readonly examples: ExampleScore[] = [];

  add(reference: string, outcome: PredictionOutcome | null, index?: number): void {
    this.n += 1;
    const scored = scoreExample(reference, outcome);
    if (scored.jsonReference) this.jsonReferences += 1;
    if (scored.status === 'missing') this.missing += 1;
    else if (scored.status === 'blocked') this.blocked += 1;
    else if (scored.status === 'empty') this.empty += 1;
    this.exact += scored.exactMatch;
    this.normalized += scored.normalizedMatch;
    if (scored.jsonValid) this.jsonValid += 1;
    this.fieldShare += scored.jsonFieldAccuracy ?? 0;
    this.rougeL += scored.rougeL;
    this.bleu += scored.bleu;
    if (scored.toolCalls) {
      this.toolReferences += 1;
      for (const name of TOOL_CALL_SCORES) this.tool[name] += scored.toolCalls[name];
    }
    if (index !== undefined) {
      const { jsonReference: _json, jsonValid: _valid, ...example } = scored;
      this.examples[index] = example;
    }
  }

  result(): ModelScores {
    const share = (count: number, of: number) => (of === 0 ? 0 : Number((count / of).toFixed(6)));
    return {
      n: this.n,
      exactMatch: share(this.exact, this.n),
      normalizedMatch: share(this.normalized, this.n),
      jsonValid: this.jsonReferences === 0 ? null : share(this.jsonValid, this.jsonReferences),
      jsonFieldAccuracy: this.jsonReferences === 0 ? null : share(this.fieldShare, this.jsonReferences),
      blocked: this.blocked,
      empty: this.empty,
      missing: this.missing,
      rougeL: share(this.rougeL, this.n),
      bleu: share(this.bleu, this.n),
      ...(Object.fromEntries(
        TOOL_CALL_SCORES.map((name) => [name, this.toolReferences === 0 ? null : share(this.tool[name], this.toolReferences)]),
      ) as Record<keyof ToolCallScores, number | null>),
    };
  }
}

/** Tuned minus base, for each share both have. */
export function scoreDelta(base: ModelScores, tuned: ModelScores): Record<string, number | null> {
  const minus = (a: number | null | undefined, b: number | null | undefined) =>
    a === null || a === undefined || b === null || b === undefined ? null : Number((a - b).toFixed(6));
  return {
    exactMatch: minus(tuned.exactMatch, base.exactMatch),
    normalizedMatch: minus(tuned.normalizedMatch, base.normalizedMatch),
    jsonValid: minus(tuned.jsonValid, base.jsonValid),
    jsonFieldAccuracy: minus(tuned.jsonFieldAccuracy, base.jsonFieldAccuracy),
    rougeL: minus(tuned.rougeL, base.rougeL),
    bleu: minus(tuned.bleu, base.bleu),
    ...(tuned.toolCallValid !== null && tuned.toolCallValid !== undefined
      ? Object.fromEntries(TOOL_CALL_SCORES.map((name) => [name, minus(tuned[name], base[name])]))
      : {}),
  };
}
