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

const line = (q: string, a: string) =>
  JSON.stringify({
    contents: [
      { role: 'user', parts: [{ text: q }] },
      { role: 'model', parts: [{ text: a }] },
    ],
  });

test('like Vertex, the simulator reads the dataset from storage and fails the job on the first invalid line', async () => {
  const store = createObjectStore(new Storage({ projectId: 'p' }));
  await store.write('gs://sim-datasets/good/train.jsonl', [line('hi', 'hello'), line('bye', 'goodbye')].join('\n') + '\n');
  await store.write(
    'gs://sim-datasets/bad/train.jsonl',
    [
      line('hi', 'hello'),
      JSON.stringify({
        contents: [
          { role: 'user', parts: [{ text: 'q' }] },
          { role: 'user', parts: [{ text: 'q2' }] },
        ],
      }),
    ].join('\n') + '\n',
  );
  const sim = await startVertexSimulator({
    timing: { validationMs: 10, queueMs: 10, runMs: 10 },
    readDataset: (uri) => store.read(uri),
    tokens: loadGemmaTokenizer(),
  });
  try {
    const ai = genaiForSimulator(sim.url);
    const good = await ai.tunings.tune({
      baseModel: 'gemini-3.5-flash-lite',
      trainingDataset: { gcsUri: 'gs://sim-datasets/good/train.jsonl' },
    });
    const bad = await ai.tunings.tune({
      baseModel: 'gemini-3.5-flash-lite',
      trainingDataset: { gcsUri: 'gs://sim-datasets/bad/train.jsonl' },
    });
    const missing = await ai.tunings.tune({
      baseModel: 'gemini-3.5-flash-lite',
      trainingDataset: { gcsUri: 'gs://sim-datasets/nope/train.jsonl' },
    });
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

test("preference tuning (@google/genai's PREFERENCE_TUNING): the simulator takes preferenceOptimizationSpec, checks the preference format, and reports preference data stats; the same file as supervised tuning fails validation", async () => {
  const store = createObjectStore(new Storage({ projectId: 'p' }));
  const golden = new URL('../../golden/llama-factory-dpo/train.jsonl', import.meta.url);
  const { readFileSync } = await import('node:fs');
  await store.write('gs://sim-datasets/dpo/train.jsonl', readFileSync(golden, 'utf8'));
  const endsWithModel = JSON.stringify({
    contents: [
      { role: 'user', parts: [{ text: 'q' }] },
      { role: 'model', parts: [{ text: 'a' }] },
    ],
    completions: [
      { score: 1, completion: { role: 'model', parts: [{ text: 'x' }] } },
      { score: 0, completion: { role: 'model', parts: [{ text: 'y' }] } },
    ],
  });
  await store.write('gs://sim-datasets/dpo-bad/train.jsonl', endsWithModel + '\n');
  const tokens = loadGemmaTokenizer();
  const sim = await startVertexSimulator({
    timing: { validationMs: 10, queueMs: 10, runMs: 10 },
    readDataset: (uri) => store.read(uri),
    tokens,
  });
  try {
    const ai = genaiForSimulator(sim.url);
    const preference = await ai.tunings.tune({
      baseModel: 'gemini-3.5-flash',
      trainingDataset: { gcsUri: 'gs://sim-datasets/dpo/train.jsonl' },
      config: { method: 'PREFERENCE_TUNING' as never, beta: 0.1, epochCount: 1 },
    });
    const asSupervised = await ai.tunings.tune({
      baseModel: 'gemini-3.5-flash',
      trainingDataset: { gcsUri: 'gs://sim-datasets/dpo/train.jsonl' },
    });
    const badPrompt = await ai.tunings.tune({
      baseModel: 'gemini-3.5-flash',
      trainingDataset: { gcsUri: 'gs://sim-datasets/dpo-bad/train.jsonl' },
      config: { method: 'PREFERENCE_TUNING' as never },
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    sim.control.advance(60_000);
    const done = await ai.tunings.get({ name: preference.name! });
    assert.equal(done.state, JobState.JOB_STATE_SUCCEEDED);
    assert.equal(
      (done as { preferenceOptimizationSpec?: { hyperParameters?: { beta?: number } } }).preferenceOptimizationSpec?.hyperParameters?.beta,
      0.1,
      'the spec the job was created with',
    );
    const stats = done.tuningDataStats?.preferenceOptimizationDataStats;
    assert.equal(stats?.tuningDatasetExampleCount, '3');
    // Billing per example: prompt tokens × 2 + completion tokens ("About preference tuning", Pricing).
    const examples = readFileSync(golden, 'utf8')
      .trim()
      .split('\n')
      .map(
        (row) =>
          JSON.parse(row) as {
            systemInstruction?: { parts: { text: string }[] };
            contents: { parts: { text: string }[] }[];
            completions: { completion: { parts: { text: string }[] } }[];
          },
      );
    const count = (parts: { text: string }[]) => parts.reduce((sum, part) => sum + tokens.count(part.text), 0);
    const expected = examples.reduce(
      (sum, e) =>
        sum +
        2 * (e.contents.reduce((n, c) => n + count(c.parts), 0) + count(e.systemInstruction?.parts ?? [])) +
        e.completions.reduce((n, c) => n + count(c.completion.parts), 0),
      0,
    );
    assert.equal(stats?.totalBillableTokenCount, String(expected));
    const failed = await ai.tunings.get({ name: asSupervised.name! });
    assert.equal(failed.state, JobState.JOB_STATE_FAILED);
    assert.match(failed.error?.message ?? '', /unknown field "completions"/);
    const refused = await ai.tunings.get({ name: badPrompt.name! });
    assert.equal(refused.state, JobState.JOB_STATE_FAILED);
    assert.match(
      refused.error?.message ?? '',
      /line 1 contents\[1\]\.role: the prompt \(contents\) of a preference example must end with a user turn/,
    );
  } finally {
    await sim.stop();
  }
});
