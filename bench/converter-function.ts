/**
 * The converter function as deployed, on the storage emulator: a JSONL file of each size is
 * uploaded to the raw bucket, then the function's handler converts it in its own process pinned to
 * one CPU (`taskset`, as a 1 vCPU Cloud Run instance), reading and writing through the unmodified
 * Cloud Storage client and recording the dataset in the Firestore emulator. Prints time, CPU,
 * throughput and peak memory per size, and the largest input that fits the 540 s event-function
 * timeout at the measured rate. Then the CLI converts the same file on the same pinned CPU; the
 * function's speed as a share of the CLI's compares conversions alone: the handler's time, and
 * the CLI's wall time less that of converting a one-record file (node's start, imports, the
 * tokenizer load: what a deployed function pays once per instance, not per file). The function
 * process's own wall time, imports included, is printed beside it. Asserts nothing.
 *
 * Usage: node bench/converter-function.ts [--sizes 10MB,100MB,1GB] [--heap MB] [--rounds N]
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Storage } from '@google-cloud/storage';
import { createFirestore } from '../adapters/firestore/run-store.ts';
import { startFirestoreEmulator } from '../emulators/firestore.ts';
import { startStorageEmulator } from '../emulators/storage/server.ts';
import { ensureDataset, parseSize } from './data.ts';

const TIMEOUT_SECONDS = 540;
const { values } = parseArgs({
  options: { sizes: { type: 'string', default: '10MB,100MB,1GB' }, heap: { type: 'string' }, rounds: { type: 'string', default: '1' } },
});
// This machine's speed drifts between runs minutes apart: with --rounds N the function and the CLI
// take turns N times and the best of each is compared.
const rounds = Math.max(1, Number(values.rounds));
// --heap MB caps V8's old space, to show memory with a smaller heap (the deployed function does not cap it).
const heapFlags = values.heap ? [`--max-old-space-size=${Number(values.heap)}`] : [];
const sizes = values.sizes!.split(',').map(parseSize);
process.env.METADATA_SERVER_DETECTION = 'none';
const storageEmulator = await startStorageEmulator();
const firestore = await startFirestoreEmulator();
const pinned = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
await warmUp(firestore.host);
let oneRecord: string | undefined;
try {
  const storage = new Storage({ projectId: 'bench', apiEndpoint: storageEmulator.url });
  await storage.createBucket('bench-raw');
  await storage.createBucket('bench-datasets');
  console.log(
    `converter function on ${pinned ? 'one CPU (taskset -c 0)' : 'an unpinned process (no taskset here)'}${values.heap ? `, V8 heap capped at ${values.heap} MB` : ', V8 heap uncapped'}; storage emulator in the parent process`,
  );
  oneRecord = await oneRecordFile();
  console.log(
    `best of ${rounds} round(s), the function and the CLI in turn; CLI s: its wall time less its fixed cost (a one-record file, pinned the same way)`,
  );
  console.log('size       rows    handler s   cpu s   MB/s    peak RSS  process s   CLI s   speed vs CLI');
  let rate = 0;
  for (const size of sizes) {
    const path = await ensureDataset('jsonl', size);
    let best: FunctionRun | undefined;
    let peakRss = 0;
    let cliBest = Infinity;
    for (let round = 0; round < rounds; round++) {
      // A new object each round: the same one again would be a duplicate delivery, converted once.
      const run = await runFunction(storage, path, `incoming/bench-${size}-${round}.jsonl`);
      if (!best || run.seconds < best.seconds) best = run;
      peakRss = Math.max(peakRss, run.peakRss);
      const fixed = await cliWallSeconds(oneRecord);
      cliBest = Math.min(cliBest, (await cliWallSeconds(path)) - fixed);
    }
    const bytes = statSync(path).size;
    rate = bytes / 1e6 / best!.seconds;
    const row = [
      `${(bytes / 1e6).toFixed(0).padStart(5)} MB`,
      String(best!.examples?.total ?? '?').padStart(9),
      best!.seconds.toFixed(1).padStart(9),
      best!.cpuSeconds.toFixed(1).padStart(6),
      rate.toFixed(1).padStart(5),
      `${(peakRss / 1e6).toFixed(0).padStart(6)} MB`,
      best!.processSeconds.toFixed(1).padStart(8),
      cliBest.toFixed(1).padStart(6),
      `${((100 * cliBest) / best!.seconds).toFixed(0).padStart(8)} %`,
      best!.status,
    ];
    console.log(row.join('  '));
  }
  console.log(
    `largest input within the ${TIMEOUT_SECONDS} s timeout at the last rate: about ${((rate * TIMEOUT_SECONDS) / 1000).toFixed(1)} GB (minus start-up; memory stays flat, see peak RSS)`,
  );
} finally {
  if (oneRecord) rmSync(dirname(oneRecord), { recursive: true, force: true });
  await firestore.stop();
  await storageEmulator.stop();
}

interface FunctionRun {
  status: string;
  seconds: number;
  cpuSeconds: number;
  peakRss: number;
  examples: { total: number } | null;
  processSeconds: number;
}

/** The file uploaded to the raw bucket as `name`, then converted by the handler in its own pinned process. */
async function runFunction(storage: Storage, path: string, name: string): Promise<FunctionRun> {
  await pipeline(createReadStream(path), storage.bucket('bench-raw').file(name).createWriteStream({ resumable: true }));
  const [metadata] = await storage.bucket('bench-raw').file(name).getMetadata();
  const event = { bucket: 'bench-raw', name, generation: metadata.generation, size: metadata.size, contentType: 'application/jsonl' };
  const nodeArgs = [...heapFlags, fileURLToPath(new URL('./converter-function-child.ts', import.meta.url)), JSON.stringify(event)];
  // Asynchronously: the storage emulator serves from this process and must keep answering meanwhile.
  const [command, args] = pinned ? ['taskset', ['-c', '0', process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
  const started = performance.now();
  const { code, stdout, stderr } = await run(command, args, spawnOptions());
  const processSeconds = (performance.now() - started) / 1000;
  const line = stdout.trim().split('\n').at(-1) ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`the conversion of ${name} failed: ${stderr.slice(-2000)}`);
  return { ...(JSON.parse(line) as Omit<FunctionRun, 'processSeconds'>), processSeconds };
}

/**
 * The emulator's first transactions are slow while its JVM warms up (the first conversion's claim
 * took 1.5 s, the next ones' 0.35 s; Cloud Firestore has no such warm-up): a few are spent here,
 * before anything is timed.
 */
async function warmUp(host: string): Promise<void> {
  process.env.FIRESTORE_EMULATOR_HOST = host;
  const db = createFirestore('bench');
  for (let i = 0; i < 5; i++)
    await db.runTransaction(async (tx) => tx.set(db.doc(`warm-up/${i}`), (await tx.get(db.doc(`warm-up/${i}`))).data() ?? {}));
  await db.terminate();
}

/** A JSONL file of one example, for the CLI's fixed cost. */
async function oneRecordFile(): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'bench-one-')), 'one.jsonl');
  const example = {
    contents: [
      { role: 'user', parts: [{ text: 'hi' }] },
      { role: 'model', parts: [{ text: 'hello' }] },
    ],
  };
  await writeFile(path, JSON.stringify(example) + '\n');
  return path;
}

