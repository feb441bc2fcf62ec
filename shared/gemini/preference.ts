import type { GeminiExample, GeminiPart, Issue } from '../convert/types.ts';
import type { IssueCodeName } from './issue-codes.ts';
import { validateExample, type ValidationContext, type ValidationResult } from './validate.ts';

/**
 * Vertex's preference tuning example, and its rules. Sources:
 *  [pref] https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-preference-tuning-prepare
 *         ("contents ... in the same format used for supervised fine-tuning ... needs to end with
 *         a user turn. It doesn't support multi-modal data"; "completions ... a pair ... one
 *         preferred completion and one dispreferred completion"; "A completion is a single model
 *         turn"; score "zero or one"; an optional system_instruction; "The sum of maximum input
 *         and maximum completion token counts must be <= 128K").
 *  [about] https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-preference-tuning
 *         (modalities: text; 131,072 input and output tokens per training example).
 *  @google/genai's GeminiPreferenceExample {contents, completions: [{completion, score}]}.
 * The pages show no `tools` in a preference example and say nothing of function calling: an
 * example with tools is refused rather than sent to fail at Vertex.
 */
/** The preferred completion first, as Google's example orders them. */
export function preferenceExample(prompt: GeminiExample, chosen: GeminiPart[], rejected: GeminiPart[]): GeminiExample {
  const completions: GeminiExample['completions'] = [
    { score: 1, completion: { role: 'model', parts: chosen } },
    { score: 0, completion: { role: 'model', parts: rejected } },
  ];
  return { ...prompt, completions };
}

/** [about] the limit per training example, input and the longer completion together. */
export const PREFERENCE_MAX_TOKENS_PER_EXAMPLE = 131_072;

export function validatePreferenceExample(example: GeminiExample, context: ValidationContext): ValidationResult {
  const errors: Issue[] = [];
  const warnings: Issue[] = [];
  const issue = (code: IssueCodeName, message: string, path: string) => errors.push({ line: context.line, code, message, path });
  const contents = example.contents;
  if (example.tools !== undefined)
    issue(
      'unknown_field',
      'a preference tuning example holds systemInstruction, contents and completions; Google documents no tools in it',
      'tools',
    );
  const last = contents.at(-1);
  if (!last || last.role !== 'user') {
    issue(
      'preference_prompt_not_user',
      'the prompt (contents) of a preference example must end with a user turn: the completions answer it',
      last ? `contents[${contents.length - 1}].role` : 'contents',
    );
    return { errors, warnings, tokens: 0, multimodal: false };
  }
  const [preferred, dispreferred] = example.completions ?? [];
  if (!preferred || !dispreferred || example.completions!.length !== 2) {
    issue('invalid_completions', 'a preference example holds a pair of completions, one scored 1 and one scored 0', 'completions');
    return { errors, warnings, tokens: 0, multimodal: false };
  }
  // Each completion is judged as the model turn after the prompt, with the rules of supervised examples.
  const judged = [preferred, dispreferred].map((completion, index) => {
    const asTurn = {
      ...(example.systemInstruction ? { systemInstruction: example.systemInstruction } : {}),
      contents: [...contents, completion!.completion],
    };
    const result = validateExample(asTurn, context);
    const answer = `contents[${contents.length}]`;
    const moved = (list: Issue[]) =>
      list
        // The prompt's problems are reported once, from the first completion's check.
        .filter((item) => index === 0 || item.path.startsWith(answer))
        .map((item) =>
          item.path.startsWith(answer) ? { ...item, path: `completions[${index}].completion${item.path.slice(answer.length)}` } : item,
        );
    errors.push(...moved(result.errors));
    warnings.push(...moved(result.warnings));
    return result;
  });
  const textTokens = (parts: GeminiPart[]) =>
    context.tokens ? parts.reduce((sum, part) => sum + (typeof part.text === 'string' ? context.tokens!.count(part.text) : 0), 0) : 0;
  const [chosenTokens, rejectedTokens] = [preferred!, dispreferred!].map((item) => textTokens(item.completion.parts)) as [number, number];
  const tokens = judged[0]!.tokens - chosenTokens + Math.max(chosenTokens, rejectedTokens);
  const multimodal = judged.some((result) => result.multimodal);
  // [pref] text only, prompt and completions alike.
  if (multimodal || hasMedia(example))
    issue(
      'preference_not_text',
      'preference tuning takes text only ("It doesn\'t support multi-modal data"): this example holds media',
      '',
    );
  if (context.tokens && tokens > PREFERENCE_MAX_TOKENS_PER_EXAMPLE) {
    issue(
      'example_too_long',
      `${tokens} tokens (prompt and the longer completion), over the ${PREFERENCE_MAX_TOKENS_PER_EXAMPLE} a preference example may hold`,
      '',
    );
  }
  return { errors: dedupe(errors), warnings: dedupe(warnings), tokens, multimodal };
}

