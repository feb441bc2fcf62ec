import aiplatform from '@google-cloud/aiplatform';
import { KNOWN_METRICS, type MetricSeries } from '../../shared/metrics/series.ts';
import { locationOf } from '../../shared/runs/regions.ts';
import { aiplatformCallOptions, aiplatformClientOptions, perRegion } from './clients.ts';

/**
 * Reads a tuning job's metric time series the way Vertex stores them: the job's `experiment`
 * (a Vertex ML Metadata context) names its backing TensorBoard in the context's metadata
 * (`backing_tensorboard_resource`); the TensorBoard experiment has the context's id, its runs hold
 * the time series (one per metric, the metric name as display name), and
 * `exportTensorboardTimeSeriesData` pages through every point (batchRead would sample above 1,000).
 * REST resources: https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.metadataStores.contexts/get,
 * …/projects.locations.tensorboards.experiments.runs/list, …runs.timeSeries/list,
 * …runs.timeSeries/exportTensorboardTimeSeries.
 */
export interface MetricsReader {
  read(experimentContext: string): Promise<MetricSeries[]>;
}

/** The *Async iterators page themselves; saying so keeps gax from warning on every call. */
const NO_AUTOPAGINATE = { autoPaginate: false };

type ClientOptions = ConstructorParameters<typeof aiplatform.v1.MetadataServiceClient>[0];

export function createMetricsReader(options: { location: string; baseUrl?: string | undefined }): MetricsReader {
  // The experiment, its TensorBoard and their series live in the tuning job's region: read them there.
  const clientsFor = perRegion(options.location, (location) => {
    const clientOptions = aiplatformClientOptions(location, options.baseUrl) as ClientOptions;
    return {
      metadata: new aiplatform.v1.MetadataServiceClient(clientOptions),
      tensorboards: new aiplatform.v1.TensorboardServiceClient(clientOptions),
    };
  });
  return {
    async read(experimentContext) {
      const location = locationOf(experimentContext) ?? options.location;
      const { metadata, tensorboards } = clientsFor(location);
      const call = aiplatformCallOptions(location, options.baseUrl);
      const paged = { ...NO_AUTOPAGINATE, ...call };
      const [context] = await metadata.getContext({ name: experimentContext }, call);
      const tensorboard = structString(context.metadata, 'backing_tensorboard_resource');
      if (!tensorboard) throw new Error(`experiment ${experimentContext} names no backing TensorBoard`);
      const experiment = `${tensorboard}/experiments/${experimentContext.split('/').at(-1)}`;
      const series: MetricSeries[] = [];
      for await (const run of tensorboards.listTensorboardRunsAsync({ parent: experiment }, paged)) {
        for await (const timeSeries of tensorboards.listTensorboardTimeSeriesAsync({ parent: run.name! }, paged)) {
          const metric = timeSeries.displayName ?? '';
          if (!(KNOWN_METRICS as readonly string[]).includes(metric)) continue;
          const points: MetricSeries['points'] = [];
          for await (const point of tensorboards.exportTensorboardTimeSeriesDataAsync(
            { tensorboardTimeSeries: timeSeries.name!, pageSize: 1000 },
            paged,
          )) {
            if (point.scalar?.value === undefined || point.scalar.value === null) continue;
            points.push({ step: Number(point.step ?? 0), value: Number(point.scalar.value), wallTime: timestampIso(point.wallTime) });
          }
          // Exported points come in no promised order (exportTensorboardTimeSeriesData); every reader downstream wants steps ascending.
          series.push({ metric, points: points.sort((a, b) => a.step - b.step) });
        }
      }
      return series;
    },
  };
}

/** A protobuf Struct field as a string, whether the transport gave the Struct form or plain JSON. */
function structString(struct: unknown, key: string): string | null {
  if (!struct || typeof struct !== 'object') return null;
  const fields = (struct as { fields?: Record<string, { stringValue?: string }> }).fields;
  if (fields) return fields[key]?.stringValue ?? null;
  const value = (struct as Record<string, unknown>)[key];
  return typeof value === 'string' ? value : null;
}

function timestampIso(timestamp: { seconds?: unknown; nanos?: number | null } | null | undefined): string | null {
  if (!timestamp || timestamp.seconds === undefined || timestamp.seconds === null) return null;
  return new Date(Number(timestamp.seconds) * 1000 + Math.floor((timestamp.nanos ?? 0) / 1e6)).toISOString();
}
