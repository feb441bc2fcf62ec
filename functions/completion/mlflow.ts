import type { MetricSeries } from '../../shared/metrics/series.ts';
import type { RunDocument } from '../../shared/runs/schema.ts';

/**
 * The optional MLflow sink (MLFLOW_TRACKING_URI): the same metric points, logged through MLflow's
 * REST API (https://mlflow.org/docs/latest/rest-api.html) as the seed team did by hand. The MLflow
 * experiment is the run's experiment; there is one MLflow run per attempt, found again by its
 * `sft_run_attempt` tag, and points carry the step's wall time as timestamp, so logging the
 * same points twice stores nothing new.
 */
export interface MlflowSink {
  logRun(run: RunDocument, attempt: number, series: readonly MetricSeries[]): Promise<void>;
}

const BATCH = 1000; // MLflow's limit of metrics per log-batch call

export function createMlflowSink(trackingUri: string, fetchImpl: typeof fetch = fetch): MlflowSink {
  const base = trackingUri.replace(/\/$/, '');
  async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: T }> {
    const response = await fetchImpl(`${base}/api/2.0/mlflow/${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await response.json().catch(() => ({}))) as T;
    if (!response.ok && response.status !== 404)
      throw Object.assign(new Error(`MLflow ${path}: HTTP ${response.status}`), { status: response.status });
    return { status: response.status, json };
  }
  async function experimentId(name: string): Promise<string> {
    const found = await call<{ experiment?: { experiment_id: string } }>(
      'GET',
      `experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`,
    );
    if (found.status === 200 && found.json.experiment) return found.json.experiment.experiment_id;
    const created = await call<{ experiment_id: string }>('POST', 'experiments/create', { name });
    return created.json.experiment_id;
  }
  return {
    async logRun(run, attempt, series) {
      const experiment = await experimentId(run.experiment || run.runId);
      const tag = `${run.runId}:a${attempt}`;
      const search = await call<{ runs?: { info: { run_id: string } }[] }>('POST', 'runs/search', {
        experiment_ids: [experiment],
        filter: `tags.sft_run_attempt = '${tag}'`,
        max_results: 1,
      });
      const runId =
        search.json.runs?.[0]?.info.run_id ??
        (
          await call<{ run: { info: { run_id: string } } }>('POST', 'runs/create', {
            experiment_id: experiment,
            run_name: `${run.runId}-a${attempt}`,
            start_time: Date.parse(run.attempts[attempt - 1]?.startedAt ?? run.createTime),
            tags: [
              { key: 'sft_run_attempt', value: tag },
              { key: 'sft_run_id', value: run.runId },
              { key: 'base_model', value: run.baseModel },
              { key: 'vertex_tuning_job', value: run.attempts[attempt - 1]?.jobName ?? '' },
            ],
          })
        ).json.run.info.run_id;
      const metrics = series.flatMap((s) =>
        s.points.map((p) => ({
          key: s.metric.replace(/^\//, ''),
          value: p.value,
          step: p.step,
          timestamp: p.wallTime ? Date.parse(p.wallTime) : 0,
        })),
      );
      for (let i = 0; i < metrics.length; i += BATCH)
        await call('POST', 'runs/log-batch', { run_id: runId, metrics: metrics.slice(i, i + BATCH) });
      await call('POST', 'runs/update', {
        run_id: runId,
        status: 'FINISHED',
        end_time: Date.parse(run.attempts[attempt - 1]?.endedAt ?? run.updateTime),
      });
    },
  };
}