/**
 * One line of a dataset submitted for preference tuning, judged as Vertex would (the simulator's
 * dataset check): an object with `contents` and a pair of `completions`, then the rules above.
 */
export function validatePreferenceRecord(value: unknown, context: ValidationContext): ValidationResult {
  const record = value as Partial<GeminiExample> | null;
  if (!record || typeof record !== 'object' || !Array.isArray(record.contents) || !Array.isArray(record.completions)) {
    const error = {
      line: context.line,
      code: 'invalid_completions',
      message: 'a preference tuning example needs "contents" and a pair of "completions"',
      path: '',
    };
    return { errors: [error], warnings: [], tokens: 0, multimodal: false };
  }
  const completions = record.completions.filter(
    (item) => item && typeof item === 'object' && item.completion && Array.isArray(item.completion.parts),
  );
  const scores = completions
    .map((item) => item.score)
    .sort()
    .join();
  if (completions.length !== 2 || scores !== '0,1') {
    const error = {
      line: context.line,
      code: 'invalid_completions',
      message: 'completions must be one completion scored 1 and one scored 0, each {"score", "completion": {"role": "model", "parts"}}',
      path: 'completions',
    };
    return { errors: [error], warnings: [], tokens: 0, multimodal: false };
  }
  const ordered = [...completions].sort((a, b) => b.score - a.score);
  return validatePreferenceExample({ ...(record as GeminiExample), completions: ordered }, context);
}

function hasMedia(example: GeminiExample): boolean {
  const parts = [
    ...example.contents.flatMap((content) => content.parts),
    ...(example.completions ?? []).flatMap((item) => item.completion.parts),
  ];
  return parts.some((part) => part.fileData !== undefined || part.inlineData !== undefined);
}

function dedupe(issues: Issue[]): Issue[] {
  const seen = new Set<string>();
  return issues.filter((item) => {
    const key = `${item.code}\u0000${item.path}\u0000${item.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The supervised example a preference example teaches in a staged run's first stage: its prompt
 * with the preferred completion (score 1) as the model's answer. Google's advice ("About
 * preference tuning for Gemini models"): supervised fine-tuning on the preferred answers first,
 * then preference tuning from that model. A line that is not a preference example is said why.
 */
export function preferredAnswerExample(value: unknown): { example: GeminiExample } | { problem: string; path: string } {
  const record = value as Partial<GeminiExample> | null;
  if (!record || typeof record !== 'object' || Array.isArray(record) || !Array.isArray(record.contents))
    return { problem: 'not a preference example (an object with "contents" and "completions")', path: 'contents' };
  if (!Array.isArray(record.completions))
    return { problem: 'a staged run trains on a preference dataset: this example has no "completions"', path: 'completions' };
  const preferred = record.completions.filter((item) => item?.score === 1 && Array.isArray(item.completion?.parts));
  if (preferred.length !== 1)
    return { problem: `a preference example holds one completion scored 1; this one holds ${preferred.length}`, path: 'completions' };
  const { completions: _pair, ...prompt } = record as GeminiExample;
  return { example: { ...prompt, contents: [...prompt.contents, { ...preferred[0]!.completion, role: 'model' }] } };
}