/** The CLI converting the same file, pinned as the function was (`--threads auto`: none on one core). */
async function cliWallSeconds(path: string): Promise<number> {
  const out = mkdtempSync(join(tmpdir(), 'bench-cli-'));
  try {
    const cli = [fileURLToPath(new URL('../bin/sft-pipeline.mjs', import.meta.url)), 'convert', path, '--out', join(out, 'dataset')];
    const [command, args] = pinned ? ['taskset', ['-c', '0', process.execPath, ...cli]] : [process.execPath, cli];
    const started = performance.now();
    const { code, stderr } = await run(command, args, { stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'] });
    // Exit 1: some records were rejected, as the function's report says too.
    if (code !== 0 && code !== 1) throw new Error(`the CLI's conversion of ${path} failed: ${stderr.slice(-2000)}`);
    return (performance.now() - started) / 1000;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** A child process run to its end without blocking: the storage emulator serves from this process. */
async function run(command: string, args: string[], options: ReturnType<typeof spawnOptions>) {
  const child = spawn(command, args, options);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

function spawnOptions(): { stdio: ['ignore', 'pipe', 'pipe']; env?: NodeJS.ProcessEnv } {
  return {
    stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      GOOGLE_CLOUD_PROJECT: 'bench',
      STORAGE_EMULATOR_HOST: storageEmulator.url,
      FIRESTORE_EMULATOR_HOST: firestore.host,
      RAW_BUCKET: 'bench-raw',
      MAX_OBJECT_BYTES: String(4 * 1024 ** 3),
      LOG_LEVEL: 'ERROR',
    },
  };
}
