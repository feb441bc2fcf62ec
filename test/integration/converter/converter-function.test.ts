import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PubSub, type Subscription } from '@google-cloud/pubsub';
import { Storage } from '@google-cloud/storage';
import { createDatasetStore } from '../../../adapters/firestore/dataset-store.ts';
import { createFirestore } from '../../../adapters/firestore/run-store.ts';
import { createLaunchPublisher } from '../../../adapters/pubsub/launch-publisher.ts';
import { createObjectStore } from '../../../adapters/storage/object-store.ts';
import { loadGemmaTokenizer } from '../../../adapters/tokenizer/index.ts';
import { startStorageEmulator, type ObjectResource, type StorageEmulator } from '../../../emulators/storage/server.ts';
import { isPublicAddress } from '../../../adapters/http/address-policy.ts';
import { handleObjectFinalized, LaunchInProgressError, type ConverterDeps } from '../../../functions/converter/handler.ts';
import { converterConfigSchema } from '../../../shared/config/converter.ts';
import { reportSchema } from '../../../shared/convert/types.ts';
import { datasetIdFor, LAUNCH_CLAIM_STALE_MS, storageObjectEventSchema } from '../../../shared/datasets/schema.ts';
import { launchMessageSchema } from '../../../shared/launch/schema.ts';
import { createLogger } from '../../../shared/log.ts';
import { useEmulators } from '../../support/emulators.ts';
import { parquetFromRecords } from '../../support/parquet.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const emulators = useEmulators({ firestore: true, pubsub: true });
let storageEmulator: StorageEmulator;
let storage: Storage;
let deps: ConverterDeps;
let subscription: Subscription;
let pubsub: PubSub;
const finalized: ObjectResource[] = [];
const quiet = createLogger('converter-test', { sink: { write: () => {} } });

before(async () => {
  await emulators.ready;
  storageEmulator = await startStorageEmulator();
  process.env.STORAGE_EMULATOR_HOST = storageEmulator.url;
  storageEmulator.onObjectFinalized((object) => finalized.push(object));
  storage = new Storage({ projectId: emulators.projectId });
  await storage.createBucket('raw-data');
  await storage.createBucket('sft-datasets');
  pubsub = new PubSub({ projectId: emulators.projectId, apiEndpoint: emulators.pubsubHost, emulatorMode: true });
  const [topic] = await pubsub.createTopic('launch');
  [subscription] = await topic.createSubscription('launcher');
  deps = {
    objects: createObjectStore(storage),
    datasets: createDatasetStore(createFirestore(emulators.projectId)),
    launches: createLaunchPublisher(pubsub, 'launch'),
    tokens: loadGemmaTokenizer(),
    log: quiet,
    now: Date.now,
    config: {
      DATASETS_BUCKET: 'sft-datasets',
      INPUT_PREFIX: 'incoming/',
      MAX_OBJECT_BYTES: 50 * 1024 * 1024,
      MAX_INVALID_SHARE: 0.1,
      DEFAULT_BASE_MODEL: 'gemini-3.5-flash-lite',
      CONVERSION_LEASE_SECONDS: 600,
      HTTPS_MEDIA: 'warn',
      MEDIA_FETCH_TIMEOUT_SECONDS: 5,
      PREFIX_DEFAULTS: {},
    },
  };
});
after(async () => {
  await subscription?.close();
  await pubsub?.close();
  await storageEmulator?.stop();
});

/** Uploads like a data team does and returns the finalize event the storage emulator fired. */
async function upload(name: string, content: string | Buffer) {
  await storage.bucket('raw-data').file(name).save(content);
  const event = finalized.findLast((object) => object.name === name)!;
  return storageObjectEventSchema.parse(event);
}
const readText = async (uri: string) => {
  const chunks: Buffer[] = [];
  for await (const chunk of deps.objects.read(uri)) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
};
/**
 * Delivers an event as Eventarc does: a delivery that fails (a launch another delivery is still
 * publishing) is delivered again after a pause, until it is acknowledged.
 */
