import type { ColumnMap, GeminiExample, GeminiPart, RawRecord } from '../convert/types.ts';
import { IssueCollector, isRecord, mediaPart, type MappingResult } from './mapping.ts';

/**
 * One CSV/TSV row (header → cell) as a single-turn example, through resolved columns (see
 * shared/convert/columns.ts). A file column becomes a fileData part before the user's text, the
 * order a person reads "look at this, then answer". A row with no values at all is skipped.
 */
export function mapCsvRecord(record: RawRecord, columns: ColumnMap): MappingResult & { skipped: boolean } {
  const issues = new IssueCollector(record.line);
  const row = record.value;
  if (!isRecord(row)) {
    issues.error('csv_parse_error', 'the row could not be read as header → value pairs', '');
    return { ...issues.result(null), skipped: false };
  }
  const cell = (column: string | undefined): string => {
    const raw = column === undefined ? undefined : row[column];
    return typeof raw === 'string' ? raw : '';
  };
  if (!hasText(row)) {
    issues.warn('empty_row', 'an empty row was skipped', '');
    return { ...issues.result(null), skipped: true };
  }
  const user = cell(columns.user);
  const model = cell(columns.model);
  const system = cell(columns.system);
  const file = cell(columns.file);
  if (user.trim() === '') issues.error('missing_field', `the "${columns.user}" column (user) is empty`, columns.user ?? '');
  if (model.trim() === '') issues.error('missing_field', `the "${columns.model}" column (model) is empty`, columns.model ?? '');
  const userParts: GeminiPart[] = [];
  const userPaths: string[] = [];
  if (file.trim() !== '') {
    const part = mediaPart(file, issues, columns.file ?? '');
    if (part) {
      userParts.push(part);
      userPaths.push(columns.file ?? '');
    }
  }
  if (issues.errors.length > 0) return { ...issues.result(null), skipped: false };
  userParts.push({ text: user });
  userPaths.push(columns.user ?? '');
  // Issues found later name the columns the parts came from.
  issues.sources = {
    contents: [
      { path: columns.user ?? '', parts: userPaths },
      { path: columns.model ?? '', parts: [columns.model ?? ''] },
    ],
    system: system.trim() !== '' ? [columns.system ?? ''] : [],
  };
  const example: GeminiExample = {
    contents: [
      { role: 'user', parts: userParts },
      { role: 'model', parts: [{ text: model }] },
    ],
  };
  const withSystem = system.trim() !== '' ? { systemInstruction: { parts: [{ text: system }] }, ...example } : example;
  return { ...issues.result(withSystem), skipped: false };
}

/** Whether any cell holds more than white space (a loop: this runs for every row). */
function hasText(row: Record<string, unknown>): boolean {
  for (const column in row) {
    const value = row[column];
    if (typeof value === 'string' && value.trim() !== '') return true;
  }
  return false;
}
