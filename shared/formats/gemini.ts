import type { RawRecord } from '../convert/types.ts';
import { IssueCollector, isRecord, type MappingResult } from './mapping.ts';

/**
 * Gemini-native records pass through untouched: validation judges them as Vertex would. Only a
 * record that is not an object cannot be passed on.
 */
export function mapGeminiRecord(record: RawRecord): MappingResult {
  const issues = new IssueCollector(record.line);
  if (!isRecord(record.value)) {
    issues.error('not_an_object', 'a Gemini tuning example must be a JSON object with "contents"', '');
    return issues.result(null);
  }
  return issues.result(record.value as never);
}
