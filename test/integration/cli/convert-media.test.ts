import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Storage } from '@google-cloud/storage';
import { startStorageEmulator, type StorageEmulator } from '../../../emulators/storage/server.ts';
import { reportSchema } from '../../../shared/convert/types.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'bin/sft-pipeline.mjs');
let emulator: StorageEmulator;
let storage: Storage;

before(async () => {
  emulator = await startStorageEmulator();
  storage = new Storage({ apiEndpoint: emulator.url, projectId: 'test' });
  await storage.createBucket('team-media');
});
after(async () => {
  await emulator.stop();
});

/** The real binary, run as a user would, talking to the storage emulator. (Async: the emulator serves from this process.) */
async function cli(cwd: string, ...args: string[]) {
  const child = spawn('node', [bin, ...args], {
    cwd,
    env: { ...process.env, STORAGE_EMULATOR_HOST: emulator.url, PATH: `/usr/bin:/usr/local/bin:${process.env.PATH}` },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const [status] = (await once(child, 'close')) as [number];
  return { status, stdout, stderr };
}

/** A stand-in picture: a JPEG signature and distinct bytes, all the converter looks at. */
const jpeg = (seed: string) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from(`JFIF stand-in ${seed}`)]);
const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('stand-in')]);

/** LLaMA-Factory's mllm demo as a team has it: the JSON file beside its mllm_demo_data folder. */
function demoFolder() {
  const dir = mkdtempSync(join(tmpdir(), 'sft-media-'));
  copyFileSync(join(root, 'test/fixtures/llama-factory/mllm_demo.sample.json'), join(dir, 'mllm_demo.json'));
  mkdirSync(join(dir, 'mllm_demo_data'));
  for (const n of ['1', '2', '3']) writeFileSync(join(dir, 'mllm_demo_data', `${n}.jpg`), jpeg(n));
  return dir;
}
const lines = (path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { contents: { parts: Record<string, unknown>[] }[] });
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

test('multimodal LLaMA-Factory data without --upload: every local picture is a located error naming where it must be, nothing is dropped silently', async () => {
  const dir = demoFolder();
  const result = await cli(dir, 'convert', 'mllm_demo.json', '--out', 'out', '--json', '--validation-split', '0');
  assert.equal(result.status, 1, result.stderr);
  const report = reportSchema.parse(JSON.parse(result.stdout));
  assert.equal(report.examples.valid, 0);
  assert.deepEqual(
    report.errors.map((issue) => `${issue.line} ${issue.code} ${issue.path}`),
    [
      ...['2 [0]', '25 [1]', '48 [2]', '71 [3]'].map((at) => `${at.replace(' ', ' local_media_path ')}.images[0]`),
      '0 no_training_examples ',
    ],
  );
  assert.match(report.errors[0]!.message, /"mllm_demo_data\/1\.jpg" is a local file.*--upload gs:\/\/BUCKET\/PREFIX/);
  assert.equal(report.warningCount, 4, 'each record also says its image had no <image> placeholder and was put first');
});

test('--upload puts each picture in Cloud Storage once, named by its content hash, and the examples point there; a rerun uploads nothing', async () => {
  const dir = demoFolder();
  const first = await cli(
    dir,
    'convert',
    'mllm_demo.json',
    '--out',
    'out',
    '--json',
    '--validation-split',
    '0',
    '--upload',
    'gs://team-media/llama',
  );
  assert.equal(first.status, 0, first.stdout + first.stderr);
  const report = reportSchema.parse(JSON.parse(first.stdout));
  assert.equal(report.examples.valid, 4);
  assert.deepEqual(
    [...new Set(report.warnings.map((issue) => issue.code))],
    ['media_placed_first', 'few_training_examples'],
    'the local-path warning is resolved by the upload',
  );
  const examples = lines(join(dir, 'out/train.jsonl'));
  const expected = (n: string) => `gs://team-media/llama/${sha(jpeg(n))}.jpg`;
  assert.deepEqual(
    examples.map((example) => example.contents[0]!.parts[0]),
    ['1', '2', '3', '1'].map((n) => ({ fileData: { mimeType: 'image/jpeg', fileUri: expected(n) } })),
  );
  assert.deepEqual(examples[0]!.contents[0]!.parts[1], { text: 'Who are they?' });
  const [files] = await storage.bucket('team-media').getFiles({ prefix: 'llama/' });
  assert.deepEqual(
    files.map((file) => `gs://team-media/${file.name}`).sort(),
    ['1', '2', '3'].map(expected).sort(),
    'picture 1, listed twice, is stored once',
  );
  const [stored] = await storage
    .bucket('team-media')
    .file(`llama/${sha(jpeg('2'))}.jpg`)
    .download();
  assert.deepEqual(stored, jpeg('2'));
  const generations = new Map(files.map((file) => [file.name, file.metadata.generation]));

  const again = await cli(
    dir,
    'convert',
    'mllm_demo.json',
    '--out',
    'out2',
    '--json',
    '--validation-split',
    '0',
    '--upload',
    'gs://team-media/llama',
  );
  assert.equal(again.status, 0, again.stderr);
  assert.equal(readFileSync(join(dir, 'out2/train.jsonl'), 'utf8'), readFileSync(join(dir, 'out/train.jsonl'), 'utf8'));
  const [after] = await storage.bucket('team-media').getFiles({ prefix: 'llama/' });
  assert.deepEqual(new Map(after.map((file) => [file.name, file.metadata.generation])), generations, 'nothing was written again');
});

