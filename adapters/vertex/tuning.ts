import type { TuningJob } from '@google/genai';
import { classifyError } from '../../shared/errors/classify.ts';
import type { Logger } from '../../shared/log.ts';
import { LogEvent } from '../../shared/log-events.ts';
import type { JobView } from '../../shared/runs/poll.ts';
import { locationOf } from '../../shared/runs/regions.ts';
import { regionalGenAiClients, vertexRetry, type VertexClientOptions } from './clients.ts';

/** A tuning job as the pipeline needs it, whichever client fetched it (the poller's JobView, plus labels). */
export interface TuningJobSummary extends JobView {
  experiment?: string;
  labels: Record<string, string>;
}

export interface TuningJobSpec {
  baseModel: string;
  trainingDatasetUri: string;
  validationDatasetUri?: string;
  hyperParameters: { epochCount?: number; learningRateMultiplier?: number; adapterSize?: number; beta?: number };
  /** SUPERVISED unless given. */
  method?: 'SUPERVISED' | 'PREFERENCE';
  /** Continuous tuning: start from this tuned model (and checkpoint) instead of baseModel. */
  preTunedModel?: { tunedModelName: string; checkpointId?: string };
  exportLastCheckpointOnly?: boolean;
  displayName: string;
  labels: Record<string, string>;
  /** The region to create the job in (a fallback region); the service's default region if unset. */
  location?: string;
}

/**
 * Vertex AI tuning jobs, behind the smallest interface the stages need. Calls about a job go to
 * the region in its name; creates and lists go to the region given, else the default one.
 */
export interface TuningService {
  create(spec: TuningJobSpec): Promise<TuningJobSummary>;
  get(name: string): Promise<TuningJobSummary>;
  /** Jobs in `location` (default: the service's region) carrying every one of these labels, oldest first. */
  findByLabels(labels: Record<string, string>, location?: string | null): Promise<TuningJobSummary[]>;
  /**
   * Jobs in `location` whose label `key` is one of `values`, in one list call per
   * LABEL_VALUES_PER_LIST values rather than one per value; `calls` counts the list calls made.
   */
  findByLabelValues(key: string, values: readonly string[], location?: string | null): Promise<{ jobs: TuningJobSummary[]; calls: number }>;
  cancel(name: string): Promise<void>;
  /**
   * A tuned model as Vertex describes it (ModelService.GetModel, through @google/genai's
   * models.get): when it was made (Model.create_time, its first version's). Null when Vertex has
   * no such model (404).
   */
  describeModel(name: string): Promise<{ createTime: string | null } | null>;
}

const ADAPTER_SIZE_NAMES: Record<number, string> = {
  1: 'ADAPTER_SIZE_ONE',
  2: 'ADAPTER_SIZE_TWO',
  4: 'ADAPTER_SIZE_FOUR',
  8: 'ADAPTER_SIZE_EIGHT',
  16: 'ADAPTER_SIZE_SIXTEEN',
};

/**
 * Label values per tuningJobs.list call in findByLabelValues: `labels.KEY="VALUE"` terms joined by
 * OR (AIP-160's disjunction), about 2.5 KB of filter for 40 run ids.
 */
export const LABEL_VALUES_PER_LIST = 40;

/** One term of a tuningJobs.list filter: the job's label `key` equals `value`. */
const labelTerm = (key: string, value: string) => `labels.${key}="${value}"`;

