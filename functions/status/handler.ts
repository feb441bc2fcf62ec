import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { StatusReader } from '../../adapters/firestore/status-reader.ts';
import { etagOf, examplesQuerySchema, isRunId, listQuerySchema, runListSchema, summarizeRun } from '../../shared/status/api.ts';

export interface StatusRequest {
  method: string;
  path: string;
  query: Record<string, string | undefined>;
  ifNoneMatch?: string | undefined;
}
export interface StatusResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

const require = createRequire(import.meta.url);
const publicFile = (name: string) => readFileSync(fileURLToPath(new URL(`./public/${name}`, import.meta.url)));
/** The dashboard: our three small files and uPlot (a ~50 KB charting library), read once. */
const STATIC: Record<string, { type: string; body: Buffer }> = {
  '/': { type: 'text/html; charset=utf-8', body: publicFile('index.html') },
  '/app.js': { type: 'text/javascript; charset=utf-8', body: publicFile('app.js') },
  '/style.css': { type: 'text/css; charset=utf-8', body: publicFile('style.css') },
  '/vendor/uPlot.iife.min.js': {
    type: 'text/javascript; charset=utf-8',
    body: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')),
  },
  '/vendor/uPlot.min.css': { type: 'text/css; charset=utf-8', body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')) },
};

const json = (status: number, value: unknown, etag?: string): StatusResponse => ({
  status,
  headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache', ...(etag ? { etag } : {}) },
  body: JSON.stringify(value),
});

/**
 * The read API and the dashboard. Every response body is validated by the schema its writer
 * uses; JSON responses carry an ETag, and a matching If-None-Match gets a 304 with no body.
 */
export async function handleStatus(request: StatusRequest, reader: StatusReader, now: () => number): Promise<StatusResponse> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return json(405, { error: 'read-only: GET' });
  const path = request.path.replace(/\/+$/, '') || '/';
  const asset = STATIC[path === '/index.html' ? '/' : path];
  if (asset) return { status: 200, headers: { 'content-type': asset.type, 'cache-control': 'no-cache' }, body: asset.body };

  const conditional = (value: unknown, parts: readonly string[]): StatusResponse => {
    const etag = etagOf(parts);
    return request.ifNoneMatch === etag ? { status: 304, headers: { etag }, body: '' } : json(200, value, etag);
  };
  if (path === '/api/runs') {
    const query = listQuerySchema.safeParse(request.query);
    if (!query.success)
      return json(400, { error: 'bad query', issues: query.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) });
    const page = await reader.listRuns(query.data);
    if (page === 'bad-page-token')
      return json(400, { error: 'bad query', issues: ['pageToken: not a token this API gave (the run it names does not exist)'] });
    const nowIso = new Date(now()).toISOString();
    const body = runListSchema.parse({ runs: page.runs.map((run) => summarizeRun(run, nowIso)), nextPageToken: page.nextPageToken });
    // Live runs' durations change every second; the ETag follows the documents, which is what pollers care about.
    return conditional(body, [JSON.stringify(request.query), ...page.runs.map((run) => `${run.runId}@${run.updateTime}`)]);
  }
  const match = /^\/api\/runs\/([^/]+)(?:\/(metrics|dataset|evaluation|examples))?$/.exec(path);
  if (!match) return json(404, { error: `no such resource ${path.slice(0, 200)}` });
  if (!isRunId(match[1]!))
    return json(404, { error: `no run ${JSON.stringify(match[1]!.slice(0, 100))}: not a run id (letters, digits, _ and -)` });
  const run = await reader.getRun(match[1]!);
  if (!run) return json(404, { error: `no run ${match[1]}` });
  const part = match[2];
  if (!part) return conditional(run, [run.runId, run.updateTime]);
  if (part === 'evaluation') return conditional({ evaluation: run.evaluation ?? null }, [run.runId, run.updateTime, 'evaluation']);
  if (part === 'examples') {
    const query = examplesQuerySchema.safeParse(request.query);
    if (!query.success)
      return json(400, { error: 'bad query', issues: query.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) });
    const page = await reader.listExamples(run.runId, query.data);
    // The table is written once, when the run is scored: the run's updateTime follows it.
    return conditional(page, [run.runId, run.updateTime, 'examples', JSON.stringify(query.data)]);
  }
  if (part === 'metrics') {
    const metrics = await reader.getMetrics(run.runId);
    return conditional({ metrics }, [
      run.runId,
      'metrics',
      ...metrics.map((m) => `${m.metric}@${m.updateTime}@${Object.keys(m.points).length}`),
    ]);
  }
  const datasetId = run.request?.datasetId;
  const dataset = datasetId ? await reader.getDataset(datasetId) : null;
  if (!dataset) return json(404, { error: datasetId ? `no dataset ${datasetId}` : 'the run was not started from a converted dataset' });
  return conditional({ dataset }, [dataset.datasetId, dataset.updateTime ?? '']);
}
