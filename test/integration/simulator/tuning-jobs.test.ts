import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JobState } from '@google/genai';
import { startVertexSimulator } from '../../../simulator/vertex/server.ts';
import { genaiForSimulator, tuningServiceForSimulator } from '../../support/vertex-clients.ts';

const tuneParams = (labels: Record<string, string> = {}) => ({
  baseModel: 'gemini-3.5-flash-lite',
  trainingDataset: { gcsUri: 'gs://sim-datasets/d1/train.jsonl' },
  config: { tunedModelDisplayName: 'tickets', epochCount: 3, labels },
});

test('the real genai client tunes, gets and cancels jobs; a job waits RUNNING with a detail state, as the SDK documents', async () => {
  // Phases far longer than a loaded machine's pauses between calls: only advance() moves a job.
  const timing = { pendingMs: 100, validationMs: 1000, queueMs: 1000, runMs: 1000, postProcessingMs: 1000, cancelMs: 60_000 };
  const sim = await startVertexSimulator({ timing });
  try {
    const ai = genaiForSimulator(sim.url);
    const job = await ai.tunings.tune(tuneParams({ run_id: 'run-a' }));
    // Vertex names resources by project number, whatever the caller said.
    assert.match(job.name ?? '', /^projects\/\d{12}\/locations\/us-central1\/tuningJobs\/\d+$/);
    assert.equal(job.state, JobState.JOB_STATE_PENDING);
    sim.control.advance(100);
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) {
      const now = await ai.tunings.get({ name: job.name! });
      seen.push(`${now.state}/${now.tuningJobState}`);
      sim.control.advance(1000);
    }
    assert.deepEqual(seen, [
      'JOB_STATE_RUNNING/TUNING_JOB_STATE_PROCESSING_DATASET',
      'JOB_STATE_RUNNING/TUNING_JOB_STATE_WAITING_FOR_CAPACITY',
      'JOB_STATE_RUNNING/TUNING_JOB_STATE_TUNING',
      'JOB_STATE_RUNNING/TUNING_JOB_STATE_POST_PROCESSING',
      'JOB_STATE_SUCCEEDED/TUNING_JOB_STATE_UNSPECIFIED',
    ]);
    const done = await ai.tunings.get({ name: job.name! });
    const parent = job.name!.split('/tuningJobs/')[0];
    assert.match(done.tunedModel?.model ?? '', new RegExp(`^${parent}/models/\\d+@1$`));
    const jobId = job.name!.split('/').at(-1)!;
    assert.notEqual(done.tunedModel!.model!.split('/').at(-1)!.split('@')[0], jobId, 'the model id is its own, not the job id');
    assert.notEqual(done.tunedModel!.endpoint!.split('/').at(-1), jobId, 'the endpoint id is its own too');
    assert.ok(done.startTime && done.endTime && done.experiment);
    assert.equal(
      done.startTime,
      new Date(Date.parse(done.createTime!) + 100).toISOString(),
      'startTime is when it first entered RUNNING, waits included',
    );
    assert.deepEqual(sim.control.jobs()[0]?.body.supervisedTuningSpec, {
      trainingDatasetUri: 'gs://sim-datasets/d1/train.jsonl',
      hyperParameters: { epochCount: 3 },
    });

    const second = await ai.tunings.tune(tuneParams());
    await ai.tunings.cancel({ name: second.name! });
    const cancelling = await ai.tunings.get({ name: second.name! });
    assert.equal(cancelling.state, JobState.JOB_STATE_CANCELLING, 'cancel is asynchronous');
    sim.control.advance(60_000);
    const cancelled = await ai.tunings.get({ name: second.name! });
    assert.equal(cancelled.state, JobState.JOB_STATE_CANCELLED);
    assert.equal(cancelled.error?.code, 1, 'google.rpc.Code.CANCELLED, as CancelTuningJob says');
  } finally {
    await sim.stop();
  }
});