async function deliverUntilAcked(event: ReturnType<typeof storageObjectEventSchema.parse>, eventId: string) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await handleObjectFinalized(event, eventId, deps);
    } catch (error) {
      if (!(error instanceof LaunchInProgressError) || attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

/**
 * The launch messages published since the last call, as they arrive on the launcher's
 * subscription within a moment. Pub/Sub delivers at least once: a message redelivered (its ack
 * was late on a loaded machine) has the same id and is counted once, since it was published once.
 */
const seenMessageIds = new Set<string>();
const pullLaunches = async (): Promise<unknown[]> => {
  const messages: unknown[] = [];
  await new Promise<void>((resolve) => {
    const onMessage = (message: { id: string; data: Buffer; ack(): void }) => {
      message.ack();
      if (seenMessageIds.has(message.id)) return;
      seenMessageIds.add(message.id);
      messages.push(JSON.parse(message.data.toString()));
    };
    subscription.on('message', onMessage);
    setTimeout(() => {
      subscription.removeListener('message', onMessage);
      resolve();
    }, 1500);
  });
  return messages;
};

test('a CSV with a launch sidecar becomes the same dataset the CLI makes, a report, a dataset document and one launch message', async () => {
  const sidecar = { epochs: 3, launch: { experiment: 'support-tickets', hyperParameters: { epochCount: 3 } } };
  await upload('incoming/support-tickets.csv.launch.json', JSON.stringify(sidecar));
  const raw = readFileSync(`${root}samples/support-tickets.csv`);
  const event = await upload('incoming/support-tickets.csv', raw);
  const outcome = await handleObjectFinalized(event, randomUUID(), deps);
  assert.equal(outcome.status, 'converted');
  const id = (outcome as { datasetId: string }).datasetId;
  const base = `gs://sft-datasets/datasets/${id}`;
  // The same bytes as the CLI's golden output for the same options.
  assert.equal(await readText(`${base}/train.jsonl`), readFileSync(`${root}test/golden/support-tickets/train.jsonl`, 'utf8'));
  assert.equal(await readText(`${base}/validation.jsonl`), readFileSync(`${root}test/golden/support-tickets/validation.jsonl`, 'utf8'));
  const report = reportSchema.parse(JSON.parse(await readText(`${base}/report.json`)));
  assert.deepEqual(
    report.errors.map((e) => `${e.line}:${e.code}`),
    ['7:missing_field'],
  );
  const doc = await deps.datasets.get(id);
  assert.equal(doc?.state, 'CONVERTED');
  assert.deepEqual(doc?.source, {
    bucket: 'raw-data',
    name: 'incoming/support-tickets.csv',
    generation: event.generation,
    size: raw.length,
    md5Hash: event.md5Hash,
    crc32c: event.crc32c,
  });
  assert.equal(event.md5Hash, createHash('md5').update(raw).digest('base64'), "the hash the event carries is the bytes' own");
  assert.equal(doc?.launch.state, 'PUBLISHED');
  const launches = await pullLaunches();
  assert.equal(launches.length, 1);
  const launch = launchMessageSchema.parse(launches[0]);
  assert.deepEqual(
    [launch.requestId, launch.datasetId, launch.trainingDatasetUri, launch.experiment],
    [id, id, `${base}/train.jsonl`, 'support-tickets'],
  );
  assert.ok((await readText('gs://raw-data/incoming/support-tickets.csv')) === raw.toString('utf8'), 'the raw object is untouched');
});

test("public function-calling files (Google's example with proto field names, LLaMA-Factory's glaive demo) convert in the function to the CLI's golden files, with no validation object", async () => {
  for (const [fixture, name, golden] of [
    ['test/fixtures/google/tune-function-calling.jsonl', 'incoming/public/tune-function-calling.jsonl', 'google-tune-function-calling'],
    [
      'test/fixtures/llama-factory/glaive_toolcall_en_demo.sample.json',
      'incoming/public/glaive_toolcall.json',
      'llama-factory-glaive-toolcall',
    ],
  ] as const) {
    await upload(`${name}.launch.json`, JSON.stringify({ validationSplit: 0 }));
    const outcome = await handleObjectFinalized(await upload(name, readFileSync(`${root}${fixture}`)), randomUUID(), deps);
    assert.equal(outcome.status, 'converted', name);
    const doc = await deps.datasets.get((outcome as { datasetId: string }).datasetId);
    assert.equal(await readText(doc!.outputs.train!), readFileSync(`${root}test/golden/${golden}/train.jsonl`, 'utf8'), name);
    assert.equal(doc!.outputs.validation, null, 'no validation examples: no validation object');
    assert.deepEqual(doc!.report!.errors, [], name);
  }
});

test("LLaMA-Factory's DPO demo in the function: the CLI's preference golden file, launched as preference tuning (never as a supervised job)", async () => {
  const name = 'incoming/public/dpo_en_demo.json';
  await upload(
    `${name}.launch.json`,
    JSON.stringify({ validationSplit: 0, launch: { experiment: 'dpo-demo', hyperParameters: { beta: 0.2 } } }),
  );
  const outcome = await handleObjectFinalized(
    await upload(name, readFileSync(`${root}test/fixtures/llama-factory/dpo_en_demo.sample.json`)),
    randomUUID(),
    deps,
  );
  assert.equal(outcome.status, 'converted');
  const doc = await deps.datasets.get((outcome as { datasetId: string }).datasetId);
  assert.equal(doc!.report!.method, 'preference');
  assert.equal(await readText(doc!.outputs.train!), readFileSync(`${root}test/golden/llama-factory-dpo/train.jsonl`, 'utf8'));
  assert.equal(doc!.launch.state, 'PUBLISHED');
  const launches = (await pullLaunches()) as { experiment: string; method?: string; hyperParameters: { beta?: number } }[];
  const launch = launches.find((message) => message.experiment === 'dpo-demo');
  assert.equal(launch?.method, 'PREFERENCE');
  assert.equal(launch?.hyperParameters.beta, 0.2);
});

test('a Parquet dataset (nested, as Hugging Face stores it) is read from the bucket by range, to the same bytes as its JSON', async () => {
  const records = JSON.parse(readFileSync(`${root}test/fixtures/llama-factory/glaive_toolcall_en_demo.sample.json`, 'utf8')) as Record<
    string,
    unknown
  >[];
  const name = 'incoming/public/glaive_toolcall.parquet';
  await upload(`${name}.launch.json`, JSON.stringify({ validationSplit: 0 }));
  const outcome = await handleObjectFinalized(
    await upload(name, Buffer.from(parquetFromRecords(records, { rowGroupSize: 1 }))),
    randomUUID(),
    deps,
  );
  assert.equal(outcome.status, 'converted');
  const doc = await deps.datasets.get((outcome as { datasetId: string }).datasetId);
  assert.equal(doc!.report!.format, 'sharegpt');
  assert.equal(await readText(doc!.outputs.train!), readFileSync(`${root}test/golden/llama-factory-glaive-toolcall/train.jsonl`, 'utf8'));
});

test('duplicate and concurrent deliveries of one event: one dataset, the same bytes, at most one launch message', async () => {
  await upload('incoming/dup.jsonl.launch.json', JSON.stringify({ launch: { experiment: 'dup' } }));
  const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify({ instruction: `Say ${i}`, output: String(i) })).join('\n');
  const event = await upload('incoming/dup.jsonl', lines);
  const eventId = randomUUID();
  const outcomes = await Promise.all(Array.from({ length: 5 }, () => deliverUntilAcked(event, eventId)));
  const again = await deliverUntilAcked(event, randomUUID());
  // Deliveries of one event share its lease (so a redelivery after a crash takes it back at once),
  // so on a busy machine more than one may convert; what they write is create-once and identical.
  const datasetId = datasetIdFor(event.bucket, event.name, event.generation);
  assert.ok(
    outcomes.every((o) => 'datasetId' in o && o.datasetId === datasetId),
    JSON.stringify(outcomes),
  );
  assert.ok(outcomes.some((o) => o.status === 'converted'));
  assert.equal(again.status, 'duplicate');
  const docs = await createFirestore(emulators.projectId).collection('datasets').where('source.name', '==', 'incoming/dup.jsonl').get();
  assert.equal(docs.size, 1, 'one dataset document');
  const doc = (await deps.datasets.get(datasetId))!;
  assert.equal(doc.report?.examples.valid, 50);
  const written = (await readText(doc.outputs.train!)) + (doc.outputs.validation ? await readText(doc.outputs.validation) : '');
  assert.equal(written.trim().split('\n').length, 50, 'every example once');
  const launches = await pullLaunches();
  assert.equal(launches.length, 1);
});

test('bad lines are located in the report; unusable files become REJECTED datasets with one reason; nothing throws', async () => {
  const chat = await upload('incoming/chat.jsonl', readFileSync(`${root}samples/support-chat.openai.jsonl`));
  const outcome = await handleObjectFinalized(chat, randomUUID(), deps);
  const report = (await deps.datasets.get((outcome as { datasetId: string }).datasetId))?.report;
  assert.deepEqual(
    report?.errors.map((e) => `${e.line}:${e.code}`),
    ['4:invalid_json', '8:consecutive_turns'],
  );
  for (const [name, content, reason] of [
    ['incoming/empty.jsonl', '', /empty/],
    ['incoming/noise.jsonl', Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 131) % 256)), /not text/],
    ['incoming/bad-sidecar.csv', 'prompt,response\nq,a\n', /bad-sidecar\.csv\.launch\.json: launch\.experiment/],
  ] as const) {
    if (name === 'incoming/bad-sidecar.csv') await upload(`${name}.launch.json`, JSON.stringify({ launch: { hyperParameters: {} } }));
    const rejected = await handleObjectFinalized(await upload(name, content), randomUUID(), deps);
    assert.equal(rejected.status, 'rejected', name);
    const doc = await deps.datasets.get((rejected as { datasetId: string }).datasetId);
    assert.equal(doc?.state, 'REJECTED');
    assert.match(doc?.rejection ?? '', reason);
    assert.match(await readText(doc!.outputs.report), /"rejected"/);
  }
});

