import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertRecord } from '../../../shared/convert/convert-record.ts';
import type { ConvertOptions, RawFormat } from '../../../shared/convert/types.ts';
import { detectFormat } from '../../../shared/formats/detect.ts';
import { wordTokens } from '../../support/word-tokens.ts';

const options = (format: RawFormat, extra: Partial<ConvertOptions> = {}): ConvertOptions => ({
  format,
  maxPartTokens: 8192,
  baseModel: 'gemini-3.5-flash-lite',
  ...extra,
});
const convert = (format: RawFormat, value: unknown, extra: Partial<ConvertOptions> = {}) =>
  convertRecord({ line: 3, value }, options(format, extra), wordTokens);

test('formats are detected from the extension and the first record', () => {
  assert.equal(detectFormat('data.csv', undefined), 'csv');
  assert.equal(detectFormat('DATA.TSV', undefined), 'tsv');
  assert.equal(detectFormat('x.jsonl', { contents: [] }), 'gemini');
  assert.equal(detectFormat('x.jsonl', { messages: [] }), 'openai');
  assert.equal(detectFormat('x.json', { conversations: [] }), 'sharegpt');
  assert.equal(detectFormat('x.json', { instruction: 'a', output: 'b' }), 'alpaca');
  assert.equal(detectFormat('x.jsonl', { text: 'plain' }), null);
});

test('OpenAI chat: system → systemInstruction, assistant → model, image URLs by scheme', () => {
  const result = convert('openai', {
    messages: [
      { role: 'system', content: 'Answer in JSON.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in the picture?' },
          { type: 'image_url', image_url: { url: 'gs://bucket/cat.jpg' } },
        ],
      },
      { role: 'assistant', content: '{"animal":"cat"}' },
    ],
  });
  assert.deepEqual(result.errors, []);
  assert.deepEqual(result.example, {
    systemInstruction: { parts: [{ text: 'Answer in JSON.' }] },
    contents: [
      {
        role: 'user',
        parts: [{ text: 'What is in the picture?' }, { fileData: { mimeType: 'image/jpeg', fileUri: 'gs://bucket/cat.jpg' } }],
      },
      { role: 'model', parts: [{ text: '{"animal":"cat"}' }] },
    ],
  });
});

test('OpenAI chat: https images warn, data: URLs become inlineData and are rejected with the fix, weight 0 warns', () => {
  const https = convert('openai', {
    messages: [
      { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x.test/a.png' } }] },
      { role: 'assistant', content: 'a' },
    ],
  });
  assert.deepEqual(
    https.warnings.map((w) => w.code),
    ['https_file_uri'],
  );
  assert.ok(https.example);
  const data = convert('openai', {
    messages: [
      { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] },
      { role: 'assistant', content: 'a' },
    ],
  });
  assert.equal(data.example, null);
  assert.equal(data.errors[0]?.code, 'inline_data_unsupported');
  const weighted = convert('openai', {
    messages: [
      { role: 'user', content: 'q' },
      { role: 'assistant', content: 'draft', weight: 0 },
      { role: 'user', content: 'again' },
      { role: 'assistant', content: 'final', weight: 1 },
    ],
  });
  assert.ok(weighted.example);
  assert.deepEqual(
    weighted.warnings.map((w) => `${w.code}@${w.path}`),
    ['weight_zero_turn@messages[1].weight'],
  );
  // A tool message with no call before it cannot be told which function it answers.
  const tool = convert('openai', {
    messages: [
      { role: 'user', content: 'q' },
      { role: 'tool', content: 'r' },
    ],
  });
  assert.deepEqual(
    tool.errors.map((e) => `${e.code}@${e.path}`),
    ['invalid_function_response@messages[1].tool_call_id'],
  );
  const other = convert('openai', {
    messages: [
      { role: 'user', content: 'q' },
      { role: 'critic', content: 'r' },
    ],
  });
  assert.equal(other.errors[0]?.code, 'unrecognized_role');
});

