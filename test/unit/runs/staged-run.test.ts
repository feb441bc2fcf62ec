import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchRefusal, newRun } from '../../../shared/launch/decide.ts';
import { launchMessageSchema, runIdFor } from '../../../shared/launch/schema.ts';
import { preferredAnswerExample } from '../../../shared/gemini/preference.ts';
import { toInferenceCase } from '../../../shared/evaluation/inference-input.ts';
import { decidePoll } from '../../../shared/runs/poll.ts';
import { newAttempt, type RunDocument } from '../../../shared/runs/schema.ts';
import { currentStage, plannedStages, preferredAnswersUri, stageAttempts, stageCost, stageJob } from '../../../shared/runs/stages.ts';
import { getModelSpec } from '../../../shared/gemini/models.ts';
import { applyTransition } from '../../../shared/runs/transitions.ts';

const T0 = Date.parse('2026-11-30T00:00:00Z');
const HOUR = 3_600_000;
const policy = { stuckAfterMs: 6 * HOUR, maxAttempts: 2, runningWarningMs: 24 * HOUR };
const staged = {
  schemaVersion: 1,
  experiment: 'e',
  baseModel: 'gemini-3.5-flash',
  stages: ['SUPERVISED', 'PREFERENCE'],
  trainingDatasetUri: 'gs://bkt/prefs.jsonl',
  validationDatasetUri: 'gs://bkt/prefs-validation.jsonl',
  hyperParameters: { epochCount: 2, beta: 0.2 },
  source: 's',
};
const STAGE1_MODEL = 'projects/p/locations/us-central1/models/111@1';

/** A staged run as the launcher records it, its first stage's job submitted `attempts` times. */
function stagedRun(attempts = 1): RunDocument {
  const message = launchMessageSchema.parse(staged);
  const run = newRun(message, new Date(T0).toISOString());
  const stages = plannedStages(
    message,
    { trainingDatasetUri: 'gs://bkt/prefs.jsonl', validationDatasetUri: 'gs://bkt/prefs-validation.jsonl' },
    {
      trainingDatasetUri: preferredAnswersUri('bkt', run.runId, 'training'),
      validationDatasetUri: preferredAnswersUri('bkt', run.runId, 'validation'),
    },
  );
  const list = Array.from({ length: attempts }, (_, i) =>
    newAttempt({ number: i + 1, jobName: `jobs/${i + 1}`, submittedAt: new Date(T0).toISOString(), reason: 'r' }),
  );
  const at = new Date(T0).toISOString();
  return applyTransition(applyTransition(run, 'SUBMITTED', 'submitted', at), 'RUNNING', 'running', at, {
    attempts: list.map((a) => ({ ...a, startedAt: new Date(T0).toISOString() })),
    currentJobName: `jobs/${attempts}`,
    stages,
  });
}

test('the launch schema takes stages SUPERVISED → PREFERENCE only, never beside method, and a staged run is a run of its own', () => {
  const parsed = launchMessageSchema.parse(staged);
  assert.deepEqual(parsed.stages, ['SUPERVISED', 'PREFERENCE']);
  const { stages: _stages, ...single } = staged;
  assert.notEqual(runIdFor(parsed), runIdFor(launchMessageSchema.parse({ ...single, method: 'PREFERENCE' })));
  const reversed = launchMessageSchema.safeParse({ ...staged, stages: ['PREFERENCE', 'SUPERVISED'] });
  assert.equal(reversed.success, false);
  assert.match(JSON.stringify(reversed.error?.issues), /the one staged run is \[\\"SUPERVISED\\", \\"PREFERENCE\\"\]/);
  const both = launchMessageSchema.safeParse({ ...staged, method: 'PREFERENCE' });
  assert.match(JSON.stringify(both.error?.issues), /either method \(one job\) or stages/);
  // beta belongs to the preference stage; a model without preference or continuous tuning is refused.
  assert.equal(launchRefusal(parsed, T0), null);
  assert.match(
    launchRefusal(launchMessageSchema.parse({ ...staged, baseModel: 'gemini-3.5-flash-lite' }), T0) ?? '',
    /gemini-3\.5-flash-lite does not take continuous tuning .* which a staged run's second stage is/,
  );
});

test("stage 1 trains on the preferred answers without beta; stage 2 is preference tuning from stage 1's model, with beta", () => {
  const run = stagedRun();
  const first = stageJob(run, 1);
  assert.deepEqual(first, {
    method: 'SUPERVISED',
    trainingDatasetUri: `gs://bkt/derived/${run.runId}/stage-1-training.jsonl`,
    validationDatasetUri: `gs://bkt/derived/${run.runId}/stage-1-validation.jsonl`,
    hyperParameters: { epochCount: 2 },
  });
  assert.throws(() => stageJob(run, 2), /stage 2 cannot start: stage 1 has no tuned model recorded/);
  const done = {
    ...run,
    stages: run.stages!.map((s) => (s.number === 1 ? { ...s, tunedModel: { model: STAGE1_MODEL, endpoint: null } } : s)),
  };
  assert.deepEqual(stageJob(done, 2), {
    method: 'PREFERENCE',
    preTunedModel: { tunedModelName: STAGE1_MODEL },
    trainingDatasetUri: 'gs://bkt/prefs.jsonl',
    validationDatasetUri: 'gs://bkt/prefs-validation.jsonl',
    hyperParameters: { epochCount: 2, beta: 0.2 },
  });
});

