import type { RawRecord } from '../convert/types.ts';
import { assembleExample, IssueCollector, isRecord, type MappingResult, type SourceTurn } from './mapping.ts';
import { placeMedia } from './media-placeholders.ts';

/**
 * Alpaca: {"instruction","input"?,"output","system"?}. The user turn is the instruction, then a
 * blank line and the input when there is one (the layout of the Alpaca prompt template, minus
 * its boilerplate); the model turn is the output.
 */
export function mapAlpacaRecord(record: RawRecord): MappingResult {
  const issues = new IssueCollector(record.line);
  const value = record.value;
  if (!isRecord(value)) {
    issues.error('not_an_object', 'an Alpaca example must be a JSON object with "instruction" and "output"', '');
    return issues.result(null);
  }
  const text = (field: string, required: boolean): string | undefined => {
    const raw = value[field];
    if (raw === undefined || raw === null || raw === '') {
      if (required) issues.error('missing_field', `"${field}" is missing or empty`, field);
      return undefined;
    }
    if (typeof raw !== 'string') {
      issues.error('invalid_field_type', `"${field}" must be a string, not ${Array.isArray(raw) ? 'an array' : typeof raw}`, field);
      return undefined;
    }
    return raw;
  };
  const instruction = text('instruction', true);
  const input = text('input', false);
  const output = text('output', true);
  const system = text('system', false);
  if (instruction === undefined || output === undefined) return issues.result(null);
  const userText = input && input.trim() !== '' ? `${instruction}\n\n${input}` : instruction;
  const turns: SourceTurn[] = [
    ...(system ? [{ role: 'system', parts: [{ text: system }], path: 'system' }] : []),
    { role: 'user', parts: [{ text: userText }], path: 'instruction' },
    { role: 'model', parts: [{ text: output }], path: 'output' },
  ];
  // LLaMA-Factory's Alpaca layout takes `images`, `videos`, `audios` as its ShareGPT one does.
  placeMedia(turns, value, issues);
  return issues.result(assembleExample(turns, issues));
}