test("today's LLaMA-Factory demo, with <image> placeholders: each picture lands where its placeholder stood, mid-conversation too", async () => {
  const dir = demoFolder();
  copyFileSync(join(root, 'test/fixtures/llama-factory/mllm_demo.placeholders.sample.json'), join(dir, 'mllm_demo.json'));
  const result = await cli(
    dir,
    'convert',
    'mllm_demo.json',
    '--out',
    'out',
    '--json',
    '--validation-split',
    '0',
    '--upload',
    'gs://team-media/llama',
  );
  assert.equal(result.status, 0, result.stdout + result.stderr);
  const report = reportSchema.parse(JSON.parse(result.stdout));
  assert.deepEqual(
    report.warnings.map((issue) => issue.code),
    ['few_training_examples'],
    'every picture had its placeholder',
  );
  const [first] = lines(join(dir, 'out/train.jsonl'));
  const picture = { fileData: { mimeType: 'image/jpeg', fileUri: `gs://team-media/llama/${sha(jpeg('1'))}.jpg` } };
  assert.deepEqual(first!.contents[0]!.parts, [picture, { text: 'Who are they?' }]);
  assert.deepEqual(first!.contents[2]!.parts, [{ text: 'What are they doing?' }, picture]);
});

test('hostile paths are refused and never read: ../ out of the media root, an absolute path elsewhere, a symbolic link out; a .jpg that is a PNG is not uploaded', async () => {
  const outside = mkdtempSync(join(tmpdir(), 'sft-secret-'));
  writeFileSync(join(outside, 'id_rsa.jpg'), jpeg('secret'));
  const dir = mkdtempSync(join(tmpdir(), 'sft-hostile-'));
  mkdirSync(join(dir, 'media'));
  symlinkSync(join(outside, 'id_rsa.jpg'), join(dir, 'media', 'link.jpg'));
  writeFileSync(join(dir, 'media', 'fake.jpg'), png);
  const record = (image: string) =>
    JSON.stringify({
      conversations: [
        { from: 'human', value: '<image>What is it?' },
        { from: 'gpt', value: 'A key.' },
      ],
      images: [image],
    });
  writeFileSync(
    join(dir, 'data.jsonl'),
    [
      record(`../../${outside.split('/').pop()}/id_rsa.jpg`),
      record(join(outside, 'id_rsa.jpg')),
      record('link.jpg'),
      record('fake.jpg'),
      record('missing.jpg'),
    ].join('\n') + '\n',
  );
  const result = await cli(
    dir,
    'convert',
    'data.jsonl',
    '--out',
    'out',
    '--json',
    '--media-root',
    'media',
    '--upload',
    'gs://team-media/hostile',
  );
  assert.equal(result.status, 1, result.stderr);
  const report = reportSchema.parse(JSON.parse(result.stdout));
  assert.deepEqual(
    report.errors.map((issue) => `${issue.line} ${issue.code}`),
    [
      '1 media_outside_root',
      '2 media_outside_root',
      '3 media_outside_root',
      '4 media_type_mismatch',
      '5 media_not_found',
      '0 no_training_examples',
    ],
  );
  const [files] = await storage.bucket('team-media').getFiles({ prefix: 'hostile/' });
  assert.deepEqual(files, [], 'nothing was uploaded');
});

test('--media-root without --upload, and an --upload that is not gs://, are one clear line and exit 2', async () => {
  const dir = demoFolder();
  const noUpload = await cli(dir, 'convert', 'mllm_demo.json', '--out', 'out', '--media-root', '.');
  assert.equal(noUpload.status, 2);
  assert.match(noUpload.stderr, /--media-root is where --upload finds local media files/);
  const notGs = await cli(dir, 'convert', 'mllm_demo.json', '--out', 'out', '--upload', 's3://bucket/x');
  assert.equal(notGs.status, 2);
  assert.match(notGs.stderr, /--upload must be gs:\/\/BUCKET or gs:\/\/BUCKET\/PREFIX/);
});
