import type { GeminiContent, GeminiExample, GeminiPart, RawFormat, RawRecord } from '../convert/types.ts';
import { mapAlpacaRecord } from './alpaca.ts';
import { mapGeminiRecord } from './gemini.ts';
import { IssueCollector, isRecord, type MappingResult } from './mapping.ts';
import { mapOpenAiRecord, mapRoleContentMessages } from './openai.ts';
import { mapShareGptRecord } from './sharegpt.ts';

/**
 * Preference data in the layouts teams hold, read as a prompt and the answers judged on it:
 *  - DPO pairs: LLaMA-Factory's (its data/README.md, "Preference Dataset": ShareGPT
 *    `conversations` or OpenAI-style `messages` ending with the user, plus `chosen` and
 *    `rejected` turns; its Alpaca form with `chosen`/`rejected` strings), Hugging Face TRL's
 *    (`prompt`, `chosen`, `rejected`: strings, or message lists that may repeat the prompt),
 *    OpenAI's preference fine-tuning (`input.messages`, `preferred_output`,
 *    `non_preferred_output`), and Vertex's own preference format (`contents` ending with the user,
 *    `completions` scored 1 and 0; "Prepare preference tuning data for Gemini models").
 *  - KTO answers: LLaMA-Factory's (`messages` or `conversations` ending with the judged answer,
 *    and a boolean `label`, its `kto_tag` column) and TRL's unpaired layout (`prompt`,
 *    `completion`, `label`).
 */
export type PreferenceKind = 'pair' | 'judged';

export interface MappedPreference {
  /** systemInstruction and contents ending with the user's turn: what the answers answer. */
  prompt: GeminiExample;
  chosen?: GeminiPart[];
  rejected?: GeminiPart[];
  /** A KTO answer and whether it was judged desirable. */
  answer?: GeminiPart[];
  desirable?: boolean;
}

export interface PreferenceMapping {
  preference: MappedPreference | null;
  errors: MappingResult['errors'];
  warnings: MappingResult['warnings'];
}

/** Whether a record holds preference data, and which kind: what `--method auto` decides by. */
export function preferenceKindOf(value: unknown): PreferenceKind | null {
  if (!isRecord(value)) return null;
  if ('chosen' in value && 'rejected' in value) return 'pair';
  if ('preferred_output' in value && 'non_preferred_output' in value) return 'pair';
  if (Array.isArray(value.contents) && Array.isArray(value.completions)) return 'pair';
  if (labelOf(value) !== undefined && (Array.isArray(value.messages) || Array.isArray(value.conversations) || 'completion' in value))
    return 'judged';
  return null;
}

function labelOf(value: Record<string, unknown>): boolean | undefined {
  const label = value.label ?? value.kto_tag;
  if (typeof label === 'boolean') return label;
  if (label === 'true' || label === 'false') return label === 'true';
  return undefined;
}

export function mapPreferenceRecord(record: RawRecord, format: RawFormat): PreferenceMapping {
  const issues = new IssueCollector(record.line);
  const value = record.value;
  const kind = preferenceKindOf(value);
  if (!isRecord(value) || !kind) {
    issues.error(
      'not_preference_data',
      "this record holds no preference data (chosen/rejected answers, or a KTO label), unlike the file's first records",
      '',
    );
    return { preference: null, errors: issues.errors, warnings: issues.warnings };
  }
  const merge = (result: MappingResult) => {
    issues.errors.push(...result.errors);
    issues.warnings.push(...result.warnings);
    return result.example;
  };
  const done = (preference: MappedPreference | null) => ({
    preference: issues.errors.length > 0 ? null : preference,
    errors: issues.errors,
    warnings: issues.warnings,
  });

  if (kind === 'judged') {
    const desirable = labelOf(value)!;
    if ('completion' in value && !Array.isArray(value.messages) && !Array.isArray(value.conversations)) {
      const prompt = promptOf(value, record, issues, merge);
      const answer = answerParts(value.completion, 'completion', issues);
      return done(prompt && answer ? { prompt, answer, desirable } : null);
    }
    const example = merge(format === 'sharegpt' ? mapShareGptRecord(record) : mapOpenAiRecord({ ...record, value: withoutLabel(value) }));
    const last = example?.contents.at(-1);
    if (!example || !last) return done(null);
    if (last.role !== 'model') {
      const field = Array.isArray(value.conversations) ? 'conversations' : 'messages';
      issues.error(
        'preference_answer_missing',
        `a KTO record ends with the answer its label judges; this one ends with a ${last.role} turn`,
        field,
      );
      return done(null);
    }
    return done({ prompt: { ...example, contents: example.contents.slice(0, -1) }, answer: last.parts, desirable });
  }

  // A pair: Vertex's own format first, then the layouts that name the answers.
  if (Array.isArray(value.contents) && Array.isArray(value.completions)) return done(vertexPair(record, value, issues, merge));
  const openAi = 'preferred_output' in value;
  const chosenField = openAi ? 'preferred_output' : 'chosen';
  const rejectedField = openAi ? 'non_preferred_output' : 'rejected';
  let prompt: GeminiExample | null;
  if (openAi) {
    const input = isRecord(value.input) ? value.input : null;
    if (!input || !Array.isArray(input.messages)) {
      issues.error('missing_field', 'OpenAI preference data holds its prompt in "input.messages"', 'input.messages');
      return done(null);
    }
    prompt = merge(mapOpenAiRecord({ ...record, value: input }));
  } else {
    prompt = promptOf(value, record, issues, merge);
  }
  const chosen = answerParts(value[chosenField], chosenField, issues);
  const rejected = answerParts(value[rejectedField], rejectedField, issues);
  return done(prompt && chosen && rejected ? { prompt, chosen, rejected } : null);
}

