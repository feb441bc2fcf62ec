import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateExample } from '../../../shared/gemini/validate.ts';
import { wordTokens } from '../../support/word-tokens.ts';

const ctx = { line: 7, baseModel: 'gemini-3.5-flash-lite', tokens: wordTokens };
const user = (text: string) => ({ role: 'user', parts: [{ text }] });
const model = (text: string) => ({ role: 'model', parts: [{ text }] });
const codes = (example: unknown) => validateExample(example, ctx).errors.map((e) => `${e.code}@${e.path}`);

test('a valid example has no errors and counts tokens of every text, system instruction included', () => {
  const result = validateExample(
    { systemInstruction: { parts: [{ text: 'be brief' }] }, contents: [user('hi there'), model('hello')] },
    ctx,
  );
  assert.deepEqual(result.errors, []);
  assert.equal(result.tokens, 5);
  assert.equal(result.multimodal, false);
});

test('errors carry the record line, a searchable code and the field path', () => {
  const [error] = validateExample({ contents: [user('a'), { role: 'assistant', parts: [{ text: 'b' }] }] }, ctx).errors;
  assert.deepEqual(error, {
    line: 7,
    code: 'unrecognized_role',
    message: 'role "assistant" is not "user" or "model"',
    path: 'contents[1].role',
  });
});

test('structure rules: contents list, keys of a turn, alternation, first user and last model', () => {
  assert.deepEqual(codes({}), ['missing_contents_list@contents']);
  assert.deepEqual(codes({ contents: [] }), ['empty_contents@contents']);
  assert.deepEqual(codes({ contents: [{ role: 'user' }, model('x')] }), ['content_item_missing_key@contents[0]']);
  assert.deepEqual(codes({ contents: [user('a'), user('b'), model('c')] }), ['consecutive_turns@contents[1].role']);
  assert.deepEqual(codes({ contents: [model('a'), user('b'), model('c')] }), ['first_turn_not_user@contents[0].role']);
  assert.deepEqual(codes({ contents: [user('a'), model('b'), user('c')] }), ['last_turn_not_model@contents[2].role']);
  assert.deepEqual(codes('not an object'), ['not_an_object@']);
  assert.deepEqual(codes({ contents: [user('a'), model('b')], extra: 1 }), ['unknown_field@extra']);
});

test('part rules: exactly one of text or fileData, no empty text, no empty parts, no inlineData', () => {
  assert.deepEqual(
    codes({
      contents: [{ role: 'user', parts: [{ text: 'a', fileData: { mimeType: 'image/png', fileUri: 'gs://bkt/o.png' } }] }, model('b')],
    }),
    ['invalid_part@contents[0].parts[0]'],
  );
  assert.deepEqual(codes({ contents: [{ role: 'user', parts: [{}] }, model('b')] }), ['invalid_part@contents[0].parts[0]']);
  assert.deepEqual(codes({ contents: [user('   '), model('b')] }), ['empty_text@contents[0].parts[0].text']);
  assert.deepEqual(codes({ contents: [{ role: 'user', parts: [{ text: 5 }] }, model('b')] }), ['missing_text@contents[0].parts[0].text']);
  assert.deepEqual(codes({ contents: [{ role: 'user', parts: [] }, model('b')] }), ['empty_parts@contents[0].parts']);
  assert.deepEqual(codes({ contents: [{ role: 'user', parts: [{ inlineData: { mimeType: 'image/png', data: 'AA==' } }] }, model('b')] }), [
    'inline_data_unsupported@contents[0].parts[0].inlineData',
  ]);
  assert.deepEqual(codes({ systemInstruction: { parts: [{ fileData: {} }] }, contents: [user('a'), model('b')] }), [
    'invalid_system_instruction@systemInstruction.parts[0]',
  ]);
});

test('media rules: gs:// URIs, https with a warning, local paths rejected, MIME types and per-example limits', () => {
  const withFile = (fileUri: string, mimeType = 'image/png') => ({
    contents: [{ role: 'user', parts: [{ fileData: { mimeType, fileUri } }, { text: 'what is this?' }] }, model('a cat')],
  });
  const ok = validateExample(withFile('gs://my-bucket/images/cat.png'), ctx);
  assert.deepEqual(ok.errors, []);
  assert.equal(ok.multimodal, true);
  const https = validateExample(withFile('https://example.com/cat.png'), ctx);
  assert.deepEqual(https.errors, []);
  assert.deepEqual(
    https.warnings.map((w) => w.code),
    ['https_file_uri'],
  );
  assert.deepEqual(codes(withFile('/home/me/cat.png')), ['local_media_path@contents[0].parts[0].fileData.fileUri']);
  assert.deepEqual(codes(withFile('C:\\photos\\cat.png')), ['local_media_path@contents[0].parts[0].fileData.fileUri']);
  assert.deepEqual(codes(withFile('ftp://host/cat.png')), ['invalid_file_uri@contents[0].parts[0].fileData.fileUri']);
  assert.deepEqual(codes(withFile('gs://bkt/o.txt', 'text/plain')), ['unsupported_mime_type@contents[0].parts[0].fileData.mimeType']);
  assert.deepEqual(codes(withFile('gs://bkt/o.pdf', 'application/pdf')), []);
  const twoVideos = {
    contents: [
      {
        role: 'user',
        parts: [
          { fileData: { mimeType: 'video/mp4', fileUri: 'gs://bkt/1.mp4' } },
          { fileData: { mimeType: 'video/mp4', fileUri: 'gs://bkt/2.mp4' } },
        ],
      },
      model('x'),
    ],
  };
  assert.deepEqual(codes(twoVideos), ['too_many_media@contents[0].parts[1].fileData']);
  const images = Array.from({ length: 31 }, (_, i) => ({ fileData: { mimeType: 'image/jpeg', fileUri: `gs://bkt/${i}.jpg` } }));
  assert.deepEqual(codes({ contents: [{ role: 'user', parts: images }, model('x')] }), ['too_many_media@contents[0].parts[30].fileData']);
});

test('an example over the base model token limit is rejected; an unknown model is held to the strictest limit in the catalogue', () => {
  const long = { contents: [user('word '.repeat(131_073)), model('ok')] };
  assert.deepEqual(codes(long), ['example_too_long@']);
  const unknown = validateExample(long, { ...ctx, baseModel: 'gemini-4-flash' }).errors;
  assert.deepEqual(
    unknown.map((issue) => issue.code),
    ['example_too_long'],
  );
  assert.match(unknown[0]!.message, /over the 131072 of the strictest model in the catalogue \(gemini-4-flash is not in it\)/);
});
