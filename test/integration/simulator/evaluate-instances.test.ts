import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEvaluationService, type ComputedMetric } from '../../../adapters/vertex/evaluation.ts';
import { bleu, rougeL } from '../../../shared/evaluation/text-metrics.ts';
import { scoreToolCalls, type ToolCallScores } from '../../../shared/evaluation/tool-calls.ts';
import { startVertexSimulator } from '../../../simulator/vertex/server.ts';

/**
 * The evaluation service through the official client (EvaluationServiceClient over REST) against
 * the simulator: the requests keep Google's contract (the simulator checks each against the
 * proto), and the pipeline's own scores equal the service's answers. The service answers in
 * `float` (proto), so equality is to 1e-6 (float32 holds about 7 significant digits).
 */
const FREE_TEXT = [
  { prediction: 'You can get a refund within 30 days of delivery.', reference: 'Refunds are accepted within 30 days of delivery.' },
  { prediction: 'Open Settings, then Security, then Password.', reference: 'Go to Settings > Security > Change password.' },
  { prediction: 'Yes', reference: 'Yes, we ship to Canada.' },
  { prediction: 'We do not ship there.', reference: 'We do not ship there.' },
];
const call = (name: string, args: Record<string, unknown>) => JSON.stringify({ content: '', tool_calls: [{ name, arguments: args }] });
const TOOL_CALLS = [
  { prediction: call('get_weather', { city: 'Paris' }), reference: call('get_weather', { city: 'Paris' }) },
  { prediction: call('get_weather', { city: 'paris ' }), reference: call('get_weather', { city: 'Paris' }) },
  { prediction: call('get_weather', { town: 'Rome' }), reference: call('get_weather', { city: 'Rome' }) },
  { prediction: call('book_table', { people: 4 }), reference: call('get_weather', { city: 'Rome' }) },
  { prediction: 'It is sunny in Rome.', reference: call('get_weather', { city: 'Rome' }) },
];

test("the pipeline's computed metrics equal evaluateInstances' answers on the same inputs, through the official client", async () => {
  const sim = await startVertexSimulator({ timing: { pendingMs: 0, validationMs: 10, queueMs: 10, runMs: 60_000 } });
  try {
    const service = createEvaluationService({ project: 'eval-project', location: 'us-central1', baseUrl: sim.url, retries: 0 });
    const ours: Record<ComputedMetric, (p: string, r: string) => number> = {
      exact_match: (p, r) => (p === r ? 1 : 0),
      bleu,
      rouge_l: rougeL,
      ...(Object.fromEntries(
        (
          [
            ['tool_call_valid', 'toolCallValid'],
            ['tool_name_match', 'toolNameMatch'],
            ['tool_parameter_key_match', 'toolParameterKeyMatch'],
            ['tool_parameter_kv_match', 'toolParameterKvMatch'],
          ] as [ComputedMetric, keyof ToolCallScores][]
        ).map(([metric, field]) => [metric, (p: string, r: string) => scoreToolCalls(p, r)[field]]),
      ) as Record<string, (p: string, r: string) => number>),
    } as Record<ComputedMetric, (p: string, r: string) => number>;
    for (const [metric, score] of Object.entries(ours) as [ComputedMetric, (p: string, r: string) => number][]) {
      const instances = metric.startsWith('tool_') ? TOOL_CALLS : FREE_TEXT;
      const theirs = await service.computed(metric, instances);
      const expected = instances.map(({ prediction, reference }) => score(prediction, reference));
      assert.equal(theirs.length, expected.length, metric);
      theirs.forEach((value, index) =>
        assert.ok(Math.abs(value - expected[index]!) <= 1e-6, `${metric} #${index}: service ${value}, pipeline ${expected[index]}`),
      );
    }
    // Every call kept the proto's contract; none was refused.
    assert.equal(sim.control.contractRefusals().length, 0);
    assert.ok(sim.control.contractCalls().every((c) => c.method === 'google.cloud.aiplatform.v1.EvaluationService.EvaluateInstances'));
  } finally {
    await sim.stop();
  }
});

test('the pairwise judge (a toy in the simulator, labelled so) answers a PairwiseChoice and an explanation per instance', async () => {
  const sim = await startVertexSimulator({ timing: { pendingMs: 0, validationMs: 10, queueMs: 10, runMs: 60_000 } });
  try {
    const service = createEvaluationService({ project: 'eval-project', location: 'us-central1', baseUrl: sim.url, retries: 0 });
    const template = 'Which answers {prompt} better, given {reference}? A: {baseline_model_response} B: {response}';
    const instance = { prompt: 'Do you ship to Canada?', reference: 'Yes, we ship to Canada.' };
    const better = await service.pairwise({
      template,
      instance: { ...instance, response: 'Yes, we ship to Canada.', baseline_model_response: 'Do you ship to Canada?' },
    });
    assert.equal(better.choice, 'CANDIDATE');
    assert.match(better.explanation, /toy judge \(not a model\)/);
    const worse = await service.pairwise({
      template,
      instance: { ...instance, response: 'No.', baseline_model_response: 'Yes, we ship to Canada.' },
      autoraterModel: 'projects/eval-project/locations/us-central1/publishers/google/models/gemini-2.5-flash',
    });
    assert.equal(worse.choice, 'BASELINE');
    await assert.rejects(
      service.pairwise({ template: 'needs {context}', instance: { response: 'a', baseline_model_response: 'b' } }),
      /context/,
      'a template field the instance lacks is refused, naming it',
    );
  } finally {
    await sim.stop();
  }
});
