import type { Firestore } from '@google-cloud/firestore';
import { runDocumentSchema, type RunDocument, type RunState } from '../../shared/runs/schema.ts';
import type { ListQuery } from '../../shared/status/api.ts';

/**
 * The typed reader other Node apps use to read runs (see docs/run-schema.md). Every document
 * is checked against the same zod schema the pipeline writes with, so a reader never gets a
 * shape it was not promised.
 */
export async function readRun(db: Firestore, runId: string, collection = 'runs'): Promise<RunDocument | null> {
  const snapshot = await db.collection(collection).doc(runId).get();
  return snapshot.exists ? runDocumentSchema.parse(snapshot.data()) : null;
}

export async function listRuns(
  db: Firestore,
  filter: { state?: RunState; experiment?: string; limit?: number } = {},
  collection = 'runs',
): Promise<RunDocument[]> {
  const page = await listRunPage(db, { ...filter, pageSize: filter.limit ?? 50 }, collection);
  return page === 'bad-page-token' ? [] : page.runs;
}

/**
 * One page of runs, newest first. The next page starts after `nextPageToken` (the last run id
 * of this page); null when there is no more. Equality filters and the createTime range use the
 * composite indexes in infra/firestore.tf.
 */
export async function listRunPage(
  db: Firestore,
  query: Partial<ListQuery> & { pageSize: number },
  collection = 'runs',
): Promise<{ runs: RunDocument[]; nextPageToken: string | null } | 'bad-page-token'> {
  const runs = db.collection(collection);
  let q = runs.orderBy('createTime', 'desc').limit(query.pageSize + 1);
  if (query.state) q = q.where('state', '==', query.state);
  if (query.experiment) q = q.where('experiment', '==', query.experiment);
  if (query.since) q = q.where('createTime', '>=', query.since);
  if (query.until) q = q.where('createTime', '<', query.until);
  if (query.pageToken) {
    const last = await runs.doc(query.pageToken).get();
    // A token naming no run is not page 1: the caller is told, not silently sent back to the start.
    if (!last.exists) return 'bad-page-token';
    q = q.startAfter(last);
  }
  const snapshot = await q.get();
  const docs = snapshot.docs.slice(0, query.pageSize);
  return {
    runs: docs.map((doc) => runDocumentSchema.parse(doc.data())),
    nextPageToken: snapshot.docs.length > query.pageSize ? docs.at(-1)!.id : null,
  };
}