test('objects outside the prefix, non-data files and hostile names: ignored, or contained by the hashed dataset id', async () => {
  assert.equal((await handleObjectFinalized(await upload('elsewhere/a.jsonl', '{}'), randomUUID(), deps)).status, 'ignored');
  assert.equal((await handleObjectFinalized(await upload('incoming/photo.png', 'x'), randomUUID(), deps)).status, 'ignored');
  const hostile = `incoming/../../${'\u0007'.repeat(3)}${'ü'.repeat(300)}/../x.jsonl`;
  const outcome = await handleObjectFinalized(await upload(hostile, JSON.stringify({ instruction: 'a', output: 'b' })), randomUUID(), deps);
  const id = (outcome as { datasetId: string }).datasetId;
  assert.match(id, /^ds-[0-9a-f]{24}$/);
  const doc = await deps.datasets.get(id);
  assert.equal(doc?.source.name, hostile, 'the original name is kept as data');
  assert.equal(doc?.outputs.train, `gs://sft-datasets/datasets/${id}/train.jsonl`);
});

test('every referenced image is opened: a missing one, a mislabelled one and an oversize one are errors on their lines', async () => {
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...Buffer.alloc(100)]);
  await storage.bucket('raw-data').file('media/cat.png').save(png);
  await storage.bucket('raw-data').file('media/really-a-png.jpg').save(png);
  await storage
    .bucket('raw-data')
    .file('media/huge.png')
    .save(Buffer.concat([png, Buffer.alloc(21 * 1024 * 1024)]));
  const row = (image: string) =>
    JSON.stringify({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: image } },
          ],
        },
        { role: 'assistant', content: 'a cat' },
      ],
    });
  const lines = [
    row('gs://raw-data/media/cat.png'),
    row('gs://raw-data/media/missing.png'),
    row('gs://raw-data/media/really-a-png.jpg'),
    row('gs://raw-data/media/huge.png'),
    row('gs://raw-data/media/cat.png'),
  ];
  const outcome = await handleObjectFinalized(await upload('incoming/images.jsonl', lines.join('\n')), randomUUID(), deps);
  const report = (await deps.datasets.get((outcome as { datasetId: string }).datasetId))?.report;
  assert.deepEqual(report?.examples, { total: 5, valid: 2, invalid: 3 });
  // The input's own field, and the converted example's beside it.
  assert.deepEqual(
    report?.errors.map((e) => `${e.line}:${e.code}@${e.path}<-${e.convertedPath}`),
    [
      '2:media_not_found@messages[0].content[1].image_url.url<-contents[0].parts[1].fileData.fileUri',
      '3:media_type_mismatch@messages[0].content[1].image_url.url<-contents[0].parts[1].fileData.mimeType',
      '4:media_too_large@messages[0].content[1].image_url.url<-contents[0].parts[1].fileData.fileUri',
    ],
  );
});

