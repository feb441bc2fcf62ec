import { getModelSpec } from '../../shared/gemini/models.ts';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readJsonLines } from '../../shared/convert/readers/jsonl.ts';
import type { TokenCounter } from '../../shared/convert/types.ts';
import { validateExample } from '../../shared/gemini/validate.ts';
import { createLogger } from '../../shared/log.ts';
import { LogEvent } from '../../shared/log-events.ts';
import {
  batchCreateProblem,
  batchPhase,
  echoModel,
  nearestExampleModel,
  predictionLine,
  renderBatchJob,
  trainingPairs,
  type BatchCreateBody,
  type SimulatedBatchJob,
  type SimulatedModel,
} from './batch.ts';
import {
  DEFAULT_TIMING,
  checkpointsOf,
  createRequestProblem,
  tuningSpecOf,
  isLive,
  matchesLabelFilter,
  parseLabelFilter,
  renderJob,
  scheduleQuota,
  trainingWindow,
  type JobFault,
  type SimulatedJob,
  type Timing,
} from './jobs.ts';
import { projectNumberOf } from './names.ts';
import { preferenceDataStats, supervisedDataStats, type ExampleStats } from './data-stats.ts';
import { validatePreferenceRecord } from '../../shared/gemini/preference.ts';
import { TENSORBOARD_ID, seriesFor, seriesPoints, totalSteps } from './metrics.ts';
import { checkRequest, vertexContract, type FieldViolation } from './contract.ts';
import { regionalEndpointProblem } from './regions.ts';
import { evaluateInstances } from './evaluation.ts';
import { SIMULATOR_ENDPOINT_HEADER } from '../../adapters/vertex/clients.ts';

/**
 * The Vertex AI SIMULATOR: an HTTP server speaking the REST resources of Vertex AI's tuning
 * jobs, so the unmodified `@google/genai` (Vertex mode) and `@google-cloud/aiplatform` clients
 * can be pointed at it in tests and the local stack. It is not Vertex AI and trains nothing:
 * jobs move through their states on timers, and knobs make them stick, fail, or make the API
 * answer 429/503, so the pipeline's retry and resubmission paths can be exercised.
 */
export interface VertexSimulatorOptions {
  port?: number;
  timing?: Partial<Timing>;
  /** Reads a gs:// dataset for validation, as Vertex does at submission. Without it datasets are not read. */
  readDataset?: (gsUri: string) => AsyncIterable<Uint8Array>;
  /** Writes batch prediction output files; without it (or readDataset) batch jobs fail as Vertex would without bucket access. */
  writeObject?: (gsUri: string, content: AsyncIterable<Uint8Array>) => Promise<unknown>;
  tokens?: TokenCounter;
  /**
   * The project's concurrent tuning job quota (Google: "every project has a default quota to run
   * at least one tuning job"); jobs over it wait RUNNING / WAITING_FOR_QUOTA. Unlimited if unset.
   */
  concurrentTuningJobs?: number;
}

export interface CallFault {
  remaining: number;
  status: 429 | 500 | 503 | 400 | 403 | 404;
  method?: string;
  pathIncludes?: string;
  /** Matching calls answered normally before the faults begin (a quota that runs out mid-way). */
  after?: number;
}

export interface SimulatorControl {
  setTiming(timing: Partial<Timing>): void;
  /** The next `count` matching API calls answer with `status` instead. */
  failNextCalls(count: number, status: CallFault['status'], match?: { method?: string; pathIncludes?: string; after?: number }): void;
  /** Ends every call fault still pending (an outage is over). */
  clearCallFaults(): void;
  /** The next `count` matching API calls are answered only after `ms` (a slow Vertex, to catch a caller mid-call). */
  delayNextCalls(count: number, ms: number, match?: { method?: string; pathIncludes?: string }): void;
  /** The next `count` created jobs stay in the queue forever. */
  stickNextJobs(count: number): void;
  /** Tuning jobs created in these regions wait RUNNING / WAITING_FOR_CAPACITY forever (a region short of accelerators); [] lifts it for new jobs. */
  outOfCapacityIn(locations: string[]): void;
  /** The next `count` created jobs fail when they would start running. */
  failNextJobs(count: number, error?: { code: number; message: string }): void;
  /** Moves the simulator's clock forward (tests use it instead of waiting). */
  advance(ms: number): void;
  /** Every job created so far, with the request body it was created from. */
  jobs(): { name: string; labels: Record<string, string>; body: Record<string, unknown> }[];
  /** How many create calls were answered with a new job. */
  createdCount(): number;
  /** The project's concurrent tuning job quota (Infinity: none). */
  setTuningQuota(concurrentJobs: number): void;
  /** tuningJobs.list answers every job whatever its `filter` (the filter's semantics are not published for tuning jobs). */
  ignoreListFilters(ignore: boolean): void;
  /** tuningJobs.list answers 400 to a filter with OR, as a Vertex that took only conjunctions would (the filter's grammar is not published for tuning jobs). */
  refuseDisjunctiveFilters(refuse: boolean): void;
  /** The next `count` tuning jobs wait RUNNING / WAITING_FOR_QUOTA until cancelled, as if jobs outside the pipeline held the quota. */
  holdNextJobsForQuota(count: number): void;
  /** The next `count` cancelled tuning jobs lose the race and SUCCEED once CANCELLING is over. */
  succeedNextCancelledJobs(count: number): void;
  /** Training examples over this many tokens are reported truncated in tuningDataStats (null: none). */
  truncateExamplesOver(tokens: number | null): void;
  /** The next `count` batch prediction jobs (whose model name includes `modelIncludes`, if given) stay PENDING forever. */
  stickNextBatchJobs(count: number, match?: { modelIncludes?: string }): void;
  /** The next `count` batch prediction jobs (whose model name includes `modelIncludes`, if given) end FAILED when they would start. */
  failNextBatchJobs(count: number, match?: { modelIncludes?: string; error?: { code: number; message: string } }): void;
  /** The next `count` batch jobs fail every `every`-th instance (an errors file) and end JOB_STATE_PARTIALLY_SUCCEEDED. */
  partlyFailNextBatchJobs(count: number, match: { every: number; modelIncludes?: string }): void;
  /** Every batch prediction job created so far, with the request body. */
  batchJobs(): { name: string; displayName: string; model: string; body: BatchCreateBody }[];
  /** Batch prediction for models whose name includes `modelIncludes` is refused with 400, as Vertex refused it for tuned models. */
  refuseBatchFor(modelIncludes: string | null): void;
  /** How many online generateContent calls each target (endpoint or model) answered. */
  onlineCalls(): Record<string, number>;
  /** Every call that kept Google's contract, by its proto method (`…GenAiTuningService.CreateTuningJob`). */
  contractCalls(): { method: string; verb: string; path: string }[];
  /** Every call refused for breaking it (unknown path, unknown field, bad enum, missing required field). */
  contractRefusals(): { verb: string; path: string; status: number; message: string }[];
}