test('ShareGPT: human/gpt/system, and the messages variant', () => {
  const result = convert('sharegpt', {
    conversations: [
      { from: 'system', value: 'S' },
      { from: 'human', value: 'Q' },
      { from: 'gpt', value: 'A' },
    ],
  });
  assert.deepEqual(result.example, {
    systemInstruction: { parts: [{ text: 'S' }] },
    contents: [
      { role: 'user', parts: [{ text: 'Q' }] },
      { role: 'model', parts: [{ text: 'A' }] },
    ],
  });
  const variant = convert('sharegpt', {
    messages: [
      { role: 'user', content: 'Q' },
      { role: 'assistant', content: 'A' },
    ],
  });
  assert.deepEqual(
    variant.example?.contents.map((c) => c.role),
    ['user', 'model'],
  );
  const missing = convert('sharegpt', {
    conversations: [
      { from: 'human', value: '' },
      { from: 'gpt', value: 'A' },
    ],
  });
  assert.deepEqual(
    missing.errors.map((e) => `${e.code}@${e.path}`),
    ['empty_text@conversations[0].value'],
  );
});

test('Alpaca: instruction and input join into the user turn; output is the model turn; missing output is located', () => {
  const result = convert('alpaca', {
    instruction: 'Translate to French.',
    input: 'Good morning',
    output: 'Bonjour',
    system: 'You translate.',
  });
  assert.deepEqual(result.example, {
    systemInstruction: { parts: [{ text: 'You translate.' }] },
    contents: [
      { role: 'user', parts: [{ text: 'Translate to French.\n\nGood morning' }] },
      { role: 'model', parts: [{ text: 'Bonjour' }] },
    ],
  });
  assert.deepEqual(
    convert('alpaca', { instruction: 'x', output: '' }).errors.map((e) => `${e.code}@${e.path}`),
    ['missing_field@output'],
  );
  assert.deepEqual(
    convert('alpaca', { instruction: ['x'], output: 'y' }).errors.map((e) => `${e.code}@${e.path}`),
    ['invalid_field_type@instruction'],
  );
});

test('CSV rows: columns by role, file column as fileData before the text, empty rows skipped', () => {
  const columns = { user: 'question', model: 'answer', system: 'system', file: 'image' };
  const result = convert(
    'csv',
    { question: '무엇이 보이나요?', answer: 'A cat, "sleeping"', system: '', image: 'gs://bkt/cat.webp' },
    { columnMap: columns },
  );
  assert.deepEqual(result.example, {
    contents: [
      { role: 'user', parts: [{ fileData: { mimeType: 'image/webp', fileUri: 'gs://bkt/cat.webp' } }, { text: '무엇이 보이나요?' }] },
      { role: 'model', parts: [{ text: 'A cat, "sleeping"' }] },
    ],
  });
  const empty = convert('csv', { question: '', answer: ' ', system: '', image: '' }, { columnMap: columns });
  assert.equal(empty.skipped, true);
  const noAnswer = convert('csv', { question: 'q', answer: '', system: '', image: '' }, { columnMap: columns });
  assert.deepEqual(
    noAnswer.errors.map((e) => `${e.line}:${e.code}@${e.path}`),
    ['3:missing_field@answer'],
  );
  const unknownExt = convert('csv', { question: 'q', answer: 'a', system: '', image: 'gs://bkt/file' }, { columnMap: columns });
  assert.deepEqual(
    unknownExt.errors.map((e) => e.code),
    ['missing_mime_type'],
  );
});

test('Gemini records pass through unchanged when valid', () => {
  const example = {
    contents: [
      { role: 'user', parts: [{ text: 'hi' }] },
      { role: 'model', parts: [{ text: 'hello' }] },
    ],
  };
  assert.deepEqual(convert('gemini', example).example, example);
});
