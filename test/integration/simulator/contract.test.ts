import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyError } from '../../../shared/errors/classify.ts';
import { createBatchService } from '../../../adapters/vertex/batch.ts';
import { createMetricsReader } from '../../../adapters/vertex/metrics.ts';
import { createOnlinePredictor } from '../../../adapters/vertex/online.ts';
import { createTuningService } from '../../../adapters/vertex/tuning.ts';
import { checkRequest } from '../../../simulator/vertex/contract.ts';
import { PROTO_OVERLAYS } from '../../../simulator/vertex/proto-overlays.ts';
import { startVertexSimulator } from '../../../simulator/vertex/server.ts';
import { genaiForSimulator } from '../../support/vertex-clients.ts';

/**
 * Every request body the pipeline's Vertex adapters send, through the real SDK clients, checked
 * against the message types in the protos `@google-cloud/aiplatform` ships: a misspelled field,
 * a wrong enum or a path Vertex does not have fails here, not on a customer's first day.
 */
const options = (url: string) => ({ project: 'contract-project', location: 'us-central1', baseUrl: url, retries: 0 });

test("every call the adapters make keeps Google's published contract (tuning, batch, metrics, generateContent)", async () => {
  const sim = await startVertexSimulator({ timing: { pendingMs: 0, validationMs: 10, queueMs: 10, runMs: 60_000 } });
  try {
    const tuning = createTuningService(options(sim.url));
    const spec = {
      baseModel: 'gemini-3.5-flash-lite',
      trainingDatasetUri: 'gs://contract-datasets/train.jsonl',
      validationDatasetUri: 'gs://contract-datasets/validation.jsonl',
      hyperParameters: { epochCount: 2, learningRateMultiplier: 0.5, adapterSize: 4 as const },
      displayName: 'contract-run',
      labels: { run_id: 'run-contract', attempt: '1' },
    };
    const job = await tuning.create(spec);
    assert.equal((await tuning.get(job.name)).name, job.name);
    assert.deepEqual(
      (await tuning.findByLabels({ run_id: 'run-contract' })).map((j) => j.name),
      [job.name],
    );
    sim.control.advance(100);
    const training = await tuning.get(job.name);
    assert.equal(training.tuningJobState, 'TUNING_JOB_STATE_TUNING');
    sim.control.advance(30_000);
    const series = await createMetricsReader({ location: 'us-central1', baseUrl: sim.url }).read(training.experiment!);
    assert.ok(series.length > 0 && series.every((s) => s.points.length > 0), 'metric points read');
    await tuning.cancel(job.name);

    const batch = createBatchService(options(sim.url));
    const batchJob = await batch.create({
      model: 'gemini-3.5-flash-lite',
      inputUri: 'gs://contract-datasets/eval/requests.jsonl',
      outputPrefix: 'gs://contract-datasets/eval/base',
      displayName: 'contract-base-a1',
    });
    assert.equal((await batch.get(batchJob.name)).name, batchJob.name);
    assert.equal((await batch.findByDisplayName('contract-base-a1'))?.name, batchJob.name);
    await batch.cancel(batchJob.name);

    const predictor = createOnlinePredictor(options(sim.url));
    const answer = await predictor.predict('gemini-3.5-flash-lite', {
      contents: [{ role: 'user', parts: [{ text: 'hello' }] }],
      systemInstruction: { parts: [{ text: 'be brief' }] },
    });
    assert.equal(answer.status, '');

    assert.deepEqual(sim.control.contractRefusals(), [], 'no request broke the contract');
    const methods = new Set(sim.control.contractCalls().map((call) => call.method.replace(/^google\.cloud\.aiplatform\.v1(beta1)?\./, '')));
    for (const method of [
      'GenAiTuningService.CreateTuningJob',
      'GenAiTuningService.GetTuningJob',
      'GenAiTuningService.ListTuningJobs',
      'GenAiTuningService.CancelTuningJob',
      'JobService.CreateBatchPredictionJob',
      'JobService.GetBatchPredictionJob',
      'JobService.ListBatchPredictionJobs',
      'JobService.CancelBatchPredictionJob',
      'MetadataService.GetContext',
      'TensorboardService.ListTensorboardRuns',
      'TensorboardService.ListTensorboardTimeSeries',
      'TensorboardService.ExportTensorboardTimeSeriesData',
      'PredictionService.GenerateContent',
    ]) {
      assert.ok(methods.has(method), `${method} was called and checked (saw ${[...methods].join(', ')})`);
    }
  } finally {
    await sim.stop();
  }
});

test("a misspelled field sent through the real genai client is a 400 naming it, in Google's error shape", async () => {
  const sim = await startVertexSimulator();
  try {
    const ai = genaiForSimulator(sim.url);
    const refused = await ai.tunings
      .tune({
        baseModel: 'gemini-3.5-flash-lite',
        trainingDataset: { gcsUri: 'gs://contract-datasets/train.jsonl' },
        config: { tunedModelDisplayName: 'x', httpOptions: { extraBody: { tunedModelDisplayname: 'typo' } } },
      })
      .then(
        () => null,
        (error: Error & { status?: number }) => error,
      );
    assert.ok(refused, 'the request was refused');
    assert.equal(refused.status, 400);
    assert.match(
      classifyError(refused).message,
      /^INVALID_ARGUMENT: .*Unknown name "tunedModelDisplayname"/,
      'the pipeline reads the reason out of the error body',
    );
    assert.equal(sim.control.createdCount(), 0, 'no job was made');
  } finally {
    await sim.stop();
  }
});

