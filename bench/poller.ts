/**
 * Poller cost grows with active runs only: 1,000 active runs among 100,000 finished ones, one
 * tick against the Firestore emulator and the Vertex AI simulator. Prints the tick's duration,
 * the Firestore documents it read and the Vertex calls it made; nothing is asserted.
 * Usage: node bench/poller.ts [--active 1000] [--finished 100000] [--concurrency 8 (POLL_CONCURRENCY)]
 */
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { createFirestore } from '../adapters/firestore/run-store.ts';
import { createPollStore } from '../adapters/firestore/poll-store.ts';
import { createBatchService } from '../adapters/vertex/batch.ts';
import { createTuningService } from '../adapters/vertex/tuning.ts';
import { startFirestoreEmulator } from '../emulators/firestore.ts';
import { ACTIVE_PAGE_SIZE, runTick } from '../functions/poller/tick.ts';
import { newRun } from '../shared/launch/decide.ts';
import { launchMessageSchema } from '../shared/launch/schema.ts';
import { createLogger } from '../shared/log.ts';
import { RUN_ID_LABEL } from '../shared/runs/labels.ts';
import { newAttempt, type RunDocument } from '../shared/runs/schema.ts';
import { applyTransition } from '../shared/runs/transitions.ts';
import { startVertexSimulator } from '../simulator/vertex/server.ts';

// Off Google Cloud: no metadata server to look for.
process.env.METADATA_SERVER_DETECTION = 'none';
const { values } = parseArgs({
  options: {
    active: { type: 'string', default: '1000' },
    finished: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '8' },
  },
});
const active = Number(values.active);
const finished = Number(values.finished);

const firestore = await startFirestoreEmulator();
process.env.FIRESTORE_EMULATOR_HOST = firestore.host;
const sim = await startVertexSimulator({ timing: { validationMs: 1, queueMs: 10 * 60_000, runMs: 60 * 60_000 } });
const db = createFirestore(`bench-${randomUUID().slice(0, 8)}`);
const tuning = createTuningService({ project: 'bench', location: 'us-central1', baseUrl: sim.url });
try {
  const message = launchMessageSchema.parse({
    schemaVersion: 1,
    experiment: 'bench',
    baseModel: 'gemini-3.5-flash-lite',
    trainingDatasetUri: 'gs://bench-datasets/t.jsonl',
    source: 'bench',
  });
  const now = new Date().toISOString();
  const seedStart = performance.now();
  const write = async (docs: RunDocument[]) => {
    for (let i = 0; i < docs.length; i += 500) {
      const batch = db.batch();
      for (const doc of docs.slice(i, i + 500)) batch.set(db.collection('runs').doc(doc.runId), doc);
      await batch.commit();
    }
  };
  const base = (id: string) => ({ ...newRun(message, now), runId: id });
  const finishedRuns: RunDocument[] = [];
  for (let i = 0; i < finished; i++) {
    finishedRuns.push(applyTransition(applyTransition(base(`done-${i}`), 'FAILED', 'bench', now), 'FAILED', 'bench', now));
    if (finishedRuns.length === 5000) await write(finishedRuns.splice(0));
  }
  await write(finishedRuns);
  const activeRuns: RunDocument[] = [];
  for (let i = 0; i < active; i++) {
    const runId = `active-${i}`;
    const job = await tuning.create({
      baseModel: 'gemini-3.5-flash-lite',
      trainingDatasetUri: 'gs://bench-datasets/t.jsonl',
      hyperParameters: {},
      displayName: runId,
      labels: { [RUN_ID_LABEL]: runId },
    });
    const attempt = newAttempt({ number: 1, jobName: job.name, submittedAt: now, reason: 'bench' });
    activeRuns.push(applyTransition(base(runId), 'SUBMITTED', 'bench', now, { attempts: [attempt], currentJobName: job.name }));
  }
  await write(activeRuns);
  console.log(`seeded ${finished} finished and ${active} active runs in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);

  const deps = {
    store: createPollStore(db),
    tuning,
    batch: createBatchService({ project: 'bench', location: 'us-central1', baseUrl: sim.url }),
    events: { publish: async () => {} },
    log: createLogger('bench', { sink: { write: () => {} } }),
    now: Date.now,
    policy: { stuckAfterMs: 6 * 3600_000, maxAttempts: 3, runningWarningMs: 24 * 3600_000 },
    concurrency: Number(values.concurrency),
    leaseMs: 300_000,
  };
  // The query alone: what the Firestore emulator costs, apart from Vertex's calls.
  {
    const store = createPollStore(db);
    const start = performance.now();
    let after: RunDocument | undefined;
    let pages = 0;
    for (;;) {
      const page = await store.activePage(ACTIVE_PAGE_SIZE, after);
      pages += 1;
      if (page.length < ACTIVE_PAGE_SIZE) break;
      after = page.at(-1);
    }
    console.log(`the active-runs query alone: ${pages} pages in ${((performance.now() - start) / 1000).toFixed(2)} s`);
  }
  for (const label of ['first tick (every run moves to PENDING)', 'second tick (nothing new)']) {
    const start = performance.now();
    const stats = await runTick(deps);
    const seconds = (performance.now() - start) / 1000;
    console.log(
      `${label}: ${seconds.toFixed(2)} s, Firestore documents read by the query: ${stats.runsRead}, Vertex calls ${stats.vertexCalls} (a read per run, and one list per 40 runs whose attempt is under 15 min old, for twin jobs), runs updated ${stats.updated} (of ${active + finished} runs in all)`,
    );
  }
} finally {
  await db.terminate();
  await sim.stop();
  await firestore.stop();
}
