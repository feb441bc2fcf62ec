import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Storage } from '@google-cloud/storage';
import { JobState } from '@google/genai';
import { createObjectStore } from '../../../adapters/storage/object-store.ts';
import { loadGemmaTokenizer } from '../../../adapters/tokenizer/index.ts';
import { startStorageEmulator, type StorageEmulator } from '../../../emulators/storage/server.ts';
import { startVertexSimulator } from '../../../simulator/vertex/server.ts';
import { genaiForSimulator } from '../../support/vertex-clients.ts';

let storageEmulator: StorageEmulator;
before(async () => {
  storageEmulator = await startStorageEmulator();
  process.env.STORAGE_EMULATOR_HOST = storageEmulator.url;
  await new Storage({ projectId: 'p' }).createBucket('sim-datasets');
});
after(async () => storageEmulator.stop());

const line = (q: string, a: string) => JSON.stringify({ contents: [{ role: 'user', parts: [{ text: q }] }, { role: 'model', parts: [{ text: a }] }] });

test('like Vertex, the simulator reads the dataset from storage and fails the job on the first invalid line', async () => {
  const store = createObjectStore(new Storage({ projectId: 'p' }));
  await store.write('gs://sim-datasets/good/train.jsonl', [line('hi', 'hello'), line('bye', 'goodbye')].join('\n') + '\n');
  await store.write('gs://sim-datasets/bad/train.jsonl', [line('hi', 'hello'), JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'q' }] }, { role: 'user', parts: [{ text: 'q2' }] }] })].join('\n') + '\n');
  const sim = await startVertexSimulator({ timing: { validationMs: 10, queueMs: 10, runMs: 10 }, readDataset: (uri) => store.read(uri), tokens: loadGemmaTokenizer() });
  try {
    const ai = genaiForSimulator(sim.url);
    const good = await ai.tunings.tune({ baseModel: 'gemini-3.5-flash-lite', trainingDataset: { gcsUri: 'gs://sim-datasets/good/train.jsonl' } });
    const bad = await ai.tunings.tune({ baseModel: 'gemini-3.5-flash-lite', trainingDataset: { gcsUri: 'gs://sim-datasets/bad/train.jsonl' } });
    const missing = await ai.tunings.tune({ baseModel: 'gemini-3.5-flash-lite', trainingDataset: { gcsUri: 'gs://sim-datasets/nope/train.jsonl' } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    sim.control.advance(60_000);
    const goodNow = await ai.tunings.get({ name: good.name! });
    assert.equal(goodNow.state, JobState.JOB_STATE_SUCCEEDED);
    assert.deepEqual(goodNow.tuningDataStats?.supervisedTuningDataStats?.tuningDatasetExampleCount, '2');
    const badNow = await ai.tunings.get({ name: bad.name! });
    assert.equal(badNow.state, JobState.JOB_STATE_FAILED);
    assert.match(badNow.error?.message ?? '', /train\.jsonl line 2 contents\[1\]\.role: two "user" turns in a row/);
    const missingNow = await ai.tunings.get({ name: missing.name! });
    assert.equal(missingNow.state, JobState.JOB_STATE_FAILED);
    assert.match(missingNow.error?.message ?? '', /cannot read the dataset/);
  } finally {
    await sim.stop();
  }
});
