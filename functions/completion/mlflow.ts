import { examplesCsv, type ExampleComparison } from '../../shared/evaluation/examples.ts';
import { EVALUATION_ARMS } from '../../shared/evaluation/schema.ts';
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
  /** The attempt's training curves, and the run's hyperparameters as params. */
  logRun(run: RunDocument, attempt: number, series: readonly MetricSeries[]): Promise<void>;
  /**
   * The held-out evaluation on the attempt's MLflow run: the headline (base, tuned, delta, its
   * interval), every model's scores, the judge's verdicts, and with `examples` the per-example
   * table as the artifact `evaluation/examples.csv`. Says where the table went, or why it did not.
   */
  logEvaluation(
    run: RunDocument,
    attempt: number,
    examples?: readonly ExampleComparison[],
  ): Promise<{ artifact: string | null; reason?: string }>;
}

/** Where the per-example table goes under the run's artifacts. */
export const EXAMPLES_ARTIFACT = 'evaluation/examples.csv';

/**
 * How the sink proves who it is, by MLflow's own client conventions: MLFLOW_TRACKING_TOKEN is sent
 * as a bearer token, MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD as HTTP basic
 * authentication (mlflow.org, "Tracking: authentication with environment variables"). None: an
 * open server.
 */
export interface MlflowCredentials {
  token?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
}

