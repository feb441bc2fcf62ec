/**
 * `npm start`: the whole pipeline on this machine (see local/stack.ts), then the bundled sample
 * through it, stage by stage, as a data team would see it: a CSV and its launch sidecar dropped
 * in the raw bucket → converted → launch message → Vertex job (the simulator) → queued →
 * running, loss falling → succeeded → metrics copied → batch inference with the tuned and the
 * base model → evaluation, base vs tuned. `npm start -- --once` exits after the summary (0 when
 * the run completed);
 * without it the stack keeps running for more files until Ctrl-C.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Firestore } from '@google-cloud/firestore';
import { PortInUseError, STACK_SERVICES, startStack, type Stack } from './stack.ts';

const { values } = parseArgs({
  options: {
    once: { type: 'boolean', default: false },
    timeout: { type: 'string', default: '180' },
    'port-base': { type: 'string', default: process.env.STACK_PORT_BASE },
    sample: { type: 'string', default: 'tickets' },
  },
});

/**
 * The bundled samples, one per kind of task the evaluation fits itself to: JSON answers (fields
 * right), class labels (accuracy, per-label F1, confusion), free text (ROUGE-L, BLEU, and the
 * judge), function calls (the tool-call metrics). Each drops with a sidecar that converts it and
 * starts a run; the judge is opt-in (billed per example judged) and here the simulator's toy.
 */
const SAMPLES = {
  tickets: {
    file: 'support-tickets.csv',
    type: 'text/csv',
    sidecar: {
      epochs: 3,
      launch: { experiment: 'support-tickets', hyperParameters: { epochCount: 3 }, evaluation: { judge: { maxExamples: 50 } } },
    },
  },
  labels: {
    file: 'ticket-labels.csv',
    type: 'text/csv',
    sidecar: { epochs: 3, validationSplit: 0.3, launch: { experiment: 'ticket-labels', hyperParameters: { epochCount: 3 } } },
  },
  answers: {
    file: 'support-answers.csv',
    type: 'text/csv',
    sidecar: {
      epochs: 3,
      validationSplit: 0.3,
      launch: { experiment: 'support-answers', hyperParameters: { epochCount: 3 }, evaluation: { judge: { maxExamples: 50 } } },
    },
  },
  tools: {
    file: 'assistant-tools.openai.jsonl',
    type: 'application/jsonl',
    sidecar: { epochs: 3, validationSplit: 0.3, launch: { experiment: 'assistant-tools', hyperParameters: { epochCount: 3 } } },
  },
} as const;
if (!Object.hasOwn(SAMPLES, values.sample)) {
  console.error(`--sample must be one of ${Object.keys(SAMPLES).join(', ')}, not "${values.sample}"`);
  process.exit(2);
}
const chosen = SAMPLES[values.sample as keyof typeof SAMPLES];
const sample = new URL(`../samples/${chosen.file}`, import.meta.url);
const started = Date.now();
const say = (line: string) => console.log(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s  ${line}`);

say('starting the local stack: Firestore and Pub/Sub emulators, storage emulator, Vertex AI simulator, functions');
const basePort = values['port-base'] ? Number(values['port-base']) : undefined;
if (basePort !== undefined && !(Number.isInteger(basePort) && basePort > 0 && basePort + STACK_SERVICES.length <= 65536)) {
  console.error(`--port-base must be a port number, not "${values['port-base']}"`);
  process.exit(2);
}
let stack: Stack;
try {
  stack = await startStack({ log: (line) => console.error(line), ...(basePort !== undefined ? { basePort } : {}) });
} catch (error) {
  if (!(error instanceof PortInUseError)) throw error;
  console.error(`npm start: ${error.message}`);
  process.exit(2);
}
let stopping = false;
const shutdown = async (code: number) => {
  if (stopping) return;
  stopping = true;
  await stack.stop();
  process.exit(code);
};
process.once('SIGINT', () => void shutdown(130));
process.once('SIGTERM', () => void shutdown(143));

console.log('\nservices (a Vertex AI SIMULATOR stands in for Vertex: nothing is trained)');
for (const [name, url] of Object.entries(stack.urls)) console.log(`  ${name.padEnd(17)} ${url}`);
console.log(
  `  raw bucket        gs://${stack.rawBucket}/incoming/   datasets gs://${stack.datasetsBucket}   outputs gs://${stack.outputsBucket}`,
);
console.log(`  dashboard         ${stack.urls.status}  (runs, curves, evaluation; the read API under /api/runs)`);
console.log('\nenvironment for other tools:');
for (const key of ['GOOGLE_CLOUD_PROJECT', 'FIRESTORE_EMULATOR_HOST', 'PUBSUB_EMULATOR_HOST', 'STORAGE_EMULATOR_HOST', 'VERTEX_BASE_URL'])
  console.log(`  export ${key}=${stack.env[key]}`);
console.log('');

