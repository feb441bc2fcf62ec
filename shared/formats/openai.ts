import type { GeminiPart, RawRecord } from '../convert/types.ts';
import { assembleExample, IssueCollector, isRecord, mediaPart, type MappingResult } from './mapping.ts';

/**
 * OpenAI chat fine-tuning JSONL: {"messages":[{"role","content","weight"?}]}.
 * system → systemInstruction, user → user, assistant → model. Other roles (tool, function)
 * are passed through so that validation names them as unrecognized.
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
  return mapRoleContentMessages(value.messages, 'messages', issues);
}

/** Shared by OpenAI chat and ShareGPT's `messages` variant, which use the same message shape. */
export function mapRoleContentMessages(messages: unknown[], field: string, issues: IssueCollector): MappingResult {
  const turns: { role: string; parts: GeminiPart[]; path: string }[] = [];
  messages.forEach((message, index) => {
    const path = `${field}[${index}]`;
    if (!isRecord(message)) {
      issues.error('invalid_field_type', 'a message must be an object with "role" and "content"', path);
      return;
    }
    const rawRole = typeof message.role === 'string' ? message.role.toLowerCase() : String(message.role);
    const role = ROLE_MAP[rawRole] ?? rawRole;
    if (message.weight === 0 && role === 'model') {
      issues.warn('weight_zero_turn', 'weight 0 cannot be honoured: Gemini tuning has no per-turn weight, the turn is kept and trained on', `${path}.weight`);
    }
    const parts = contentParts(message.content, `${path}.content`, issues);
    if (parts.length > 0) turns.push({ role, parts, path });
  });
  if (turns.length === 0) return issues.result(null);
  return issues.result(assembleExample(turns, issues));
}

function contentParts(content: unknown, path: string, issues: IssueCollector): GeminiPart[] {
  if (typeof content === 'string') {
    if (content.trim() === '') {
      issues.error('empty_text', 'the message content is empty', path);
      return [];
    }
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
    } else if (item.type === 'text' && typeof item.text === 'string') {
      if (item.text.trim() === '') issues.error('empty_text', 'the text part is empty', `${itemPath}.text`);
      else parts.push({ text: item.text });
    } else if (item.type === 'image_url') {
      const url = isRecord(item.image_url) ? item.image_url.url : item.image_url;
      if (typeof url !== 'string') {
        issues.error('invalid_image_url', 'image_url.url must be a string', `${itemPath}.image_url`);
      } else {
        const part = mediaPart(url, issues, `${itemPath}.image_url.url`);
        if (part) parts.push(part);
      }
    } else {
      issues.error('invalid_part', `content part type ${JSON.stringify(item.type)} is not "text" or "image_url"`, itemPath);
    }
  });
  return parts;
}
