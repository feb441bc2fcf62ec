import { createHash } from 'node:crypto';
import { toolCallText } from './tool-calls.ts';

/**
 * Turning held-out examples into batch inference requests: each example's contents up to the
 * last user turn become the request; the model turn that followed is kept aside as the reference.
 * Requests and references are joined again by a key computed from the conversation's roles and
 * texts, which survives Vertex echoing the request back with fields added or reordered.
 */
interface Part {
  text?: unknown;
  functionCall?: { name?: unknown; args?: unknown };
}
interface Content {
  role?: unknown;
  parts?: Part[];
}

export interface InferenceCase {
  key: string;
  /** One line of the batch input file: `{"request": {...}}`. */
  request: { contents: Content[]; systemInstruction?: unknown; tools?: unknown; generationConfig?: unknown };
  reference: string;
}

export type InferenceInput = InferenceCase | { skip: string };

const textOf = (content: Content | undefined) =>
  (content?.parts ?? []).map((part) => (typeof part.text === 'string' ? part.text : '')).join('');

/** The join key of a request: its turns' roles and texts (and the system instruction's text). */
export function requestKey(request: { contents?: Content[]; systemInstruction?: unknown }): string {
  const turns = (request.contents ?? []).map((content) => [String(content.role ?? ''), textOf(content)]);
  const system = textOf(request.systemInstruction as Content | undefined);
  return createHash('sha256')
    .update(JSON.stringify([system, turns]))
    .digest('hex')
    .slice(0, 32);
}

/** `generationConfig` goes into every request (the least thinking the model allows, for instance). */
export function toInferenceCase(example: unknown, generationConfig?: Record<string, unknown>): InferenceInput {
  if (example === null || typeof example !== 'object') return { skip: 'not a JSON object' };
  const { contents, systemInstruction, completions, tools } = example as {
    contents?: unknown;
    systemInstruction?: unknown;
    completions?: unknown;
    tools?: unknown;
  };
  if (!Array.isArray(contents)) return { skip: 'no "contents" array' };
  if (completions !== undefined) return preferenceCase(contents as Content[], completions, systemInstruction, generationConfig);
  const turns = contents as Content[];
  let last = turns.length - 1;
  while (last >= 0 && turns[last]?.role !== 'model') last -= 1;
  if (last < 1) return { skip: 'no model turn after a user turn to use as the reference' };
  const prompt = turns.slice(0, last);
  if (!prompt.some((turn) => turn.role === 'user')) return { skip: 'no user turn before the last model turn' };
  // A function call is the reference in the evaluation service's tool-call text (tool-calls.ts).
  const reference = toolCallText(turns[last]?.parts) ?? textOf(turns[last]);
  if (reference === '') return { skip: 'the last model turn has no text or function call to compare against' };
  const request = {
    contents: prompt,
    ...(systemInstruction !== undefined ? { systemInstruction } : {}),
    // The declarations go with the prompt, or the model could not call them.
    ...(tools !== undefined ? { tools } : {}),
    ...(generationConfig ? { generationConfig } : {}),
  };
  return { key: requestKey(request), request, reference };
}

/**
 * A held-out preference example (Vertex's preference format): its prompt (contents, ending with a
 * user turn) is the request, and the preferred completion (score 1) the reference.
 */
function preferenceCase(
  contents: Content[],
  completions: unknown,
  systemInstruction: unknown,
  generationConfig?: Record<string, unknown>,
): InferenceInput {
  if (contents.at(-1)?.role !== 'user') return { skip: 'the preference prompt does not end with a user turn' };
  const preferred = Array.isArray(completions)
    ? (completions as { score?: unknown; completion?: Content }[]).find((item) => item?.score === 1)
    : undefined;
  const reference = textOf(preferred?.completion);
  if (reference === '') return { skip: 'no preferred completion (score 1) with text to compare against' };
  const request = {
    contents,
    ...(systemInstruction !== undefined ? { systemInstruction } : {}),
    ...(generationConfig ? { generationConfig } : {}),
  };
  return { key: requestKey(request), request, reference };
}
