import type { Firestore, Query } from '@google-cloud/firestore';
import { exampleComparisonSchema, exampleDocumentId, type ExampleComparison } from '../../shared/evaluation/examples.ts';
import type { DatasetDocument } from '../../shared/datasets/schema.ts';
import { createDatasetStore } from './dataset-store.ts';
import { metricDocumentSchema, type MetricDocument } from '../../shared/metrics/series.ts';
import type { ExamplesQuery, ListQuery } from '../../shared/status/api.ts';
import type { RunDocument } from '../../shared/runs/schema.ts';
import { listRunPage, readRun } from './run-reader.ts';

/** What the status API reads, validated by the same schemas the writers use. */
export interface StatusReader {
  /** One page; 'bad-page-token' when the page token names no run. */
  listRuns(query: ListQuery): Promise<{ runs: RunDocument[]; nextPageToken: string | null } | 'bad-page-token'>;
  getRun(runId: string): Promise<RunDocument | null>;
  getMetrics(runId: string): Promise<MetricDocument[]>;
  getDataset(datasetId: string): Promise<DatasetDocument | null>;
  /** A page of the run's per-example comparison, in example order. */
  listExamples(runId: string, query: ExamplesQuery): Promise<{ examples: ExampleComparison[]; nextPageToken: string | null }>;
}

export function createStatusReader(db: Firestore, collections = { runs: 'runs', datasets: 'datasets' }): StatusReader {
  const datasets = createDatasetStore(db, collections.datasets);
  return {
    listRuns: (query) => listRunPage(db, query, collections.runs),
    getRun: (runId) => readRun(db, runId, collections.runs),
    async getMetrics(runId) {
      const snapshot = await db.collection(collections.runs).doc(runId).collection('metrics').get();
      return snapshot.docs.map((doc) => metricDocumentSchema.parse(doc.data()));
    },
    getDataset: (datasetId) => datasets.get(datasetId),
    async listExamples(runId, query) {
      let ref: Query = db.collection(collections.runs).doc(runId).collection('examples');
      if (query.verdict) ref = ref.where('verdict', '==', query.verdict);
      ref = ref.orderBy('index').limit(query.pageSize);
      if (query.pageToken) ref = ref.startAfter(Number(query.pageToken.slice(1)));
      const snapshot = await ref.get();
      const examples = snapshot.docs.map((doc) => exampleComparisonSchema.parse(doc.data()));
      const last = examples.at(-1);
      return { examples, nextPageToken: examples.length === query.pageSize && last ? exampleDocumentId(last.index) : null };
    },
  };
}
