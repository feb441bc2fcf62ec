import type { GeminiExample, GeminiPart, RawRecord } from '../convert/types.ts';
import { assembleExample, IssueCollector, isRecord, mediaPart, type MappingResult, type SourceTurn } from './mapping.ts';
import { placeMedia } from './media-placeholders.ts';
import { callPart, declarationsOf, responseOf } from './tools.ts';

/**
 * OpenAI chat fine-tuning JSONL: {"messages":[{"role","content","weight"?}], "tools"?}.
 * system → systemInstruction, user → user, assistant → model. Function calling (tools.ts): the
 * record's `tools` (or legacy `functions`) become declarations, an assistant's `tool_calls` (or
 * `function_call`) functionCall parts, and `tool` (or `function`) messages functionResponse parts
 * of one user turn, each named after the call its `tool_call_id` answers. Other roles are passed
 * through so that validation names them as unrecognized.
 *
 * `weight: 0` marks an assistant turn OpenAI does not train on. Gemini tuning has no per-turn
 * weight, so such a turn is kept as a model turn (dropping it would break the conversation's
 * alternation and lose context) and a `weight_zero_turn` warning says it will be trained on.
 */
const ROLE_MAP: Record<string, string> = { system: 'system', developer: 'system', user: 'user', assistant: 'model' };

export function mapOpenAiRecord(record: RawRecord): MappingResult {
  const issues = new IssueCollector(record.line);
  const value = record.value;
  if (!isRecord(value)) {
    issues.error('not_an_object', 'an OpenAI chat example must be a JSON object with "messages"', '');
    return issues.result(null);
  }
  if (!Array.isArray(value.messages) || value.messages.length === 0) {
    issues.error('missing_field', 'an OpenAI chat example needs a non-empty "messages" array', 'messages');
    return issues.result(null);
  }
  const tools = declarationsOf(value.tools ?? value.functions, value.tools !== undefined ? 'tools' : 'functions', issues);
  return mapRoleContentMessages(value.messages, 'messages', issues, tools, value);
}

/**
 * Shared by OpenAI chat and ShareGPT's `messages` variant, which use the same message shape;
 * `record` holds the media lists (`images`, ...) of LLaMA-Factory's multimodal layout.
 */
export function mapRoleContentMessages(
  messages: unknown[],
  field: string,
  issues: IssueCollector,
  tools: GeminiExample['tools'] | undefined,
  record: Record<string, unknown>,
): MappingResult {
  const turns: (SourceTurn & { partPaths: string[]; answers?: boolean })[] = [];
  // Which function each call id named, and the last assistant turn's calls: what a tool message answers.
  const calledById = new Map<string, string>();
  let lastCalls: string[] = [];
  messages.forEach((message, index) => {
    const path = `${field}[${index}]`;
    if (!isRecord(message)) {
      issues.error('invalid_field_type', 'a message must be an object with "role" and "content"', path);
      return;
    }
    const rawRole = typeof message.role === 'string' ? message.role.toLowerCase() : String(message.role);
    const role = ROLE_MAP[rawRole] ?? rawRole;
    if (rawRole === 'tool' || rawRole === 'function') {
      const name =
        (typeof message.tool_call_id === 'string' ? calledById.get(message.tool_call_id) : undefined) ??
        (typeof message.name === 'string' ? message.name : lastCalls.length === 1 ? lastCalls[0] : undefined);
      if (!name) {
        issues.error(
          'invalid_function_response',
          `cannot tell which call this ${rawRole} message answers: its tool_call_id matches no earlier tool call`,
          `${path}.tool_call_id`,
        );
        return;
      }
      const part: GeminiPart = { functionResponse: { name, response: responseOf(message.content) } };
      // Several tool answers in a row are one user turn, answering the calls of the model turn before.
      const previous = turns.at(-1);
      if (previous?.answers) {
        previous.parts.push(part);
        previous.partPaths.push(`${path}.content`);
      } else turns.push({ role: 'user', parts: [part], path, roleField: 'role', partPaths: [`${path}.content`], answers: true });
      return;
    }
    if (message.weight === 0 && role === 'model') {
      issues.warn(
        'weight_zero_turn',
        'weight 0 cannot be honoured: Gemini tuning has no per-turn weight, the turn is kept and trained on',
        `${path}.weight`,
      );
    }
    const calls = role === 'model' ? callsOf(message, path, issues) : null;
    if (calls) {
      lastCalls = [];
      for (const call of calls) {
        lastCalls.push(call.part.functionCall!.name);
        if (call.id) calledById.set(call.id, call.part.functionCall!.name);
      }
    }
    const hasContent = !(
      message.content === null ||
      message.content === undefined ||
      (calls && calls.length > 0 && message.content === '')
    );
    const partPaths: string[] = [];
    const parts = hasContent ? contentParts(message.content, `${path}.content`, issues, partPaths) : [];
    parts.push(...(calls ?? []).map((call) => call.part));
    partPaths.push(...(calls ?? []).map((call) => call.path));
    if (parts.length > 0) turns.push({ role, parts, path, roleField: 'role', partPaths });
  });
  placeMedia(turns, record, issues);
  if (turns.length === 0) return issues.result(null);
  const example = assembleExample(turns, issues);
  return issues.result(tools ? { ...example, tools } : example);
}