test("LLaMA-Factory's multimodal demo uploaded with its picture folder: relative paths name the objects beside the dataset, checked and rewritten to gs://", async () => {
  const jpeg = (seed: string) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from(`stand-in ${seed}`)]);
  for (const n of ['1', '2', '3']) await storage.bucket('raw-data').file(`incoming/team-a/mllm_demo_data/${n}.jpg`).save(jpeg(n));
  const demo = readFileSync(join(root, 'test/fixtures/llama-factory/mllm_demo.sample.json'), 'utf8');
  const outcome = await handleObjectFinalized(await upload('incoming/team-a/mllm_demo.json', demo), randomUUID(), deps);
  const doc = await deps.datasets.get((outcome as { datasetId: string }).datasetId);
  assert.deepEqual(doc?.report?.examples, { total: 4, valid: 4, invalid: 0 });
  const written = [doc!.outputs.train!, ...(doc!.outputs.validation ? [doc!.outputs.validation] : [])];
  const examples = (await Promise.all(written.map(readText)))
    .join('')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { contents: { parts: unknown[] }[] });
  assert.deepEqual(
    examples.map((example) => JSON.stringify(example.contents[0]!.parts[0])).sort(),
    ['1', '1', '2', '3'].map((n) =>
      JSON.stringify({ fileData: { mimeType: 'image/jpeg', fileUri: `gs://raw-data/incoming/team-a/mllm_demo_data/${n}.jpg` } }),
    ),
  );

  // A picture that is not there, and a path out of the bucket, are errors on their records' lines.
  const row = (image: string) =>
    JSON.stringify({
      conversations: [
        { from: 'human', value: '<image>Who?' },
        { from: 'gpt', value: 'Kane.' },
      ],
      images: [image],
    });
  const broken = await handleObjectFinalized(
    await upload(
      'incoming/team-a/broken.jsonl',
      [row('mllm_demo_data/9.jpg'), row('../../../../etc/x.jpg'), row('/home/me/1.jpg')].join('\n'),
    ),
    randomUUID(),
    deps,
  );
  const report = (await deps.datasets.get((broken as { datasetId: string }).datasetId))?.report;
  assert.deepEqual(
    report?.errors.map((e) => `${e.line}:${e.code}`),
    ['1:media_not_found', '2:media_outside_root', '3:media_outside_root', '0:no_training_examples'],
  );
  assert.match(report!.errors[0]!.message, /gs:\/\/raw-data\/incoming\/team-a\/mllm_demo_data\/9\.jpg does not exist/);
});