export function createTuningService(options: VertexClientOptions): TuningService {
  const ai = regionalGenAiClients(options);
  const retry = vertexRetry(options, 4);
  /** Every job of every page of one filtered list, and how many pages (calls) that took. */
  const listAll = async (filter: string, location?: string | null) => {
    const found: TuningJobSummary[] = [];
    let calls = 0;
    await retry(async () => {
      found.length = 0;
      const pager = await ai(location).tunings.list({ config: { filter, pageSize: 100 } });
      calls += 1;
      for (;;) {
        for (const job of pager.page) found.push(summarise(job));
        if (!pager.hasNextPage()) break;
        await pager.nextPage();
        calls += 1;
      }
    });
    return { jobs: found, calls };
  };
  // Google documents tuningJobs.list's filter only as "the standard list filter": once Vertex
  // refuses a disjunction (400), this service asks one value at a time from then on.
  let disjunctionRefused = false;
  const service: TuningService = {
    async create(spec) {
      const job = await retry(() =>
        ai(spec.location).tunings.tune({
          // @google/genai sends a `projects/…` baseModel as TuningJob.preTunedModel (continuous tuning).
          baseModel: spec.preTunedModel?.tunedModelName ?? spec.baseModel,
          trainingDataset: { gcsUri: spec.trainingDatasetUri },
          config: {
            // @google/genai sends preferenceOptimizationSpec for PREFERENCE_TUNING, supervisedTuningSpec otherwise.
            ...(spec.method === 'PREFERENCE' ? { method: 'PREFERENCE_TUNING' as never } : {}),
            tunedModelDisplayName: spec.displayName,
            ...(spec.preTunedModel?.checkpointId ? { preTunedModelCheckpointId: spec.preTunedModel.checkpointId } : {}),
            ...(spec.exportLastCheckpointOnly ? { exportLastCheckpointOnly: true } : {}),
            ...(spec.validationDatasetUri ? { validationDataset: { gcsUri: spec.validationDatasetUri } } : {}),
            ...(spec.hyperParameters.epochCount !== undefined ? { epochCount: spec.hyperParameters.epochCount } : {}),
            ...(spec.hyperParameters.learningRateMultiplier !== undefined
              ? { learningRateMultiplier: spec.hyperParameters.learningRateMultiplier }
              : {}),
            ...(spec.hyperParameters.adapterSize !== undefined
              ? { adapterSize: ADAPTER_SIZE_NAMES[spec.hyperParameters.adapterSize] as never }
              : {}),
            ...(spec.hyperParameters.beta !== undefined ? { beta: spec.hyperParameters.beta } : {}),
            labels: spec.labels,
          },
        }),
      );
      return summarise(job);
    },
    async get(name) {
      return summarise(await retry(() => ai(locationOf(name)).tunings.get({ name })));
    },
    async findByLabels(labels, location) {
      const filter = Object.entries(labels)
        .map(([key, value]) => labelTerm(key, value))
        .join(' AND ');
      const { jobs } = await listAll(filter, location);
      // Google documents tuningJobs.list's filter only as "the standard list filter", not that it
      // matches labels: every job is checked here, so a filter Vertex ignored can never make the
      // pipeline adopt or cancel another run's job.
      return jobs
        .filter((job) => Object.entries(labels).every(([key, value]) => job.labels[key] === value))
        .sort((a, b) => (a.createTime ?? '').localeCompare(b.createTime ?? ''));
    },
    async findByLabelValues(key, values, location) {
      const wanted = new Set(values);
      const jobs: TuningJobSummary[] = [];
      let calls = 0;
      for (let i = 0; i < values.length && !disjunctionRefused; i += LABEL_VALUES_PER_LIST) {
        const chunk = values.slice(i, i + LABEL_VALUES_PER_LIST);
        try {
          const listed = await listAll(chunk.map((value) => labelTerm(key, value)).join(' OR '), location);
          calls += listed.calls;
          jobs.push(...listed.jobs.filter((job) => wanted.has(job.labels[key] ?? '')));
        } catch (error) {
          if (classifyError(error).httpStatus !== 400) throw error;
          disjunctionRefused = true;
          calls += 1;
        }
      }
      if (disjunctionRefused) {
        jobs.length = 0;
        for (const value of wanted) {
          jobs.push(...(await service.findByLabels({ [key]: value }, location)));
          calls += 1;
        }
      }
      return { jobs, calls };
    },
    async cancel(name) {
      await retry(() => ai(locationOf(name)).tunings.cancel({ name }));
    },
    async describeModel(name) {
      try {
        const model = await retry(() => ai(locationOf(name)).models.get({ model: name }));
        return { createTime: model.tunedModelInfo?.createTime ?? null };
      } catch (error) {
        if (classifyError(error).httpStatus === 404) return null;
        throw error;
      }
    },
  };
  return service;
}

/** TunedModel.checkpoints (tuning_job.proto), when the job kept intermediate checkpoints. */
function checkpointsOf(job: TuningJob): { checkpoints?: NonNullable<JobView['tunedModel']>['checkpoints'] } {
  const checkpoints = job.tunedModel?.checkpoints;
  if (!checkpoints || checkpoints.length === 0) return {};
  return {
    checkpoints: checkpoints.map((item) => ({
      checkpointId: String(item.checkpointId ?? ''),
      epoch: item.epoch === undefined ? null : String(item.epoch),
      step: item.step === undefined ? null : String(item.step),
      endpoint: item.endpoint ?? null,
    })),
  };
}

function summarise(job: TuningJob): TuningJobSummary {
  const raw = job as TuningJob & { tuningJobState?: string };
  return {
    name: job.name ?? '',
    state: String(job.state ?? 'JOB_STATE_UNSPECIFIED'),
    ...(raw.tuningJobState ? { tuningJobState: raw.tuningJobState } : {}),
    ...(job.createTime ? { createTime: job.createTime } : {}),
    ...(job.startTime ? { startTime: job.startTime } : {}),
    ...(job.endTime ? { endTime: job.endTime } : {}),
    ...(job.error ? { error: { code: job.error.code, message: job.error.message } } : {}),
    ...(job.tunedModel?.model
      ? { tunedModel: { model: job.tunedModel.model, endpoint: job.tunedModel.endpoint ?? null, ...checkpointsOf(job) } }
      : {}),
    ...(job.experiment ? { experiment: job.experiment } : {}),
    labels: job.labels ?? {},
    ...(job.tuningDataStats ? { tuningDataStats: job.tuningDataStats as Record<string, unknown> } : {}),
  };
}

/** The tuning service every function builds from its config, logging each retry. */
export function tuningServiceFromConfig(
  config: { GOOGLE_CLOUD_PROJECT: string; GOOGLE_CLOUD_LOCATION: string; VERTEX_BASE_URL?: string | undefined; VERTEX_RETRIES: number },
  log: Logger,
): TuningService {
  return createTuningService({
    project: config.GOOGLE_CLOUD_PROJECT,
    location: config.GOOGLE_CLOUD_LOCATION,
    baseUrl: config.VERTEX_BASE_URL,
    retries: config.VERTEX_RETRIES,
    onRetry: (info, attempt) => log.warn(LogEvent.vertexRetry, `retrying Vertex after ${info.code} (attempt ${attempt})`, { error: info }),
  });
}
