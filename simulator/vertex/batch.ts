import { readJsonLines } from '../../shared/convert/readers/jsonl.ts';

/**
 * The Vertex AI SIMULATOR's batch prediction jobs
 * (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.batchPredictionJobs),
 * as `@google/genai`'s `batches` calls them in Vertex mode. The "models" are tiny deterministic
 * programs, not Gemini, so that evaluation scores are computed from real prediction files:
 *  - a tuned model (`projects/…/models/ID@1`, from a simulated tuning job) answers with the reply
 *    of the training example whose user turn shares the most words with the request;
 *  - a base model (`publishers/google/models/…`) answers by echoing the last user turn, so it
 *    scores near zero on any task with fixed answers.
 * A request containing `[simulate:blocked]` is blocked by the "safety filter" (no candidates,
 * `promptFeedback.blockReason`), and `[simulate:empty]` gets a candidate with no text.
 */
export interface BatchTiming {
  queueMs: number;
  runMs: number;
}

export interface SimulatedBatchJob {
  id: string;
  name: string;
  createMs: number;
  body: BatchCreateBody;
  timing: BatchTiming;
  /** failEvery: every n-th instance fails, and the job ends PARTIALLY_SUCCEEDED. */
  fault: { stuck?: boolean; fail?: { code: number; message: string }; failEvery?: number };
  cancelledAtMs: number | null;
  /** Set when the prediction files have been written (the job reads SUCCEEDED only after that). */
  output: { directory: string; successful: number; failed: number } | null;
  outputError: string | null;
  writing: boolean;
}

export interface BatchCreateBody {
  displayName?: string;
  model?: string;
  inputConfig?: { instancesFormat?: string; gcsSource?: { uris?: string[] } };
  outputConfig?: { predictionsFormat?: string; gcsDestination?: { outputUriPrefix?: string } };
}

const iso = (ms: number) => new Date(ms).toISOString();

export function batchCreateProblem(body: BatchCreateBody): string | null {
  if (!body.model) return 'model is required';
  if (!/^(publishers\/google\/models\/[\w.-]+|projects\/[^/]+\/locations\/[^/]+\/models\/[^/]+)$/.test(body.model))
    return `unsupported model ${body.model}`;
  const uris = body.inputConfig?.gcsSource?.uris;
  if (!uris?.length || !uris.every((uri) => uri.startsWith('gs://'))) return 'inputConfig.gcsSource.uris must be gs:// URIs';
  if (body.inputConfig?.instancesFormat !== 'jsonl') return 'inputConfig.instancesFormat must be jsonl';
  if (!body.outputConfig?.gcsDestination?.outputUriPrefix?.startsWith('gs://'))
    return 'outputConfig.gcsDestination.outputUriPrefix must be a gs:// URI';
  return null;
}

/** Where the job is at `nowMs`, before the output files exist (then it waits in RUNNING). */
export function batchPhase(job: SimulatedBatchJob, nowMs: number): 'QUEUED' | 'PENDING' | 'RUNNING' | 'DONE' | 'FAILED' | 'CANCELLED' {
  if (job.cancelledAtMs !== null && job.cancelledAtMs <= nowMs) return 'CANCELLED';
  if (nowMs < job.createMs + 1) return 'QUEUED';
  const startAt = job.createMs + job.timing.queueMs;
  if (job.fault.stuck || nowMs < startAt) return 'PENDING';
  if (job.fault.fail || job.outputError) return 'FAILED';
  if (nowMs < startAt + job.timing.runMs) return 'RUNNING';
  return 'DONE';
}

export function renderBatchJob(job: SimulatedBatchJob, nowMs: number): Record<string, unknown> {
  const phase = batchPhase(job, nowMs);
  const startAt = job.createMs + job.timing.queueMs;
  const partly = job.fault.failEvery !== undefined && (job.output?.failed ?? 0) > 0;
  const state =
    phase === 'DONE'
      ? job.output
        ? partly
          ? 'JOB_STATE_PARTIALLY_SUCCEEDED'
          : 'JOB_STATE_SUCCEEDED'
        : 'JOB_STATE_RUNNING'
      : phase === 'CANCELLED'
        ? 'JOB_STATE_CANCELLED'
        : `JOB_STATE_${phase}`;
  const resource: Record<string, unknown> = {
    name: job.name,
    displayName: job.body.displayName ?? `batch-${job.id}`,
    model: job.body.model,
    inputConfig: job.body.inputConfig,
    outputConfig: job.body.outputConfig,
    state,
    createTime: iso(job.createMs),
    updateTime: iso(nowMs),
    labels: { simulator: 'vertex-ai-simulator' },
  };
  if (state === 'JOB_STATE_RUNNING' || state === 'JOB_STATE_SUCCEEDED') resource.startTime = iso(startAt);
  if (state === 'JOB_STATE_FAILED') {
    resource.error = job.outputError ? { code: 3, message: job.outputError } : job.fault.fail;
    resource.endTime = iso(startAt);
  }
  if (state === 'JOB_STATE_CANCELLED') {
    resource.error = { code: 1, message: 'CANCELED' };
    resource.endTime = iso(job.cancelledAtMs!);
  }
  if (job.output && (state === 'JOB_STATE_SUCCEEDED' || state === 'JOB_STATE_PARTIALLY_SUCCEEDED')) {
    resource.endTime = iso(startAt + job.timing.runMs);
    resource.outputInfo = { gcsOutputDirectory: job.output.directory };
    resource.completionStats = { successfulCount: String(job.output.successful), failedCount: String(job.output.failed) };
    // partialFailures: "Partial failures encountered … Single errors … (up to 20)" (batch_prediction_job.proto).
    if (partly)
      resource.partialFailures = [{ code: 8, message: `${job.output.failed} instance(s) failed; see errors_0001.jsonl (simulated)` }];
  }
  return resource;
}

