import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reportSchema } from '../../../shared/convert/types.ts';
import { cli as runCli } from '../../support/cli.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'sft-cli-'));

const cli = (...args: string[]) => runCli(args);
const write = (name: string, content: string | Uint8Array) => {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
};

test('the bundled samples convert to the golden files, byte for byte', () => {
  for (const sample of ['support-tickets.csv', 'support-chat.openai.jsonl']) {
    const out = join(work, `golden-${sample}`);
    const { status } = cli('convert', join('samples', sample), '--out', out, '--epochs', '3');
    assert.equal(status, 1, 'the samples hold deliberately bad records');
    const golden = join(root, 'test/golden', sample.replace(/\.[^.]+$/, ''));
    for (const file of ['train.jsonl', 'validation.jsonl', 'report.json']) {
      // UPDATE_GOLDEN=1 rewrites the golden files from this run: review their diff before committing.
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(join(golden, file), readFileSync(join(out, file)));
      assert.equal(readFileSync(join(out, file), 'utf8'), readFileSync(join(golden, file), 'utf8'), `${sample}: ${file}`);
    }
  }
});

test("public function-calling files (Google's documented example, LLaMA-Factory's glaive demo) convert to their golden files, byte for byte", () => {
  for (const [fixture, golden] of [
    ['test/fixtures/google/tune-function-calling.jsonl', 'google-tune-function-calling'],
    ['test/fixtures/llama-factory/glaive_toolcall_en_demo.sample.json', 'llama-factory-glaive-toolcall'],
  ] as const) {
    const out = join(work, `golden-${golden}`);
    const result = cli('convert', fixture, '--out', out, '--validation-split', '0');
    assert.equal(result.status, 0, `${fixture}: every example is valid\n${result.stderr}`);
    assert.equal(existsSync(join(out, 'validation.jsonl')), false, 'no validation split asked for: no validation file');
    for (const file of ['train.jsonl', 'report.json']) {
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(join(root, 'test/golden', golden, file), readFileSync(join(out, file)));
      assert.equal(
        readFileSync(join(out, file), 'utf8'),
        readFileSync(join(root, 'test/golden', golden, file), 'utf8'),
        `${golden}: ${file}`,
      );
    }
  }
});

