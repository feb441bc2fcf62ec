import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { IssueCode } from '../../../shared/gemini/issue-codes.ts';

test('every error and warning code is explained in docs/dataset-format.md for users to search', () => {
  const doc = readFileSync(new URL('../../../docs/dataset-format.md', import.meta.url), 'utf8');
  const missing = Object.keys(IssueCode).filter((code) => !doc.includes(`| \`${code}\` |`));
  assert.deepEqual(missing, []);
});
