import type { Firestore } from '@google-cloud/firestore';
import { datasetDocumentSchema, mayClaimLaunch, type DatasetDocument } from '../../shared/datasets/schema.ts';

/** `datasets/{datasetId}`: one document per converted source object generation. */
export interface DatasetStore {
  get(datasetId: string): Promise<DatasetDocument | null>;
  /** Claims the conversion: 'convert' for the holder, 'in-hand' when another live holder has it, 'done' when finished. */
  claim(
    datasetId: string,
    fresh: () => DatasetDocument,
    holder: string,
    nowMs: number,
    leaseMs: number,
  ): Promise<'convert' | 'in-hand' | 'done'>;
  /** Writes the finished document if `holder` still holds the conversion. */
  finish(datasetId: string, holder: string, doc: DatasetDocument): Promise<boolean>;
  /** Claims the one launch of a dataset for `holder` when mayClaimLaunch allows it; false otherwise. */
  claimLaunch(datasetId: string, holder: string, nowMs: number): Promise<boolean>;
  recordLaunch(datasetId: string, launch: DatasetDocument['launch'], nowIso: string): Promise<void>;
  /**
   * Records this upload's content key (`uploads/{key}`) unless another dataset recorded it within
   * `windowMs`: then returns that one (its run is this upload's run). One transaction: of two
   * identical uploads at once, exactly one launches.
   */
  claimUpload(key: string, entry: UploadEntry, windowMs: number): Promise<UploadEntry | null>;
}

export interface UploadEntry {
  datasetId: string;
  runId: string;
  at: string;
}

/** Why `holder` may not convert: the conversion is finished, or another live delivery has it; null when it may. */
function elsewhere(doc: DatasetDocument, holder: string, nowMs: number): 'done' | 'in-hand' | null {
  if (doc.state !== 'CONVERTING') return 'done';
  if (doc.lease && doc.lease.holder !== holder && Date.parse(doc.lease.expiresAt) > nowMs) return 'in-hand';
  return null;
}

export function createDatasetStore(db: Firestore, collection = 'datasets', uploadsCollection = 'uploads'): DatasetStore {
  const ref = (id: string) => db.collection(collection).doc(id);
  const parse = (data: unknown) => datasetDocumentSchema.parse(data);
  return {
    claimUpload(key, entry, windowMs) {
      const upload = db.collection(uploadsCollection).doc(key);
      return db.runTransaction(async (tx) => {
        const snapshot = await tx.get(upload);
        const seen = snapshot.exists ? (snapshot.data() as UploadEntry) : null;
        if (seen && seen.datasetId !== entry.datasetId && Date.parse(entry.at) - Date.parse(seen.at) < windowMs) return seen;
        if (!seen || seen.datasetId !== entry.datasetId) tx.set(upload, entry);
        return null;
      });
    },
    async get(id) {
      const snapshot = await ref(id).get();
      return snapshot.exists ? parse(snapshot.data()) : null;
    },
    async claim(id, fresh, holder, nowMs, leaseMs) {
      // A plain read first: duplicates of a finished or in-hand conversion need no transaction (states only move forward).
      const seen = await ref(id).get();
      const early = seen.exists ? elsewhere(parse(seen.data()), holder, nowMs) : null;
      if (early) return early;
      return db.runTransaction(async (tx) => {
        const snapshot = await tx.get(ref(id));
        const lease = { holder, expiresAt: new Date(nowMs + leaseMs).toISOString() };
        if (!snapshot.exists) {
          tx.set(ref(id), parse({ ...fresh(), lease }));
          return 'convert' as const;
        }
        const doc = parse(snapshot.data());
        const taken = elsewhere(doc, holder, nowMs);
        if (taken) return taken;
        tx.set(ref(id), { ...doc, lease, updateTime: new Date(nowMs).toISOString() });
        return 'convert' as const;
      });
    },
    finish(id, holder, doc) {
      return db.runTransaction(async (tx) => {
        const snapshot = await tx.get(ref(id));
        if (!snapshot.exists || parse(snapshot.data()).lease?.holder !== holder) return false;
        tx.set(ref(id), parse({ ...doc, lease: null }));
        return true;
      });
    },
    async claimLaunch(id, holder, nowMs) {
      const seen = await ref(id).get();
      if (seen.exists && !mayClaimLaunch(parse(seen.data()).launch, nowMs)) return false;
      return db.runTransaction(async (tx) => {
        const snapshot = await tx.get(ref(id));
        if (!snapshot.exists) return false;
        const doc = parse(snapshot.data());
        if (doc.state !== 'CONVERTED' || !mayClaimLaunch(doc.launch, nowMs)) return false;
        const nowIso = new Date(nowMs).toISOString();
        tx.set(ref(id), { ...doc, launch: { ...doc.launch, state: 'CLAIMED', holder, claimedAt: nowIso }, updateTime: nowIso });
        return true;
      });
    },
    async recordLaunch(id, launch, nowIso) {
      await ref(id).update({ launch, updateTime: nowIso });
    },
  };
}