test("LLaMA-Factory's DPO and KTO demos convert for preference tuning, and for supervised tuning when asked, to their golden files", () => {
  for (const [fixture, golden, method, expectedStatus] of [
    ['dpo_en_demo.sample.json', 'llama-factory-dpo', 'auto', 0],
    ['kto_en_demo.sample.json', 'llama-factory-kto', 'auto', 0],
    ['kto_en_demo.sample.json', 'llama-factory-kto-supervised', 'supervised', 0],
  ] as const) {
    const out = join(work, `golden-${golden}`);
    const result = cli('convert', `test/fixtures/llama-factory/${fixture}`, '--out', out, '--validation-split', '0', '--method', method);
    assert.equal(result.status, expectedStatus, `${fixture}: ${result.stdout}${result.stderr}`);
    for (const file of ['train.jsonl', 'report.json']) {
      if (process.env.UPDATE_GOLDEN === '1') {
        mkdirSync(join(root, 'test/golden', golden), { recursive: true });
        writeFileSync(join(root, 'test/golden', golden, file), readFileSync(join(out, file)));
      }
      assert.equal(
        readFileSync(join(out, file), 'utf8'),
        readFileSync(join(root, 'test/golden', golden, file), 'utf8'),
        `${fixture} --method ${method}: ${file}`,
      );
    }
  }
  const dpo = reportSchema.parse(JSON.parse(readFileSync(join(work, 'golden-llama-factory-dpo/report.json'), 'utf8')));
  assert.equal(dpo.method, 'preference');
  const pairs = readFileSync(join(work, 'golden-llama-factory-dpo/train.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { contents: { role: string }[]; completions: { score: number }[] });
  assert.equal(pairs.length, 3);
  assert.ok(pairs.every((pair) => pair.contents.at(-1)!.role === 'user' && pair.completions.map((c) => c.score).join() === '1,0'));
  const kto = reportSchema.parse(JSON.parse(readFileSync(join(work, 'golden-llama-factory-kto/report.json'), 'utf8')));
  assert.equal(kto.split.train, 1, 'records 65 and 196 answer the same prompt: one pair');
  assert.deepEqual(
    kto.warnings.filter((w) => w.code === 'kto_unpaired').map((w) => w.path),
    ['[0]', '[1]', '[2]'],
  );
  const supervised = reportSchema.parse(JSON.parse(readFileSync(join(work, 'golden-llama-factory-kto-supervised/report.json'), 'utf8')));
  assert.equal(supervised.method, 'supervised');
  assert.equal(supervised.split.train, 2, 'the two answers labelled true');
  assert.deepEqual(
    supervised.warnings.filter((w) => w.code === 'kto_undesirable_left_out').map((w) => w.path),
    ['[0]', '[2]', '[4]'],
  );
});

test("--base-model: a retired model is refused before anything is read, naming its replacement; today's models are checked; an unknown one converts with a warning", () => {
  const input = 'test/fixtures/minimal-train.jsonl';
  const retired = cli('convert', input, '--out', join(work, 'retired'), '--base-model', 'gemini-2.0-flash-001');
  assert.equal(retired.status, 2);
  assert.match(retired.stderr, /gemini-2\.0-flash-001 retired on 2026-06-01 and can no longer be tuned: use gemini-3\.5-flash-lite/);
  assert.equal(existsSync(join(work, 'retired')), false, 'nothing written');
  const current = cli('convert', input, '--out', join(work, 'current'), '--base-model', 'gemini-3.5-flash', '--json');
  const report = reportSchema.parse(JSON.parse(current.stdout));
  assert.equal(report.baseModel, 'gemini-3.5-flash');
  assert.equal(
    report.warnings.some((w) => w.code === 'unknown_base_model'),
    false,
  );
  const unknown = cli('convert', input, '--out', join(work, 'unknown'), '--base-model', 'gemini-4-flash', '--json');
  const warned = reportSchema.parse(JSON.parse(unknown.stdout));
  assert.match(
    warned.warnings.find((w) => w.code === 'unknown_base_model')?.message ?? '',
    /"gemini-4-flash" is not in the model catalogue: .*Vertex decides/,
  );
  assert.equal(warned.estimatedCost.usd, null);
});

test('MODEL_CATALOGUE: an operator adds a model and its price without a release; a bad row is one clear line', () => {
  const row = {
    id: 'gemini-4-flash',
    maxTokensPerExample: 262_144,
    maxValidationExamples: 5000,
    maxDatasetFileBytes: 1073741824,
    maxTextOnlyTrainingExamples: 1000000,
    maxMultimodalTrainingExamples: 300000,
    adapterSizes: [1, 2, 4, 8, 16],
    limitsVerified: true,
    methods: { supervised: true, preference: null, continuous: null },
    trainingPricePerMillionUsd: 4,
    priceVerifiedOn: '2026-11-30',
    retiresOn: null,
    replacement: null,
    thinking: { level: 'MINIMAL' },
    source: 'our contract',
  };
  const run = (catalogue: string, ...args: string[]) => runCli(args, { MODEL_CATALOGUE: catalogue });
  const added = run(
    JSON.stringify([row]),
    'convert',
    'test/fixtures/minimal-train.jsonl',
    '--out',
    join(work, 'operator'),
    '--base-model',
    'gemini-4-flash',
    '--epochs',
    '2',
    '--json',
  );
  const report = reportSchema.parse(JSON.parse(added.stdout));
  assert.equal(
    report.warnings.some((w) => w.code === 'unknown_base_model'),
    false,
  );
  assert.equal(report.estimatedCost.pricePerMillionTokensUsd, 4);
  assert.equal(report.estimatedCost.usd, Math.round((report.tokens.billable / 1e6) * 4 * 1e4) / 1e4);
  const bad = run(
    JSON.stringify([{ id: 'gemini-5', maxTokensPerExample: -1 }]),
    'convert',
    'test/fixtures/minimal-train.jsonl',
    '--out',
    join(work, 'bad-catalogue'),
  );
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /MODEL_CATALOGUE: 0\.maxTokensPerExample: Too small/);
  const partial = run(
    JSON.stringify([{ id: 'gemini-5', trainingPricePerMillionUsd: 1 }]),
    'convert',
    'test/fixtures/minimal-train.jsonl',
    '--out',
    join(work, 'partial-catalogue'),
  );
  assert.equal(partial.status, 2);
  assert.match(partial.stderr, /MODEL_CATALOGUE: gemini-5: .*maxTokensPerExample.*\(a model not built in needs every field\)/);
});

test('--method preference on a file without preference data is one clear line, exit 2', () => {
  const result = cli('convert', 'test/fixtures/minimal-train.jsonl', '--out', join(work, 'not-preference'), '--method', 'preference');
  assert.equal(result.status, 2);
  assert.match(result.stderr, /preference tuning needs preference data/);
});

test('exit 0 when every example is valid, with --json printing the report', () => {
  const input = write(
    'ok.jsonl',
    [1, 2, 3].map((i) => JSON.stringify({ instruction: `Add ${i} and ${i}`, output: String(2 * i) })).join('\n'),
  );
  const { status, stdout } = cli('convert', input, '--out', join(work, 'ok'), '--json', '--validation-split', '0');
  assert.equal(status, 0);
  const report = reportSchema.parse(JSON.parse(stdout));
  assert.deepEqual(report.examples, { total: 3, valid: 3, invalid: 0 });
  assert.equal(report.format, 'alpaca');
  assert.equal(existsSync(join(work, 'ok', 'validation.jsonl')), false, 'no validation file when the split is 0');
});

test('exit 1 writes the valid examples and reports every rejected one with its line', () => {
  const lines = [
    JSON.stringify({
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello' },
      ],
    }),
    '{"messages": [',
    JSON.stringify({ messages: [{ role: 'user', content: 'Hi' }] }),
    JSON.stringify({
      messages: [
        { role: 'user', content: 'Bye' },
        { role: 'assistant', content: 'Bye!' },
      ],
    }),
  ];
  const out = join(work, 'partial');
  const { status, stdout } = cli('convert', write('partial.jsonl', lines.join('\n')), '--out', out, '--validation-split', '0');
  assert.equal(status, 1);
  assert.equal(readFileSync(join(out, 'train.jsonl'), 'utf8').trim().split('\n').length, 2);
  const report = reportSchema.parse(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')));
  assert.deepEqual(
    report.errors.map((e) => `${e.line}:${e.code}`),
    ['2:invalid_json', '3:last_turn_not_model'],
  );
  assert.match(
    stdout,
    /line 3 messages\[0\]\.role \(contents\[0\]\.role\): last_turn_not_model/,
    "the input's own field, the converted path beside it",
  );
});

test('convert --help (and -h) prints the usage and exits 0', () => {
  for (const flag of ['--help', '-h']) {
    const result = cli('convert', flag);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /--max-record-bytes SIZE/);
  }
});

