import { bleu, metricTokens, rougeL } from '../../shared/evaluation/text-metrics.ts';
import { scoreToolCalls } from '../../shared/evaluation/tool-calls.ts';

/**
 * `projects.locations.evaluateInstances` (EvaluationService.EvaluateInstances,
 * google/cloud/aiplatform/v1/evaluation_service.proto): one request carries one metric's input
 * (the `metric_inputs` oneof) and gets one result per instance, "in the same order as presented".
 *
 * Simulated, with the source of each rule:
 *  - the shapes: the proto's request and result messages, under their JSON names;
 *  - the computed metrics (exact match, BLEU, ROUGE-L, the four tool-call metrics): Google does not
 *    publish its service's code, so the simulator computes them with the pipeline's own functions
 *    (shared/evaluation). What a test against it proves is the wire: that the pipeline's requests
 *    and the official client's reading of the answers agree with the proto. That the formulas are
 *    the published ones is proved apart (text-metrics.test.ts against sacreBLEU; tool-calls.ts
 *    says where Google is silent);
 *  - `BleuSpec.use_effective_order` false (the proto's default): sacreBLEU's rule, under which a
 *    prediction shorter than the highest order (4 tokens) scores 0;
 *  - `RougeSpec.rouge_type`: only rougeL is simulated; other types are refused, saying so;
 *  - the pairwise judge: a toy, labelled so in every explanation. It is no model: it prefers the
 *    response with the higher ROUGE-L against the instance's `reference` (a tie within 0.01), and
 *    without a reference calls it a tie. PairwiseChoice's names (BASELINE, CANDIDATE, TIE) are the
 *    proto's; Response A is the baseline, B the candidate, as Google's pairwise templates write it
 *    (python-aiplatform vertexai/evaluation/metrics/metric_prompt_template.py).
 * Every other metric input is answered 501: not simulated.
 */
export type EvaluationAnswer = { status: 200; body: Record<string, unknown> } | { status: 400 | 501; message: string };

interface Instance {
  prediction?: string;
  reference?: string;
}

type Scorer = (instance: Instance, spec: Record<string, unknown>) => number;

const round = (value: number) => Number(value.toFixed(6));

/** Input field → [result field, values field, scorer]: the proto's names, camelCased as its JSON mapping says. */
const COMPUTED: Record<string, [string, string, Scorer]> = {
  exactMatchInput: ['exactMatchResults', 'exactMatchMetricValues', (i) => (i.prediction === i.reference ? 1 : 0)],
  bleuInput: [
    'bleuResults',
    'bleuMetricValues',
    (i, spec) =>
      spec.useEffectiveOrder !== true && metricTokens(i.prediction ?? '').length < 4 ? 0 : bleu(i.prediction ?? '', i.reference ?? ''),
  ],
  rougeInput: ['rougeResults', 'rougeMetricValues', (i) => rougeL(i.prediction ?? '', i.reference ?? '')],
  toolCallValidInput: [
    'toolCallValidResults',
    'toolCallValidMetricValues',
    (i) => scoreToolCalls(i.prediction ?? '', i.reference ?? '').toolCallValid,
  ],
  toolNameMatchInput: [
    'toolNameMatchResults',
    'toolNameMatchMetricValues',
    (i) => scoreToolCalls(i.prediction ?? '', i.reference ?? '').toolNameMatch,
  ],
  toolParameterKeyMatchInput: [
    'toolParameterKeyMatchResults',
    'toolParameterKeyMatchMetricValues',
    (i) => scoreToolCalls(i.prediction ?? '', i.reference ?? '').toolParameterKeyMatch,
  ],
  toolParameterKvMatchInput: [
    'toolParameterKvMatchResults',
    'toolParameterKvMatchMetricValues',
    (i, spec) =>
      scoreToolCalls(i.prediction ?? '', i.reference ?? '', { strictStrings: spec.useStrictStringMatch === true }).toolParameterKvMatch,
  ],
};

/** The simulator's toy judge: ROUGE-L against the reference, never a model. */
export const TOY_JUDGE_LABEL = 'Vertex AI simulator toy judge (not a model)';

export function evaluateInstances(body: Record<string, unknown>): EvaluationAnswer {
  const input = Object.keys(COMPUTED).find((key) => body[key] !== undefined);
  if (input) {
    const [resultField, valuesField, score] = COMPUTED[input]!;
    const { metricSpec = {}, instances = [] } = body[input] as { metricSpec?: Record<string, unknown>; instances?: Instance[] };
    if (input === 'rougeInput' && metricSpec.rougeType !== undefined && metricSpec.rougeType !== '' && metricSpec.rougeType !== 'rougeL')
      return { status: 400, message: `rouge_type ${String(metricSpec.rougeType)}: the Vertex AI simulator computes rougeL only` };
    return {
      status: 200,
      body: { [resultField]: { [valuesField]: instances.map((instance) => ({ score: round(score(instance, metricSpec)) })) } },
    };
  }
  if (body.pairwiseMetricInput !== undefined) return pairwise(body.pairwiseMetricInput as PairwiseInput);
  const asked = Object.keys(body).find((key) => key.endsWith('Input')) ?? 'no metric input';
  return { status: 501, message: `the Vertex AI simulator does not serve ${asked} of evaluateInstances` };
}

interface PairwiseInput {
  metricSpec?: { metricPromptTemplate?: string; candidateResponseFieldName?: string; baselineResponseFieldName?: string };
  instance?: { jsonInstance?: string };
}

function pairwise(input: PairwiseInput): EvaluationAnswer {
  let fields: Record<string, unknown>;
  try {
    fields = JSON.parse(input.instance?.jsonInstance ?? '') as Record<string, unknown>;
  } catch {
    return { status: 400, message: 'pairwise_metric_input.instance.json_instance is not a JSON object' };
  }
  const candidateField = input.metricSpec?.candidateResponseFieldName || 'response';
  const baselineField = input.metricSpec?.baselineResponseFieldName || 'baseline_model_response';
  const template = input.metricSpec?.metricPromptTemplate ?? '';
  // The template is rendered from the instance's fields: one it names that the instance lacks cannot be rendered.
  const missing = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).find((name) => !(name in fields));
  if (missing) return { status: 400, message: `json_instance has no "${missing}", which the metric prompt template uses` };
  const candidate = String(fields[candidateField] ?? '');
  const baseline = String(fields[baselineField] ?? '');
  const reference = typeof fields.reference === 'string' ? fields.reference : null;
  if (reference === null)
    return {
      status: 200,
      body: { pairwiseMetricResult: { pairwiseChoice: 'TIE', explanation: `${TOY_JUDGE_LABEL}: no reference to compare with` } },
    };
  const a = rougeL(baseline, reference);
  const b = rougeL(candidate, reference);
  const choice = Math.abs(a - b) <= 0.01 ? 'TIE' : b > a ? 'CANDIDATE' : 'BASELINE';
  const explanation = `${TOY_JUDGE_LABEL}: ROUGE-L against the reference, response A (baseline) ${a.toFixed(3)}, response B (candidate) ${b.toFixed(3)}`;
  return { status: 200, body: { pairwiseMetricResult: { pairwiseChoice: choice, explanation } } };
}
