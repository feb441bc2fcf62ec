import type { Firestore } from '@google-cloud/firestore';
import type { DatasetDocument } from '../../shared/datasets/schema.ts';
import { createDatasetStore } from './dataset-store.ts';
import { metricDocumentSchema, type MetricDocument } from '../../shared/metrics/series.ts';
import type { ListQuery } from '../../shared/status/api.ts';
import type { RunDocument } from '../../shared/runs/schema.ts';
import { listRunPage, readRun } from './run-reader.ts';

/** What the status API reads, validated by the same schemas the writers use. */
export interface StatusReader {
  /** One page; 'bad-page-token' when the page token names no run. */
  listRuns(query: ListQuery): Promise<{ runs: RunDocument[]; nextPageToken: string | null } | 'bad-page-token'>;
  getRun(runId: string): Promise<RunDocument | null>;
  getMetrics(runId: string): Promise<MetricDocument[]>;
  getDataset(datasetId: string): Promise<DatasetDocument | null>;
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
  };
}
