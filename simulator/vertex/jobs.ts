import { modelStanding } from '../../shared/gemini/models.ts';

/**
 * The Vertex AI SIMULATOR's tuning jobs: a state machine driven by a clock, shaped like the
 * TuningJob resource. It never trains anything. Sources, and where they are silent:
 *
 *  - `state` is a google.cloud.aiplatform.v1.JobState (job_state.proto). A new job is
 *    `JOB_STATE_PENDING` ("the service is preparing to run the job") for `pendingMs`.
 *  - Every later phase is `JOB_STATE_RUNNING` with a `tuningJobState` detail, as @google/genai's
 *    TuningJob documents it: "the detail state of the tuning job (while the overall JobState is
 *    running)": WAITING_FOR_QUOTA, PROCESSING_DATASET, WAITING_FOR_CAPACITY, TUNING,
 *    POST_PROCESSING. No source gives their order; the simulator walks them in the enum's order.
 *  - `startTime`: "the first time [the job] entered the JOB_STATE_RUNNING state" (tuning_job.proto),
 *    so it is set while the job still waits: it does not mean training started.
 *  - The quota: "every project has a default quota to run at least one tuning job" (Vertex's
 *    preference-tuning page). Jobs over `concurrentJobs` wait WAITING_FOR_QUOTA in creation order.
 *  - Cancel: "Starts asynchronous cancellation … The server makes a best effort to cancel the job,
 *    but success is not guaranteed … if cancellation succeeds, the job is not deleted; instead it
 *    becomes a job with a TuningJob.error value with a google.rpc.Status.code of 1, corresponding
 *    to Code.CANCELLED, and TuningJob.state is set to CANCELLED" (CancelTuningJob in
 *    genai_tuning_service.proto); JOB_STATE_CANCELLING "may only go to either JOB_STATE_SUCCEEDED,
 *    JOB_STATE_FAILED or JOB_STATE_CANCELLED" (job_state.proto). How long CANCELLING lasts is not
 *    published: `cancelMs`. A knob makes a cancelled job succeed instead (the race).
 *  - Names carry the project NUMBER (`projects/123…/locations/…`), and the tuned model and its
 *    endpoint get ids of their own (`models/{model}@{version_id}`, "when tuning from a base
 *    model, the version_id will be 1", TunedModel in tuning_job.proto).
 */
export interface Timing {
  /** JOB_STATE_PENDING after creation. */
  pendingMs: number;
  /** RUNNING / PROCESSING_DATASET (the dataset is validated). */
  validationMs: number;
  /** RUNNING / WAITING_FOR_CAPACITY. */
  queueMs: number;
  /** RUNNING / TUNING. */
  runMs: number;
  /** RUNNING / POST_PROCESSING. */
  postProcessingMs: number;
  /** JOB_STATE_CANCELLING after a cancel request. */
  cancelMs: number;
}

export const DEFAULT_TIMING: Timing = { pendingMs: 100, validationMs: 200, queueMs: 500, runMs: 1000, postProcessingMs: 0, cancelMs: 100 };

export interface JobFault {
  /** Never gets capacity (the seed team saw jobs wait over two days). */
  stuck?: boolean;
  /** Ends FAILED when it would start tuning, with this error. */
  fail?: { code: number; message: string };
  /** Fails validation of the dataset, with this message. */
  invalidDataset?: string;
  /** Never gets the project's quota (jobs outside the pipeline hold it): WAITING_FOR_QUOTA until cancelled. */
  quotaHeldElsewhere?: boolean;
  /** A cancel request loses the race: the job SUCCEEDS once it leaves CANCELLING. */
  succeedsDespiteCancel?: boolean;
}

export interface SimulatedJob {
  id: string;
  name: string;
  /** Ids of the tuned model and endpoint, made at creation, independent of the job's id. */
  modelId: string;
  /**
   * The version of `modelId` the job makes. "Use continuous tuning for Gemini models": a
   * continuation makes "a new model version … under the same parent model as the pre-tuned
   * model", unless a display name is given, when "a new model is created".
   */
  modelVersion: number;
  /** Continuous tuning: the base model of the tuned model it started from (PreTunedModel.base_model, output only). */
  preTunedBaseModel?: string;
  endpointId: string;
  location: string;
  createMs: number;
  body: Record<string, unknown>;
  labels: Record<string, string>;
  timing: Timing;
  fault: JobFault;
  cancelledAtMs: number | null;
  /** Made when the dataset has been read (SupervisedTuningDataStats in tuning_job.proto). */
  datasetStats: Record<string, unknown> | null;
  /** Until the dataset has been read, the job stays in PROCESSING_DATASET whatever the clock says. */
  validationDone: boolean;
}

