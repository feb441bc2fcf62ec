import { getModelSpec } from '../../shared/gemini/models.ts';

/**
 * The Vertex AI SIMULATOR's tuning jobs: a state machine driven by a clock, shaped like the
 * REST TuningJob resource (https://cloud.google.com/vertex-ai/docs/reference/rest/v1beta1/projects.locations.tuningJobs).
 * It never trains anything: a job walks QUEUED → PENDING → RUNNING → SUCCEEDED on timers, or
 * sticks or fails when a test asks it to.
 */
export interface Timing {
  /** Dataset validation (JOB_STATE_QUEUED, tuningJobState PROCESSING_DATASET). */
  validationMs: number;
  /** Waiting for capacity (JOB_STATE_PENDING, WAITING_FOR_CAPACITY). */
  queueMs: number;
  /** "Training" (JOB_STATE_RUNNING, TUNING). */
  runMs: number;
}

export interface JobFault {
  /** Never leaves the queue (the seed team saw jobs wait over two days). */
  stuck?: boolean;
  /** Ends FAILED when it would start running, with this error. */
  fail?: { code: number; message: string };
  /** Fails validation of the dataset, with this message. */
  invalidDataset?: string;
}

export interface SimulatedJob {
  id: string;
  name: string;
  createMs: number;
  body: Record<string, unknown>;
  labels: Record<string, string>;
  timing: Timing;
  fault: JobFault;
  cancelledAtMs: number | null;
  datasetStats: Record<string, unknown> | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The REST resource of a job at time `nowMs`. */
export function renderJob(job: SimulatedJob, nowMs: number, project: string, location: string): Record<string, unknown> {
  const { validationMs, queueMs, runMs } = job.timing;
  const validatedAt = job.createMs + validationMs;
  const startAt = validatedAt + queueMs;
  const endAt = startAt + runMs;
  let state: string;
  let detail: string;
  let startTime: string | undefined;
  let endTime: string | undefined;
  let error: { code: number; message: string } | undefined;
  const cancelled = job.cancelledAtMs !== null && job.cancelledAtMs <= nowMs;

  if (nowMs < validatedAt) {
    state = 'JOB_STATE_QUEUED';
    detail = 'TUNING_JOB_STATE_PROCESSING_DATASET';
  } else if (job.fault.invalidDataset) {
    state = 'JOB_STATE_FAILED';
    detail = 'TUNING_JOB_STATE_UNSPECIFIED';
    endTime = iso(validatedAt);
    error = { code: 3, message: `Dataset validation failed: ${job.fault.invalidDataset}` };
  } else if (job.fault.stuck || nowMs < startAt) {
    state = 'JOB_STATE_PENDING';
    detail = 'TUNING_JOB_STATE_WAITING_FOR_CAPACITY';
  } else if (job.fault.fail) {
    state = 'JOB_STATE_FAILED';
    detail = 'TUNING_JOB_STATE_UNSPECIFIED';
    endTime = iso(startAt);
    error = job.fault.fail;
  } else if (nowMs < endAt) {
    state = 'JOB_STATE_RUNNING';
    detail = 'TUNING_JOB_STATE_TUNING';
    startTime = iso(startAt);
  } else {
    state = 'JOB_STATE_SUCCEEDED';
    detail = 'TUNING_JOB_STATE_UNSPECIFIED';
    startTime = iso(startAt);
    endTime = iso(endAt);
  }
  if (cancelled && (state === 'JOB_STATE_QUEUED' || state === 'JOB_STATE_PENDING' || state === 'JOB_STATE_RUNNING')) {
    state = 'JOB_STATE_CANCELLED';
    detail = 'TUNING_JOB_STATE_UNSPECIFIED';
    endTime = iso(job.cancelledAtMs!);
    error = { code: 1, message: 'CANCELED' };
  }
  const parent = `projects/${project}/locations/${location}`;
  const resource: Record<string, unknown> = {
    name: job.name,
    tunedModelDisplayName: job.body.tunedModelDisplayName ?? `tuned-${job.id}`,
    baseModel: job.body.baseModel,
    supervisedTuningSpec: job.body.supervisedTuningSpec,
    labels: job.labels,
    state,
    tuningJobState: detail,
    createTime: iso(job.createMs),
    updateTime: iso(Math.min(nowMs, endTime ? Date.parse(endTime) : nowMs)),
    description: 'Vertex AI simulator job: nothing is trained',
  };
  if (startTime) resource.startTime = startTime;
  if (endTime) resource.endTime = endTime;
  if (error) resource.error = error;
  if (startTime || state === 'JOB_STATE_SUCCEEDED') {
    resource.experiment = `${parent}/metadataStores/default/contexts/tuning-experiment-${job.id}`;
  }
  if (job.datasetStats && nowMs >= validatedAt) resource.tuningDataStats = { supervisedTuningDataStats: job.datasetStats };
  if (state === 'JOB_STATE_SUCCEEDED') {
    resource.tunedModel = { model: `${parent}/models/${job.id}@1`, endpoint: `${parent}/endpoints/${job.id}` };
  }
  return resource;
}

/** Why Vertex would refuse this create request outright (400), or null. */
export function createRequestProblem(body: Record<string, unknown>): string | null {
  const baseModel = body.baseModel;
  if (typeof baseModel !== 'string' || baseModel === '') return 'baseModel is required';
  if (!getModelSpec(baseModel)) return `Base model ${baseModel} is not supported for tuning`;
  const spec = body.supervisedTuningSpec as Record<string, unknown> | undefined;
  const training = spec?.trainingDatasetUri;
  if (typeof training !== 'string' || !training.startsWith('gs://')) return 'supervisedTuningSpec.trainingDatasetUri must be a gs:// URI';
  const validation = spec?.validationDatasetUri;
  if (validation !== undefined && (typeof validation !== 'string' || !validation.startsWith('gs://'))) return 'supervisedTuningSpec.validationDatasetUri must be a gs:// URI';
  return null;
}

/**
 * The `filter` of tuningJobs.list, in the subset the pipeline uses: `labels.KEY="VALUE"` terms
 * joined by AND. Anything else is refused (400), never silently ignored.
 */
export function parseLabelFilter(filter: string | null): Record<string, string> | Error {
  if (!filter || filter.trim() === '') return {};
  const wanted: Record<string, string> = {};
  for (const term of filter.split(/\s+AND\s+/)) {
    const match = /^labels\.([a-z][a-z0-9_-]*)\s*=\s*(?:"([^"]*)"|([a-z0-9_-]+))$/.exec(term.trim());
    if (!match) return new Error(`unsupported filter term "${term}" (the simulator supports labels.KEY="VALUE" AND ...)`);
    wanted[match[1]!] = match[2] ?? match[3]!;
  }
  return wanted;
}
