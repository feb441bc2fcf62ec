import type { GeminiPart, RawRecord } from '../convert/types.ts';
import { assembleExample, IssueCollector, isRecord, type MappingResult, type SourceTurn } from './mapping.ts';
import { mapRoleContentMessages } from './openai.ts';
import { placeMedia } from './media-placeholders.ts';
import { callPart, declarationsOf, responseOf } from './tools.ts';

/**
 * ShareGPT: {"conversations":[{"from":"human"|"gpt"|"system","value"}]}, and the variant with
 * {"messages":[{"role","content"}]} (the OpenAI message shape, mapped the same way).
 * Function calling as LLaMA-Factory writes it (its data/README: a `tools` string of
 * declarations, `function_call` turns whose value is the call as JSON, `observation` turns with
 * the tool's output): a function_call turn is a model turn of functionCall parts (several when
 * the value is a list), an observation a user turn answering the calls just made.
 */
const FROM_MAP: Record<string, string> = {
  system: 'system',
  human: 'user',
  user: 'user',
  gpt: 'model',
  assistant: 'model',
  model: 'model',
  chatgpt: 'model',
  bard: 'model',
};

export function mapShareGptRecord(record: RawRecord): MappingResult {
  const issues = new IssueCollector(record.line);
  const value = record.value;
  if (!isRecord(value)) {
    issues.error('not_an_object', 'a ShareGPT example must be a JSON object with "conversations"', '');
    return issues.result(null);
  }
  const tools = declarationsOf(value.tools, 'tools', issues);
  if (Array.isArray(value.messages) && !Array.isArray(value.conversations)) {
    return mapRoleContentMessages(value.messages, 'messages', issues, tools, value);
  }
  if (!Array.isArray(value.conversations) || value.conversations.length === 0) {
    issues.error('missing_field', 'a ShareGPT example needs a non-empty "conversations" array', 'conversations');
    return issues.result(null);
  }
  const turns: SourceTurn[] = [];
  let lastCalls: string[] = [];
  value.conversations.forEach((message, index) => {
    const path = `conversations[${index}]`;
    if (!isRecord(message)) {
      issues.error('invalid_field_type', 'a conversation turn must be an object with "from" and "value"', path);
      return;
    }
    const from = typeof message.from === 'string' ? message.from.toLowerCase() : String(message.from);
    const role = FROM_MAP[from] ?? from;
    if (from === 'function_call' && typeof message.value === 'string') {
      const parts = functionCallParts(message.value, `${path}.value`, issues);
      lastCalls = parts.map((part) => part.functionCall!.name);
      if (parts.length > 0) turns.push({ role: 'model', parts, path, roleField: 'from', partPaths: parts.map(() => `${path}.value`) });
      return;
    }
    if (from === 'observation') {
      if (lastCalls.length === 0) {
        issues.error(
          'invalid_function_response',
          'an observation must follow a function_call turn: there is no call for it to answer',
          path,
        );
        return;
      }
      // One observation answers the turn's calls; with several calls it is given to each by name when it is a list.
      const observed = typeof message.value === 'string' ? parseList(message.value) : null;
      const parts = lastCalls.map((name, at) => ({
        functionResponse: {
          name,
          response: responseOf(observed && observed.length === lastCalls.length ? JSON.stringify(observed[at]) : message.value),
        },
      }));
      turns.push({ role: 'user', parts, path, roleField: 'from', partPaths: parts.map(() => `${path}.value`) });
      return;
    }
    if (typeof message.value !== 'string') {
      issues.error('missing_text', '"value" must be a string', `${path}.value`);
    } else if (message.value.trim() === '') {
      issues.error('empty_text', 'the turn\'s "value" is empty', `${path}.value`);
    } else {
      turns.push({ role, parts: [{ text: message.value }], path, roleField: 'from', partPaths: [`${path}.value`] });
    }
  });
  placeMedia(turns, value, issues);
  if (turns.length === 0) return issues.result(null);
  const example = assembleExample(turns, issues);
  return issues.result(tools ? { ...example, tools } : example);
}

/** A function_call turn's value: `{"name", "arguments"}` as JSON, or a list of them. */
function functionCallParts(value: string, path: string, issues: IssueCollector): GeminiPart[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    issues.error(
      'invalid_function_call',
      `a function_call turn holds the call as JSON; this is not (${error instanceof Error ? error.message : String(error)})`,
      path,
    );
    return [];
  }
  const calls = Array.isArray(parsed) ? parsed : [parsed];
  const parts: GeminiPart[] = [];
  calls.forEach((call, index) => {
    const at = Array.isArray(parsed) ? `${path}[${index}]` : path;
    if (!isRecord(call)) {
      issues.error('invalid_function_call', 'a call must be {"name", "arguments"}', at);
      return;
    }
    const part = callPart(call.name, call.arguments ?? call.args, at, issues);
    if (part) parts.push(part);
  });
  return parts;
}

function parseList(value: string): unknown[] | null {
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? parsed : null;
  } catch {
    return null;
  }
}