test("stage 1's success records its model and moves to stage 2; stage 2's attempts are counted afresh by the stuck policy", () => {
  const run = stagedRun(2);
  const decision = decidePoll(
    run,
    {
      name: 'jobs/2',
      state: 'JOB_STATE_SUCCEEDED',
      endTime: new Date(T0 + HOUR).toISOString(),
      tunedModel: { model: STAGE1_MODEL, endpoint: 'e' },
    },
    T0 + HOUR,
    policy,
  );
  assert.equal(decision.action, 'advance');
  if (decision.action !== 'advance') return;
  assert.equal(decision.stage, 2);
  assert.match(decision.reason, /stage 1 \(SUPERVISED\) succeeded with .*models\/111@1: stage 2 \(PREFERENCE\) continues from it/);
  assert.deepEqual(decision.changes.stages?.[0]?.tunedModel, { model: STAGE1_MODEL, endpoint: 'e' });
  assert.equal(decision.changes.stages?.[1]?.tunedModel, null);
  assert.equal(decision.changes.attempts?.at(-1)?.endState, 'JOB_STATE_SUCCEEDED');

  // Stage 2's first job waits past the threshold: stage 1 used both attempts, yet stage 2 gets its own.
  const inStage2 = applyTransition({ ...run, ...decision.changes }, 'SUBMITTED', decision.reason, new Date(T0 + HOUR).toISOString(), {
    attempts: [
      ...decision.changes.attempts!,
      newAttempt({ number: 3, jobName: 'jobs/3', submittedAt: new Date(T0 + HOUR).toISOString(), reason: 'stage 2', stage: 2 }),
    ],
    currentJobName: 'jobs/3',
  });
  assert.equal(currentStage(inStage2), 2);
  assert.equal(stageAttempts(inStage2).length, 1);
  const stuck = decidePoll(
    inStage2,
    { name: 'jobs/3', state: 'JOB_STATE_PENDING', createTime: new Date(T0 + HOUR).toISOString() },
    T0 + 8 * HOUR,
    policy,
  );
  assert.equal(stuck.action, 'resubmit');
  // Stage 2 succeeding is the run's success: its model is the run's tuned model.
  const last = decidePoll(
    inStage2,
    {
      name: 'jobs/3',
      state: 'JOB_STATE_SUCCEEDED',
      tunedModel: { model: 'projects/p/locations/us-central1/models/222@1', endpoint: null },
    },
    T0 + 9 * HOUR,
    policy,
  );
  assert.deepEqual(last.action === 'update' && [last.to, last.changes.tunedModel?.model], [
    'SUCCEEDED',
    'projects/p/locations/us-central1/models/222@1',
  ]);
});

test('a preference example gives its prompt with the preferred answer; what is not one is said where', () => {
  const example = {
    systemInstruction: { parts: [{ text: 'be kind' }] },
    contents: [{ role: 'user', parts: [{ text: 'hi' }] }],
    completions: [
      { score: 0, completion: { role: 'model', parts: [{ text: 'go away' }] } },
      { score: 1, completion: { role: 'model', parts: [{ text: 'hello!' }] } },
    ],
  };
  assert.deepEqual(preferredAnswerExample(example), {
    example: {
      systemInstruction: { parts: [{ text: 'be kind' }] },
      contents: [
        { role: 'user', parts: [{ text: 'hi' }] },
        { role: 'model', parts: [{ text: 'hello!' }] },
      ],
    },
  });
  assert.deepEqual(preferredAnswerExample({ contents: example.contents }), {
    problem: 'a staged run trains on a preference dataset: this example has no "completions"',
    path: 'completions',
  });
  const twoPreferred = { ...example, completions: example.completions.map((c) => ({ ...c, score: 1 })) };
  const refused = preferredAnswerExample(twoPreferred);
  assert.match('problem' in refused ? refused.problem : '', /holds 2/);

  // Held out, the same example asks its prompt and is scored against the preferred answer.
  const evaluated = toInferenceCase(example);
  assert.ok('reference' in evaluated);
  assert.equal(evaluated.reference, 'hello!');
  assert.deepEqual(evaluated.request.contents, example.contents);
  assert.deepEqual(toInferenceCase({ ...example, contents: [...example.contents, { role: 'model', parts: [{ text: 'x' }] }] }), {
    skip: 'the preference prompt does not end with a user turn',
  });
});

test("a stage's cost: Vertex's billable tokens × the epochs asked × the model's price, or why it is not known", () => {
  const stats = {
    exampleCount: 3,
    billableTokenCount: 200_000,
    tuningStepCount: 6,
    truncatedExampleCount: 0,
    truncatedExampleIndices: [],
    droppedExampleReasons: [],
    warnings: [],
  };
  const price = getModelSpec('gemini-2.5-flash')!.trainingPricePerMillionUsd!;
  assert.deepEqual(stageCost(stats, 3, 'gemini-2.5-flash'), {
    costUsd: Math.round(0.6 * price * 10_000) / 10_000,
    costNote: `200000 billable tokens × 3 epochs at $${price} per 1M`,
  });
  assert.deepEqual(stageCost(stats, undefined, 'gemini-2.5-flash'), {
    costUsd: null,
    costNote: "200000 billable tokens; the epochs were Vertex's default, not known here",
  });
  assert.match(
    stageCost(stats, 2, 'gemini-3.5-flash').costNote,
    /400000 billed tokens; the training price of gemini-3\.5-flash is unknown/,
  );
  assert.equal(stageCost(null, 2, 'gemini-2.5-flash').costUsd, null);
});