test('a 200 MB file streams from the raw bucket to a dataset without being held in memory', async () => {
  const name = 'incoming/large.jsonl';
  const writer = storage.bucket('raw-data').file(name).createWriteStream({ resumable: true });
  const record = (i: number) =>
    JSON.stringify({
      conversations: [
        {
          from: 'human',
          value: `Ticket ${i}: the export button is grey and the tooltip says no permission. ${'Please help. '.repeat(20)}`,
        },
        { from: 'gpt', value: JSON.stringify({ category: 'bug', ticket: i }) },
      ],
    }) + '\n';
  let bytes = 0;
  let count = 0;
  while (bytes < 200 * 1024 * 1024) {
    const line = record(count++);
    bytes += Buffer.byteLength(line);
    if (!writer.write(line)) await once(writer, 'drain');
  }
  writer.end();
  await once(writer, 'finish');
  // In a process of its own with V8's heap capped at 128 MB, as the function's handler runs: a
  // 200 MB object held in memory could not fit, and the process's peak is measured from a clean
  // start instead of a test process's leftovers (which made an in-process RSS delta flaky).
  const event = storageObjectEventSchema.parse(finalized.findLast((object) => object.name === name));
  await storage.createBucket('bench-datasets').catch(() => undefined);
  const child = spawn(process.execPath, ['--max-old-space-size=128', `${root}bench/converter-function-child.ts`, JSON.stringify(event)], {
    env: {
      ...process.env,
      GOOGLE_CLOUD_PROJECT: emulators.projectId,
      RAW_BUCKET: 'raw-data',
      MAX_OBJECT_BYTES: String(1024 * 1024 * 1024),
      FIRESTORE_EMULATOR_HOST: emulators.firestoreHost,
      PUBSUB_EMULATOR_HOST: emulators.pubsubHost,
      STORAGE_EMULATOR_HOST: storageEmulator.url,
      LOG_LEVEL: 'ERROR',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 0, `the capped process finished: ${stderr}`);
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    status: string;
    peakRss: number;
    examples: { total: number; valid: number };
  };
  assert.equal(result.status, 'converted');
  assert.deepEqual(result.examples, { total: count, valid: count, invalid: 0 });
  assert.ok(
    result.peakRss < 450 * 1024 * 1024,
    `peak RSS ${Math.round(result.peakRss / 1e6)} MB converting a 200 MB object (the process alone needs about 250 MB)`,
  );
});

test('https media: left with a warning by default; with HTTPS_MEDIA=copy copied into the bucket once, checked, and the example points there', async () => {
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...Buffer.alloc(200, 7)]);
  const requests: string[] = [];
  // A real HTTP server stands in for the remote host the team's images live on.
  const host = createServer((request, response) => {
    requests.push(request.url!);
    if (request.url === '/cat.png') return void response.writeHead(200, { 'content-type': 'image/png' }).end(png);
    if (request.url === '/huge.png') {
      response.writeHead(200, { 'content-type': 'image/png' });
      const chunk = Buffer.alloc(1024 * 1024);
      let sent = 0;
      const pump = () => {
        while (sent < 25 && response.write(chunk)) sent += 1;
        if (sent >= 25) response.end();
        else response.once('drain', pump);
      };
      return pump();
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
  // Vertex and the validator want https URLs; the test's fetch maps them onto the local server.
  const localFetch: typeof fetch = (url, init) => fetch(String(url).replace('https://media.example.com', base), init);
  // media.example.com stands for a public host; the address rule itself is the production one.
  const mediaAddresses = {
    allows: isPublicAddress,
    resolve: async (host: string) => (host === 'media.example.com' ? ['93.184.215.14'] : ['10.0.0.7']),
  };
  try {
    const row = (image: string) =>
      JSON.stringify({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image_url', image_url: { url: image } },
            ],
          },
          { role: 'assistant', content: 'a cat' },
        ],
      });
    const lines = [
      row('https://media.example.com/cat.png'),
      row('https://media.example.com/gone.png'),
      row('https://media.example.com/huge.png'),
      row('https://media.example.com/cat.png'),
    ].join('\n');

    const warned = await handleObjectFinalized(await upload('incoming/remote-warn.jsonl', lines), randomUUID(), {
      ...deps,
      fetch: localFetch,
    });
    const warnedReport = (await deps.datasets.get((warned as { datasetId: string }).datasetId))?.report;
    assert.deepEqual(warnedReport?.examples, { total: 4, valid: 4, invalid: 0 });
    const perExample = warnedReport?.warnings.filter((w) => w.line > 0) ?? [];
    assert.ok(perExample.every((w) => w.code === 'https_file_uri') && perExample.length === 4);
    assert.ok(
      warnedReport?.warnings.some((w) => w.line === 0 && w.code === 'few_training_examples'),
      'and the file as a whole is small',
    );
    assert.equal(requests.length, 0, 'nothing fetched when warning');

    const copyDeps = { ...deps, fetch: localFetch, mediaAddresses, config: { ...deps.config, HTTPS_MEDIA: 'copy' as const } };
    const outcome = await handleObjectFinalized(await upload('incoming/remote-copy.jsonl', lines), randomUUID(), copyDeps);
    const doc = await deps.datasets.get((outcome as { datasetId: string }).datasetId);
    assert.deepEqual(doc?.report?.examples, { total: 4, valid: 2, invalid: 2 });
    assert.deepEqual(
      doc?.report?.errors.map((e) => `${e.line}:${e.code}`),
      ['2:media_copy_failed', '3:media_too_large'],
    );
    assert.match(doc!.report!.errors[0]!.message, /HTTP 404/);
    assert.deepEqual(
      doc?.report?.warnings.filter((w) => w.code === 'https_file_uri'),
      [],
      'copied files are no longer on https',
    );
    const train = (await readText(doc!.outputs.train!)) + (doc!.outputs.validation ? await readText(doc!.outputs.validation) : '');
    const uris = [...train.matchAll(/"fileUri":"([^"]+)"/g)].map((m) => m[1]);
    assert.equal(uris.length, 2);
    assert.ok(uris.every((uri) => /^gs:\/\/sft-datasets\/media\/[0-9a-f]{32}\.png$/.test(uri!)) && uris[0] === uris[1], uris.join(', '));
    const [copied] = await storage.bucket('sft-datasets').file(uris[0]!.replace('gs://sft-datasets/', '')).download();
    assert.deepEqual(copied, png, "the bytes are the host's");
    assert.equal(requests.filter((r) => r === '/cat.png').length, 1, 'one download for two examples');

    // A redelivery finds the copy in the bucket and downloads nothing again.
    await handleObjectFinalized(await upload('incoming/remote-copy-again.jsonl', lines), randomUUID(), copyDeps);
    assert.equal(requests.filter((r) => r === '/cat.png').length, 1);
  } finally {
    host.close();
  }
});