test('exit 2 for unusable inputs, one clear line on stderr, and nothing left behind', () => {
  const cases: [string, string | Uint8Array, RegExp][] = [
    ['empty.jsonl', '', /is empty/],
    ['random.bin', new Uint8Array(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)), /not text/],
    ['prose.txt', 'Just some prose, not a dataset.\n', /format not recognised/],
    ['plain.jsonl', '{"text": "no known format"}\n', /format not recognised/],
    ['noheader.csv', 'a,b\n1,2\n', /no user or model column/],
  ];
  for (const [name, content, message] of cases) {
    const out = join(work, `unusable-${name}`);
    const { status, stderr } = cli('convert', write(name, content), '--out', out);
    assert.equal(status, 2, name);
    assert.match(stderr, message, name);
    assert.equal(stderr.trim().split('\n').length, 1, `${name}: one line`);
    assert.equal(existsSync(out), false, `${name}: no output folder`);
  }
  assert.deepEqual(
    readdirSync(work).filter((n) => n.includes('.partial-')),
    [],
    'no staging folders left',
  );
  assert.equal(cli('convert', join(work, 'missing.jsonl'), '--out', join(work, 'x')).status, 2);
  assert.equal(cli('convert', write('y.jsonl', '{}'), '--out', join(work, 'y'), '--validation-split', '0.9').status, 2);
});

