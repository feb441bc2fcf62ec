import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reportSchema } from '../../../shared/convert/types.ts';
import { cli as runCli } from '../../support/cli.ts';
import { parquetFromRecords } from '../../support/parquet.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'sft-parquet-'));

const cli = (...args: string[]) => runCli(args);
const fixture = (name: string) =>
  JSON.parse(readFileSync(join(root, 'test/fixtures/llama-factory', name), 'utf8')) as Record<string, unknown>[];
const write = (name: string, bytes: ArrayBuffer | Buffer) => {
  const path = join(work, name);
  writeFileSync(path, Buffer.from(bytes as ArrayBuffer));
  return path;
};

test('public datasets stored as Hugging Face stores them (nested Parquet, a row group per row) convert to the same bytes as their JSON', () => {
  for (const [name, golden] of [
    ['glaive_toolcall_en_demo.sample.json', 'llama-factory-glaive-toolcall'],
    ['dpo_en_demo.sample.json', 'llama-factory-dpo'],
  ] as const) {
    const input = write(name.replace('.json', '.parquet'), parquetFromRecords(fixture(name), { rowGroupSize: 1 }));
    const out = join(work, `out-${golden}`);
    const result = cli('convert', input, '--out', out, '--validation-split', '0');
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.equal(
      readFileSync(join(out, 'train.jsonl'), 'utf8'),
      readFileSync(join(root, 'test/golden', golden, 'train.jsonl'), 'utf8'),
      name,
    );
  }
});

test('a Parquet table of plain columns is read like a CSV: columns found by name or --map, problems named by row and column', () => {
  const rows = [
    { prompt_text: 'How do I reset my password?', response_text: 'Use the "Forgot password" link.', score: 0.9 },
    { prompt_text: 'Where is my invoice?', response_text: '', score: 0.1 },
    { prompt_text: 'Can I pay by card?', response_text: 'Yes, every major card.', score: 0.7 },
  ];
  const input = write('support.parquet', parquetFromRecords(rows, { rowGroupSize: 2 }));
  const unmapped = cli('convert', input, '--out', join(work, 'unmapped'));
  assert.equal(unmapped.status, 2, 'no column is called like a prompt or a response');
  assert.match(unmapped.stderr, /prompt_text|--map/);
  const out = join(work, 'mapped');
  const result = cli('convert', input, '--out', out, '--map', 'user=prompt_text,model=response_text', '--validation-split', '0', '--json');
  assert.equal(result.status, 1);
  const report = reportSchema.parse(JSON.parse(result.stdout));
  assert.equal(report.format, 'csv');
  assert.deepEqual(
    report.errors.map((issue) => `${issue.line} ${issue.code} ${issue.path}`),
    ['2 missing_field response_text'],
  );
  const examples = readFileSync(join(out, 'train.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as unknown);
  assert.deepEqual(examples[1], {
    contents: [
      { role: 'user', parts: [{ text: 'Can I pay by card?' }] },
      { role: 'model', parts: [{ text: 'Yes, every major card.' }] },
    ],
  });
});

test('a Parquet string that is not UTF-8 costs its row, reported at the value, never written as U+FFFD', () => {
  const turn = (from: string, value: string | Uint8Array) => ({ from, value });
  const latin1 = Uint8Array.from('Ça va très bien', (character) => character.charCodeAt(0));
  const rows = [
    { conversations: [turn('human', 'Bonjour'), turn('gpt', 'Salut')] },
    { conversations: [turn('human', 'Comment ça va ?'), turn('gpt', latin1)] },
    { conversations: [turn('human', 'Merci'), turn('gpt', 'De rien')] },
  ];
  const out = join(work, 'not-utf8');
  const result = cli('convert', write('chat.parquet', parquetFromRecords(rows)), '--out', out, '--validation-split', '0', '--json');
  assert.equal(result.status, 1, result.stderr);
  const report = reportSchema.parse(JSON.parse(result.stdout));
  assert.deepEqual(
    report.errors.map((issue) => `${issue.line} ${issue.code} ${issue.path}: ${issue.message}`),
    ['2 invalid_utf8 conversations[1].value: the value is not valid UTF-8 text: byte 0xC7 at its start'],
  );
  const written = readFileSync(join(out, 'train.jsonl'), 'utf8');
  assert.equal(written.trim().split('\n').length, 2);
  assert.doesNotMatch(written, /\uFFFD/);
});

test('a Parquet file cut short is one clear line, exit 2, nothing left behind', () => {
  const whole = Buffer.from(parquetFromRecords(fixture('dpo_en_demo.sample.json')));
  const input = write('cut.parquet', whole.subarray(0, Math.floor(whole.length / 2)));
  const out = join(work, 'cut');
  const result = cli('convert', input, '--out', out);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /starts like Parquet but its footer cannot be read/);
  assert.equal(existsSync(out), false);
});
