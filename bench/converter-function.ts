/**
 * The converter function as deployed, on the storage emulator: a JSONL file of each size is
 * uploaded to the raw bucket, then the function's handler converts it in its own process pinned to
 * one CPU (`taskset`, as a 1 vCPU Cloud Run instance), reading and writing through the unmodified
 * Cloud Storage client and recording the dataset in the Firestore emulator. Prints time, CPU,
 * throughput and peak memory per size, and the largest input that fits the 540 s event-function
 * timeout at the measured rate. Asserts nothing.
 *
 * Usage: node bench/converter-function.ts [--sizes 10MB,100MB,1GB] [--heap MB]
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Storage } from '@google-cloud/storage';
import { startFirestoreEmulator } from '../emulators/firestore.ts';
import { startStorageEmulator } from '../emulators/storage/server.ts';
import { ensureDataset, parseSize } from './data.ts';

const TIMEOUT_SECONDS = 540;
const { values } = parseArgs({ options: { sizes: { type: 'string', default: '10MB,100MB,1GB' }, heap: { type: 'string' } } });
// --heap MB caps V8's old space, to show memory with a smaller heap (the deployed function does not cap it).
const heapFlags = values.heap ? [`--max-old-space-size=${Number(values.heap)}`] : [];
const sizes = values.sizes!.split(',').map(parseSize);
process.env.METADATA_SERVER_DETECTION = 'none';
const storageEmulator = await startStorageEmulator();
const firestore = await startFirestoreEmulator();
const pinned = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
try {
  const storage = new Storage({ projectId: 'bench', apiEndpoint: storageEmulator.url });
  await storage.createBucket('bench-raw');
  await storage.createBucket('bench-datasets');
  console.log(
    `converter function on ${pinned ? 'one CPU (taskset -c 0)' : 'an unpinned process (no taskset here)'}${values.heap ? `, V8 heap capped at ${values.heap} MB` : ', V8 heap uncapped'}; storage emulator in the parent process`,
  );
  console.log('size       rows        wall s   cpu s   MB/s    peak RSS   (tokenizer load s)');
  let rate = 0;
  for (const size of sizes) {
    const path = await ensureDataset('jsonl', size);
    const name = `incoming/bench-${size}.jsonl`;
    await pipeline(createReadStream(path), storage.bucket('bench-raw').file(name).createWriteStream({ resumable: true }));
    const [metadata] = await storage.bucket('bench-raw').file(name).getMetadata();
    const event = { bucket: 'bench-raw', name, generation: metadata.generation, size: metadata.size, contentType: 'application/jsonl' };
    const nodeArgs = [...heapFlags, fileURLToPath(new URL('./converter-function-child.ts', import.meta.url)), JSON.stringify(event)];
    // Asynchronously: the storage emulator serves from this process and must keep answering meanwhile.
    const [command, args] = pinned ? ['taskset', ['-c', '0', process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
    const child = spawn(command, args, spawnOptions());
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    const [code] = (await once(child, 'close')) as [number | null];
    const line = stdout.trim().split('\n').at(-1) ?? '';
    if (code !== 0 || !line.startsWith('{')) throw new Error(`the conversion of ${name} failed: ${stderr.slice(-2000)}`);
    const figures = JSON.parse(line) as {
      status: string;
      seconds: number;
      cpuSeconds: number;
      loadSeconds: number;
      peakRss: number;
      examples: { total: number } | null;
    };
    const bytes = statSync(path).size;
    rate = bytes / 1e6 / figures.seconds;
    console.log(
      `${(bytes / 1e6).toFixed(0).padStart(5)} MB  ${String(figures.examples?.total ?? '?').padStart(9)}  ${figures.seconds.toFixed(1).padStart(8)}  ${figures.cpuSeconds.toFixed(1).padStart(6)}  ${rate.toFixed(1).padStart(5)}  ${(figures.peakRss / 1e6).toFixed(0).padStart(6)} MB   (${figures.loadSeconds.toFixed(2)})  ${figures.status}`,
    );
  }
  console.log(
    `largest input within the ${TIMEOUT_SECONDS} s timeout at the last rate: about ${((rate * TIMEOUT_SECONDS) / 1000).toFixed(1)} GB (minus start-up; memory stays flat, see peak RSS)`,
  );
} finally {
  await firestore.stop();
  await storageEmulator.stop();
}

function spawnOptions() {
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