test('the same input, options and seed give byte-identical outputs', () => {
  const input = join(root, 'samples/support-tickets.csv');
  const [a, b] = ['det-a', 'det-b'].map((name) => {
    cli('convert', input, '--out', join(work, name), '--seed', '7');
    return ['train.jsonl', 'validation.jsonl', 'report.json'].map((f) => readFileSync(join(work, name, f), 'utf8'));
  });
  assert.deepEqual(a, b);
});

test('worker threads give byte-identical outputs to one thread', () => {
  const lines: string[] = [];
  for (let i = 0; i < 700; i++) {
    lines.push(
      i % 97 === 0
        ? '{"broken": '
        : JSON.stringify({
            conversations: [
              { from: 'human', value: `질문 ${i}: how do I reset my password? ${'word '.repeat(i % 13)}` },
              { from: 'gpt', value: JSON.stringify({ answer: i }) },
            ],
          }),
    );
  }
  const input = write('threads.jsonl', lines.join('\n'));
  const outputs = ['0', '2'].map((threads) => {
    const out = join(work, `threads-${threads}`);
    const { status } = cli('convert', input, '--out', out, '--threads', threads);
    assert.equal(status, 1);
    return ['train.jsonl', 'validation.jsonl', 'report.json'].map((f) => readFileSync(join(out, f), 'utf8'));
  });
  assert.deepEqual(outputs[1], outputs[0]);
  assert.equal(JSON.parse(outputs[0]![2]!).errorCount, 8);
});

test('--max-record-bytes: a CSV row over it is named with its lines and skipped; a stray quote is named where it opened; the other rows convert', () => {
  const field = 'The parcel left the depot, and the page says "label created".\n'.repeat(2000).replaceAll('"', '""');
  const rows = [
    'prompt,response',
    'Where is my order?,It ships tomorrow.',
    `Summarise this thread,"${field}"`,
    'Can I return it?,Yes within 30 days.',
    '"Is it fragile,Yes',
    'Do you ship abroad?,To 40 countries.',
  ];
  const input = join(work, 'big-field.csv');
  writeFileSync(input, rows.join('\n') + '\n');
  const out = join(work, 'big-field');
  const result = cli('convert', input, '--out', out, '--max-record-bytes', '64KiB', '--validation-split', '0');
  assert.equal(result.status, 1, result.stderr);
  const report = reportSchema.parse(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')));
  assert.deepEqual(
    report.errors.map((e) => `${e.line}:${e.code}`),
    ['3:record_too_large', '2005:unclosed_quote'],
  );
  assert.match(report.errors[0]!.message, /lines 3–2003 is over the per-record limit of 65536 bytes/);
  assert.match(report.errors[1]!.message, /a quote opened on line 2005 never closes/);
  assert.equal(report.examples.valid, 3);
  const bad = cli('convert', input, '--out', join(work, 'bad-limit'), '--max-record-bytes', 'huge');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--max-record-bytes: huge is not a size such as 8MiB/);
});

test('a 200 MB single line is a located error, read with bounded memory, and the other lines still convert', async () => {
  const lineMegabytes = 200;
  const path = join(work, 'huge-line.jsonl');
  const stream = createWriteStream(path);
  stream.write(JSON.stringify({ instruction: 'small', output: 'ok' }) + '\n{"instruction": "');
  const block = 'x'.repeat(1024 * 1024);
  for (let i = 0; i < lineMegabytes; i++) if (!stream.write(block)) await once(stream, 'drain');
  stream.end('", "output": "y"}\n' + JSON.stringify({ instruction: 'after', output: 'fine' }) + '\n');
  await once(stream, 'close');
  const tiny = join(work, 'tiny.jsonl');
  writeFileSync(tiny, JSON.stringify({ instruction: 'small', output: 'ok' }) + '\n');

  // One thread, as in the converter function on its smallest tier (worker threads add their own memory).
  const peakRss = (input: string, out: string) => {
    const rssFile = join(work, `rss-${out}.txt`);
    const result = spawnSync(
      join(root, 'node_modules/.bin/node'),
      [join(root, 'test/support/run-cli.ts'), 'convert', input, '--out', join(work, out), '--validation-split', '0', '--threads', '0'],
      {
        encoding: 'utf8',
        env: { ...process.env, SFT_MAX_RSS_FILE: rssFile },
      },
    );
    return { status: result.status, stderr: result.stderr, peak: Number(readFileSync(rssFile, 'utf8')) };
  };
  const baseline = peakRss(tiny, 'tiny');
  const huge = peakRss(path, 'huge');
  assert.equal(huge.status, 1, huge.stderr);
  const report = reportSchema.parse(JSON.parse(readFileSync(join(work, 'huge', 'report.json'), 'utf8')));
  assert.deepEqual(
    report.errors.map((e) => `${e.line}:${e.code}`),
    ['2:record_too_large'],
  );
  assert.equal(report.examples.valid, 2);
  // The CLI's own footprint (runtime, tokenizer tables) is the baseline; what the line adds must stay
  // well under the line's size, i.e. it was never held whole (buffering it would add at least its 200 MB).
  const grownMegabytes = (huge.peak - baseline.peak) / 1e6;
  assert.ok(
    grownMegabytes < lineMegabytes / 2,
    `peak RSS grew ${Math.round(grownMegabytes)} MB over the CLI's own ${Math.round(baseline.peak / 1e6)} MB for a ${lineMegabytes} MB line`,
  );
});