test('a launch spec from the object metadata (sft-sidecar) or from the prefix defaults, when there is no sidecar file; a bad one is a clear rejection', async () => {
  const lines = Array.from({ length: 20 }, (_, i) =>
    JSON.stringify({ instruction: `Classify ticket ${i}`, output: i % 2 ? 'bug' : 'billing' }),
  ).join('\n');
  const withMetadata = async (name: string, sidecar: string) => {
    await storage
      .bucket('raw-data')
      .file(name)
      .save(lines, { metadata: { metadata: { 'sft-sidecar': sidecar } } });
    return storageObjectEventSchema.parse(finalized.findLast((object) => object.name === name));
  };
  const byMetadata = await handleObjectFinalized(
    await withMetadata('incoming/meta.jsonl', JSON.stringify({ launch: { experiment: 'from-metadata' } })),
    randomUUID(),
    deps,
  );
  assert.ok('launch' in byMetadata && byMetadata.launch, 'launched');

  // As the function reads them from its environment.
  const { PREFIX_DEFAULTS } = converterConfigSchema.parse({
    RAW_BUCKET: 'raw-data',
    DATASETS_BUCKET: 'sft-datasets',
    PREFIX_DEFAULTS: JSON.stringify({
      'incoming/': { launch: { experiment: 'too-broad' } },
      'incoming/team-a/': { launch: { experiment: 'team-a' }, validationSplit: 0.2 },
    }),
  });
  const teamDefaults: ConverterDeps = { ...deps, config: { ...deps.config, PREFIX_DEFAULTS } };
  await handleObjectFinalized(await upload('incoming/team-a/tickets.jsonl', lines), randomUUID(), teamDefaults);
  const launches = (await pullLaunches()).map((message) => launchMessageSchema.parse(message).experiment).sort();
  assert.deepEqual(launches, ['from-metadata', 'team-a'], 'the longest prefix wins');

  const bad = await handleObjectFinalized(
    await withMetadata('incoming/bad-meta.jsonl', '{"launch": {"experiment": 3}}'),
    randomUUID(),
    deps,
  );
  assert.equal(bad.status, 'rejected');
  const doc = await deps.datasets.get((bad as { datasetId: string }).datasetId);
  assert.match(doc!.rejection!, /incoming\/bad-meta\.jsonl \(metadata sft-sidecar\): launch\.experiment/);
});

test('every format dropped as a file (with its sidecar) becomes a dataset, a report and one launch message', async () => {
  const q = (i: number) => `How do I export report ${i}?`;
  const a = (i: number) => `Open Reports, pick report ${i}, then Export.`;
  const rows = [0, 1, 2, 3, 4];
  const files: [string, string, string][] = [
    [
      'gemini.jsonl',
      'gemini',
      rows
        .map((i) =>
          JSON.stringify({
            contents: [
              { role: 'user', parts: [{ text: q(i) }] },
              { role: 'model', parts: [{ text: a(i) }] },
            ],
          }),
        )
        .join('\n'),
    ],
    [
      'openai.jsonl',
      'openai',
      rows
        .map((i) =>
          JSON.stringify({
            messages: [
              { role: 'user', content: q(i) },
              { role: 'assistant', content: a(i) },
            ],
          }),
        )
        .join('\n'),
    ],
    [
      'sharegpt.jsonl',
      'sharegpt',
      rows
        .map((i) =>
          JSON.stringify({
            conversations: [
              { from: 'human', value: q(i) },
              { from: 'gpt', value: a(i) },
            ],
          }),
        )
        .join('\n'),
    ],
    ['alpaca.jsonl', 'alpaca', rows.map((i) => JSON.stringify({ instruction: q(i), output: a(i) })).join('\n')],
    [
      'array.json',
      'openai',
      JSON.stringify(
        rows.map((i) => ({
          messages: [
            { role: 'user', content: q(i) },
            { role: 'assistant', content: a(i) },
          ],
        })),
      ),
    ],
    ['tickets.csv', 'csv', `prompt,response\n${rows.map((i) => `"${q(i)}","${a(i)}"`).join('\n')}\n`],
    ['tickets.tsv', 'tsv', `prompt\tresponse\n${rows.map((i) => `${q(i)}\t${a(i)}`).join('\n')}\n`],
  ];
  for (const [file, format, content] of files) {
    await upload(`incoming/formats/${file}.launch.json`, JSON.stringify({ launch: { experiment: `format-${format}` } }));
    const outcome = await handleObjectFinalized(await upload(`incoming/formats/${file}`, content), randomUUID(), deps);
    assert.equal(outcome.status, 'converted', file);
    const doc = await deps.datasets.get((outcome as { datasetId: string }).datasetId);
    assert.deepEqual(
      [doc?.report?.format, doc?.report?.examples.valid, doc?.report?.examples.invalid, doc?.launch.state],
      [format, 5, 0, 'PUBLISHED'],
      file,
    );
    const lines = (await readText(doc!.outputs.train!)) + (doc!.outputs.validation ? await readText(doc!.outputs.validation) : '');
    assert.equal(lines.trim().split('\n').length, 5, `${file}: every example written`);
    assert.ok(lines.includes(JSON.stringify(a(3))), `${file}: the answers are the model turns`);
  }
  const launches = (await pullLaunches()).map((message) => launchMessageSchema.parse(message).experiment).sort();
  assert.deepEqual(launches, files.map(([, format]) => `format-${format}`).sort(), 'one launch message per file');
});

