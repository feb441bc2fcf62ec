import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JobState } from '@google/genai';
import { startVertexSimulator } from '../../../simulator/vertex/server.ts';
import { genaiForSimulator, tuningServiceForSimulator } from '../../support/vertex-clients.ts';

const tuneParams = (labels: Record<string, string> = {}) => ({
  baseModel: 'gemini-2.5-flash',
  trainingDataset: { gcsUri: 'gs://sim-datasets/d1/train.jsonl' },
  config: { tunedModelDisplayName: 'tickets', epochCount: 3, labels },
});

test('the real genai client tunes, gets and cancels jobs on the simulator; states walk queued → pending → running → succeeded', async () => {
  const sim = await startVertexSimulator({ timing: { validationMs: 1000, queueMs: 1000, runMs: 1000 } });
  try {
    const ai = genaiForSimulator(sim.url);
    const job = await ai.tunings.tune(tuneParams({ run_id: 'run-a' }));
    assert.match(job.name ?? '', /^projects\/sim-project\/locations\/us-central1\/tuningJobs\/\d+$/);
    assert.equal(job.state, JobState.JOB_STATE_QUEUED);
    const states: string[] = [];
    for (let i = 0; i < 4; i++) {
      states.push(String((await ai.tunings.get({ name: job.name! })).state));
      sim.control.advance(1000);
    }
    assert.deepEqual(states, ['JOB_STATE_QUEUED', 'JOB_STATE_PENDING', 'JOB_STATE_RUNNING', 'JOB_STATE_SUCCEEDED']);
    const done = await ai.tunings.get({ name: job.name! });
    assert.match(done.tunedModel?.model ?? '', /\/models\/\d+@1$/);
    assert.ok(done.startTime && done.endTime && done.experiment);
    assert.deepEqual(sim.control.jobs()[0]?.body.supervisedTuningSpec, { trainingDatasetUri: 'gs://sim-datasets/d1/train.jsonl', hyperParameters: { epochCount: 3 } });

    const second = await ai.tunings.tune(tuneParams());
    await ai.tunings.cancel({ name: second.name! });
    assert.equal((await ai.tunings.get({ name: second.name! })).state, JobState.JOB_STATE_CANCELLED);
  } finally {
    await sim.stop();
  }
});

test('list pages through every job and filters by label, as the launcher finds a job by run id', async () => {
  const sim = await startVertexSimulator();
  try {
    const ai = genaiForSimulator(sim.url);
    for (let i = 0; i < 7; i++) await ai.tunings.tune(tuneParams({ run_id: `run-${i % 3}` }));
    const names: string[] = [];
    for await (const job of await ai.tunings.list({ config: { pageSize: 2 } })) names.push(job.name!);
    assert.equal(new Set(names).size, 7, 'four pages, no job twice, and the pager stops');
    const labelled: string[] = [];
    for await (const job of await ai.tunings.list({ config: { filter: 'labels.run_id="run-1"' } })) labelled.push(job.labels?.run_id ?? '');
    assert.deepEqual(labelled, ['run-1', 'run-1']);
    await assert.rejects(ai.tunings.list({ config: { filter: 'display_name="x"' } }), /unsupported filter/);
  } finally {
    await sim.stop();
  }
});

test('knobs: a stuck job never leaves the queue, a failing job ends FAILED with its error, 429s surface to the client', async () => {
  const sim = await startVertexSimulator({ timing: { validationMs: 10, queueMs: 10, runMs: 10 } });
  try {
    const ai = genaiForSimulator(sim.url);
    sim.control.stickNextJobs(1);
    const stuck = await ai.tunings.tune(tuneParams());
    sim.control.failNextJobs(1, { code: 8, message: 'Resource exhausted: no capacity (simulated)' });
    const failing = await ai.tunings.tune(tuneParams());
    sim.control.advance(3 * 24 * 3600 * 1000);
    const stuckNow = await ai.tunings.get({ name: stuck.name! });
    assert.equal(stuckNow.state, JobState.JOB_STATE_PENDING);
    const raw = await fetch(`${sim.url}/v1beta1/${stuck.name}`, { headers: { authorization: 'Bearer t' } });
    assert.equal(((await raw.json()) as { tuningJobState?: string }).tuningJobState, 'TUNING_JOB_STATE_WAITING_FOR_CAPACITY', 'why it waits, as the detailed state says');
    const failed = await ai.tunings.get({ name: failing.name! });
    assert.equal(failed.state, JobState.JOB_STATE_FAILED);
    assert.equal(failed.error?.message, 'Resource exhausted: no capacity (simulated)');

    sim.control.failNextCalls(2, 429, { method: 'POST' });
    await assert.rejects(ai.tunings.tune(tuneParams()), (error: Error & { status?: number }) => error.status === 429);
    await assert.rejects(ai.tunings.tune(tuneParams()), (error: Error & { status?: number }) => error.status === 429);
    assert.ok((await ai.tunings.tune(tuneParams())).name, 'the third call goes through');
  } finally {
    await sim.stop();
  }
});

test('requests Vertex would refuse are refused in Vertex\'s error shape', async () => {
  const sim = await startVertexSimulator();
  try {
    const ai = genaiForSimulator(sim.url);
    await assert.rejects(ai.tunings.tune({ ...tuneParams(), baseModel: 'gemini-0.1-nonexistent' }), (error: Error & { status?: number }) => error.status === 400 && /not supported/.test(error.message));
    await assert.rejects(ai.tunings.get({ name: 'projects/sim-project/locations/us-central1/tuningJobs/42' }), (error: Error & { status?: number }) => error.status === 404);
    const raw = await fetch(`${sim.url}/v1beta1/projects/p/locations/l/tuningJobs`, { method: 'GET' });
    assert.equal(raw.status, 401);
    assert.deepEqual(Object.keys(((await raw.json()) as { error: object }).error).sort(), ['code', 'message', 'status']);
  } finally {
    await sim.stop();
  }
});

test('the real aiplatform client (REST transport) gets, lists by label and cancels the same jobs', async () => {
  const sim = await startVertexSimulator({ timing: { validationMs: 50, queueMs: 60_000, runMs: 1000 } });
  const client = await tuningServiceForSimulator(sim.url);
  try {
    const job = await genaiForSimulator(sim.url).tunings.tune(tuneParams({ run_id: 'run-z' }));
    sim.control.advance(100);
    const [got] = await client.getTuningJob({ name: job.name! });
    assert.equal(got.state, 'JOB_STATE_PENDING');
    const [listed] = await client.listTuningJobs({ parent: 'projects/sim-project/locations/us-central1', filter: 'labels.run_id="run-z"' }, { autoPaginate: true });
    assert.deepEqual(listed.map((j) => j.name), [job.name]);
    await client.cancelTuningJob({ name: job.name! });
    const [cancelled] = await client.getTuningJob({ name: job.name! });
    assert.equal(cancelled.state, 'JOB_STATE_CANCELLED');
  } finally {
    await client.close();
    await sim.stop();
  }
});
