import type { RawRecord } from '../convert/types.ts';
import { withJsonFieldNames } from '../gemini/field-names.ts';
import { IssueCollector, isRecord, type MappingResult } from './mapping.ts';

/**
 * Gemini-native records pass through with their fields under JSON names (proto names such as
 * `system_instruction` are Google's too, and are renamed); validation judges them as Vertex
 * would. Only a record that is not an object cannot be passed on.
 */
export function mapGeminiRecord(record: RawRecord): MappingResult {
  const issues = new IssueCollector(record.line);
  if (!isRecord(record.value)) {
    issues.error('not_an_object', 'a Gemini tuning example must be a JSON object with "contents"', '');
    return issues.result(null);
  }
  const errors: Parameters<typeof withJsonFieldNames>[2] = [];
  const example = withJsonFieldNames(record.value, record.line, errors);
  for (const error of errors) issues.error(error.code as never, error.message, error.path);
  return issues.result(example as never);
}