test('a delivery that dies between claiming the launch and publishing it: redeliveries fail while the claim is fresh, then one publishes it, once', async () => {
  await upload('incoming/crash.jsonl.launch.json', JSON.stringify({ launch: { experiment: 'crash' } }));
  const lines = Array.from({ length: 20 }, (_, i) => JSON.stringify({ instruction: `Say ${i}`, output: String(i) })).join('\n');
  const event = await upload('incoming/crash.jsonl', lines);
  // The first delivery converts, then a Pub/Sub outage kills it right after it claimed the launch.
  const dying = {
    ...deps,
    launches: { publish: async () => Promise.reject(Object.assign(new Error('publish failed: the process died'), { code: 'ECONNRESET' })) },
  };
  const first = randomUUID();
  await assert.rejects(handleObjectFinalized(event, first, dying), /the process died/);
  const datasetId = datasetIdFor(event.bucket, event.name, event.generation);
  assert.equal((await deps.datasets.get(datasetId))?.launch.state, 'CLAIMED');

  // Eventarc redelivers the failed event: while the claim is fresh (its holder could still be publishing) it fails again…
  await assert.rejects(handleObjectFinalized(event, first, deps), LaunchInProgressError);
  assert.deepEqual(await pullLaunches(), []);
  // …and once the claim is stale (a publish takes seconds), the next redelivery publishes it.
  const later = { ...deps, now: () => Date.now() + LAUNCH_CLAIM_STALE_MS + 1000 };
  const again = await handleObjectFinalized(event, first, later);
  assert.ok('launch' in again && again.launch, 'published on redelivery');
  assert.equal((await handleObjectFinalized(event, randomUUID(), later)).status, 'duplicate', 'and only once');
  assert.equal((await deps.datasets.get(datasetId))?.launch.state, 'PUBLISHED');
  assert.deepEqual(
    (await pullLaunches()).map((m) => launchMessageSchema.parse(m).experiment),
    ['crash'],
  );
});

test('two versions of one name: each event reads exactly its own generation, and an overwritten one is recorded gone, never converted from the newer bytes', async () => {
  const line = (text: string) =>
    JSON.stringify({
      contents: [
        { role: 'user', parts: [{ text }] },
        { role: 'model', parts: [{ text: `${text}: answered` }] },
      ],
    });
  for (let round = 0; round < 5; round++) {
    const name = `incoming/versions-${round}.jsonl`;
    const eventA = await upload(name, [line(`A${round} one`), line(`A${round} two`)].join('\n'));
    const eventB = await upload(name, [line(`B${round} one`), line(`B${round} two`), line(`B${round} three`)].join('\n'));
    assert.notEqual(eventA.generation, eventB.generation);
    // A's event arrives after B overwrote it (Eventarc delivers late and out of order).
    const outcomeA = await handleObjectFinalized(eventA, randomUUID(), deps);
    assert.equal(outcomeA.status, 'rejected', `round ${round}: A is gone, not converted from B`);
    const docA = await deps.datasets.get((outcomeA as { datasetId: string }).datasetId);
    assert.equal(docA?.source.generation, eventA.generation);
    assert.match(docA?.rejection ?? '', new RegExp(`generation ${eventA.generation} .* no longer exists`));
    const outcomeB = await handleObjectFinalized(eventB, randomUUID(), deps);
    assert.equal(outcomeB.status, 'converted');
    const docB = await deps.datasets.get((outcomeB as { datasetId: string }).datasetId);
    assert.equal(docB?.report?.examples.total, 3, 'B converted from its own bytes');
    const train = await readText(docB!.outputs.train!);
    assert.ok(!train.includes(`A${round}`), 'none of A in B');
  }
});