/** When the job got the quota it needed to start, or null while it waits (or if it never will). */
export type QuotaSchedule = Map<string, number | null>;

const iso = (ms: number) => new Date(ms).toISOString();

interface Phases {
  runningAt: number;
  validatedAt: number;
  startAt: number;
  tunedAt: number;
  endAt: number;
}

function phases(job: SimulatedJob, acquiredAt: number): Phases {
  const { pendingMs, validationMs, queueMs, runMs, postProcessingMs } = job.timing;
  const runningAt = job.createMs + pendingMs;
  const validatedAt = Math.max(acquiredAt, runningAt) + validationMs;
  const startAt = validatedAt + queueMs;
  const tunedAt = startAt + runMs;
  return { runningAt, validatedAt, startAt, tunedAt, endAt: tunedAt + postProcessingMs };
}

/** When a job that got quota at `acquiredAt` lets it go again (null: never, on its own). */
function releaseAt(job: SimulatedJob, acquiredAt: number): number | null {
  const at = phases(job, acquiredAt);
  const natural = job.fault.invalidDataset ? at.validatedAt : job.fault.fail ? at.startAt : job.fault.stuck ? null : at.endAt;
  if (job.cancelledAtMs === null) return natural;
  const cancelled = job.cancelledAtMs + job.timing.cancelMs;
  return natural === null ? cancelled : Math.min(natural, cancelled);
}

/**
 * Who holds the project's tuning quota at `nowMs`: jobs take it in creation order as it frees up.
 * A job cancelled while it waits never takes it.
 */
export function scheduleQuota(jobs: SimulatedJob[], concurrentJobs: number, nowMs: number): QuotaSchedule {
  const schedule: QuotaSchedule = new Map();
  // One entry per slot taken: when its holder lets it go (null: not before `nowMs` can tell).
  const releases: (number | null)[] = [];
  for (const job of [...jobs].sort((a, b) => a.createMs - b.createMs || a.id.localeCompare(b.id))) {
    schedule.set(job.id, null);
    if (job.fault.quotaHeldElsewhere) continue;
    let slot = releases.length;
    let acquiredAt = job.createMs;
    if (releases.length >= concurrentJobs) {
      const earliest = releases.reduce<number | null>((min, at) => (at !== null && (min === null || at < min) ? at : min), null);
      if (earliest === null) continue;
      slot = releases.indexOf(earliest);
      acquiredAt = Math.max(job.createMs, earliest);
    }
    if (job.cancelledAtMs !== null && job.cancelledAtMs <= acquiredAt) continue;
    if (acquiredAt > nowMs) {
      releases[slot] = null;
      continue;
    }
    schedule.set(job.id, acquiredAt);
    releases[slot] = releaseAt(job, acquiredAt);
  }
  return schedule;
}

interface RenderedState {
  state: string;
  detail: string;
  startTime?: string;
  endTime?: string;
  error?: { code: number; message: string };
}