test('garbage never crashes the CLI: truncated files and invalid UTF-8 end in exit 1 or 2', () => {
  const good = JSON.stringify({
    contents: [
      { role: 'user', parts: [{ text: 'q' }] },
      { role: 'model', parts: [{ text: 'a' }] },
    ],
  });
  const inputs: [string, Uint8Array | string][] = [
    ['truncated.jsonl', good + '\n' + good.slice(0, 30)],
    ['truncated.json', `[${good}, ${good.slice(0, 40)}`],
    [
      'latin1.jsonl',
      new Uint8Array([...new TextEncoder().encode(good + '\n{"contents": "caf'), 0xe9, ...new TextEncoder().encode('"}\n')]),
    ],
    ['latin1.csv', new Uint8Array([...new TextEncoder().encode('prompt,response\ncaf'), 0xe9, ...new TextEncoder().encode(',x\n')])],
    // Thousands of rows written, then the file ends inside a character: the outputs still being
    // written are thrown away without an unhandled stream error.
    [
      'cut-character.csv',
      new Uint8Array([...new TextEncoder().encode('prompt,response\n' + 'what is 2 + 2?,four\n'.repeat(5000) + 'caf,'), 0xf0, 0x9f]),
    ],
  ];
  for (const [name, content] of inputs) {
    const { status, stderr } = cli('convert', write(name, content), '--out', join(work, `g-${name}`));
    assert.ok(status === 1 || status === 2, `${name}: exit ${status} ${stderr}`);
    assert.doesNotMatch(stderr, /^\s+at |Unhandled 'error' event/m, `${name}: no stack trace`);
  }
  // The record the file ends inside is reported; the 5,000 before it are kept.
  const cut = cli('convert', join(work, 'cut-character.csv'), '--out', join(work, 'g-cut-again'));
  assert.equal(cut.status, 1, cut.stderr);
  assert.match(cut.stdout, /examples: 5000 valid, 1 rejected, of 5001/);
  assert.match(cut.stdout, /line 5002 response: invalid_utf8: .*a character cut short \(0xF0 0x9F\)/);
  assert.ok(!readdirSync(work).some((name) => name.includes('.partial-')), 'no staging folder left');
});

