import { z } from 'zod';
import { canonicalJson } from '../datasets/merge.ts';
import { normalizeAnswer } from './normalize.ts';

/**
 * Function-calling answers and the four tool-call metrics Vertex's Gen AI evaluation service
 * names (EvaluateInstances: ToolCallValidInput, ToolNameMatchInput, ToolParameterKeyMatchInput,
 * ToolParameterKVMatchInput in google/cloud/aiplatform/v1/evaluation_service.proto).
 *
 * The text both sides are written in is the service's: a prediction and a reference are each a
 * JSON string `{"content": "...", "tool_calls": [{"name": "...", "arguments": {...}}]}`, as
 * Google's tool-use evaluation notebook writes them (GoogleCloudPlatform/generative-ai,
 * gemini/evaluation: "Evaluate Tool use and Function Calling quality for Gemini"), there made
 * from a Gemini `functionCall` part by renaming `args` to `arguments`. So an answer here can be
 * sent to the service unchanged, and a held-out `functionCall` turn is a reference like any other.
 *
 * What each metric computes: the proto and the API reference say only what it is for (a valid
 * call; the right name; the right parameter names; the right names and values, with an optional
 * `use_strict_string_match`), and that each instance gets one float `score`. The formula below
 * is ours where they are silent: calls are paired by position; a call with the wrong name earns
 * no parameter credit; key and key-value match are the share of the reference's parameters the
 * prediction gets right (1 when the reference call has none and the prediction passes none);
 * every reference call counts, a missing one as 0. Values compare as JSON; strings, unless the
 * match is strict, after normalisation (Unicode form, case, spacing: normalize.ts).
 */
export interface ToolCall {
  name: string;
  arguments: Record<string, unknown>;
}

export interface ToolCallAnswer {
  content: string;
  tool_calls: ToolCall[];
}

interface Part {
  text?: unknown;
  functionCall?: { name?: unknown; args?: unknown };
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** A turn's parts as the service's tool-call text, or null when no part calls a function. */
export function toolCallText(parts: readonly Part[] | undefined): string | null {
  const calls = (parts ?? []).filter((part) => isObject(part.functionCall));
  if (calls.length === 0) return null;
  const content = (parts ?? []).map((part) => (typeof part.text === 'string' ? part.text : '')).join('');
  const answer = {
    content,
    tool_calls: calls.map(({ functionCall }) => ({
      name: typeof functionCall!.name === 'string' ? functionCall!.name : '',
      arguments: isObject(functionCall!.args) ? functionCall!.args : {},
    })),
  };
  return JSON.stringify(answer);
}

/** The tool calls a text holds, read leniently (a call may lack arguments); null when it is no tool-call answer. */
export function parseToolCallText(text: string): { content: unknown; tool_calls: unknown[] } | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(value) || !Array.isArray(value.tool_calls)) return null;
  return { content: value.content, tool_calls: value.tool_calls };
}

/**
 * A reference's well-formed calls, or null when it is no tool-call answer (no call at all): read
 * once per example, however many models are scored against it.
 */
export function referenceToolCalls(reference: string): ToolCall[] | null {
  const parsed = reference.startsWith('{') ? parseToolCallText(reference) : null;
  return parsed !== null && parsed.tool_calls.length > 0 ? parsed.tool_calls.filter(validCall) : null;
}

/** Whether a reference is a tool-call answer (at least one call): its examples get the tool-call metrics. */
export function isToolCallReference(reference: string): boolean {
  return referenceToolCalls(reference) !== null;
}

const validCall = (call: unknown): call is ToolCall =>
  isObject(call) && typeof call.name === 'string' && call.name !== '' && (call.arguments === undefined || isObject(call.arguments));

export const toolCallScoresSchema = z.object({
  toolCallValid: z.number(),
  toolNameMatch: z.number(),
  toolParameterKeyMatch: z.number(),
  toolParameterKvMatch: z.number(),
});
export type ToolCallScores = z.infer<typeof toolCallScoresSchema>;

export const TOOL_CALL_SCORES = ['toolCallValid', 'toolNameMatch', 'toolParameterKeyMatch', 'toolParameterKvMatch'] as const;

export const NO_TOOL_CALL: ToolCallScores = { toolCallValid: 0, toolNameMatch: 0, toolParameterKeyMatch: 0, toolParameterKvMatch: 0 };

function sameValue(got: unknown, want: unknown, strict: boolean): boolean {
  if (!strict && typeof got === 'string' && typeof want === 'string') return normalizeAnswer(got) === normalizeAnswer(want);
  // Keys sorted at every depth: {"a":1,"b":2} equals {"b":2,"a":1}.
  return canonicalJson(got) === canonicalJson(want);
}

/**
 * One prediction against one tool-call reference (its text, or its calls as referenceToolCalls
 * read them); a prediction that is no valid tool-call answer scores 0 on all four.
 */
export function scoreToolCalls(
  prediction: string | null,
  reference: string | readonly ToolCall[],
  options: { strictStrings?: boolean } = {},
): ToolCallScores {
  const want = typeof reference === 'string' ? (parseToolCallText(reference)?.tool_calls ?? []).filter(validCall) : reference;
  const got = prediction === null ? null : parseToolCallText(prediction);
  if (!got || got.tool_calls.length === 0 || !got.tool_calls.every(validCall)) return NO_TOOL_CALL;
  const calls = got.tool_calls as ToolCall[];
  if (want.length === 0) return { ...NO_TOOL_CALL, toolCallValid: 1 };
  let names = 0;
  let keys = 0;
  let values = 0;
  want.forEach((expected, index) => {
    const call = calls[index];
    if (!call || call.name !== expected.name) return;
    names += 1;
    const expectedArgs = expected.arguments ?? {};
    const callArgs = call.arguments ?? {};
    const wanted = Object.keys(expectedArgs);
    if (wanted.length === 0) {
      const none = Object.keys(callArgs).length === 0 ? 1 : 0;
      keys += none;
      values += none;
      return;
    }
    const present = wanted.filter((key) => Object.hasOwn(callArgs, key));
    keys += present.length / wanted.length;
    values += present.filter((key) => sameValue(callArgs[key], expectedArgs[key], options.strictStrings ?? false)).length / wanted.length;
  });
  return {
    toolCallValid: 1,
    // The right functions, in the right order, and no more or fewer of them.
    toolNameMatch: names === want.length && calls.length === want.length ? 1 : 0,
    toolParameterKeyMatch: keys / want.length,
    toolParameterKvMatch: values / want.length,
  };
}