function stateAt(job: SimulatedJob, acquiredAt: number | null, nowMs: number): RenderedState {
  const at = phases(job, acquiredAt ?? Number.POSITIVE_INFINITY);
  const running = iso(at.runningAt);
  const cancelEnd = job.cancelledAtMs === null ? null : job.cancelledAtMs + job.timing.cancelMs;
  const natural = ((): RenderedState => {
    if (nowMs < at.runningAt) return { state: 'JOB_STATE_PENDING', detail: 'TUNING_JOB_STATE_UNSPECIFIED' };
    if (acquiredAt === null || nowMs < acquiredAt)
      return { state: 'JOB_STATE_RUNNING', detail: 'TUNING_JOB_STATE_WAITING_FOR_QUOTA', startTime: running };
    if (nowMs < at.validatedAt) return { state: 'JOB_STATE_RUNNING', detail: 'TUNING_JOB_STATE_PROCESSING_DATASET', startTime: running };
    if (job.fault.invalidDataset) {
      const error = { code: 3, message: `Dataset validation failed: ${job.fault.invalidDataset}` };
      return { state: 'JOB_STATE_FAILED', detail: 'TUNING_JOB_STATE_UNSPECIFIED', startTime: running, endTime: iso(at.validatedAt), error };
    }
    if (job.fault.stuck || nowMs < at.startAt)
      return { state: 'JOB_STATE_RUNNING', detail: 'TUNING_JOB_STATE_WAITING_FOR_CAPACITY', startTime: running };
    if (job.fault.fail)
      return {
        state: 'JOB_STATE_FAILED',
        detail: 'TUNING_JOB_STATE_UNSPECIFIED',
        startTime: running,
        endTime: iso(at.startAt),
        error: job.fault.fail,
      };
    if (nowMs < at.tunedAt) return { state: 'JOB_STATE_RUNNING', detail: 'TUNING_JOB_STATE_TUNING', startTime: running };
    if (nowMs < at.endAt) return { state: 'JOB_STATE_RUNNING', detail: 'TUNING_JOB_STATE_POST_PROCESSING', startTime: running };
    return { state: 'JOB_STATE_SUCCEEDED', detail: 'TUNING_JOB_STATE_UNSPECIFIED', startTime: running, endTime: iso(at.endAt) };
  })();
  const finished = natural.endTime !== undefined;
  if (job.cancelledAtMs === null || nowMs < job.cancelledAtMs || (finished && Date.parse(natural.endTime!) <= job.cancelledAtMs))
    return natural;
  // A cancel request was made while the job was live.
  const startTime = nowMs >= at.runningAt && job.cancelledAtMs >= at.runningAt ? running : undefined;
  if (nowMs < cancelEnd!)
    return { state: 'JOB_STATE_CANCELLING', detail: 'TUNING_JOB_STATE_UNSPECIFIED', ...(startTime ? { startTime } : {}) };
  if (job.fault.succeedsDespiteCancel) {
    return { state: 'JOB_STATE_SUCCEEDED', detail: 'TUNING_JOB_STATE_UNSPECIFIED', startTime: running, endTime: iso(cancelEnd!) };
  }
  return {
    state: 'JOB_STATE_CANCELLED',
    detail: 'TUNING_JOB_STATE_UNSPECIFIED',
    ...(startTime ? { startTime } : {}),
    endTime: iso(cancelEnd!),
    error: { code: 1, message: 'CANCELED' },
  };
}

export const FINAL_STATES = ['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED'];

/** The REST resource of a job at time `nowMs`; `parent` is `projects/{number}/locations/{location}`. */
export function renderJob(job: SimulatedJob, acquiredAt: number | null, nowMs: number, parent: string): Record<string, unknown> {
  // Until the dataset has been read, the job stays in validation whatever the clock says.
  const validationEnd = acquiredAt === null ? null : phases(job, acquiredAt).validatedAt;
  const at = !job.validationDone && validationEnd !== null ? Math.min(nowMs, validationEnd - 1) : nowMs;
  const { state, detail, startTime, endTime, error } = stateAt(job, acquiredAt, at);
  const spec = tuningSpecOf(job.body);
  const resource: Record<string, unknown> = {
    name: job.name,
    tunedModelDisplayName: job.body.tunedModelDisplayName ?? `tuned-${job.id}`,
    ...(job.body.preTunedModel
      ? { preTunedModel: { ...(job.body.preTunedModel as object), baseModel: job.preTunedBaseModel } }
      : { baseModel: job.body.baseModel }),
    [spec.field]: spec.spec,
    labels: job.labels,
    state,
    tuningJobState: detail,
    createTime: iso(job.createMs),
    updateTime: iso(Math.min(at, endTime ? Date.parse(endTime) : at)),
    description: 'Vertex AI simulator job: nothing is trained',
  };
  if (startTime) resource.startTime = startTime;
  if (endTime) resource.endTime = endTime;
  if (error) resource.error = error;
  const tuning = ['TUNING_JOB_STATE_TUNING', 'TUNING_JOB_STATE_POST_PROCESSING'].includes(detail);
  const trained = state === 'JOB_STATE_SUCCEEDED';
  if (
    tuning ||
    trained ||
    (job.cancelledAtMs !== null && validationEnd !== null && job.cancelledAtMs > validationEnd + job.timing.queueMs)
  ) {
    resource.experiment = `${parent}/metadataStores/default/contexts/tuning-experiment-${job.id}`;
  }
  if (job.datasetStats && validationEnd !== null && at >= validationEnd) {
    const stats = spec.method === 'preference' ? 'preferenceOptimizationDataStats' : 'supervisedTuningDataStats';
    resource.tuningDataStats = { [stats]: job.datasetStats };
  }
  if (trained) {
    resource.tunedModel = {
      model: `${parent}/models/${job.modelId}@${job.modelVersion}`,
      endpoint: `${parent}/endpoints/${job.endpointId}`,
      ...checkpointsOf(job, parent),
    };
  }
  return resource;
}

