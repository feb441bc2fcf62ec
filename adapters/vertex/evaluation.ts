import aiplatform from '@google-cloud/aiplatform';
import { aiplatformCallOptions, aiplatformClientOptions, vertexRetry, type VertexClientOptions } from './clients.ts';

/**
 * Vertex's Gen AI evaluation service, through the official client (EvaluationServiceClient,
 * `projects.locations.evaluateInstances`): the pairwise judge, and the computed metrics the
 * pipeline also computes itself (so a run's figures can be checked against the service's).
 * Transient errors (429, 5xx) are retried with backoff inside a call: the judge's quota is the
 * judge model's (gemini-2.x-flash throughput, the service's "Limitations").
 */
export type ComputedMetric =
  'exact_match' | 'bleu' | 'rouge_l' | 'tool_call_valid' | 'tool_name_match' | 'tool_parameter_key_match' | 'tool_parameter_kv_match';

export interface PairwiseJudgment {
  /** PairwiseChoice: BASELINE, CANDIDATE or TIE (PAIRWISE_CHOICE_UNSPECIFIED when the judge gave none). */
  choice: string;
  explanation: string;
}

export interface EvaluationService {
  pairwise(request: { template: string; instance: Record<string, string>; autoraterModel?: string | undefined }): Promise<PairwiseJudgment>;
  computed(metric: ComputedMetric, instances: readonly { prediction: string; reference: string }[]): Promise<number[]>;
}

type ClientOptions = ConstructorParameters<typeof aiplatform.v1.EvaluationServiceClient>[0];

/** Request field and result field of each computed metric (evaluation_service.proto's oneofs). */
const COMPUTED_FIELDS: Record<ComputedMetric, { input: string; spec: Record<string, unknown>; results: string; values: string }> = {
  exact_match: { input: 'exactMatchInput', spec: {}, results: 'exactMatchResults', values: 'exactMatchMetricValues' },
  // The pipeline's BLEU uses the effective order (text-metrics.ts); the service is asked for the same.
  bleu: { input: 'bleuInput', spec: { useEffectiveOrder: true }, results: 'bleuResults', values: 'bleuMetricValues' },
  rouge_l: { input: 'rougeInput', spec: { rougeType: 'rougeL', useStemmer: false }, results: 'rougeResults', values: 'rougeMetricValues' },
  tool_call_valid: { input: 'toolCallValidInput', spec: {}, results: 'toolCallValidResults', values: 'toolCallValidMetricValues' },
  tool_name_match: { input: 'toolNameMatchInput', spec: {}, results: 'toolNameMatchResults', values: 'toolNameMatchMetricValues' },
  tool_parameter_key_match: {
    input: 'toolParameterKeyMatchInput',
    spec: {},
    results: 'toolParameterKeyMatchResults',
    values: 'toolParameterKeyMatchMetricValues',
  },
  tool_parameter_kv_match: {
    input: 'toolParameterKvMatchInput',
    spec: { useStrictStringMatch: false },
    results: 'toolParameterKvMatchResults',
    values: 'toolParameterKvMatchMetricValues',
  },
};

export function createEvaluationService(options: VertexClientOptions): EvaluationService {
  const client = new aiplatform.v1.EvaluationServiceClient(aiplatformClientOptions(options.location, options.baseUrl) as ClientOptions);
  const location = `projects/${options.project}/locations/${options.location}`;
  const call = aiplatformCallOptions(options.location, options.baseUrl);
  // Quota-bound calls (a tuned endpoint's, the judge model's): more tries, longer waits.
  const retry = vertexRetry(options, 6, { baseMs: 1000, capMs: 30_000 });
  const evaluate = async (request: Record<string, unknown>) => {
    const [response] = await retry(() => client.evaluateInstances({ location, ...request }, call));
    return response as unknown as Record<string, unknown>;
  };
  return {
    async pairwise({ template, instance, autoraterModel }) {
      const response = await evaluate({
        pairwiseMetricInput: { metricSpec: { metricPromptTemplate: template }, instance: { jsonInstance: JSON.stringify(instance) } },
        ...(autoraterModel ? { autoraterConfig: { autoraterModel } } : {}),
      });
      const result = (response.pairwiseMetricResult ?? {}) as { pairwiseChoice?: unknown; explanation?: unknown };
      const choice = result.pairwiseChoice;
      return {
        // The client decodes enums as names; a number is read through the proto's order (UNSPECIFIED, BASELINE, CANDIDATE, TIE).
        choice:
          typeof choice === 'number'
            ? (['PAIRWISE_CHOICE_UNSPECIFIED', 'BASELINE', 'CANDIDATE', 'TIE'][choice] ?? String(choice))
            : String(choice ?? ''),
        explanation: typeof result.explanation === 'string' ? result.explanation : '',
      };
    },
    async computed(metric, instances) {
      const fields = COMPUTED_FIELDS[metric];
      const response = await evaluate({ [fields.input]: { metricSpec: fields.spec, instances: instances.map((i) => ({ ...i })) } });
      const values = ((response[fields.results] ?? {}) as Record<string, { score?: number | null }[] | undefined>)[fields.values] ?? [];
      if (values.length !== instances.length)
        throw new Error(`evaluateInstances gave ${values.length} ${metric} values for ${instances.length} instances`);
      return values.map((value) => value.score ?? 0);
    },
  };
}