/** An assistant message's function calls: `tool_calls` (OpenAI's current shape) or the legacy `function_call`. */
function callsOf(
  message: Record<string, unknown>,
  path: string,
  issues: IssueCollector,
): { id?: string; part: GeminiPart; path: string }[] | null {
  const out: { id?: string; part: GeminiPart; path: string }[] = [];
  if (Array.isArray(message.tool_calls)) {
    message.tool_calls.forEach((call, index) => {
      const at = `${path}.tool_calls[${index}]`;
      const fn = isRecord(call) && isRecord(call.function) ? call.function : null;
      if (!fn) {
        issues.error('invalid_function_call', 'a tool call must be {"type": "function", "function": {"name", "arguments"}}', at);
        return;
      }
      const part = callPart(fn.name, fn.arguments, `${at}.function`, issues);
      if (part) out.push({ ...(isRecord(call) && typeof call.id === 'string' ? { id: call.id } : {}), part, path: at });
    });
    return out;
  }
  if (isRecord(message.function_call)) {
    const part = callPart(message.function_call.name, message.function_call.arguments, `${path}.function_call`, issues);
    return part ? [{ part, path: `${path}.function_call` }] : [];
  }
  return null;
}

/** The parts of a message's content; `paths` gets each part's input path. */
function contentParts(content: unknown, path: string, issues: IssueCollector, paths: string[]): GeminiPart[] {
  if (typeof content === 'string') {
    if (content.trim() === '') {
      issues.error('empty_text', 'the message content is empty', path);
      return [];
    }
    paths.push(path);
    return [{ text: content }];
  }
  if (!Array.isArray(content)) {
    issues.error('missing_text', 'content must be a string or an array of content parts', path);
    return [];
  }
  const parts: GeminiPart[] = [];
  content.forEach((item, index) => {
    const itemPath = `${path}[${index}]`;
    if (!isRecord(item)) {
      issues.error('invalid_part', 'a content part must be an object', itemPath);
    } else if (item.type === 'text') {
      if (typeof item.text !== 'string') {
        const found = Object.keys(item).filter((key) => key !== 'type');
        issues.error(
          'missing_text',
          `a "text" content part holds its text under "text"${found.length ? ` (found: ${found.join(', ')})` : ''}`,
          `${itemPath}.text`,
        );
      } else if (item.text.trim() === '') issues.error('empty_text', 'the text part is empty', `${itemPath}.text`);
      else {
        parts.push({ text: item.text });
        paths.push(`${itemPath}.text`);
      }
    } else if (item.type === 'image_url') {
      const url = isRecord(item.image_url) ? item.image_url.url : item.image_url;
      if (typeof url !== 'string') {
        issues.error('invalid_image_url', 'image_url.url must be a string', `${itemPath}.image_url`);
      } else {
        const part = mediaPart(url, issues, `${itemPath}.image_url.url`);
        if (part) {
          parts.push(part);
          paths.push(isRecord(item.image_url) ? `${itemPath}.image_url.url` : `${itemPath}.image_url`);
        }
      }
    } else {
      issues.error('invalid_part', `content part type ${JSON.stringify(item.type)} is not "text" or "image_url"`, itemPath);
    }
  });
  return parts;
}