interface Content {
  role?: string;
  parts?: { text?: string; functionCall?: unknown }[];
}

/**
 * A model the simulator can "run": a pure function of the request. `parts`: an answer that calls
 * a function (the toy tuned model repeats a training example's `functionCall` turn).
 */
export type SimulatedModel = (request: {
  contents?: Content[];
}) => { text: string } | { parts: NonNullable<Content['parts']> } | { blocked: string } | { empty: true };

/** A training example's question and the answer the toy tuned model gives back: text, or its model turn's parts when it calls a function. */
export interface TrainingPair {
  question: string;
  answer: string;
  parts?: NonNullable<Content['parts']>;
}

const words = (text: string) => new Set(text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []);
const textOf = (content: Content | undefined) => (content?.parts ?? []).map((part) => part.text ?? '').join('');
const lastUserText = (contents: Content[] = []) => textOf([...contents].reverse().find((content) => content.role === 'user'));

function withMarkers(answer: (question: string) => string | TrainingPair): SimulatedModel {
  return (request) => {
    const question = lastUserText(request.contents);
    if (question.includes('[simulate:blocked]')) return { blocked: 'SAFETY' };
    if (question.includes('[simulate:empty]')) return { empty: true };
    const answered = answer(question);
    if (typeof answered === 'string') return { text: answered };
    return answered.parts ? { parts: answered.parts } : { text: answered.answer };
  };
}

/** The base model's fixed rule: it repeats the question. */
export const echoModel: SimulatedModel = withMarkers((question) => question.trim());

/** How many training examples the toy "tuned" model looks at. */
export const MAX_INDEXED_EXAMPLES = 20_000;

/**
 * A "tuned" model: the answer of the training example most like the request (word overlap,
 * Jaccard; ties to the earliest). The training set is indexed once (word → examples), so a
 * request costs the examples sharing its words, not the whole set: a 100 MB dataset no longer
 * stalls the process that also serves storage.
 */
export function nearestExampleModel(all: TrainingPair[]): SimulatedModel {
  // A toy needs no more: the first examples stand for the rest of a large training set.
  const training = all.slice(0, MAX_INDEXED_EXAMPLES);
  const sizes = new Int32Array(training.length);
  const postings = new Map<string, number[]>();
  training.forEach((example, index) => {
    const set = words(example.question);
    sizes[index] = set.size;
    for (const word of set) {
      const list = postings.get(word);
      if (list) list.push(index);
      else postings.set(word, [index]);
    }
  });
  // Shared-word counts per example, reused across requests (reset through `touched`).
  const counts = new Int32Array(training.length);
  return withMarkers((question) => {
    const asked = words(question);
    const touched: number[] = [];
    for (const word of asked) {
      for (const index of postings.get(word) ?? []) {
        if (counts[index] === 0) touched.push(index);
        counts[index] = counts[index]! + 1;
      }
    }
    // No example shares a word: every score is 0, and the earliest wins, as a full scan would say.
    let best = { score: 0, index: 0 };
    for (const index of touched) {
      const count = counts[index]!;
      counts[index] = 0;
      const score = count / Math.max(1, asked.size + sizes[index]! - count);
      if (score > best.score || (score === best.score && index < best.index)) best = { score, index };
    }
    return training[best.index] ?? '';
  });
}

/** Question/answer pairs of a Gemini training file: the last user turn and the model turn after it. */
export async function trainingPairs(lines: AsyncIterable<Uint8Array>): Promise<TrainingPair[]> {
  const pairs: TrainingPair[] = [];
  for await (const record of readJsonLines(lines)) {
    if ('code' in record) continue;
    const contents = (record.value as { contents?: Content[] }).contents ?? [];
    // A preference example: the prompt's last user turn, answered by the preferred completion.
    const preferred = ((record.value as { completions?: { score?: number; completion?: Content }[] }).completions ?? []).find(
      (item) => item.score === 1,
    )?.completion;
    if (preferred) {
      pairs.push({ question: lastUserText(contents), answer: textOf(preferred) });
      continue;
    }
    const lastModel = contents
      .map((content, index) => ({ content, index }))
      .reverse()
      .find(({ content }) => content.role === 'model');
    if (!lastModel) continue;
    const parts = lastModel.content.parts ?? [];
    pairs.push({
      question: lastUserText(contents.slice(0, lastModel.index)),
      answer: textOf(lastModel.content),
      ...(parts.some((part) => part.functionCall !== undefined) ? { parts } : {}),
    });
  }
  return pairs;
}

/** One line of Vertex's Gemini batch output (`predictions.jsonl`): the request, and a response or a status. */
export function predictionLine(request: unknown, result: ReturnType<SimulatedModel>, model: string, nowMs: number): string {
  const base = { status: '', processed_time: iso(nowMs), request };
  if ('blocked' in result)
    return JSON.stringify({ ...base, response: { promptFeedback: { blockReason: result.blocked }, modelVersion: model } });
  if ('empty' in result)
    return JSON.stringify({ ...base, response: { candidates: [{ finishReason: 'SAFETY', safetyRatings: [] }], modelVersion: model } });
  const parts = 'parts' in result ? result.parts : [{ text: result.text }];
  return JSON.stringify({
    ...base,
    response: {
      candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP' }],
      usageMetadata: { promptTokenCount: 0, candidatesTokenCount: 0, totalTokenCount: 0 },
      modelVersion: model,
    },
  });
}
