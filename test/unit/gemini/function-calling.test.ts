import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { convertRecord } from '../../../shared/convert/convert-record.ts';
import { geminiExampleSchema } from '../../../shared/gemini/schema.ts';
import { wordTokens } from '../../support/word-tokens.ts';

const options = { format: 'gemini' as const, maxPartTokens: 8192, baseModel: 'gemini-3.5-flash-lite' };
const convert = (value: unknown) => convertRecord({ line: 7, value }, options, wordTokens);
const codes = (value: unknown) => convert(value).errors.map((e) => `${e.code} @ ${e.path}`);

const googleExample = JSON.parse(readFileSync(new URL('../../fixtures/google/tune-function-calling.jsonl', import.meta.url), 'utf8'));
const tools = googleExample.tools;
const user = (text: string) => ({ role: 'user', parts: [{ text }] });
const call = (name: string, args: unknown = { product_name: 'Pixel 8 Pro 128GB' }) => ({
  role: 'model',
  parts: [{ functionCall: { name, args } }],
});
const answer = (name: string, role = 'user') => ({
  role,
  parts: [{ functionResponse: { name, response: { output: { in_stock: true } } } }],
});

test("Google's own function-calling example converts: proto field names read, JSON names written, the user's argument names kept", () => {
  const result = convert(googleExample);
  assert.deepEqual(result.errors, []);
  const example = result.example!;
  assert.deepEqual(Object.keys(example).sort(), ['contents', 'systemInstruction', 'tools']);
  assert.equal(example.systemInstruction?.parts[0]?.text, 'You are an assistant that helps users find the best product for them.');
  assert.deepEqual(example.contents[1]?.parts[0], {
    functionCall: { name: 'get_product_sku', args: { product_name: 'Pixel 8 Pro 128GB' } },
  });
  assert.deepEqual(example.tools, tools);
  geminiExampleSchema.parse(example);
  // The declarations and the call are read by the model too: counted, not only the texts.
  const textsOnly = convert({
    ...googleExample,
    tools: undefined,
    contents: [googleExample.contents[0], { role: 'model', parts: [{ text: 'x' }] }],
  }).tokens;
  assert.ok(result.tokens > textsOnly + 20, `${result.tokens} tokens with tools and call, ${textsOnly} without`);
});

test('a chat with a call, its answer and the reply converts; snake_case parts (file_data, function_call) are read too', () => {
  const chat = {
    contents: [
      user('Is the 128GB one in stock?'),
      { role: 'model', parts: [{ function_call: { name: 'get_product_sku', args: { product_name: 'Pixel 8 Pro 128GB' } } }] },
      { role: 'user', parts: [{ function_response: { name: 'get_product_sku', response: { output: { in_stock: true } } } }] },
      { role: 'model', parts: [{ text: 'Yes, it is in stock.' }] },
      { role: 'user', parts: [{ text: 'And this one?' }, { file_data: { mime_type: 'image/png', file_uri: 'gs://media/phone.png' } }] },
      { role: 'model', parts: [{ text: 'That is a Pixel 8.' }] },
    ],
    tools,
  };
  const result = convert(chat);
  assert.deepEqual(result.errors, []);
  assert.deepEqual(result.example!.contents[2]!.parts[0], {
    functionResponse: { name: 'get_product_sku', response: { output: { in_stock: true } } },
  });
  assert.deepEqual(result.example!.contents[4]!.parts[1], { fileData: { mimeType: 'image/png', fileUri: 'gs://media/phone.png' } });
  geminiExampleSchema.parse(result.example);
});

test('function calling mistakes are located errors: undeclared function, bad args, an answer to nothing, parts in the wrong turn, bad tools', () => {
  assert.deepEqual(codes({ contents: [user('stock?'), call('get_price')], tools }), [
    'undeclared_function @ contents[1].parts[0].functionCall.name',
  ]);
  assert.match(
    convert({ contents: [user('stock?'), call('get_price')] }).errors[0]!.message,
    /no tool declares: the example declares no functions/,
  );
  assert.deepEqual(codes({ contents: [user('stock?'), call('get_product_sku', '{"product_name": "x"}')], tools }), [
    'invalid_function_call @ contents[1].parts[0].functionCall.args',
  ]);
  assert.deepEqual(
    codes({
      contents: [user('stock?'), call('get_product_sku'), answer('get_store_location'), { role: 'model', parts: [{ text: 'ok' }] }],
      tools,
    }),
    ['unanswered_function_response @ contents[2].parts[0].functionResponse.name'],
  );
  assert.deepEqual(codes({ contents: [user('stock?'), answer('get_product_sku', 'model')], tools }), [
    'misplaced_function_part @ contents[1].parts[0].functionResponse',
    'unanswered_function_response @ contents[1].parts[0].functionResponse.name',
  ]);
  assert.deepEqual(codes({ contents: [user('stock?'), { role: 'model', parts: [{ text: 'ok' }] }], tools: [{ googleSearch: {} }] }), [
    'invalid_tools @ tools[0]',
  ]);
  assert.deepEqual(
    codes({
      contents: [user('stock?'), call('get_product_sku')],
      tools: [{ functionDeclarations: [{ name: '9lives' }, { name: 'get_product_sku' }, { name: 'get_product_sku' }] }],
    }),
    [
      'invalid_function_declaration @ tools[0].functionDeclarations[0].name',
      'invalid_function_declaration @ tools[0].functionDeclarations[2].name',
    ],
  );
});

test('a field given under both its names is refused, naming it; an unknown key named "__proto__" stays a key and is reported', () => {
  const both = {
    systemInstruction: { parts: [{ text: 'a' }] },
    system_instruction: { parts: [{ text: 'b' }] },
    contents: [user('q'), { role: 'model', parts: [{ text: 'a' }] }],
  };
  assert.deepEqual(codes(both), ['duplicate_field @ systemInstruction']);
  const proto = JSON.parse(
    '{"__proto__": {"polluted": true}, "contents": [{"role": "user", "parts": [{"text": "q"}]}, {"role": "model", "parts": [{"text": "a"}]}]}',
  );
  assert.deepEqual(codes(proto), ['unknown_field @ __proto__']);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});
