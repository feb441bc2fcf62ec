import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pickMetric } from '../../../shared/evaluation/classification.ts';
import { toInferenceCase } from '../../../shared/evaluation/inference-input.ts';
import { headlineValue } from '../../../shared/evaluation/plan.ts';
import { readPrediction, ScoreAccumulator } from '../../../shared/evaluation/scoring.ts';
import { isToolCallReference, scoreToolCalls, toolCallText } from '../../../shared/evaluation/tool-calls.ts';

// The reference and predictions of Google's tool-use evaluation notebook (book_tickets), as the
// service's tool-call text: {"content", "tool_calls": [{"name", "arguments"}]}.
const call = (name: string, args: Record<string, unknown>) => JSON.stringify({ content: '', tool_calls: [{ name, arguments: args }] });
const BOOKING = {
  movie: 'Mission Impossible Dead Reckoning Part 1',
  theater: 'Regal Edwards 14',
  location: 'Mountain View CA',
  showtime: '7:30',
  date: '2024-03-30',
  num_tix: '2',
};
const reference = call('book_tickets', BOOKING);

test('a Gemini functionCall turn becomes the service tool-call text, args renamed arguments, text kept as content', () => {
  const parts = [{ text: 'Booking now.' }, { functionCall: { name: 'book_tickets', args: { num_tix: '2' } } }];
  assert.equal(
    toolCallText(parts),
    JSON.stringify({ content: 'Booking now.', tool_calls: [{ name: 'book_tickets', arguments: { num_tix: '2' } }] }),
  );
  assert.equal(toolCallText([{ text: 'no call' }]), null);
  assert.equal(isToolCallReference(reference), true);
  assert.equal(isToolCallReference('{"intent":"refund"}'), false, 'a JSON answer is no tool call');
  assert.equal(isToolCallReference('{"content":"","tool_calls":[]}'), false, 'no call at all');
});

test('the four tool-call metrics on the notebook cases: same call, wrong values, missing keys, wrong name, no call', () => {
  assert.deepEqual(scoreToolCalls(reference, reference), {
    toolCallValid: 1,
    toolNameMatch: 1,
    toolParameterKeyMatch: 1,
    toolParameterKvMatch: 1,
  });
  // Two of six values differ (theater, showtime): every key, 4/6 of the values.
  const wrongValues = call('book_tickets', { ...BOOKING, theater: 'Cinemark', showtime: '5:30' });
  assert.deepEqual(scoreToolCalls(wrongValues, reference), {
    toolCallValid: 1,
    toolNameMatch: 1,
    toolParameterKeyMatch: 1,
    toolParameterKvMatch: 4 / 6,
  });
  // Two of six keys given, both right.
  const fewKeys = call('book_tickets', { movie: BOOKING.movie, theater: BOOKING.theater });
  assert.deepEqual(scoreToolCalls(fewKeys, reference), {
    toolCallValid: 1,
    toolNameMatch: 1,
    toolParameterKeyMatch: 2 / 6,
    toolParameterKvMatch: 2 / 6,
  });
  // The wrong function earns nothing for its parameters.
  assert.deepEqual(scoreToolCalls(call('cancel_tickets', BOOKING), reference), {
    toolCallValid: 1,
    toolNameMatch: 0,
    toolParameterKeyMatch: 0,
    toolParameterKvMatch: 0,
  });
  for (const bad of ['Sure, I booked it.', '{"content":"","tool_calls":[{"arguments":{}}]}', null]) {
    assert.deepEqual(scoreToolCalls(bad, reference), {
      toolCallValid: 0,
      toolNameMatch: 0,
      toolParameterKeyMatch: 0,
      toolParameterKvMatch: 0,
    });
  }
});

test('values compare as JSON (key order aside); strings after normalisation unless strict', () => {
  const want = call('f', { city: 'Mountain View', filter: { a: 1, b: [1, 2] } });
  const got = call('f', { city: ' mountain  view', filter: { b: [1, 2], a: 1 } });
  assert.equal(scoreToolCalls(got, want).toolParameterKvMatch, 1);
  assert.equal(scoreToolCalls(got, want, { strictStrings: true }).toolParameterKvMatch, 0.5);
  assert.equal(scoreToolCalls(call('f', { n: '2' }), call('f', { n: 2 })).toolParameterKvMatch, 0, 'a string is not a number');
});

test('several calls pair by position; one too many or too few breaks the name match', () => {
  const two = JSON.stringify({
    content: '',
    tool_calls: [
      { name: 'a', arguments: { x: 1 } },
      { name: 'b', arguments: {} },
    ],
  });
  const onlyFirst = JSON.stringify({ content: '', tool_calls: [{ name: 'a', arguments: { x: 1 } }] });
  assert.deepEqual(scoreToolCalls(onlyFirst, two), {
    toolCallValid: 1,
    toolNameMatch: 0,
    toolParameterKeyMatch: 0.5,
    toolParameterKvMatch: 0.5,
  });
  assert.deepEqual(scoreToolCalls(two, onlyFirst), {
    toolCallValid: 1,
    toolNameMatch: 0,
    toolParameterKeyMatch: 1,
    toolParameterKvMatch: 1,
  });
  assert.equal(scoreToolCalls(two, two).toolNameMatch, 1);
});

test('a held-out function call is a reference (tools go with the prompt); a batch answer that calls one is read as its tool-call text', () => {
  const tools = [{ functionDeclarations: [{ name: 'book_tickets', parameters: { type: 'OBJECT' } }] }];
  const heldOut = {
    tools,
    contents: [
      { role: 'user', parts: [{ text: 'Two tickets for Mission Impossible at Regal Edwards 14' }] },
      { role: 'model', parts: [{ functionCall: { name: 'book_tickets', args: BOOKING } }] },
    ],
  };
  const input = toInferenceCase(heldOut);
  assert.ok('key' in input);
  assert.equal(input.reference, reference);
  assert.deepEqual(input.request.tools, tools);
  const line = {
    status: '',
    request: input.request,
    response: {
      candidates: [
        { content: { role: 'model', parts: [{ functionCall: { name: 'book_tickets', args: BOOKING } }] }, finishReason: 'STOP' },
      ],
    },
  };
  const { key, outcome } = readPrediction(line);
  assert.equal(key, input.key);
  assert.deepEqual(outcome, { kind: 'text', text: reference });
});

test('a model scored on function calls: means over the tool-call references, the headline picked as key-value match', () => {
  const references = [reference, call('cancel', { id: 7 }), 'a text answer'];
  assert.equal(pickMetric(references), 'tool_parameter_kv_match');
  const scores = new ScoreAccumulator();
  scores.add(references[0]!, { kind: 'text', text: call('book_tickets', { ...BOOKING, num_tix: '3' }) }, 0);
  scores.add(references[1]!, { kind: 'text', text: 'I cancelled it.' }, 1);
  scores.add(references[2]!, { kind: 'text', text: 'a text answer' }, 2);
  const result = scores.result();
  assert.equal(result.toolCallValid, 0.5);
  assert.equal(result.toolNameMatch, 0.5);
  assert.equal(result.toolParameterKeyMatch, 0.5);
  assert.equal(result.toolParameterKvMatch, Number((5 / 6 / 2).toFixed(6)));
  assert.equal(headlineValue('tool_parameter_kv_match', result), result.toolParameterKvMatch);
  assert.equal(headlineValue('tool_parameter_kv_match', scores.examples[0]!), 5 / 6);
  assert.equal(headlineValue('tool_parameter_kv_match', scores.examples[2]!), null, 'a text example has no tool-call score');
  assert.equal(scores.examples[2]!.toolCalls, null);
});
