import type { BatchJob } from '@google/genai';
import { regionalGenAiClients, vertexRetry, type VertexClientOptions } from './clients.ts';
import { locationOf } from '../../shared/runs/regions.ts';

/** A batch prediction job as the pipeline needs it. */
export interface BatchJobSummary {
  name: string;
  displayName: string;
  state: string;
  createTime: string | null;
  startTime: string | null;
  endTime: string | null;
  error: { code?: number; message?: string } | null;
  /** Where Vertex wrote its `predictions_*.jsonl` and `errors_*.jsonl` (outputInfo.gcsOutputDirectory), once it ended. */
  outputDirectory: string | null;
  /** completionStats: how many lines were predicted and how many failed. */
  completionStats: { successful: number; failed: number } | null;
}

export interface BatchSpec {
  /** `gemini-2.5-flash` (a base model) or `projects/…/models/ID@1` (a tuned model). */
  model: string;
  inputUri: string;
  outputPrefix: string;
  /** Unique per run, model and attempt: batch jobs take no labels through this API, so this is how a retry finds its job. */
  displayName: string;
}

/**
 * Vertex AI batch prediction (Gemini), behind the smallest interface the stages need. A job runs
 * in its model's region (a tuned model lives where its tuning job ran; a base model is called in
 * the default region), and calls about a job go to the region in its name.
 */
export interface BatchService {
  create(spec: BatchSpec): Promise<BatchJobSummary>;
  get(name: string): Promise<BatchJobSummary>;
  /** The oldest job of that display name in `location` (default: the service's region). */
  findByDisplayName(displayName: string, location?: string | null): Promise<BatchJobSummary | null>;
  cancel(name: string): Promise<void>;
}

export function createBatchService(options: VertexClientOptions): BatchService {
  const ai = regionalGenAiClients(options);
  const retry = vertexRetry(options, 4);
  return {
    async create(spec) {
      return summarise(
        await retry(() =>
          ai(locationOf(spec.model)).batches.create({
            model: spec.model,
            src: spec.inputUri,
            config: { displayName: spec.displayName, dest: spec.outputPrefix },
          }),
        ),
      );
    },
    async get(name) {
      return summarise(await retry(() => ai(locationOf(name)).batches.get({ name })));
    },
    async findByDisplayName(displayName, location) {
      const found: BatchJobSummary[] = [];
      await retry(async () => {
        found.length = 0;
        for await (const job of await ai(location).batches.list({ config: { filter: `display_name="${displayName}"`, pageSize: 100 } }))
          found.push(summarise(job));
      });
      // Checked here too: a list whose filter was ignored must never hand over another run's job.
      return (
        found.filter((job) => job.displayName === displayName).sort((a, b) => (a.createTime ?? '').localeCompare(b.createTime ?? ''))[0] ??
        null
      );
    },
    async cancel(name) {
      await retry(() => ai(locationOf(name)).batches.cancel({ name }));
    },
  };
}

function summarise(job: BatchJob): BatchJobSummary {
  const output = (job as BatchJob & { outputInfo?: { gcsOutputDirectory?: string } }).outputInfo;
  const stats = job.completionStats;
  return {
    name: job.name ?? '',
    displayName: job.displayName ?? '',
    state: String(job.state ?? 'JOB_STATE_UNSPECIFIED'),
    createTime: job.createTime ?? null,
    startTime: job.startTime ?? null,
    endTime: job.endTime ?? null,
    error: job.error
      ? { ...(job.error.code !== undefined ? { code: job.error.code } : {}), ...(job.error.message ? { message: job.error.message } : {}) }
      : null,
    outputDirectory: output?.gcsOutputDirectory ?? null,
    completionStats: stats ? { successful: Number(stats.successfulCount ?? 0), failed: Number(stats.failedCount ?? 0) } : null,
  };
}
