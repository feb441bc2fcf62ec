import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertRecord } from '../../../shared/convert/convert-record.ts';
import { JudgedPairer } from '../../../shared/convert/pair-judged.ts';
import type { RawFormat, TuningMethod } from '../../../shared/convert/types.ts';
import { detectJsonFormat } from '../../../shared/formats/detect.ts';
import { preferenceKindOf } from '../../../shared/formats/preference.ts';
import { wordTokens } from '../../support/word-tokens.ts';

const convert = (value: unknown, method: TuningMethod = 'preference', format: RawFormat = detectJsonFormat(value)!) =>
  convertRecord(
    { line: 4, value },
    { format, maxPartTokens: 8192, baseModel: 'gemini-3.5-flash-lite', method, preferenceData: true },
    wordTokens,
  );
const codes = (issues: { code: string; path: string }[]) => issues.map((issue) => `${issue.code} ${issue.path}`);
const text = (value: string) => ({ role: 'model', parts: [{ text: value }] });
const pair = (chosen: string, rejected: string) => [
  { score: 1, completion: text(chosen) },
  { score: 0, completion: text(rejected) },
];

test("LLaMA-Factory's ShareGPT DPO record becomes Vertex's preference example: the prompt ends with the user, the chosen answer scored 1, the rejected 0", () => {
  const result = convert({
    conversations: [
      { from: 'system', value: 'You are a teacher.' },
      { from: 'human', value: 'Tag the word.' },
    ],
    chosen: { from: 'gpt', value: 'It is a period.' },
    rejected: { from: 'gpt', value: 'It is a pronoun.' },
  });
  assert.deepEqual(result.errors, []);
  assert.deepEqual(result.example, {
    systemInstruction: { parts: [{ text: 'You are a teacher.' }] },
    contents: [{ role: 'user', parts: [{ text: 'Tag the word.' }] }],
    completions: pair('It is a period.', 'It is a pronoun.'),
  });
  assert.equal(
    result.tokens,
    wordTokens.count('You are a teacher.') +
      wordTokens.count('Tag the word.') +
      Math.max(wordTokens.count('It is a period.'), wordTokens.count('It is a pronoun.')),
  );
});

test('every DPO layout maps to the same pair: OpenAI-style messages, Alpaca, TRL strings, TRL conversations, OpenAI preference fine-tuning, Vertex format', () => {
  const expected = { contents: [{ role: 'user', parts: [{ text: 'Capital of France?' }] }], completions: pair('Paris.', 'Lyon.') };
  const layouts: unknown[] = [
    {
      messages: [{ role: 'user', content: 'Capital of France?' }],
      chosen: { role: 'assistant', content: 'Paris.' },
      rejected: { role: 'assistant', content: 'Lyon.' },
    },
    { instruction: 'Capital of France?', input: '', chosen: 'Paris.', rejected: 'Lyon.' },
    { prompt: 'Capital of France?', chosen: 'Paris.', rejected: 'Lyon.' },
    {
      prompt: [{ role: 'user', content: 'Capital of France?' }],
      chosen: [{ role: 'assistant', content: 'Paris.' }],
      rejected: [{ role: 'assistant', content: 'Lyon.' }],
    },
    {
      chosen: [
        { role: 'user', content: 'Capital of France?' },
        { role: 'assistant', content: 'Paris.' },
      ],
      rejected: [
        { role: 'user', content: 'Capital of France?' },
        { role: 'assistant', content: 'Lyon.' },
      ],
    },
    {
      input: { messages: [{ role: 'user', content: 'Capital of France?' }], tools: [], parallel_tool_calls: true },
      preferred_output: [{ role: 'assistant', content: 'Paris.' }],
      non_preferred_output: [{ role: 'assistant', content: 'Lyon.' }],
    },
    {
      contents: [{ role: 'user', parts: [{ text: 'Capital of France?' }] }],
      completions: [
        { score: 0, completion: text('Lyon.') },
        { score: 1, completion: text('Paris.') },
      ],
    },
  ];
  layouts.forEach((layout, index) => {
    assert.notEqual(preferenceKindOf(layout), null, `layout ${index} is preference data`);
    const result = convert(layout, 'preference', detectJsonFormat(layout) ?? 'openai');
    assert.deepEqual(result.errors, [], `layout ${index}`);
    assert.deepEqual(result.example, expected, `layout ${index}`);
  });
});

test('asked for supervised data, a pair becomes its chosen answer', () => {
  const result = convert(
    {
      conversations: [{ from: 'human', value: 'Hi?' }],
      chosen: { from: 'gpt', value: 'Hello!' },
      rejected: { from: 'gpt', value: 'Go away.' },
    },
    'supervised',
  );
  assert.deepEqual(result.errors, []);
  assert.deepEqual(result.example, { contents: [{ role: 'user', parts: [{ text: 'Hi?' }] }, text('Hello!')] });
});

