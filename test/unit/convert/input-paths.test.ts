import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertRecord } from '../../../shared/convert/convert-record.ts';
import type { ColumnMap, RawFormat } from '../../../shared/convert/types.ts';
import { wordTokens } from '../../support/word-tokens.ts';

const convert = (format: RawFormat, value: unknown, extra: { maxPartTokens?: number; columnMap?: ColumnMap } = {}) =>
  convertRecord(
    { line: 2, value },
    {
      format,
      maxPartTokens: extra.maxPartTokens ?? 8192,
      baseModel: 'gemini-3.5-flash-lite',
      ...(extra.columnMap ? { columnMap: extra.columnMap } : {}),
    },
    wordTokens,
  );
const where = (issues: { code: string; path: string; convertedPath?: string }[]) =>
  issues.map((issue) => `${issue.code} ${issue.path}${issue.convertedPath ? ` <- ${issue.convertedPath}` : ''}`);

test("a ShareGPT record's problems name its own fields (conversations[2].from), the Gemini path beside them", () => {
  const result = convert('sharegpt', {
    conversations: [
      { from: 'human', value: 'Hi' },
      { from: 'gpt', value: 'Hello' },
      { from: 'humna', value: 'Typo in my role' },
      { from: 'gpt', value: 'Answer' },
    ],
  });
  assert.deepEqual(where(result.errors), [
    'unrecognized_role conversations[2].from <- contents[2].role',
    'consecutive_turns conversations[3].from <- contents[3].role',
  ]);
  const twoInARow = convert('sharegpt', {
    conversations: [
      { from: 'human', value: 'A' },
      { from: 'human', value: 'B' },
      { from: 'gpt', value: 'C' },
    ],
  });
  assert.deepEqual(where(twoInARow.errors), ['consecutive_turns conversations[1].from <- contents[1].role']);
});

test('OpenAI messages: a role names messages[i].role, a content part its own place, the system instruction its message', () => {
  const result = convert('openai', {
    messages: [
      { role: 'system', content: 'Be brief.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Look' },
          { type: 'image_url', image_url: { url: 'gs://team-media/a.tiff' } },
        ],
      },
      { role: 'assistant', content: 'Nice.' },
      { role: 'user', content: 'Thanks' },
    ],
  });
  assert.deepEqual(where(result.errors), ['missing_mime_type messages[1].content[1].image_url.url']);
  const late = convert('openai', {
    messages: [
      { role: 'system', content: 'Be brief.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Look' },
          { type: 'image_url', image_url: { url: 'gs://team-media/a.pdf' } },
        ],
      },
      { role: 'assistant', content: 'Nice.' },
      { role: 'user', content: 'Thanks' },
    ],
  });
  assert.deepEqual(where(late.errors), ['last_turn_not_model messages[3].role <- contents[2].role']);
});

test('after splitting a long text, a later part still names the field it came from', () => {
  const long = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');
  const result = convert(
    'sharegpt',
    {
      conversations: [
        { from: 'human', value: long },
        { from: 'gpt', value: ' ' },
      ],
    },
    { maxPartTokens: 16 },
  );
  assert.deepEqual(where(result.errors), ['empty_text conversations[1].value']);
  const split = convert(
    'sharegpt',
    {
      conversations: [
        { from: 'human', value: long },
        { from: 'gpt', value: 'ok' },
      ],
      images: ['gs://team-media/x.gif'],
    },
    { maxPartTokens: 16 },
  );
  assert.deepEqual(where(split.errors), ['missing_mime_type images[0]']);
  assert.deepEqual(where(split.warnings), ['media_placed_first images']);
  const placed = convert(
    'sharegpt',
    {
      conversations: [
        { from: 'human', value: `${long} <image>` },
        { from: 'gpt', value: 'ok' },
      ],
      images: ['notes/scan.png'],
    },
    { maxPartTokens: 16 },
  );
  assert.deepEqual(where(placed.errors), ['local_media_path images[0] <- contents[0].parts[3].fileData.fileUri']);
  assert.deepEqual(where(placed.warnings), ['text_part_split conversations[0].value <- contents[0].parts[0].text']);
});

test('CSV cells are named by their columns; Alpaca fields by theirs; Gemini records keep their own paths', () => {
  const csv = convert(
    'csv',
    { question: 'Q', answer: 'A', picture: 'gs://team-media/cat.png', extra: '' },
    { columnMap: { user: 'question', model: 'answer', file: 'picture' } },
  );
  assert.deepEqual(csv.errors, []);
  const csvLocal = convert(
    'csv',
    { question: 'Q', answer: 'A', picture: 'cat.png' },
    { columnMap: { user: 'question', model: 'answer', file: 'picture' } },
  );
  assert.deepEqual(where(csvLocal.errors), ['invalid_image_url picture']);
  const alpaca = convert('alpaca', { instruction: 'Describe <image>', output: 'A cat.', images: ['pics/cat.png'] });
  assert.deepEqual(where(alpaca.errors), ['local_media_path images[0] <- contents[0].parts[1].fileData.fileUri']);
  const gemini = convert('gemini', {
    contents: [
      { role: 'user', parts: [{ text: 'Q' }] },
      { role: 'assistant', parts: [{ text: 'A' }] },
    ],
  });
  assert.deepEqual(where(gemini.errors), ['unrecognized_role contents[1].role']);
});