const name = `incoming/${chosen.file}`;
const bucket = stack.storage.bucket(stack.rawBucket);
await bucket.file(`${name}.launch.json`).save(JSON.stringify(chosen.sidecar, null, 2), { contentType: 'application/json' });
const dropped = Date.now();
await bucket.file(name).save(readFileSync(sample), { contentType: chosen.type });
say(`dropped samples/${chosen.file} (with a launch sidecar) into gs://${stack.rawBucket}/${name}`);

const db = new Firestore({ projectId: stack.projectId });
const seen = new Set<string>();
const marks: Record<string, number> = {};
const once = (key: string, line: string) => {
  if (seen.has(key)) return;
  seen.add(key);
  marks[key] = Date.now();
  say(line);
};
const deadline = Date.now() + Number(values.timeout) * 1000;
let outcome: 'COMPLETED' | 'FAILED' | 'TIMEOUT' = 'TIMEOUT';
let summary: Record<string, unknown> = {};
let evaluationTable: string[][] = [];
let confusion: string[] = [];
while (Date.now() < deadline) {
  const datasets = await db.collection('datasets').where('source.name', '==', name).get();
  const dataset = datasets.docs[0]?.data();
  if (dataset?.state === 'CONVERTED') {
    const r = dataset.report;
    once(
      'converted',
      `converted: ${r.examples.valid} valid examples, ${r.examples.invalid} rejected (see the report), ${r.split.train} train / ${r.split.validation} validation, ${r.tokens.total} tokens, ${r.estimatedCost.usd === null ? `cost not estimated (no training price for ${r.estimatedCost.model}: MODEL_CATALOGUE)` : `estimated $${r.estimatedCost.usd}`}`,
    );
  }
  if (dataset?.state === 'REJECTED') {
    say(`the dataset was rejected: ${dataset.rejection}`);
    outcome = 'FAILED';
    break;
  }
  if (dataset?.launch?.state === 'PUBLISHED') once('launch', `launch message published for run ${dataset.launch.runId}`);
  const run = dataset?.launch?.runId ? (await db.doc(`runs/${dataset.launch.runId}`).get()).data() : undefined;
  if (run) {
    if (run.currentJobName)
      once(`submitted-${run.attempts.length}`, `tuning job submitted (attempt ${run.attempts.length}): ${run.currentJobName}`);
    if (run.state === 'PENDING') once('pending', `waiting in Vertex, no training yet (${run.tuningJobState ?? 'pending'})`);
    if (run.state === 'RUNNING') {
      once('running', 'training (simulated)');
      const loss = (await db.collection(`runs/${run.runId}/metrics`).where('metric', '==', '/train_total_loss').get()).docs[0]?.data();
      if (loss) once('live-loss', `live metrics: ${Object.keys(loss.points).length} loss points so far`);
    }
    if (run.state === 'SUCCEEDED') once('succeeded', `tuning succeeded: tuned model ${run.tunedModel?.model}`);
    // While RUNNING the poller copies live points; the final copy is the completion handler's, after SUCCEEDED.
    if (run.metrics?.final && !run.metrics.error) {
      const loss = run.metrics.summary['/train_total_loss'];
      if (loss)
        once(
          'metrics',
          `metrics copied to Firestore: train loss ${loss.final} at step ${loss.finalStep} (best ${loss.best}), ${Object.keys(run.metrics.summary).length} series`,
        );
    }
    if (run.state === 'EVALUATING')
      once(
        'evaluating',
        `batch inference on ${run.evaluation.examples} held-out examples: tuned ${run.evaluation.jobs.tuned.currentJobName.split('/').at(-1)}, base ${run.evaluation.jobs.base.currentJobName.split('/').at(-1)}`,
      );
    if (run.state === 'SCORING') once('scoring', 'both batch jobs done: scoring the predictions');
    if (['COMPLETED', 'FAILED', 'REJECTED', 'CANCELLED'].includes(run.state)) {
      const result = run.evaluation?.result;
      once(
        'end',
        run.state === 'COMPLETED'
          ? result
            ? `completed: ${result.metric} base ${result.headline.base} → tuned ${result.headline.tuned} on ${result.n} held-out examples`
            : `completed: ${run.history.at(-1).reason}`
          : `run ${run.state}: ${run.error?.message ?? run.rejection ?? ''}`,
      );
      outcome = run.state === 'COMPLETED' ? 'COMPLETED' : 'FAILED';
      summary = {
        run: run.runId,
        state: run.state,
        attempts: run.attempts.length,
        tunedModel: run.tunedModel?.model ?? '-',
        history: run.history.map((h: { to: string }) => h.to).join(' → '),
      };
      if (result) {
        const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)}%`);
        evaluationTable = [
          ['', 'base', 'tuned', 'delta'],
          ['exact match', pct(result.base.exactMatch), pct(result.tuned.exactMatch), pct(result.delta.exactMatch)],
          ['normalised match', pct(result.base.normalizedMatch), pct(result.tuned.normalizedMatch), pct(result.delta.normalizedMatch)],
          ['valid JSON', pct(result.base.jsonValid), pct(result.tuned.jsonValid), pct(result.delta.jsonValid)],
          [
            'JSON fields right',
            pct(result.base.jsonFieldAccuracy),
            pct(result.tuned.jsonFieldAccuracy),
            pct(result.delta.jsonFieldAccuracy),
          ],
          ['ROUGE-L', pct(result.base.rougeL ?? null), pct(result.tuned.rougeL ?? null), pct(result.delta.rougeL ?? null)],
          ['BLEU', pct(result.base.bleu ?? null), pct(result.tuned.bleu ?? null), pct(result.delta.bleu ?? null)],
          ['blocked / empty', `${result.base.blocked} / ${result.base.empty}`, `${result.tuned.blocked} / ${result.tuned.empty}`, ''],
        ];
        // Function calls in the references: Vertex's four tool-call metrics (shared/evaluation/tool-calls.ts).
        if (typeof result.tuned.toolCallValid === 'number')
          for (const [label, field] of [
            ['tool call valid', 'toolCallValid'],
            ['tool name match', 'toolNameMatch'],
            ['parameter key match', 'toolParameterKeyMatch'],
            ['parameter key-value match', 'toolParameterKvMatch'],
          ] as const)
            evaluationTable.splice(-1, 0, [
              label,
              pct(result.base[field] ?? null),
              pct(result.tuned[field] ?? null),
              pct(result.delta[field] ?? null),
            ]);
        const sure = result.confidence;
        if (sure)
          evaluationTable.push([
            `${result.metric} gain, 95% interval`,
            '',
            '',
            `[${pct(sure.low)}, ${pct(sure.high)}]${sure.significant ? '' : ' not significant'}`,
          ]);
        for (const [arm, value] of Object.entries(result.headline.checkpoints ?? {}))
          evaluationTable.push([`${result.metric} at ${arm.replace('-', ' ')}`, '', pct(typeof value === 'number' ? value : null), '']);
        // Class labels: accuracy, macro and per-label F1 of each model, and the tuned model's confusion table.
        const classes = result.classification;
        if (classes?.tuned) {
          const f1 = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(2));
          evaluationTable.push(['accuracy', pct(classes.base?.accuracy ?? null), pct(classes.tuned.accuracy), '']);
          evaluationTable.push(['macro F1', f1(classes.base?.macroF1), f1(classes.tuned.macroF1), '']);
          for (const item of classes.tuned.labels)
            evaluationTable.push([
              `F1 ${item.label}`,
              f1(classes.base?.labels.find((b: { label: string }) => b.label === item.label)?.f1),
              f1(item.f1),
              '',
            ]);
          confusion = Object.entries(classes.tuned.confusion as Record<string, Record<string, number>>).map(
            ([label, row]) =>
              `  ${label.padEnd(20)} → ${Object.entries(row)
                .map(([predicted, count]) => `${predicted} ${count}`)
                .join(', ')}`,
          );
        }
        const judge = result.judge;
        if (judge)
          evaluationTable.push([
            `judge (${judge.model}): tuned / base / neither`,
            '',
            '',
            `${judge.tunedWins} / ${judge.baseWins} / ${judge.ties} of ${judge.judged}, tuned win rate ${pct(judge.tunedWinRate)}`,
          ]);
        else if (result.judgeFailure) evaluationTable.push(['judge', '', '', result.judgeFailure]);
      }
      break;
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 250));
}

const ms = (from: number | undefined, to: number | undefined) => (from && to ? `${((to - from) / 1000).toFixed(2)} s` : '-');
console.log('\nsummary');
for (const [key, value] of Object.entries({
  ...summary,
  'drop → dataset': ms(dropped, marks.converted),
  'dataset → job submitted': ms(marks.converted, marks['submitted-1']),
  'drop → tuned': ms(dropped, marks.succeeded),
  'drop → completed': ms(dropped, marks.end),
})) {
  console.log(`  ${key.padEnd(24)} ${value}`);
}
if (evaluationTable.length > 0) {
  console.log(
    '\nevaluation on held-out data (the SIMULATOR\'s deterministic "models": the tuned one answers from the nearest training example, the base one echoes)',
  );
  for (const row of evaluationTable)
    console.log(
      `  ${row[0]!.padEnd(26)} ${row
        .slice(1)
        .map((cell) => cell.padStart(8))
        .join(' ')}`,
    );
}
if (confusion.length > 0)
  console.log(['\nconfusion table of the tuned model (reference label → predicted label, count)', ...confusion].join('\n'));
await db.terminate();

if (values.once || outcome !== 'COMPLETED') {
  if (outcome === 'TIMEOUT') console.error(`the sample run did not finish within ${values.timeout} s`);
  await shutdown(outcome === 'COMPLETED' ? 0 : 1);
} else {
  console.log(
    `\nthe stack keeps running: drop more files into gs://${stack.rawBucket}/incoming/ (a NAME.launch.json beside NAME starts a run), e.g.`,
  );
  console.log(
    `  STORAGE_EMULATOR_HOST=${stack.env.STORAGE_EMULATOR_HOST} node local/upload.ts my-data.jsonl gs://${stack.rawBucket}/incoming/my-data.jsonl`,
  );
  console.log('Ctrl-C stops everything.');
}