test('HTTPS_MEDIA=copy never reaches a private, loopback or link-local address, at any redirect hop, and never follows a downgrade to http', async () => {
  const requests: string[] = [];
  const redirects: Record<string, string> = {
    '/metadata.png': 'https://169.254.169.254/computeMetadata/v1/token.png',
    '/internal.png': 'https://internal.corp.example/secret.png',
    '/loopback.png': 'https://[::1]/x.png',
    '/mapped.png': 'https://[::ffff:127.0.0.1]/x.png',
    '/downgrade.png': 'http://media.example.com/cat.png',
  };
  const host = createServer((request, response) => {
    requests.push(request.url!);
    const loop = /^\/loop(\d+)\.png$/.exec(request.url!);
    if (loop) return void response.writeHead(302, { location: `https://media.example.com/loop${Number(loop[1]) + 1}.png` }).end();
    const target = redirects[request.url!];
    if (target) return void response.writeHead(302, { location: target }).end();
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
  const connected: string[] = [];
  const localFetch: typeof fetch = (url, init) => {
    connected.push(String(url));
    return fetch(String(url).replace('https://media.example.com', base), init);
  };
  const mediaAddresses = {
    allows: isPublicAddress,
    resolve: async (name: string) => (name === 'media.example.com' ? ['93.184.215.14'] : ['10.0.0.7']),
  };
  try {
    const row = (image: string) =>
      JSON.stringify({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image_url', image_url: { url: image } },
            ],
          },
          { role: 'assistant', content: 'a cat' },
        ],
      });
    const names = ['/metadata.png', '/internal.png', '/loopback.png', '/mapped.png', '/downgrade.png', '/loop0.png'];
    const lines = [...names.map((name) => row(`https://media.example.com${name}`)), row('https://10.1.2.3/direct.png')].join('\n');
    const copyDeps = { ...deps, fetch: localFetch, mediaAddresses, config: { ...deps.config, HTTPS_MEDIA: 'copy' as const } };
    const outcome = await handleObjectFinalized(await upload('incoming/ssrf.jsonl', lines), randomUUID(), copyDeps);
    const doc = await deps.datasets.get((outcome as { datasetId: string }).datasetId);
    const errors = doc?.report?.errors.filter((e) => e.line > 0).map((e) => `${e.line}: ${e.message}`) ?? [];
    assert.equal(errors.length, 7, errors.join('\n'));
    assert.ok(
      doc?.report?.errors.some((e) => e.code === 'no_training_examples'),
      'every record refused: nothing to train on, said once for the file',
    );
    assert.match(errors[0]!, /redirects to https:\/\/169\.254\.169\.254\/.*private, loopback or link-local/);
    assert.match(errors[1]!, /internal\.corp\.example .*\(10\.0\.0\.7\)/);
    assert.match(errors[2]!, /\[::1\].*private, loopback or link-local/);
    assert.match(errors[3]!, /::ffff:7f00:1.*private, loopback or link-local/, 'the URL parser writes ::ffff:127.0.0.1 so: still refused');
    assert.match(errors[4]!, /redirects to http: URL: only https media are fetched/);
    assert.match(errors[5]!, /more than 5 redirects/);
    assert.match(errors[6]!, /10\.1\.2\.3 is a private/);
    assert.ok(
      connected.every((url) => url.startsWith('https://media.example.com/')),
      `only the public host was ever asked: ${connected.join(', ')}`,
    );
  } finally {
    host.close();
  }
});

test('the same bytes with the same launch spec uploaded twice start one run: the second dataset points at the first run', async () => {
  const dedupe = { ...deps, config: { ...deps.config, DUPLICATE_UPLOAD_WINDOW_HOURS: 24 } };
  const bytes = Array.from({ length: 12 }, (_, i) =>
    JSON.stringify({ instruction: `Classify ticket ${i}`, output: i % 2 ? 'bug' : 'billing' }),
  ).join('\n');
  const drop = async (name: string, experiment: string) => {
    await upload(`${name}.launch.json`, JSON.stringify({ launch: { experiment } }));
    const outcome = await handleObjectFinalized(await upload(name, bytes), randomUUID(), dedupe);
    return (await deps.datasets.get((outcome as { datasetId: string }).datasetId))!;
  };
  const first = await drop('incoming/double-a.jsonl', 'double-upload');
  const second = await drop('incoming/double-b.jsonl', 'double-upload');
  assert.equal(first.launch.state, 'PUBLISHED');
  assert.notEqual(second.datasetId, first.datasetId, 'each upload keeps its own dataset');
  assert.equal(second.launch.state, 'DUPLICATE');
  assert.equal(second.launch.runId, first.launch.runId, 'the second points at the first run');
  assert.match(second.launch.reason ?? '', /same bytes with the same launch spec as dataset/);
  const otherSpec = await drop('incoming/double-c.jsonl', 'another-experiment');
  assert.equal(otherSpec.launch.state, 'PUBLISHED', 'another launch spec is another run');
  const off = { ...deps, config: { ...deps.config, DUPLICATE_UPLOAD_WINDOW_HOURS: 0 } };
  await upload('incoming/double-d.jsonl.launch.json', JSON.stringify({ launch: { experiment: 'double-upload' } }));
  const again = await handleObjectFinalized(await upload('incoming/double-d.jsonl', bytes), randomUUID(), off);
  assert.equal(
    (await deps.datasets.get((again as { datasetId: string }).datasetId))?.launch.state,
    'PUBLISHED',
    'with the window at 0 every upload launches',
  );
});