test("--out never destroys the user's files: not the input, not a stranger's file; a file or unwritable --out is one line, exit 2, nothing left behind", () => {
  const own = mkdtempSync(join(tmpdir(), 'sft-own-'));
  const line = (i: number) => JSON.stringify({ instruction: `Add ${i} and ${i}`, output: String(2 * i) });
  const inputText = [1, 2, 3].map(line).join('\n');
  writeFileSync(join(own, 'train.jsonl'), inputText);
  writeFileSync(join(own, 'validation.jsonl'), "the team's own held-out set\n");
  const list = () => readdirSync(own).sort();

  const intoInputsFolder = cli('convert', join(own, 'train.jsonl'), '--out', own);
  assert.equal(intoInputsFolder.status, 2);
  assert.match(intoInputsFolder.stderr, /would write over the input train\.jsonl/);
  assert.equal(intoInputsFolder.stderr.trim().split('\n').length, 1, 'one line');
  assert.equal(readFileSync(join(own, 'train.jsonl'), 'utf8'), inputText, 'the input is intact');

  writeFileSync(join(own, 'data.jsonl'), inputText);
  for (const force of [[], ['--force']]) {
    const clash = cli('convert', join(own, 'data.jsonl'), '--out', own, ...force);
    assert.equal(clash.status, 2);
    assert.match(clash.stderr, /holds a train\.jsonl this tool did not write/, 'not even with --force');
    assert.deepEqual(list(), ['data.jsonl', 'train.jsonl', 'validation.jsonl'], 'nothing written, nothing deleted');
    assert.equal(readFileSync(join(own, 'validation.jsonl'), 'utf8'), "the team's own held-out set\n");
  }
  const beside = mkdtempSync(join(tmpdir(), 'sft-beside-'));
  writeFileSync(join(beside, 'notes.txt'), 'keep me');
  const refused = cli('convert', join(own, 'data.jsonl'), '--out', beside);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /holds files this tool did not write \(notes\.txt\).*--force/);

  const asFile = cli('convert', join(own, 'data.jsonl'), '--out', join(own, 'data.jsonl'));
  assert.equal(asFile.status, 2);
  assert.match(asFile.stderr, /is a file, not a folder/);
  const locked = join(own, 'locked');
  mkdirSync(locked, { mode: 0o500 });
  const unwritable = cli('convert', join(own, 'data.jsonl'), '--out', join(locked, 'out'));
  if (process.getuid?.() !== 0) {
    assert.equal(unwritable.status, 2);
    assert.match(unwritable.stderr, /cannot write there \(EACCES\)/);
    assert.doesNotMatch(unwritable.stderr, /\n.+\n/, 'no stack');
  }
  assert.ok(!readdirSync(own).some((name) => name.includes('.partial-')), 'no .partial- folder left');

  // An earlier output of ours is written over; --force writes beside a stranger's files, deleting none of them.
  const out = join(own, 'converted');
  assert.equal(cli('convert', join(own, 'data.jsonl'), '--out', out).status, 0);
  assert.equal(cli('convert', join(own, 'data.jsonl'), '--out', out, '--validation-split', '0').status, 0);
  assert.deepEqual(readdirSync(out).sort(), ['report.json', 'train.jsonl'], 'its own earlier validation file went with it');
  const forced = cli('convert', join(own, 'data.jsonl'), '--out', beside, '--force');
  assert.equal(forced.status, 0, forced.stderr);
  const validationExamples = (JSON.parse(readFileSync(join(beside, 'report.json'), 'utf8')) as { split: { validation: number } }).split
    .validation;
  const expected = ['notes.txt', 'report.json', 'train.jsonl', ...(validationExamples > 0 ? ['validation.jsonl'] : [])];
  assert.deepEqual(readdirSync(beside).sort(), expected, 'a validation file only when it holds examples');
  assert.equal(readFileSync(join(beside, 'notes.txt'), 'utf8'), 'keep me', '--force touches nothing of theirs');
});

test('one line nested 200,000 deep converts on worker threads exactly as on one thread (no crash in structured cloning)', () => {
  const good = (i: number) => JSON.stringify({ instruction: `Add ${i} and ${i}`, output: String(2 * i) });
  const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
  const input = write(
    'deep.jsonl',
    [good(1), good(2), `{"instruction":"deep","output":"x","extra":${deep}}`, good(3), `{"instruction":${deep},"output":"y"}`].join('\n'),
  );
  const outputs = [0, 2].map((threads) => {
    const out = join(work, `deep-${threads}`);
    const { status, stdout, stderr } = cli('convert', input, '--out', out, '--threads', String(threads), '--json');
    assert.ok(status === 0 || status === 1, `threads ${threads}: ${stderr}`);
    const report = JSON.parse(stdout) as { examples: unknown; errors: { line: number; code: string }[] };
    return {
      status,
      examples: report.examples,
      errors: report.errors.map((e) => `${e.line}:${e.code}`),
      train: readFileSync(join(out, 'train.jsonl'), 'utf8'),
    };
  });
  assert.deepEqual(outputs[1], outputs[0], 'the same exit, report and output on two threads as on one');
  assert.ok(
    outputs[0]!.errors.some((error) => error.startsWith('5:')),
    'the nested instruction is a located error on its line',
  );
});
