import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertRecord } from '../../../shared/convert/convert-record.ts';
import type { RawFormat } from '../../../shared/convert/types.ts';
import { wordTokens } from '../../support/word-tokens.ts';

const convert = (format: RawFormat, value: unknown, localMedia?: 'upload') =>
  convertRecord(
    { line: 7, value },
    { format, maxPartTokens: 8192, baseModel: 'gemini-3.5-flash-lite', ...(localMedia ? { localMedia } : {}) },
    wordTokens,
  );
const codes = (issues: { code: string; path: string }[]) => issues.map((issue) => `${issue.code} ${issue.path}`);

test('LLaMA-Factory multimodal ShareGPT: each <image> becomes the fileData of the next listed image, in its place', () => {
  const result = convert('sharegpt', {
    conversations: [
      { from: 'human', value: '<image>Who are they?' },
      { from: 'gpt', value: "They're Kane and Gretzka from Bayern Munich." },
      { from: 'human', value: 'Compare <image> with <image>, please' },
      { from: 'gpt', value: 'The second is brighter.' },
    ],
    images: ['gs://team-media/1.jpg', 'gs://team-media/2.png', 'gs://team-media/3.webp'],
  });
  assert.deepEqual(result.errors, []);
  assert.deepEqual(result.example!.contents[0]!.parts, [
    { fileData: { mimeType: 'image/jpeg', fileUri: 'gs://team-media/1.jpg' } },
    { text: 'Who are they?' },
  ]);
  assert.deepEqual(result.example!.contents[2]!.parts, [
    { text: 'Compare ' },
    { fileData: { mimeType: 'image/png', fileUri: 'gs://team-media/2.png' } },
    { text: ' with ' },
    { fileData: { mimeType: 'image/webp', fileUri: 'gs://team-media/3.webp' } },
    { text: ', please' },
  ]);
  assert.equal(result.multimodal, true);
});

test('videos and audios are placed at <video> and <audio>, in OpenAI-style messages and in Alpaca records alike', () => {
  const messages = convert('openai', {
    messages: [
      { role: 'user', content: '<video><audio>What happens here?' },
      { role: 'assistant', content: 'A goal is scored.' },
    ],
    videos: ['gs://team-media/1.mp4'],
    audios: ['gs://team-media/1.mp3'],
  });
  assert.deepEqual(messages.errors, []);
  assert.deepEqual(messages.example!.contents[0]!.parts, [
    { fileData: { mimeType: 'video/mp4', fileUri: 'gs://team-media/1.mp4' } },
    { fileData: { mimeType: 'audio/mpeg', fileUri: 'gs://team-media/1.mp3' } },
    { text: 'What happens here?' },
  ]);
  const alpaca = convert('alpaca', {
    instruction: 'Describe <image>',
    output: 'A cat.',
    images: 'gs://team-media/cat.jpg',
    system: 'Be brief.',
  });
  assert.deepEqual(alpaca.errors, []);
  assert.deepEqual(alpaca.example, {
    systemInstruction: { parts: [{ text: 'Be brief.' }] },
    contents: [
      { role: 'user', parts: [{ text: 'Describe ' }, { fileData: { mimeType: 'image/jpeg', fileUri: 'gs://team-media/cat.jpg' } }] },
      { role: 'model', parts: [{ text: 'A cat.' }] },
    ],
  });
});

test('images listed with no placeholder at all (older LLaMA-Factory demos) go before the first user text, with a warning: never dropped', () => {
  const result = convert('openai', {
    messages: [
      { content: 'Who are they?', role: 'user' },
      { content: "They're Kane and Gretzka.", role: 'assistant' },
    ],
    images: ['gs://team-media/1.jpg'],
  });
  assert.deepEqual(result.errors, []);
  assert.deepEqual(codes(result.warnings), ['media_placed_first images']);
  assert.deepEqual(result.example!.contents[0]!.parts, [
    { fileData: { mimeType: 'image/jpeg', fileUri: 'gs://team-media/1.jpg' } },
    { text: 'Who are they?' },
  ]);
});

test('a placeholder count that differs from the files listed is a located error, not a guess', () => {
  const result = convert('sharegpt', {
    conversations: [
      { from: 'human', value: '<image> and <image>?' },
      { from: 'gpt', value: 'Both.' },
    ],
    images: ['gs://team-media/1.jpg'],
  });
  assert.equal(result.example, null);
  assert.deepEqual(codes(result.errors), ['media_placeholder_mismatch images']);
  assert.match(result.errors[0]!.message, /lists 1 file\(s\) but the conversation has 2 <image> placeholder/);
});

test('a local path is an error that says where the file must be, unless the caller uploads local files; a file:// URL is a local path too', () => {
  const record = {
    conversations: [
      { from: 'human', value: '<image>Who?' },
      { from: 'gpt', value: 'Kane.' },
    ],
    images: ['mllm_demo_data/1.jpg'],
  };
  const refused = convert('sharegpt', record);
  assert.equal(refused.example, null);
  assert.deepEqual(codes(refused.errors), ['local_media_path images[0]']);
  assert.match(refused.errors[0]!.message, /"mllm_demo_data\/1\.jpg" is a local file.*gs:\/\/.*--upload gs:\/\/BUCKET\/PREFIX/);
  const deferred = convert('sharegpt', record, 'upload');
  assert.deepEqual(deferred.errors, []);
  assert.deepEqual(codes(deferred.warnings), ['local_media_path images[0]']);
  assert.deepEqual(deferred.example!.contents[0]!.parts[0], { fileData: { mimeType: 'image/jpeg', fileUri: 'mllm_demo_data/1.jpg' } });
  const fileUrl = convert('sharegpt', { ...record, images: ['file:///data/a%20b.png'] }, 'upload');
  assert.deepEqual(fileUrl.example!.contents[0]!.parts[0], { fileData: { mimeType: 'image/png', fileUri: '/data/a b.png' } });
});

test('media entries that are not paths are named: bytes without a path, numbers, an unknown extension', () => {
  const result = convert('sharegpt', {
    conversations: [
      { from: 'human', value: '<image><image><image>?' },
      { from: 'gpt', value: 'No.' },
    ],
    images: [{ bytes: 'iVBORw0...', path: null }, 42, 'scan.tiff'],
  });
  assert.equal(result.example, null);
  assert.deepEqual(codes(result.errors), [
    'invalid_media_reference images[0]',
    'invalid_media_reference images[1]',
    'missing_mime_type images[2]',
  ]);
  assert.match(result.errors[0]!.message, /embedded as bytes/);
});

test('a record without media lists keeps a literal <image> as text', () => {
  const result = convert('sharegpt', {
    conversations: [
      { from: 'human', value: 'What does <image> mean in HTML-like text?' },
      { from: 'gpt', value: 'A tag.' },
    ],
  });
  assert.deepEqual(result.errors, []);
  assert.deepEqual(result.example!.contents[0]!.parts, [{ text: 'What does <image> mean in HTML-like text?' }]);
});
