import type { GeminiPart, RawRecord } from '../convert/types.ts';
import { assembleExample, IssueCollector, isRecord, type MappingResult } from './mapping.ts';
import { mapRoleContentMessages } from './openai.ts';

/**
 * ShareGPT: {"conversations":[{"from":"human"|"gpt"|"system","value"}]}, and the variant with
 * {"messages":[{"role","content"}]} (the OpenAI message shape, mapped the same way).
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
  if (Array.isArray(value.messages) && !Array.isArray(value.conversations)) {
    return mapRoleContentMessages(value.messages, 'messages', issues);
  }
  if (!Array.isArray(value.conversations) || value.conversations.length === 0) {
    issues.error('missing_field', 'a ShareGPT example needs a non-empty "conversations" array', 'conversations');
    return issues.result(null);
  }
  const turns: { role: string; parts: GeminiPart[]; path: string }[] = [];
  value.conversations.forEach((message, index) => {
    const path = `conversations[${index}]`;
    if (!isRecord(message)) {
      issues.error('invalid_field_type', 'a conversation turn must be an object with "from" and "value"', path);
      return;
    }
    const from = typeof message.from === 'string' ? message.from.toLowerCase() : String(message.from);
    const role = FROM_MAP[from] ?? from;
    if (typeof message.value !== 'string') {
      issues.error('missing_text', '"value" must be a string', `${path}.value`);
    } else if (message.value.trim() === '') {
      issues.error('empty_text', 'the turn\'s "value" is empty', `${path}.value`);
    } else {
      turns.push({ role, parts: [{ text: message.value }], path });
    }
  });
  if (turns.length === 0) return issues.result(null);
  return issues.result(assembleExample(turns, issues));
}
