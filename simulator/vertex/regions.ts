/**
 * Regional endpoints. Vertex serves each region at `{region}-aiplatform.googleapis.com`, and
 * "for operations other than creating datasets or importing models, you must use the location of
 * the resources you're working with" (https://cloud.google.com/vertex-ai/docs/general/locations).
 * The simulator serves every region at one URL, so the pipeline's clients say which regional
 * endpoint they stand for in a header; a call about a resource of another region is refused.
 * Google does not publish the exact error it returns for such a call: the simulator answers 400
 * INVALID_ARGUMENT, and says the wording is its own.
 *
 * A batch prediction job must name a model of its own region for the same reason (a tuned model
 * is stored in its tuning job's region, https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-supervised-tuning-region-settings).
 */
export function regionalEndpointProblem(
  endpointHeader: string | string[] | undefined,
  pathname: string,
  body: Record<string, unknown>,
): string | null {
  const endpoint = Array.isArray(endpointHeader) ? endpointHeader[0] : endpointHeader;
  if (!endpoint) return null;
  const pathLocation = /^\/(?:v1|v1beta1)\/projects\/[^/]+\/locations\/([^/:]+)/.exec(pathname)?.[1];
  if (pathLocation && pathLocation !== endpoint) {
    return `the resource is in ${pathLocation} but the call went to the ${endpoint} endpoint; use ${pathLocation}-aiplatform.googleapis.com (simulator wording)`;
  }
  const model = typeof body.model === 'string' ? /^projects\/[^/]+\/locations\/([^/]+)\/models\//.exec(body.model)?.[1] : undefined;
  if (pathLocation && model && model !== pathLocation) {
    return `model ${String(body.model)} is in ${model}; a batch prediction job in ${pathLocation} cannot use it (simulator wording)`;
  }
  return null;
}