/** When training began (TUNING), for the metric curves, or null before it. */
export function trainingWindow(job: SimulatedJob, acquiredAt: number | null): { startMs: number; runMs: number } | null {
  if (acquiredAt === null || job.fault.stuck || job.fault.fail || job.fault.invalidDataset) return null;
  return { startMs: phases(job, acquiredAt).startAt, runMs: job.timing.runMs };
}

/**
 * TunedModel.checkpoints: "only populated for tuning jobs that enable intermediate checkpoints"
 * (tuning_job.proto; export_last_checkpoint_only false, the default, enables them). "Use
 * checkpoints in supervised fine-tuning for Gemini models": about one a epoch under 10 epochs,
 * "intermediate checkpoints are deployed to new endpoints", and "the tuned model endpoint
 * represents the endpoint of the default checkpoint". The simulator keeps one per epoch, ids the
 * epoch numbers, each intermediate one on an endpoint of its own (checkpointEndpointId), the last
 * on the tuned model's. Google does not say how ids read, nor which checkpoint is the default
 * before one is chosen: the last is taken.
 */
export function checkpointsOf(
  job: SimulatedJob,
  parent: string,
): { checkpoints?: { checkpointId: string; epoch: string; step: string; endpoint: string }[] } {
  const spec = tuningSpecOf(job.body).spec as
    { exportLastCheckpointOnly?: boolean; hyperParameters?: { epochCount?: number | string } } | undefined;
  if (spec?.exportLastCheckpointOnly) return {};
  const epochs = Math.max(1, Number(spec?.hyperParameters?.epochCount ?? 1) || 1);
  const stepsPerEpoch = 20;
  return {
    checkpoints: Array.from({ length: epochs }, (_, index) => ({
      checkpointId: String(index + 1),
      epoch: String(index + 1),
      step: String((index + 1) * stepsPerEpoch),
      endpoint: `${parent}/endpoints/${index + 1 === epochs ? job.endpointId : checkpointEndpointId(job.endpointId, index + 1)}`,
    })),
  };
}

/** The endpoint id of a job's intermediate checkpoint (ids of the simulator's own making, apart from every other id it gives). */
export function checkpointEndpointId(endpointId: string, checkpoint: number): string {
  return (6_000_000_000_000_000_000n + (BigInt(endpointId) % 1_000_000_000_000n) * 1_000n + BigInt(checkpoint)).toString();
}

/** Whether the job is still live (a cancel is accepted) at `nowMs`. */
export function isLive(rendered: Record<string, unknown>): boolean {
  return !FINAL_STATES.includes(String(rendered.state));
}

/**
 * Why Vertex would refuse this create request outright, beyond the message's shape, or null.
 * A retired base model: "API requests referencing a retired model ID typically returns a 404
 * error" ("Model versions and lifecycle"; the wording of the message is ours). A Gemini id the
 * catalogue does not know is accepted: it stands for a model released after the catalogue was
 * read (Google documents no answer for an id it does not know; one outside the gemini- family is
 * refused as unsupported, as before).
 */