test("the contract as Google's JSON parser reads it: proto names too, enums by name, oneofs, required fields, bound paths", async () => {
  const sim = await startVertexSimulator();
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${sim.url}${path}`, {
      method: 'POST',
      headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return {
      status: response.status,
      body: (await response.json()) as {
        error?: { message: string; status: string; details?: { fieldViolations: { field: string }[] }[] };
        name?: string;
      },
    };
  };
  const parent = '/v1beta1/projects/p/locations/us-central1';
  try {
    const snake = await post(`${parent}/tuningJobs`, {
      base_model: 'gemini-3.5-flash-lite',
      supervised_tuning_spec: { training_dataset_uri: 'gs://b/t.jsonl', hyper_parameters: { adapter_size: 'ADAPTER_SIZE_FOUR' } },
    });
    assert.equal(snake.status, 200, JSON.stringify(snake.body));
    assert.deepEqual(sim.control.jobs()[0]?.body.supervisedTuningSpec, {
      trainingDatasetUri: 'gs://b/t.jsonl',
      hyperParameters: { adapterSize: 'ADAPTER_SIZE_FOUR' },
    });

    const badEnum = await post(`${parent}/tuningJobs`, {
      baseModel: 'gemini-3.5-flash-lite',
      supervisedTuningSpec: { trainingDatasetUri: 'gs://b/t.jsonl', hyperParameters: { adapterSize: 'ADAPTER_SIZE_THREE' } },
    });
    assert.equal(badEnum.status, 400);
    assert.match(badEnum.body.error!.message, /supervised_tuning_spec\.hyper_parameters\.adapter_size.*"ADAPTER_SIZE_THREE"/);
    assert.equal(
      badEnum.body.error!.details?.[0]?.fieldViolations[0]?.field,
      'tuning_job.supervised_tuning_spec.hyper_parameters.adapter_size',
    );

    const both = await post(`${parent}/tuningJobs`, {
      baseModel: 'gemini-3.5-flash-lite',
      preTunedModel: { tunedModelName: 'projects/p/locations/us-central1/models/1@1' },
      supervisedTuningSpec: { trainingDatasetUri: 'gs://b/t.jsonl' },
    });
    assert.equal(both.status, 400);
    assert.match(both.body.error!.message, /Only one of 'base_model', 'pre_tuned_model'/);

    const noTraining = await post(`${parent}/tuningJobs`, {
      baseModel: 'gemini-3.5-flash-lite',
      supervisedTuningSpec: { validationDatasetUri: 'gs://b/v.jsonl' },
    });
    assert.equal(noTraining.status, 400);
    assert.match(noTraining.body.error!.message, /supervised_tuning_spec\.training_dataset_uri.*Required/);

    const batchNoName = await post(`/v1/projects/p/locations/us-central1/batchPredictionJobs`, {
      model: 'publishers/google/models/gemini-3.5-flash-lite',
      inputConfig: { instancesFormat: 'jsonl', gcsSource: { uris: ['gs://b/r.jsonl'] } },
      outputConfig: { predictionsFormat: 'jsonl', gcsDestination: { outputUriPrefix: 'gs://b/o' } },
    });
    assert.equal(batchNoName.status, 400);
    assert.match(batchNoName.body.error!.message, /display_name/);

    const nowhere = await post(`${parent}/tuningJobz`, {});
    assert.equal(nowhere.status, 404);
    assert.match(nowhere.body.error!.message, /Vertex AI has no method POST/);

    const list = await fetch(`${sim.url}${parent}/tuningJobs?pageSize=2&filtr=x`, { headers: { authorization: 'Bearer t' } });
    assert.equal(list.status, 400, 'an unknown query parameter is refused');
  } finally {
    await sim.stop();
  }
});

test("the one place that says where the shipped protos lag: preference tuning is checked against @google/genai's definition", () => {
  assert.ok(PROTO_OVERLAYS.every((overlay) => overlay.source.includes('@google/genai')));
  const url = new URL('http://x/v1beta1/projects/p/locations/us-central1/tuningJobs');
  const good = checkRequest('POST', url, {
    baseModel: 'gemini-3.5-flash-lite',
    preferenceOptimizationSpec: { trainingDatasetUri: 'gs://b/p.jsonl', hyperParameters: { beta: 0.1, epochCount: '2' } },
  });
  assert.equal(good.ok, true);
  const twoSpecs = checkRequest('POST', url, {
    baseModel: 'gemini-3.5-flash-lite',
    supervisedTuningSpec: { trainingDatasetUri: 'gs://b/t.jsonl' },
    preferenceOptimizationSpec: { trainingDatasetUri: 'gs://b/p.jsonl' },
  });
  assert.equal(twoSpecs.ok, false, 'one tuning spec at a time (oneof tuning_spec)');
});
