import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { convertRecord } from '../../../shared/convert/convert-record.ts';
import { geminiExampleSchema } from '../../../shared/gemini/schema.ts';
import { wordTokens } from '../../support/word-tokens.ts';

const convert = (format: 'openai' | 'sharegpt', value: unknown) =>
  convertRecord({ line: 3, value }, { format, maxPartTokens: 8192, baseModel: 'gemini-3.5-flash-lite' }, wordTokens);

// OpenAI's documented fine-tuning example for function calling ("Fine-tuning: tool calling").
const weatherTools = [
  {
    type: 'function',
    function: {
      name: 'get_current_weather',
      description: 'Get the current weather',
      parameters: {
        type: 'object',
        properties: {
          location: { type: 'string', description: 'The city and country, eg. San Francisco, USA' },
          format: { type: 'string', enum: ['celsius', 'fahrenheit'] },
        },
        required: ['location', 'format'],
      },
    },
  },
];
const askWeather = { role: 'user', content: 'What is the weather in San Francisco?' };
const callWeather = (args = '{"location": "San Francisco, USA", "format": "celsius"}') => ({
  role: 'assistant',
  tool_calls: [{ id: 'call_id', type: 'function', function: { name: 'get_current_weather', arguments: args } }],
});

test('OpenAI chat with tools: declarations, tool_calls with JSON-string arguments, and tool answers become Gemini function calling', () => {
  const result = convert('openai', {
    messages: [
      askWeather,
      callWeather(),
      { role: 'tool', tool_call_id: 'call_id', content: '{"temperature": 17, "unit": "celsius"}' },
      { role: 'assistant', content: 'It is 17 °C in San Francisco.' },
    ],
    parallel_tool_calls: false,
    tools: weatherTools,
  });
  assert.deepEqual(result.errors, []);
  const example = result.example!;
  assert.deepEqual(example.tools, [
    {
      functionDeclarations: [
        { name: 'get_current_weather', description: 'Get the current weather', parametersJsonSchema: weatherTools[0]!.function.parameters },
      ],
    },
  ]);
  assert.deepEqual(example.contents[1], {
    role: 'model',
    parts: [{ functionCall: { name: 'get_current_weather', args: { location: 'San Francisco, USA', format: 'celsius' } } }],
  });
  assert.deepEqual(example.contents[2], {
    role: 'user',
    parts: [{ functionResponse: { name: 'get_current_weather', response: { temperature: 17, unit: 'celsius' } } }],
  });
  geminiExampleSchema.parse(example);
});