/** The prompt of a pair or a TRL record: a conversation, an Alpaca instruction, or TRL's `prompt`. */
function promptOf(
  value: Record<string, unknown>,
  record: RawRecord,
  issues: IssueCollector,
  merge: (result: MappingResult) => GeminiExample | null,
): GeminiExample | null {
  const rest = withoutAnswers(value);
  if (Array.isArray(value.conversations)) return merge(mapShareGptRecord({ ...record, value: rest }));
  if (Array.isArray(value.messages)) return merge(mapOpenAiRecord({ ...record, value: rest }));
  if ('instruction' in value) {
    const example = merge(mapAlpacaRecord({ ...record, value: { ...rest, output: '(answer)' } }));
    return example ? { ...example, contents: example.contents.slice(0, -1) } : null;
  }
  if (typeof value.prompt === 'string') {
    if (value.prompt.trim() === '') {
      issues.error('empty_text', 'the prompt is empty', 'prompt');
      return null;
    }
    return { contents: [{ role: 'user', parts: [{ text: value.prompt }] }] };
  }
  if (Array.isArray(value.prompt))
    return merge(mapRoleContentMessages(value.prompt, 'prompt', new IssueCollector(record.line), undefined, rest));
  // TRL's implicit prompt: `chosen` is the whole conversation, its last message the answer.
  if (Array.isArray(value.chosen) && value.chosen.length > 1)
    return merge(mapRoleContentMessages(value.chosen.slice(0, -1), 'chosen', new IssueCollector(record.line), undefined, rest));
  issues.error('missing_field', 'no prompt: give "conversations", "messages", "instruction" or "prompt"', '');
  return null;
}

/**
 * One judged answer: a string, a turn ({from, value} or {role, content}), or a list of messages
 * whose last is the answer (TRL's conversational layout, OpenAI's `preferred_output`).
 */
function answerParts(answer: unknown, path: string, issues: IssueCollector): GeminiPart[] | null {
  let message = answer;
  let at = path;
  if (Array.isArray(answer)) {
    message = answer.at(-1);
    at = `${path}[${answer.length - 1}]`;
  }
  if (typeof message === 'string') {
    if (message.trim() !== '') return [{ text: message }];
    issues.error('empty_text', 'the answer is empty', at);
    return null;
  }
  if (!isRecord(message)) {
    issues.error('preference_answer_missing', `"${path}" must be the answer: a string, a turn, or a list of messages ending with it`, at);
    return null;
  }
  const role = String(message.role ?? message.from ?? 'assistant').toLowerCase();
  if (!['assistant', 'gpt', 'model', 'chatgpt', 'bard'].includes(role)) {
    issues.error('preference_answer_missing', `the answer must be the model's turn, not a ${role} turn`, at);
    return null;
  }
  const collector = new IssueCollector(0);
  const mapped = mapRoleContentMessages(
    [{ ...message, role: 'assistant', content: message.content ?? message.value }],
    at,
    collector,
    undefined,
    {},
  );
  for (const error of mapped.errors) issues.error(error.code as never, error.message, error.path.replace(`${at}[0]`, at));
  return mapped.example?.contents[0]?.parts ?? null;
}

/** Vertex's preference format as input: the prompt passes through, the completions scored 1 and 0 are the pair. */
function vertexPair(
  record: RawRecord,
  value: Record<string, unknown>,
  issues: IssueCollector,
  merge: (result: MappingResult) => GeminiExample | null,
): MappedPreference | null {
  const { completions, ...prompt } = value;
  const example = merge(mapGeminiRecord({ ...record, value: prompt }));
  const scored = (completions as unknown[]).map((item, index) => {
    const completion = isRecord(item) && isRecord(item.completion) ? (item.completion as unknown as GeminiContent) : null;
    if (!completion || !Array.isArray(completion.parts) || (isRecord(item) && item.score !== 0 && item.score !== 1)) {
      issues.error(
        'invalid_completions',
        'a completion is {"score": 1 or 0, "completion": {"role": "model", "parts": [...]}}',
        `completions[${index}]`,
      );
      return null;
    }
    return { score: (item as { score: number }).score, parts: completion.parts };
  });
  const preferred = scored.filter((item) => item?.score === 1);
  const dispreferred = scored.filter((item) => item?.score === 0);
  if (scored.includes(null)) return null;
  if (scored.length !== 2 || preferred.length !== 1 || dispreferred.length !== 1) {
    issues.error(
      'invalid_completions',
      `"completions" must be a pair: one scored 1 (preferred) and one scored 0; found ${scored.length} with scores ${scored.map((item) => item!.score).join(', ') || 'none'}`,
      'completions',
    );
    return null;
  }
  return example ? { prompt: example, chosen: preferred[0]!.parts, rejected: dispreferred[0]!.parts } : null;
}

function withoutAnswers(value: Record<string, unknown>): Record<string, unknown> {
  const { chosen: _chosen, rejected: _rejected, ...rest } = value;
  return rest;
}

function withoutLabel(value: Record<string, unknown>): Record<string, unknown> {
  const { label: _label, kto_tag: _tag, ...rest } = value;
  return rest;
}
