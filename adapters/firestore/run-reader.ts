import type { Firestore } from '@google-cloud/firestore';
import { runDocumentSchema, type RunDocument, type RunState } from '../../shared/runs/schema.ts';

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
  let query = db.collection(collection).orderBy('createTime', 'desc').limit(filter.limit ?? 50);
  if (filter.state) query = query.where('state', '==', filter.state);
  if (filter.experiment) query = query.where('experiment', '==', filter.experiment);
  const snapshot = await query.get();
  return snapshot.docs.map((doc) => runDocumentSchema.parse(doc.data()));
}