test('the project quota: jobs over it wait RUNNING / WAITING_FOR_QUOTA in creation order, a cancelled waiter never takes it', async () => {
  // Long phases, so the real milliseconds a loaded machine adds between calls cannot move a job across one.
  const timing = { pendingMs: 0, validationMs: 100_000, queueMs: 100, runMs: 1000, postProcessingMs: 0, cancelMs: 50 };
  const sim = await startVertexSimulator({ timing, concurrentTuningJobs: 1 });
  try {
    const ai = genaiForSimulator(sim.url);
    const [a, b, c] = [await ai.tunings.tune(tuneParams()), await ai.tunings.tune(tuneParams()), await ai.tunings.tune(tuneParams())];
    const details = async () =>
      Promise.all(
        [a, b, c].map(
          async (job) => (await ai.tunings.get({ name: job.name! })).tuningJobState ?? (await ai.tunings.get({ name: job.name! })).state,
        ),
      );
    sim.control.advance(100_300);
    assert.deepEqual(await details(), [
      'TUNING_JOB_STATE_TUNING',
      'TUNING_JOB_STATE_WAITING_FOR_QUOTA',
      'TUNING_JOB_STATE_WAITING_FOR_QUOTA',
    ]);
    await ai.tunings.cancel({ name: b.name! });
    // a ends at 101.1 s; c (not b) takes the quota then and is checking its dataset until 201.1 s.
    sim.control.advance(50_000);
    const [aNow, bNow, cNow] = await Promise.all([a, b, c].map((job) => ai.tunings.get({ name: job.name! })));
    assert.deepEqual(
      [aNow?.state, bNow?.state, cNow?.tuningJobState],
      ['JOB_STATE_SUCCEEDED', 'JOB_STATE_CANCELLED', 'TUNING_JOB_STATE_PROCESSING_DATASET'],
    );
  } finally {
    await sim.stop();
  }
});

test('a cancel can lose the race: the job goes CANCELLING, then SUCCEEDED with its model', async () => {
  const sim = await startVertexSimulator({ timing: { pendingMs: 0, validationMs: 10, queueMs: 10, runMs: 600_000, cancelMs: 60_000 } });
  try {
    const ai = genaiForSimulator(sim.url);
    const job = await ai.tunings.tune(tuneParams());
    sim.control.advance(500);
    sim.control.succeedNextCancelledJobs(1);
    await ai.tunings.cancel({ name: job.name! });
    assert.equal((await ai.tunings.get({ name: job.name! })).state, JobState.JOB_STATE_CANCELLING);
    sim.control.advance(60_000);
    const ended = await ai.tunings.get({ name: job.name! });
    assert.equal(ended.state, JobState.JOB_STATE_SUCCEEDED);
    assert.ok(ended.tunedModel?.model);
    await assert.rejects(
      ai.tunings.cancel({ name: job.name! }),
      (error: Error & { status?: number }) => error.status === 400,
      'a finished job cannot be cancelled',
    );
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
    sim.control.ignoreListFilters(true);
    const unfiltered: string[] = [];
    for await (const job of await ai.tunings.list({ config: { filter: 'labels.run_id="run-1"' } }))
      unfiltered.push(job.labels?.run_id ?? '');
    assert.equal(unfiltered.length, 7, 'with the knob, the filter is ignored (callers must re-check labels)');
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
    assert.equal(stuckNow.state, JobState.JOB_STATE_RUNNING, 'a job waiting for capacity is RUNNING to Vertex');
    const raw = await fetch(`${sim.url}/v1beta1/${stuck.name}`, { headers: { authorization: 'Bearer t' } });
    assert.equal(
      ((await raw.json()) as { tuningJobState?: string }).tuningJobState,
      'TUNING_JOB_STATE_WAITING_FOR_CAPACITY',
      'why it waits, as the detailed state says',
    );
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

test("requests Vertex would refuse are refused in Vertex's error shape", async () => {
  const sim = await startVertexSimulator();
  try {
    const ai = genaiForSimulator(sim.url);
    await assert.rejects(
      ai.tunings.tune({ ...tuneParams(), baseModel: 'text-bison-001' }),
      (error: Error & { status?: number }) => error.status === 400 && /not supported/.test(error.message),
    );
    // "Model versions and lifecycle": a request naming a retired model typically returns 404.
    await assert.rejects(
      ai.tunings.tune({ ...tuneParams(), baseModel: 'gemini-2.0-flash-001' }),
      (error: Error & { status?: number }) => error.status === 404 && /retired on 2026-06-01/.test(error.message),
    );
    // A Gemini id released after the catalogue was read is taken, as Vertex would take it.
    assert.match((await ai.tunings.tune({ ...tuneParams(), baseModel: 'gemini-4-flash' })).name ?? '', /tuningJobs\/\d+$/);
    await assert.rejects(
      ai.tunings.get({ name: 'projects/sim-project/locations/us-central1/tuningJobs/42' }),
      (error: Error & { status?: number }) => error.status === 404,
    );
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
    assert.equal(got.state, 'JOB_STATE_RUNNING');
    const [listed] = await client.listTuningJobs(
      { parent: 'projects/sim-project/locations/us-central1', filter: 'labels.run_id="run-z"' },
      { autoPaginate: true },
    );
    assert.deepEqual(
      listed.map((j) => j.name),
      [job.name],
    );
    await client.cancelTuningJob({ name: job.name! });
    sim.control.advance(1000);
    const [cancelled] = await client.getTuningJob({ name: job.name! });
    assert.equal(cancelled.state, 'JOB_STATE_CANCELLED');
  } finally {
    await client.close();
    await sim.stop();
  }
});