export function createRequestProblem(body: Record<string, unknown>, nowMs: number): { status: 400 | 404; message: string } | null {
  const baseModel = body.baseModel;
  // A continuation names its source model instead; the server judges it against the jobs it holds.
  if (body.preTunedModel !== undefined) {
    const problem = specProblem(body);
    return problem ? { status: 400, message: problem } : null;
  }
  if (typeof baseModel !== 'string' || baseModel === '') return { status: 400, message: 'baseModel is required' };
  const model = modelStanding(baseModel, nowMs);
  if (model.standing === 'retired')
    return {
      status: 404,
      message: `Publisher model \`${baseModel}\` was not found or your project does not have access to it (${model.spec.id} retired on ${model.spec.retiresOn})`,
    };
  if (model.standing === 'unknown' && !/^(publishers\/google\/models\/)?gemini-/.test(baseModel))
    return { status: 400, message: `Base model ${baseModel} is not supported for tuning` };
  const problem = specProblem(body);
  return problem ? { status: 400, message: problem } : null;
}

function specProblem(body: Record<string, unknown>): string | null {
  const { field, spec } = tuningSpecOf(body);
  const training = spec?.trainingDatasetUri;
  if (typeof training !== 'string' || !training.startsWith('gs://')) return `${field}.trainingDatasetUri must be a gs:// URI`;
  const validation = spec?.validationDatasetUri;
  if (validation !== undefined && (typeof validation !== 'string' || !validation.startsWith('gs://'))) {
    return `${field}.validationDatasetUri must be a gs:// URI`;
  }
  return null;
}

export interface TuningSpecView {
  method: 'supervised' | 'preference';
  field: 'supervisedTuningSpec' | 'preferenceOptimizationSpec';
  spec:
    | { trainingDatasetUri?: string; validationDatasetUri?: string; hyperParameters?: { epochCount?: number | string; beta?: number } }
    | undefined;
}

/**
 * The job's tuning spec, whichever member of TuningJob's `tuning_spec` oneof it is: supervised
 * (tuning_job.proto) or preference optimization (@google/genai's PREFERENCE_TUNING; the proto
 * overlay in proto-overlays.ts). The contract check lets at most one member through.
 */
export function tuningSpecOf(body: Record<string, unknown>): TuningSpecView {
  if (body.preferenceOptimizationSpec !== undefined)
    return { method: 'preference', field: 'preferenceOptimizationSpec', spec: body.preferenceOptimizationSpec as TuningSpecView['spec'] };
  return { method: 'supervised', field: 'supervisedTuningSpec', spec: body.supervisedTuningSpec as TuningSpecView['spec'] };
}

/**
 * The `filter` of tuningJobs.list in the subset the pipeline sends: `labels.KEY="VALUE"` terms,
 * joined by OR into groups (optionally in parentheses) and the groups by AND; as in AIP-160
 * (google.aip.dev/160), OR binds tighter than AND. Google documents the parameter only as "the
 * standard list filter"; simulator knobs make it ignored, or a disjunction refused, so callers
 * must not trust it (they re-check labels, and fall back to one value per call).
 * Parsed into clauses: a job matches when every clause has a term its labels satisfy.
 */
export type LabelFilter = { key: string; value: string }[][];

export function parseLabelFilter(filter: string | null): LabelFilter | Error {
  if (!filter || filter.trim() === '') return [];
  const clauses: LabelFilter = [];
  for (const group of filter.trim().split(/\s+AND\s+/)) {
    const inner = /^\((.*)\)$/s.exec(group.trim())?.[1] ?? group;
    const clause: LabelFilter[number] = [];
    for (const term of inner.split(/\s+OR\s+/)) {
      const match = /^labels\.([a-z][a-z0-9_-]*)\s*=\s*(?:"([^"]*)"|([a-z0-9_-]+))$/.exec(term.trim());
      if (!match) return new Error(`unsupported filter term "${term}" (the simulator supports labels.KEY="VALUE", joined by OR and AND)`);
      clause.push({ key: match[1]!, value: match[2] ?? match[3]! });
    }
    clauses.push(clause);
  }
  return clauses;
}

export function matchesLabelFilter(labels: Record<string, string>, filter: LabelFilter): boolean {
  return filter.every((clause) => clause.some(({ key, value }) => labels[key] === value));
}