function authorization(credentials: MlflowCredentials): Record<string, string> {
  if (credentials.token) return { authorization: `Bearer ${credentials.token}` };
  if (credentials.username !== undefined && credentials.password !== undefined) {
    return { authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` };
  }
  return {};
}

/** The run's settings as MLflow params (MLflow keeps a param's first value; the same value again is accepted). */
function paramsOf(run: RunDocument): { key: string; value: string }[] {
  const request = run.request;
  const params: Record<string, unknown> = {
    base_model: run.baseModel,
    method: request?.method ?? 'SUPERVISED',
    ...(request?.hyperParameters ?? {}),
    ...(run.lineage ? { pre_tuned_model: run.lineage.preTunedModel, pre_tuned_checkpoint: run.lineage.checkpointId ?? 'default' } : {}),
  };
  return Object.entries(params)
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([key, value]) => ({ key, value: String(value).slice(0, 6000) }));
}

const BATCH = 1000; // MLflow's limit of metrics per log-batch call

export function createMlflowSink(trackingUri: string, credentials: MlflowCredentials = {}, fetchImpl: typeof fetch = fetch): MlflowSink {
  const base = trackingUri.replace(/\/$/, '');
  const auth = authorization(credentials);
  async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: T }> {
    const response = await fetchImpl(`${base}/api/2.0/mlflow/${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...auth },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await response.json().catch(() => ({}))) as T;
    if (!response.ok && response.status !== 404)
      throw Object.assign(new Error(`MLflow ${path}: HTTP ${response.status}`), { status: response.status });
    return { status: response.status, json };
  }
  /**
   * An artifact through the tracking server's artifact proxy (`mlflow server --serve-artifacts`,
   * the default since MLflow 2.0): the run's artifact_uri is then `mlflow-artifacts:/…`, and a file
   * is PUT at /api/2.0/mlflow-artifacts/artifacts/… (MLflow's MlflowArtifactsRepository). A run
   * whose artifacts live elsewhere (s3://, gs://, a local path) is written by MLflow's clients
   * straight to that store; the sink has no credentials there, and says so.
   */
  async function uploadArtifact(runId: string, path: string, content: string, contentType: string) {
    const info = await call<{ run?: { info?: { artifact_uri?: string } } }>('GET', `runs/get?run_id=${encodeURIComponent(runId)}`);
    const root = info.json.run?.info?.artifact_uri ?? '';
    if (!root.startsWith('mlflow-artifacts:'))
      return {
        artifact: null,
        reason: `the MLflow run's artifacts live at ${root || 'an unknown place'}, not behind the server's artifact proxy`,
      };
    const where = root.replace(/^mlflow-artifacts:\/*/, '').replace(/\/$/, '');
    const url = `${base}/api/2.0/mlflow-artifacts/artifacts/${where}/${path}`;
    const response = await fetchImpl(url, { method: 'PUT', headers: { 'content-type': contentType, ...auth }, body: content });
    if (!response.ok) throw Object.assign(new Error(`MLflow artifact ${path}: HTTP ${response.status}`), { status: response.status });
    return { artifact: `${root.replace(/\/$/, '')}/${path}` };
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
  async function attemptRun(run: RunDocument, attempt: number): Promise<string> {
    const experiment = await experimentId(run.experiment || run.runId);
    const tag = `${run.runId}:a${attempt}`;
    const search = await call<{ runs?: { info: { run_id: string } }[] }>('POST', 'runs/search', {
      experiment_ids: [experiment],
      filter: `tags.sft_run_attempt = '${tag}'`,
      max_results: 1,
    });
    return (
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
      ).json.run.info.run_id
    );
  }
  return {
    async logRun(run, attempt, series) {
      const runId = await attemptRun(run, attempt);
      const metrics = series.flatMap((s) =>
        s.points.map((p) => ({
          key: s.metric.replace(/^\//, ''),
          value: p.value,
          step: p.step,
          timestamp: p.wallTime ? Date.parse(p.wallTime) : 0,
        })),
      );
      await call('POST', 'runs/log-batch', { run_id: runId, params: paramsOf(run) });
      for (let i = 0; i < metrics.length; i += BATCH)
        await call('POST', 'runs/log-batch', { run_id: runId, metrics: metrics.slice(i, i + BATCH) });
      await call('POST', 'runs/update', {
        run_id: runId,
        status: 'FINISHED',
        end_time: Date.parse(run.attempts[attempt - 1]?.endedAt ?? run.updateTime),
      });
    },
    async logEvaluation(run, attempt, examples) {
      const result = run.evaluation?.result;
      if (!result) return { artifact: null, reason: 'the run has no evaluation result' };
      const runId = await attemptRun(run, attempt);
      const timestamp = Date.parse(result.scoredAt);
      const metrics = (['base', 'tuned', 'delta', 'stage1'] as const)
        .filter((side) => typeof result.headline[side] === 'number')
        .map((side) => ({ key: `eval_${result.metric}_${side}`, value: result.headline[side]!, step: 0, timestamp }));
      // How sure the gain is: the delta's 95 % paired-bootstrap interval, and every example's verdict.
      const confidence = result.confidence;
      if (confidence)
        metrics.push(
          { key: `eval_${result.metric}_delta_low`, value: confidence.low, step: 0, timestamp },
          { key: `eval_${result.metric}_delta_high`, value: confidence.high, step: 0, timestamp },
        );
      for (const [verdict, count] of Object.entries(result.verdicts ?? {}))
        metrics.push({ key: `eval_examples_${verdict}`, value: count, step: 0, timestamp });
      // Every model's every score (eval_tuned_rougeL, eval_base_toolParameterKvMatch, ...), numbers only.
      const models = [...EVALUATION_ARMS.map((arm) => [arm, result[arm]] as const), ...Object.entries(result.checkpoints ?? {})];
      for (const [arm, scores] of models)
        for (const [field, value] of Object.entries(scores ?? {}))
          if (typeof value === 'number') metrics.push({ key: `eval_${arm}_${field}`, value, step: 0, timestamp });
      if (result.judge)
        metrics.push(
          { key: 'eval_judge_tuned_win_rate', value: result.judge.tunedWinRate, step: 0, timestamp },
          { key: 'eval_judge_base_win_rate', value: result.judge.baseWinRate, step: 0, timestamp },
          { key: 'eval_judge_ties', value: result.judge.ties, step: 0, timestamp },
        );
      for (let i = 0; i < metrics.length; i += BATCH)
        await call('POST', 'runs/log-batch', {
          run_id: runId,
          metrics: metrics.slice(i, i + BATCH),
          ...(i === 0 ? { tags: [{ key: 'eval_examples', value: String(result.n) }] } : {}),
        });
      if (!examples) return { artifact: null, reason: 'no per-example table given' };
      return uploadArtifact(runId, EXAMPLES_ARTIFACT, examplesCsv(examples), 'text/csv');
    },
  };
}
