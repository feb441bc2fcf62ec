import { classifyError } from '../../shared/errors/classify.ts';
import { regionalGenAiClients, vertexRetry, type VertexClientOptions } from './clients.ts';
import { locationOf } from '../../shared/runs/regions.ts';

/** One held-out request as the batch input holds it (`{"request": {...}}`). */
export interface OnlineRequest {
  contents: unknown[];
  systemInstruction?: unknown;
  tools?: unknown;
  generationConfig?: unknown;
}

/** A line of a prediction file, in the shape Vertex's batch output uses, so scoring reads both alike. */
export interface PredictionRecord {
  status: string;
  processed_time: string;
  request: OnlineRequest;
  response?: unknown;
}

/**
 * Online `generateContent` against a model or a tuned model's endpoint, for the evaluation
 * fallback. 429 and 5xx are retried with backoff inside the call (a tuned endpoint's quota is
 * small); a permanent error on one request becomes that request's failed line, not the part's.
 */
export interface OnlinePredictor {
  predict(target: string, request: OnlineRequest): Promise<PredictionRecord>;
}

export function createOnlinePredictor(options: VertexClientOptions): OnlinePredictor {
  const ai = regionalGenAiClients(options);
  // Quota-bound calls (a tuned endpoint's, the judge model's): more tries, longer waits.
  const retry = vertexRetry(options, 6, { baseMs: 1000, capMs: 30_000 });
  return {
    async predict(target, request) {
      const processed = () => new Date().toISOString();
      try {
        // @google/genai's GenerateContentConfig holds the generation settings, system instruction and tools side by side.
        // v1, not the SDK's default v1beta1: @google-cloud/aiplatform 7.4's v1beta1 ThinkingConfig has no thinking_level
        // (v1's has, content.proto), and Gemini 3 models are asked for the least thinking by level.
        const config = {
          httpOptions: { apiVersion: 'v1' },
          ...(request.generationConfig as Record<string, unknown> | undefined),
          ...(request.systemInstruction !== undefined ? { systemInstruction: request.systemInstruction } : {}),
          ...(request.tools !== undefined ? { tools: request.tools } : {}),
        };
        const response = await retry(() =>
          ai(locationOf(target)).models.generateContent({
            model: target,
            contents: request.contents as never,
            config: config as never,
          }),
        );
        const { candidates, promptFeedback, usageMetadata, modelVersion } = response;
        return { status: '', processed_time: processed(), request, response: { candidates, promptFeedback, usageMetadata, modelVersion } };
      } catch (error) {
        const info = classifyError(error);
        // Transient errors that outlived the retries fail the part (it is written again by the next delivery).
        if (info.kind === 'transient') throw error;
        return { status: `${info.code}: ${info.message}`, processed_time: processed(), request };
      }
    },
  };
}