interface BatchFaultRule {
  remaining: number;
  kind: 'stuck' | 'fail' | 'partial';
  every?: number;
  modelIncludes?: string;
  error?: { code: number; message: string };
}

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  503: 'UNAVAILABLE',
};

export async function startVertexSimulator(
  options: VertexSimulatorOptions = {},
): Promise<{ url: string; control: SimulatorControl; stop(): Promise<void> }> {
  // Quiet by default: tests and the local stack start many simulators; SIMULATOR_LOG_LEVEL=INFO shows every call.
  const log = createLogger('vertex-simulator', { level: (process.env.SIMULATOR_LOG_LEVEL as 'INFO' | undefined) ?? 'WARNING' });
  let timing: Timing = { ...DEFAULT_TIMING, ...options.timing };
  let tuningQuota = options.concurrentTuningJobs ?? Number.POSITIVE_INFINITY;
  let listFiltersIgnored = false;
  let disjunctionsRefused = false;
  let cancelRaces = 0;
  let quotaHolds = 0;
  let truncateOverTokens: number | null = null;
  let clockOffset = 0;
  const now = () => Date.now() + clockOffset;
  const jobs = new Map<string, SimulatedJob>();
  const callFaults: CallFault[] = [];
  const callDelays: { remaining: number; ms: number; method?: string; pathIncludes?: string }[] = [];
  let stickCount = 0;
  let regionsOutOfCapacity = new Set<string>();
  let failCount = 0;
  let failError = { code: 13, message: 'Internal error encountered during tuning (simulated).' };
  let nextId = 1_000_000_000_000_000_000n;
  const batchJobs = new Map<string, SimulatedBatchJob>();
  const batchFaults: BatchFaultRule[] = [];
  const tunedModels = new Map<string, Promise<SimulatedModel>>();
  let batchRefusedFor: string | null = null;
  const onlineCalls: Record<string, number> = {};
  const contractCalls: { method: string; verb: string; path: string }[] = [];
  const contractRefusals: { verb: string; path: string; status: number; message: string }[] = [];
  // Loaded before the first request, so that request is not the one that waits for it.
  vertexContract();

  const control: SimulatorControl = {
    setTiming: (t) => {
      timing = { ...timing, ...t };
    },
    failNextCalls: (count, status, match = {}) => {
      callFaults.push({ remaining: count, status, ...match });
    },
    clearCallFaults: () => {
      callFaults.length = 0;
    },
    delayNextCalls: (count, ms, match = {}) => {
      callDelays.push({ remaining: count, ms, ...match });
    },
    stickNextJobs: (count) => {
      stickCount += count;
    },
    outOfCapacityIn: (locations) => {
      regionsOutOfCapacity = new Set(locations);
    },
    failNextJobs: (count, error) => {
      failCount += count;
      if (error) failError = error;
    },
    advance: (ms) => {
      clockOffset += ms;
    },
    jobs: () => [...jobs.values()].map((job) => ({ name: job.name, labels: job.labels, body: job.body })),
    createdCount: () => jobs.size,
    setTuningQuota: (concurrentJobs) => {
      tuningQuota = concurrentJobs;
    },
    ignoreListFilters: (ignore) => {
      listFiltersIgnored = ignore;
    },
    refuseDisjunctiveFilters: (refuse) => {
      disjunctionsRefused = refuse;
    },
    holdNextJobsForQuota: (count) => {
      quotaHolds += count;
    },
    succeedNextCancelledJobs: (count) => {
      cancelRaces += count;
    },
    truncateExamplesOver: (tokens) => {
      truncateOverTokens = tokens;
    },
    stickNextBatchJobs: (count, match = {}) => {
      batchFaults.push({ remaining: count, kind: 'stuck', ...match });
    },
    failNextBatchJobs: (count, match = {}) => {
      batchFaults.push({ remaining: count, kind: 'fail', ...match });
    },
    partlyFailNextBatchJobs: (count, match) => {
      batchFaults.push({ remaining: count, kind: 'partial', ...match });
    },
    batchJobs: () =>
      [...batchJobs.values()].map((job) => ({
        name: job.name,
        displayName: job.body.displayName ?? '',
        model: job.body.model ?? '',
        body: job.body,
      })),
    refuseBatchFor: (modelIncludes) => {
      batchRefusedFor = modelIncludes;
    },
    onlineCalls: () => ({ ...onlineCalls }),
    contractCalls: () => [...contractCalls],
    contractRefusals: () => [...contractRefusals],
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      log.error(LogEvent.simulatorRequest, 'simulator request failed', { error });
      sendError(response, 500, 'internal simulator error');
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://simulator');
    const method = request.method ?? 'GET';
    response.setHeader('x-vertex-ai-simulator', 'true');
    const parsed = await readJson(request);
    if (url.pathname.startsWith('/simulator/v1/'))
      return handleControl(url, method, 'value' in parsed ? asRecord(parsed.value) : {}, response);
    log.debug(LogEvent.simulatorRequest, `${method} ${url.pathname}`, {});
    if (!request.headers.authorization) return sendError(response, 401, 'Request is missing required authentication credential.');
    if ('invalid' in parsed) return sendError(response, 400, `Invalid JSON payload received. ${parsed.invalid}`);
    // Google's contract first: a request Vertex would refuse is refused here too, naming the field.
    const contract = checkRequest(method, url, parsed.value);
    if (!contract.ok) {
      contractRefusals.push({ verb: method, path: url.pathname, status: contract.status, message: contract.message });
      return contract.status === 404
        ? sendError(response, 404, contract.message)
        : sendError(response, 400, contract.message, badRequest(contract.violations));
    }
    const body = asRecord(contract.body);
    const misrouted = regionalEndpointProblem(request.headers[SIMULATOR_ENDPOINT_HEADER], url.pathname, body);
    if (misrouted) {
      contractRefusals.push({ verb: method, path: url.pathname, status: 400, message: misrouted });
      return sendError(response, 400, misrouted);
    }
    contractCalls.push({ method: contract.route.method, verb: method, path: url.pathname });
    const delay = callDelays.find(
      (d) => d.remaining > 0 && (!d.method || d.method === method) && (!d.pathIncludes || url.pathname.includes(d.pathIncludes)),
    );
    if (delay) {
      delay.remaining -= 1;
      await new Promise((resolve) => setTimeout(resolve, delay.ms));
    }
    const fault = callFaults.find(
      (f) => f.remaining > 0 && (!f.method || f.method === method) && (!f.pathIncludes || url.pathname.includes(f.pathIncludes)),
    );
    if (fault && (fault.after ?? 0) > 0) fault.after! -= 1;
    else if (fault) {
      fault.remaining -= 1;
      return sendError(response, fault.status, `simulated ${fault.status} from the Vertex AI simulator`);
    }
    const metrics =
      /^\/(?:v1|v1beta1)\/projects\/([^/]+)\/locations\/([^/]+)\/(metadataStores\/default\/contexts\/[^/:]+|tensorboards\/[^/:]+\/.*)$/.exec(
        url.pathname,
      );
    if (metrics) return serveMetrics(method, body, metrics[1]!, metrics[2]!, metrics[3]!, response);
    if (/^\/(?:v1|v1beta1)\/projects\/[^/]+\/locations\/[^/]+:evaluateInstances$/.test(url.pathname) && method === 'POST') {
      const answer = evaluateInstances(body);
      return answer.status === 200 ? sendJson(response, 200, answer.body) : sendError(response, answer.status, answer.message);
    }
    const online =
      /^\/(?:v1|v1beta1)\/projects\/([^/]+)\/locations\/([^/]+)\/(endpoints\/\d+|publishers\/google\/models\/[\w.-]+):generateContent$/.exec(
        url.pathname,
      );
    if (online && method === 'POST') return serveGenerateContent(online[1]!, online[2]!, online[3]!, body, response);
    const batch = /^\/(?:v1|v1beta1)\/(projects\/([^/]+)\/locations\/([^/]+))\/batchPredictionJobs(?:\/([^/:]+))?(?::(cancel))?$/.exec(
      url.pathname,
    );
    if (batch) return serveBatch(url, method, body, parentOf(batch[2]!, batch[3]!), batch[4], batch[5], response);
    const model = /^\/(?:v1|v1beta1)\/projects\/([^/]+)\/locations\/([^/]+)\/models\/(\d+)(?:@(\d+))?$/.exec(url.pathname);
    if (model && method === 'GET') return serveModel(parentOf(model[1]!, model[2]!), model[3]!, model[4], response);
    const match = /^\/(v1|v1beta1)\/projects\/([^/]+)\/locations\/([^/]+)\/tuningJobs(?:\/([^/:]+))?(?::(cancel))?$/.exec(url.pathname);
    if (!match) return sendError(response, 501, `the Vertex AI simulator does not serve ${contract.route.method}`);
    const [, , project, location, id, verb] = match as unknown as [string, string, string, string, string | undefined, string | undefined];
    const parent = parentOf(project, location);
    if (!id && method === 'POST') return createJob(parent, location, body, response);
    if (!id && method === 'GET') return listJobs(url, parent, response);
    const job = id ? jobs.get(`${parent}/tuningJobs/${id}`) : undefined;
    if (!job) return sendError(response, 404, `TuningJob ${parent}/tuningJobs/${id} not found`);
    if (verb === 'cancel' && method === 'POST') {
      const state = String(render(job).state);
      if (!isLive({ state })) return sendError(response, 400, `TuningJob ${job.name} is already in a final state ${state}`);
      if (job.cancelledAtMs === null) {
        job.cancelledAtMs = now();
        if (cancelRaces > 0) {
          cancelRaces -= 1;
          job.fault.succeedsDespiteCancel = true;
        }
      }
      log.info(LogEvent.simulatorJobTransition, `simulator: cancel requested for ${job.name}`, { job: job.name });
      return sendJson(response, 200, {});
    }
    if (method === 'GET') return sendJson(response, 200, render(job));
    return sendError(response, 501, `the Vertex AI simulator does not serve ${contract.route.method}`);
  }

  /** `projects/{number}/locations/{location}`: Vertex names resources by project number, whichever form the caller used. */
  function parentOf(project: string, location: string): string {
    return `projects/${projectNumberOf(project)}/locations/${location}`;
  }

  function render(job: SimulatedJob) {
    return renderJob(job, acquiredAt(job), now(), parentOfJob(job));
  }

  function parentOfJob(job: SimulatedJob): string {
    return job.name.slice(0, job.name.indexOf('/tuningJobs/'));
  }

  /** When the job got the project's tuning quota (null: still waiting for it). */
  function acquiredAt(job: SimulatedJob): number | null {
    return Number.isFinite(tuningQuota) ? scheduleQuota([...jobs.values()], tuningQuota, now()).get(job.id)! : job.createMs;
  }

  function createJob(parent: string, location: string, body: Record<string, unknown>, response: ServerResponse) {
    const problem = createRequestProblem(body, now());
    if (problem) return sendError(response, problem.status, problem.message);
    const continued = body.preTunedModel
      ? continuationSource(body.preTunedModel as { tunedModelName?: string; checkpointId?: string })
      : null;
    if (continued && 'status' in continued) return sendError(response, continued.status, continued.message);
    nextId += 1n;
    const id = nextId.toString();
    // The model and endpoint get ids of their own, as Vertex's do (not derived from the job's);
    // a continuation without a display name is a new version of its source model.
    const newVersion = continued && body.tunedModelDisplayName === undefined;
    const modelId = newVersion ? continued.source.modelId : (3_000_000_000_000_000_000n + BigInt(jobs.size + 1)).toString();
    const modelVersion = newVersion
      ? Math.max(...[...jobs.values()].filter((other) => other.modelId === modelId).map((other) => other.modelVersion)) + 1
      : 1;
    const endpointId = (7_000_000_000_000_000_000n + BigInt(jobs.size + 1)).toString();
    const fault: JobFault = {};
    if (quotaHolds > 0) {
      quotaHolds -= 1;
      fault.quotaHeldElsewhere = true;
    } else if (regionsOutOfCapacity.has(location)) {
      fault.stuck = true;
    } else if (stickCount > 0) {
      stickCount -= 1;
      fault.stuck = true;
    } else if (failCount > 0) {
      failCount -= 1;
      fault.fail = failError;
    }
    const job: SimulatedJob = {
      id,
      name: `${parent}/tuningJobs/${id}`,
      modelId,
      modelVersion,
      ...(continued ? { preTunedBaseModel: continued.baseModel } : {}),
      endpointId,
      location,
      createMs: now(),
      body,
      labels: (body.labels as Record<string, string> | undefined) ?? {},
      timing: { ...timing },
      fault,
      cancelledAtMs: null,
      datasetStats: null,
      validationDone: !options.readDataset,
    };
    jobs.set(job.name, job);
    log.info(LogEvent.simulatorJobTransition, `simulator: created ${job.name}`, { job: job.name, labels: job.labels, fault });
    if (options.readDataset) void validateDataset(job);
    sendJson(response, 200, render(job));
  }

  async function validateDataset(job: SimulatedJob) {
    const { method, spec: given } = tuningSpecOf(job.body);
    const spec = given as { trainingDatasetUri: string; validationDatasetUri?: string };
    const examples: ExampleStats[] = [];
    try {
      for (const uri of [spec.trainingDatasetUri, spec.validationDatasetUri].filter((u): u is string => !!u)) {
        for await (const record of readJsonLines(options.readDataset!(uri))) {
          if ('code' in record) {
            job.fault.invalidDataset = `${uri} line ${record.line}: ${record.message}`;
            return;
          }
          const context = {
            line: record.line,
            baseModel: job.preTunedBaseModel ?? String(job.body.baseModel),
            ...(options.tokens ? { tokens: options.tokens } : {}),
          };
          const result = method === 'preference' ? validatePreferenceRecord(record.value, context) : validateExample(record.value, context);
          if (result.errors.length > 0) {
            const first = result.errors[0]!;
            job.fault.invalidDataset = `${uri} line ${first.line} ${first.path}: ${first.message}`;
            return;
          }
          if (uri === spec.trainingDatasetUri) examples.push({ value: record.value, tokens: result.tokens });
        }
      }
      const epochs = Number((spec as { hyperParameters?: { epochCount?: unknown } }).hyperParameters?.epochCount ?? 3);
      job.datasetStats =
        method === 'preference'
          ? preferenceDataStats(examples, { epochs, tokens: options.tokens })
          : supervisedDataStats(examples, { epochs, truncateOverTokens });
    } catch (error) {
      job.fault.invalidDataset = `cannot read the dataset: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      job.validationDone = true;
    }
  }

  function listJobs(url: URL, parent: string, response: ServerResponse) {
    const parsedFilter = parseLabelFilter(url.searchParams.get('filter'));
    if (parsedFilter instanceof Error) return sendError(response, 400, parsedFilter.message);
    if (disjunctionsRefused && parsedFilter.some((clause) => clause.length > 1))
      return sendError(response, 400, 'unsupported filter: OR (the simulator was told to refuse disjunctions)');
    const wanted = listFiltersIgnored ? [] : parsedFilter;
    const pageSize = Math.min(Number(url.searchParams.get('pageSize') ?? 100) || 100, 1000);
    const offset = Number(url.searchParams.get('pageToken') ?? 0) || 0;
    const all = [...jobs.values()]
      .filter((job) => job.name.startsWith(`${parent}/`))
      .filter((job) => matchesLabelFilter(job.labels, wanted))
      .sort((a, b) => b.createMs - a.createMs || b.id.localeCompare(a.id));
    const page = all.slice(offset, offset + pageSize);
    const result: Record<string, unknown> = { tuningJobs: page.map((job) => render(job)) };
    // The last page has no nextPageToken at all: an empty string makes the SDK's pager loop.
    if (offset + pageSize < all.length) result.nextPageToken = String(offset + pageSize);
    sendJson(response, 200, result);
  }

  /** The tuning job whose tuned model has this id. */
  /** The job that made a model version; a name without a version means version 1 (which version Vertex treats as default is not documented). */
  function jobMakingModel(modelId: string, version = 1) {
    return [...jobs.values()].find((job) => job.modelId === modelId && job.modelVersion === version);
  }

  /**
   * Where a continuation starts ("Use continuous tuning for Gemini models"): a tuned model this
   * simulator made, by a supervised job ("Only supervised tuning base models tuned on or after
   * July 11, 2025 can be used"), at a checkpoint it kept, of a model that takes continuous tuning.
   * The wording of the refusals is ours.
   */
  function continuationSource(pre: {
    tunedModelName?: string;
    checkpointId?: string;
  }): { source: SimulatedJob; baseModel: string } | { status: 400 | 404; message: string } {
    const name = /^projects\/[^/]+\/locations\/[^/]+\/models\/(\d+)(?:@(\d+))?$/.exec(pre.tunedModelName ?? '');
    const source = name ? jobMakingModel(name[1]!, name[2] ? Number(name[2]) : 1) : undefined;
    if (!source || render(source).state !== 'JOB_STATE_SUCCEEDED') return { status: 404, message: `Model ${pre.tunedModelName} not found` };
    if (tuningSpecOf(source.body).method !== 'supervised')
      return {
        status: 400,
        message: `Model ${pre.tunedModelName} was not made by supervised tuning: only supervised-tuned models can be tuned further`,
      };
    const baseModel = source.preTunedBaseModel ?? String(source.body.baseModel);
    if (getModelSpec(baseModel)?.methods.continuous === false)
      return { status: 400, message: `Base model ${baseModel} does not support continuous tuning` };
    const checkpoints = checkpointsOf(source, parentOfJob(source)).checkpoints?.map((item) => item.checkpointId) ?? [];
    if (pre.checkpointId !== undefined && !checkpoints.includes(pre.checkpointId))
      return { status: 400, message: `Checkpoint ${pre.checkpointId} not found for model ${pre.tunedModelName}` };
    return { source, baseModel };
  }

  /**
   * ModelService.GetModel for a tuned model this simulator made (model.proto's Model): its name
   * without the version, versionId, display name, createTime ("when this Model was uploaded into
   * Vertex AI": the first version's end of tuning), versionCreateTime, the checkpoints and
   * defaultCheckpointId, and the endpoint it is deployed to. Vertex also sets the label
   * `google-vertex-llm-tuning-base-model-id` (@google/genai reads it as tunedModelInfo.baseModel),
   * but no source shows its value's form: the simulator sets no labels.
   */
  function serveModel(parent: string, modelId: string, version: string | undefined, response: ServerResponse) {
    const made = (v: number) => {
      const job = jobMakingModel(modelId, v);
      return job && job.name.startsWith(`${parent}/`) && render(job).state === 'JOB_STATE_SUCCEEDED' ? job : undefined;
    };
    const job = made(version ? Number(version) : 1);
    const first = made(1);
    if (!job || !first) return sendError(response, 404, `Model ${parent}/models/${modelId}${version ? `@${version}` : ''} not found`);
    const endOf = (source: SimulatedJob) => String(render(source).endTime);
    const { checkpoints } = checkpointsOf(job, parent);
    return sendJson(response, 200, {
      name: `${parent}/models/${modelId}`,
      versionId: String(job.modelVersion),
      displayName: String(job.body.tunedModelDisplayName ?? `tuned-${job.id}`),
      createTime: endOf(first),
      updateTime: endOf(job),
      versionCreateTime: endOf(job),
      versionUpdateTime: endOf(job),
      deployedModels: [{ endpoint: `${parent}/endpoints/${job.endpointId}`, deployedModelId: job.endpointId }],
      ...(checkpoints
        ? {
            checkpoints: checkpoints.map(({ checkpointId, epoch, step }) => ({ checkpointId, epoch, step })),
            defaultCheckpointId: checkpoints.at(-1)!.checkpointId,
          }
        : {}),
      description: 'Vertex AI simulator model: nothing was trained',
    });
  }

  /** A tuning job by its numeric id (the experiment context and the tuned model carry it). */
  function tuningJobById(id: string) {
    return [...jobs.values()].find((job) => job.id === id);
  }

  function serveMetrics(
    method: string,
    body: Record<string, unknown>,
    project: string,
    location: string,
    path: string,
    response: ServerResponse,
  ) {
    const parent = parentOf(project, location);
    const context = /^metadataStores\/default\/contexts\/tuning-experiment-(\d+)$/.exec(path);
    if (context && method === 'GET') {
      const job = tuningJobById(context[1]!);
      if (!job) return sendError(response, 404, `Context ${parent}/${path} not found`);
      return sendJson(response, 200, {
        name: `${parent}/${path}`,
        displayName: `tuning-experiment-${job.id}`,
        schemaTitle: 'system.Experiment',
        metadata: { backing_tensorboard_resource: `${parent}/tensorboards/${TENSORBOARD_ID}`, simulator: 'vertex-ai-simulator' },
      });
    }
    const tb =
      /^tensorboards\/([^/]+)\/experiments\/tuning-experiment-(\d+)\/runs(?:\/([^/]+)\/timeSeries(?:\/([^/:]+):exportTensorboardTimeSeries)?)?$/.exec(
        path,
      );
    const job = tb && tb[1] === TENSORBOARD_ID ? tuningJobById(tb[2]!) : undefined;
    if (!tb || !job) return sendError(response, 404, `the Vertex AI simulator has no ${parent}/${path}`);
    const experiment = `${parent}/tensorboards/${TENSORBOARD_ID}/experiments/tuning-experiment-${job.id}`;
    const runName = `${experiment}/runs/run-${job.id}`;
    if (!tb[3] && method === 'GET') return sendJson(response, 200, { tensorboardRuns: [{ name: runName, displayName: `run-${job.id}` }] });
    if (tb[3] !== `run-${job.id}`) return sendError(response, 404, `TensorboardRun ${experiment}/runs/${tb[3]} not found`);
    const spec = tuningSpecOf(job.body).spec;
    const steps = totalSteps(spec?.hyperParameters?.epochCount === undefined ? undefined : Number(spec.hyperParameters.epochCount));
    // Points exist from the moment training (TUNING) began, up to now or to the job's end.
    // One quota schedule for both: each computation walks every job.
    const acquired = acquiredAt(job);
    const window = trainingWindow(job, acquired);
    const rendered = renderJob(job, acquired, now(), parentOfJob(job));
    const endMs = rendered.endTime ? Date.parse(String(rendered.endTime)) : now();
    const startMs = window && window.startMs <= now() ? window.startMs : null;
    const progress =
      rendered.state === 'JOB_STATE_SUCCEEDED' ? 1 : startMs !== null ? (Math.min(now(), endMs) - startMs) / window!.runMs : 0;
    const series = startMs === null ? [] : seriesFor(!!spec?.validationDatasetUri);
    if (!tb[4] && method === 'GET') {
      return sendJson(response, 200, {
        tensorboardTimeSeries: series.map((s) => ({
          name: `${runName}/timeSeries/${s.id}`,
          displayName: s.displayName,
          valueType: 'SCALAR',
        })),
      });
    }
    const wanted = series.find((s) => s.id === tb[4]);
    if (!wanted || method !== 'POST') return sendError(response, 404, `TensorboardTimeSeries ${runName}/timeSeries/${tb[4]} not found`);
    // "exportTensorboardTimeSeriesData" promises no order (tensorboard_service.proto): serve them shuffled, deterministically.
    const points = shuffled(seriesPoints(wanted, job.id, steps, progress, startMs!, job.timing.runMs), job.id);
    const pageSize = Math.min(Number(body.pageSize ?? 1000) || 1000, 10_000);
    const offset = Number(body.pageToken ?? 0) || 0;
    const result: Record<string, unknown> = { timeSeriesDataPoints: points.slice(offset, offset + pageSize) };
    if (offset + pageSize < points.length) result.nextPageToken = String(offset + pageSize);
    return sendJson(response, 200, result);
  }

  function serveBatch(
    url: URL,
    method: string,
    body: Record<string, unknown>,
    parent: string,
    id: string | undefined,
    verb: string | undefined,
    response: ServerResponse,
  ) {
    if (!id && method === 'POST') {
      const create = body as BatchCreateBody;
      const problem = batchCreateProblem(create);
      if (problem) return sendError(response, 400, problem);
      if (batchRefusedFor !== null && create.model!.includes(batchRefusedFor))
        return sendError(response, 400, `Do not support model ${create.model} for batch prediction (simulated refusal)`);
      nextId += 1n;
      const jobId = nextId.toString();
      const rule = batchFaults.find((f) => f.remaining > 0 && (!f.modelIncludes || create.model!.includes(f.modelIncludes)));
      const fault: SimulatedBatchJob['fault'] = {};
      if (rule) {
        rule.remaining -= 1;
        if (rule.kind === 'stuck') fault.stuck = true;
        else if (rule.kind === 'partial') fault.failEvery = Math.max(1, rule.every ?? 2);
        else fault.fail = rule.error ?? { code: 13, message: 'Internal error during batch prediction (simulated).' };
      }
      const job: SimulatedBatchJob = {
        id: jobId,
        name: `${parent}/batchPredictionJobs/${jobId}`,
        createMs: now(),
        body: create,
        timing: { queueMs: timing.queueMs, runMs: timing.runMs },
        fault,
        cancelledAtMs: null,
        output: null,
        outputError: null,
        writing: false,
      };
      batchJobs.set(job.name, job);
      log.info(LogEvent.simulatorJobTransition, `simulator: created batch job ${job.name} for ${create.model}`, { job: job.name, fault });
      return sendJson(response, 200, renderBatch(job));
    }
    if (!id && method === 'GET') {
      const filter = url.searchParams.get('filter');
      const displayName = filter ? /^display_name\s*=\s*"([^"]*)"$/.exec(filter.trim()) : null;
      if (filter && !displayName)
        return sendError(response, 400, `unsupported filter "${filter}" (the simulator supports display_name="NAME")`);
      const all = [...batchJobs.values()]
        .filter((job) => job.name.startsWith(`${parent}/`) && (!displayName || job.body.displayName === displayName[1]))
        .sort((a, b) => b.createMs - a.createMs || b.id.localeCompare(a.id));
      const pageSize = Math.min(Number(url.searchParams.get('pageSize') ?? 100) || 100, 1000);
      const offset = Number(url.searchParams.get('pageToken') ?? 0) || 0;
      const result: Record<string, unknown> = { batchPredictionJobs: all.slice(offset, offset + pageSize).map(renderBatch) };
      if (offset + pageSize < all.length) result.nextPageToken = String(offset + pageSize);
      return sendJson(response, 200, result);
    }
    const job = batchJobs.get(`${parent}/batchPredictionJobs/${id}`);
    if (!job) return sendError(response, 404, `BatchPredictionJob ${parent}/batchPredictionJobs/${id} not found`);
    if (verb === 'cancel' && method === 'POST') {
      const phase = batchPhase(job, now());
      if (phase === 'FAILED' || phase === 'CANCELLED' || job.output)
        return sendError(response, 400, `BatchPredictionJob ${job.name} is already in a final state`);
      job.cancelledAtMs ??= now();
      return sendJson(response, 200, {});
    }
    if (method === 'GET') return sendJson(response, 200, renderBatch(job));
    return sendError(response, 404, `the Vertex AI simulator does not serve ${method} ${url.pathname}`);
  }

  /** Renders a batch job, starting its output files when its run time is over (it reads RUNNING until they exist). */
  function renderBatch(job: SimulatedBatchJob) {
    if (batchPhase(job, now()) === 'DONE' && !job.output && !job.writing) {
      job.writing = true;
      void writePredictions(job).finally(() => {
        job.writing = false;
      });
    }
    return renderBatchJob(job, now());
  }

  /**
   * The toy model behind a model name: the base model echoes; a tuned one answers from its
   * training set, an intermediate checkpoint (`partly`: epoch `seen` of `of`) from the first
   * seen/of of it. A toy: it shows checkpoints can differ, not how real ones do.
   */
  function modelFor(name: string, partly?: { seen: number; of: number }): Promise<SimulatedModel> {
    const tuned = /^projects\/[^/]+\/locations\/[^/]+\/models\/(\d+)(?:@(\d+))?$/.exec(name);
    if (!tuned) return Promise.resolve(echoModel);
    const id = `${tuned[1]!}@${tuned[2] ?? 1}${partly ? `#${partly.seen}/${partly.of}` : ''}`;
    if (!tunedModels.has(id)) {
      tunedModels.set(
        id,
        (async () => {
          const source = jobMakingModel(tuned[1]!, Number(tuned[2] ?? 1));
          if (!source || render(source).state !== 'JOB_STATE_SUCCEEDED')
            throw new Error(`Model ${name} not found (no succeeded tuning job made it)`);
          const training = tuningSpecOf(source.body).spec!.trainingDatasetUri!;
          const pairs = await trainingPairs(options.readDataset!(training));
          return nearestExampleModel(partly ? pairs.slice(0, Math.max(1, Math.ceil((pairs.length * partly.seen) / partly.of))) : pairs);
        })(),
      );
      tunedModels.get(id)!.catch(() => tunedModels.delete(id));
    }
    return tunedModels.get(id)!;
  }

  /** The display name a batch output folder carries: the tuned model's (its job's tunedModelDisplayName), or a base model's id. */
  function modelDisplayName(model: string): string {
    const tuned = /\/models\/(\d+)(?:@(\d+))?$/.exec(model);
    const source = tuned ? jobMakingModel(tuned[1]!, Number(tuned[2] ?? 1)) : undefined;
    return source ? String(source.body.tunedModelDisplayName ?? `tuned-${source.id}`) : model.split('/').at(-1)!;
  }

  /** Online prediction: a tuned model's endpoint or a base model, answered by the same toy models as batch. */
  async function serveGenerateContent(
    project: string,
    location: string,
    target: string,
    body: Record<string, unknown>,
    response: ServerResponse,
  ) {
    const endpoint = /^endpoints\/(\d+)$/.exec(target);
    // The tuned model's endpoint, or one of its intermediate checkpoints' (checkpointsOf).
    const owner = endpoint
      ? [...jobs.values()].find(
          (job) =>
            job.endpointId === endpoint[1] ||
            checkpointsOf(job, parentOfJob(job)).checkpoints?.some((item) => item.endpoint.endsWith(`/endpoints/${endpoint[1]}`)),
        )
      : undefined;
    if (endpoint && !owner) return sendError(response, 404, `Endpoint ${parentOf(project, location)}/${target} not found`);
    const modelName = owner ? `${parentOfJob(owner)}/models/${owner.modelId}@${owner.modelVersion}` : target;
    // An intermediate checkpoint (epoch k of E) of the toy tuned model has seen the first k/E of the training examples.
    const kept = owner ? (checkpointsOf(owner, parentOfJob(owner)).checkpoints ?? []) : [];
    const at = endpoint ? kept.findIndex((item) => item.endpoint.endsWith(`/endpoints/${endpoint[1]}`)) : -1;
    const partly = at >= 0 && at < kept.length - 1 ? { seen: at + 1, of: kept.length } : undefined;
    let model: SimulatedModel;
    try {
      model = await modelFor(modelName, partly);
    } catch (error) {
      return sendError(response, 404, error instanceof Error ? error.message : String(error));
    }
    if (!Array.isArray(body.contents) || body.contents.length === 0) return sendError(response, 400, 'contents is required');
    onlineCalls[target] = (onlineCalls[target] ?? 0) + 1;
    const line = JSON.parse(predictionLine(body, model(body as { contents?: [] }), modelName, now())) as { response: unknown };
    return sendJson(response, 200, line.response);
  }

  async function writePredictions(job: SimulatedBatchJob): Promise<void> {
    try {
      if (!options.readDataset || !options.writeObject)
        throw new Error('the simulator was started without storage access, so batch jobs cannot read or write files');
      const model = await modelFor(job.body.model!);
      // "prediction-<model-display-name>-<job-create-time>" holding predictions_0001… and, if any
      // instance failed, errors_0001… (GcsDestination in batch_prediction_job.proto).
      const directory = `${job.body.outputConfig!.gcsDestination!.outputUriPrefix!.replace(/\/$/, '')}/prediction-${modelDisplayName(job.body.model!)}-${new Date(job.createMs).toISOString()}`;
      const counts = { successful: 0, failed: 0 };
      const errors: string[] = [];
      let instance = 0;
      const encoder = new TextEncoder();
      const at = now();
      const reader = options.readDataset;
      async function* lines(): AsyncGenerator<Uint8Array> {
        for (const uri of job.body.inputConfig!.gcsSource!.uris!) {
          for await (const record of readJsonLines(reader(uri))) {
            if ('code' in record) {
              counts.failed += 1;
              yield encoder.encode(
                JSON.stringify({ status: `line ${record.line}: ${record.message}`, processed_time: new Date(at).toISOString() }) + '\n',
              );
              continue;
            }
            const request = (record.value as { request?: { contents?: [] } }).request;
            if (!request) {
              counts.failed += 1;
              yield encoder.encode(
                JSON.stringify({
                  status: 'INVALID_ARGUMENT: the line has no "request"',
                  processed_time: new Date(at).toISOString(),
                  ...(record.value as object),
                }) + '\n',
              );
              continue;
            }
            instance += 1;
            if (job.fault.failEvery && instance % job.fault.failEvery === 0) {
              counts.failed += 1;
              errors.push(
                JSON.stringify({ request, error: { code: 8, message: 'Resource exhausted while predicting this instance (simulated)' } }),
              );
              continue;
            }
            counts.successful += 1;
            yield encoder.encode(predictionLine(request, model(request), job.body.model!, at) + '\n');
            // Let the storage emulator and the API (the same process in the local stack) answer meanwhile.
            if (counts.successful % 200 === 0) await new Promise((resolve) => setImmediate(resolve));
          }
        }
      }
      await options.writeObject(`${directory}/predictions_0001.jsonl`, lines());
      if (errors.length > 0)
        await options.writeObject(
          `${directory}/errors_0001.jsonl`,
          (async function* () {
            yield encoder.encode(errors.join('\n') + '\n');
          })(),
        );
      job.output = { directory, ...counts };
      log.info(LogEvent.simulatorJobTransition, `simulator: batch job ${job.name} wrote ${counts.successful} predictions`, {
        job: job.name,
      });
    } catch (error) {
      job.outputError = `Batch prediction failed (simulated model run): ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  function handleControl(url: URL, method: string, body: Record<string, unknown>, response: ServerResponse) {
    if (method === 'GET' && url.pathname === '/simulator/v1/jobs') return sendJson(response, 200, { jobs: control.jobs() });
    if (method === 'POST' && url.pathname === '/simulator/v1/control') {
      const action = body.action;
      if (action === 'setTiming') control.setTiming(body.timing as Partial<Timing>);
      else if (action === 'failNextCalls')
        control.failNextCalls(
          Number(body.count),
          Number(body.status) as CallFault['status'],
          body.match as { method?: string; pathIncludes?: string; after?: number },
        );
      else if (action === 'delayNextCalls')
        control.delayNextCalls(Number(body.count), Number(body.ms), body.match as { method?: string; pathIncludes?: string });
      else if (action === 'stickNextJobs') control.stickNextJobs(Number(body.count));
      else if (action === 'outOfCapacityIn') control.outOfCapacityIn(Array.isArray(body.locations) ? body.locations.map(String) : []);
      else if (action === 'failNextJobs')
        control.failNextJobs(Number(body.count), body.error as { code: number; message: string } | undefined);
      else if (action === 'advance') control.advance(Number(body.ms));
      else if (action === 'setTuningQuota')
        control.setTuningQuota(body.concurrentJobs === null ? Number.POSITIVE_INFINITY : Number(body.concurrentJobs));
      else if (action === 'ignoreListFilters') control.ignoreListFilters(body.ignore === true);
      else if (action === 'refuseDisjunctiveFilters') control.refuseDisjunctiveFilters(body.refuse === true);
      else if (action === 'succeedNextCancelledJobs') control.succeedNextCancelledJobs(Number(body.count));
      else if (action === 'holdNextJobsForQuota') control.holdNextJobsForQuota(Number(body.count));
      else if (action === 'truncateExamplesOver') control.truncateExamplesOver(typeof body.tokens === 'number' ? body.tokens : null);
      else if (action === 'stickNextBatchJobs') control.stickNextBatchJobs(Number(body.count), body.match as { modelIncludes?: string });
      else if (action === 'failNextBatchJobs') control.failNextBatchJobs(Number(body.count), body.match as { modelIncludes?: string });
      else if (action === 'partlyFailNextBatchJobs')
        control.partlyFailNextBatchJobs(Number(body.count), body.match as { every: number; modelIncludes?: string });
      else if (action === 'refuseBatchFor') control.refuseBatchFor(typeof body.modelIncludes === 'string' ? body.modelIncludes : null);
      else return sendError(response, 400, `unknown simulator action ${JSON.stringify(action)}`);
      return sendJson(response, 200, { ok: true });
    }
    return sendError(response, 404, 'unknown simulator control path');
  }

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  log.info(LogEvent.simulatorRequest, `Vertex AI simulator listening on ${url} (a simulator: nothing is trained)`, { url });
  return {
    url,
    control,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function readJson(request: IncomingMessage): Promise<{ value: unknown } | { invalid: string }> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return { value: undefined };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (error) {
    return { invalid: error instanceof Error ? error.message : String(error) };
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** google.rpc.BadRequest, as Google puts it in an INVALID_ARGUMENT error's details. */
function badRequest(violations: FieldViolation[]): unknown[] {
  return [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: violations }];
}

/** The same items in an order that is fixed for `seed` but not theirs. */
function shuffled<T>(items: T[], seed: string): T[] {
  const key = (index: number) => createHash('sha256').update(`${seed}/${index}`).digest().readUInt32BE(0);
  return items
    .map((item, index) => ({ item, key: key(index) }))
    .sort((a, b) => a.key - b.key)
    .map(({ item }) => item);
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  response.end(JSON.stringify(body));
}

function sendError(response: ServerResponse, status: number, message: string, details?: unknown[]): void {
  sendJson(response, status, {
    error: { code: status, message, status: STATUS_NAMES[status] ?? 'UNKNOWN', ...(details ? { details } : {}) },
  });
}