test('OpenAI: parallel calls answered by several tool messages are one user turn; a plain-text answer goes under "output"; legacy functions and function_call too', () => {
  const parallel = convert('openai', {
    messages: [
      askWeather,
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'a', type: 'function', function: { name: 'get_current_weather', arguments: '{"location": "Paris"}' } },
          { id: 'b', type: 'function', function: { name: 'get_current_weather', arguments: '{"location": "Oslo"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'b', content: 'rain' },
      { role: 'tool', tool_call_id: 'a', content: 'sun' },
      { role: 'assistant', content: 'Sun in Paris, rain in Oslo.' },
    ],
    tools: weatherTools,
  });
  assert.deepEqual(parallel.errors, []);
  assert.equal(parallel.example!.contents.length, 4);
  assert.deepEqual(parallel.example!.contents[2]!.parts, [
    { functionResponse: { name: 'get_current_weather', response: { output: 'rain' } } },
    { functionResponse: { name: 'get_current_weather', response: { output: 'sun' } } },
  ]);
  const legacy = convert('openai', {
    messages: [
      askWeather,
      { role: 'assistant', function_call: { name: 'get_current_weather', arguments: '{"location": "Rome"}' } },
      { role: 'function', name: 'get_current_weather', content: '{"sky": "clear"}' },
      { role: 'assistant', content: 'Clear.' },
    ],
    functions: [weatherTools[0]!.function],
  });
  assert.deepEqual(legacy.errors, []);
  assert.equal(legacy.example!.tools![0]!.functionDeclarations[0]!.name, 'get_current_weather');
});

test('OpenAI: bad arguments JSON, a tool answer nobody asked for, and an undeclared call are located errors (not "missing_text")', () => {
  const badJson = convert('openai', { messages: [askWeather, callWeather('{"location": "Paris",}')], tools: weatherTools });
  assert.deepEqual(
    badJson.errors.map((e) => `${e.code} @ ${e.path}`),
    ['invalid_function_call @ messages[1].tool_calls[0].function.arguments'],
  );
  assert.match(badJson.errors[0]!.message, /not valid JSON/);
  const orphan = convert('openai', {
    messages: [askWeather, { role: 'tool', tool_call_id: 'nope', content: 'x' }, { role: 'assistant', content: 'ok' }],
    tools: weatherTools,
  });
  assert.deepEqual(
    orphan.errors.map((e) => `${e.code} @ ${e.path}`),
    ['invalid_function_response @ messages[1].tool_call_id'],
  );
  const undeclared = convert('openai', { messages: [askWeather, callWeather()] });
  assert.deepEqual(
    undeclared.errors.map((e) => e.code),
    ['undeclared_function'],
  );
  assert.deepEqual(
    convert('openai', { messages: [askWeather, callWeather()], tools: [{ type: 'code_interpreter' }] }).errors.map(
      (e) => `${e.code} @ ${e.path}`,
    ),
    ['invalid_tools @ tools[0].type'],
  );
});

test("LLaMA-Factory's glaive tool-call demo (ShareGPT): function_call and observation turns and the tools string convert, nothing dropped", () => {
  const records = JSON.parse(
    readFileSync(new URL('../../fixtures/llama-factory/glaive_toolcall_en_demo.sample.json', import.meta.url), 'utf8'),
  ) as unknown[];
  const [recipes, areas] = records.map((record) => convert('sharegpt', record));
  assert.deepEqual(recipes!.errors, []);
  assert.deepEqual(areas!.errors, []);
  const example = areas!.example!;
  assert.deepEqual(
    example.tools![0]!.functionDeclarations.map((d) => d.name),
    ['calculate_area', 'calculate_discount'],
  );
  assert.deepEqual(
    example.contents.map((c) => `${c.role}:${Object.keys(c.parts[0]!)[0]}`),
    [
      'user:text',
      'model:functionCall',
      'user:functionResponse',
      'model:text',
      'user:text',
      'model:functionCall',
      'user:functionResponse',
      'model:text',
      'user:text',
      'model:functionCall',
      'user:functionResponse',
      'model:text',
    ],
  );
  assert.deepEqual(example.contents[5]!.parts[0], { functionCall: { name: 'calculate_area', args: { shape: 'circle', dimensions: [4] } } });
  assert.deepEqual(example.contents[6]!.parts[0], { functionResponse: { name: 'calculate_area', response: { area: 50.24 } } });
  geminiExampleSchema.parse(example);
  // A record whose tools string is "[]" has no tools, and says nothing about them.
  assert.equal(
    convert('sharegpt', {
      conversations: [
        { from: 'human', value: 'hi' },
        { from: 'gpt', value: 'hello' },
      ],
      tools: '[]',
    }).example!.tools,
    undefined,
  );
  const orphan = convert('sharegpt', {
    conversations: [
      { from: 'human', value: 'hi' },
      { from: 'observation', value: '{}' },
      { from: 'gpt', value: 'ok' },
    ],
  });
  assert.deepEqual(
    orphan.errors.map((e) => `${e.code} @ ${e.path}`),
    ['invalid_function_response @ conversations[1]'],
  );
});

test('a text content part with its text under another key says so, instead of "type text is not text"', () => {
  const result = convert('openai', {
    messages: [
      { role: 'user', content: [{ type: 'text', value: 'hi' }] },
      { role: 'assistant', content: 'hello' },
    ],
  });
  assert.deepEqual(
    result.errors.map((e) => `${e.code} @ ${e.path}: ${e.message}`),
    ['missing_text @ messages[0].content[0].text: a "text" content part holds its text under "text" (found: value)'],
  );
});