test('KTO: labelled true is a supervised example; labelled false never is (left out with a warning); for preference tuning both wait to be paired', () => {
  const record = (label: boolean, answer: string) => ({
    messages: [
      { role: 'user', content: 'Summarise: cats sleep a lot.' },
      { role: 'assistant', content: answer },
    ],
    label,
  });
  const good = convert(record(true, 'Cats sleep much.'), 'supervised');
  assert.deepEqual(good.example, {
    contents: [{ role: 'user', parts: [{ text: 'Summarise: cats sleep a lot.' }] }, text('Cats sleep much.')],
  });
  const bad = convert(record(false, 'Dogs bark.'), 'supervised');
  assert.equal(bad.example, null);
  assert.equal(bad.skipped, true);
  assert.deepEqual(codes(bad.warnings), ['kto_undesirable_left_out ']);
  const judged = convert(record(false, 'Dogs bark.'), 'preference');
  assert.equal(judged.example, null);
  assert.deepEqual(judged.errors, []);
  assert.deepEqual(judged.judged, {
    prompt: { contents: [{ role: 'user', parts: [{ text: 'Summarise: cats sleep a lot.' }] }] },
    answer: [{ text: 'Dogs bark.' }],
    desirable: false,
  });
});

test('KTO answers pair by identical prompt, in either order, each answer used once; the rest are left out with a warning each', () => {
  const prompt = (q: string) => ({ contents: [{ role: 'user', parts: [{ text: q }] }] });
  const pairer = new JudgedPairer();
  assert.equal(pairer.add({ prompt: prompt('A?'), answer: [{ text: 'bad A' }], desirable: false }, 1), null);
  assert.equal(pairer.add({ prompt: prompt('B?'), answer: [{ text: 'good B' }], desirable: true }, 2), null);
  const paired = pairer.add({ prompt: prompt('A?'), answer: [{ text: 'good A' }], desirable: true }, 3);
  assert.deepEqual(paired, {
    example: {
      ...prompt('A?'),
      completions: [
        { score: 1, completion: { role: 'model', parts: [{ text: 'good A' }] } },
        { score: 0, completion: { role: 'model', parts: [{ text: 'bad A' }] } },
      ],
    },
    lines: [1, 3],
  });
  assert.equal(
    pairer.add({ prompt: prompt('A?'), answer: [{ text: 'good A again' }], desirable: true }, 4),
    null,
    'the bad answer was used already',
  );
  assert.deepEqual(
    pairer.finish().map((issue) => `${issue.line} ${issue.code}`),
    ['2 kto_unpaired', '4 kto_unpaired'],
  );
  const tight = new JudgedPairer({ maxBytes: 10 });
  assert.deepEqual(
    (tight.add({ prompt: prompt('C?'), answer: [{ text: 'x' }], desirable: true }, 9) as { leftOut: { code: string } }).leftOut.code,
    'kto_unpaired',
  );
});

test('preference rules are located: a prompt ending with the model, media, a missing answer, a bad completions pair', () => {
  assert.deepEqual(
    codes(
      convert({
        messages: [
          { role: 'user', content: 'Q' },
          { role: 'assistant', content: 'A' },
        ],
        chosen: { role: 'assistant', content: 'B' },
        rejected: { role: 'assistant', content: 'C' },
      }).errors,
    ),
    ['preference_prompt_not_user contents[1].role'],
  );
  assert.deepEqual(
    codes(
      convert(
        {
          messages: [
            {
              role: 'user',
              content: [
                { type: 'text', text: 'What?' },
                { type: 'image_url', image_url: { url: 'gs://team-media/a.png' } },
              ],
            },
          ],
          chosen: 'A cat.',
          rejected: 'A dog.',
        },
        'preference',
        'openai',
      ).errors,
    ),
    ['preference_not_text '],
  );
  assert.deepEqual(
    codes(convert({ conversations: [{ from: 'human', value: 'Q' }], chosen: { from: 'human', value: 'B' }, rejected: 'C' }).errors),
    ['preference_answer_missing chosen'],
  );
  assert.deepEqual(codes(convert({ conversations: [{ from: 'human', value: 'Q' }], chosen: '  ', rejected: 'C' }).errors), [
    'empty_text chosen',
  ]);
  assert.deepEqual(
    codes(convert({ contents: [{ role: 'user', parts: [{ text: 'Q' }] }], completions: pair('A', 'B').slice(0, 1) }).errors),
    ['invalid_completions completions'],
  );
  assert.deepEqual(
    codes(
      convert({
        contents: [{ role: 'user', parts: [{ text: 'Q' }] }],
        completions: [
          { score: 2, completion: text('A') },
          { score: 0, completion: text('B') },
        ],
      }).errors,
    ),
    ['invalid_completions completions[0]'],
  );
  const kto = convert({ messages: [{ role: 'user', content: 'Q' }], label: true });
  assert.deepEqual(codes(kto.errors), ['preference_answer_missing messages']);
});

test('an over-long completion is split into parts as supervised answers are, and said so at its own path', () => {
  const long = Array.from({ length: 30 }, (_, i) => `w${i}`).join(' ');
  const result = convertRecord(
    { line: 1, value: { prompt: 'Say thirty words.', chosen: long, rejected: 'No.' } },
    { format: 'openai', maxPartTokens: 16, baseModel: 'gemini-3.5-flash-lite', method: 'preference', preferenceData: true },
    wordTokens,
  );
  assert.deepEqual(result.errors, []);
  assert.equal(result.example!.completions![0]!.completion.parts.length, 2);
  assert.deepEqual(codes(result.warnings), ['text_part_split completions[0].completion.parts[0].text']);
});
