import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PubSub, type Subscription } from '@google-cloud/pubsub';
import { Storage } from '@google-cloud/storage';
import { createDatasetStore } from '../../../adapters/firestore/dataset-store.ts';
import { createFirestore } from '../../../adapters/firestore/run-store.ts';
import { createLaunchPublisher } from '../../../adapters/pubsub/launch-publisher.ts';
import { createObjectStore } from '../../../adapters/storage/object-store.ts';
import { loadGemmaTokenizer } from '../../../adapters/tokenizer/index.ts';
import { startStorageEmulator, type ObjectResource, type StorageEmulator } from '../../../emulators/storage/server.ts';
import { handleObjectFinalized, type ConverterDeps } from '../../../functions/converter/handler.ts';
import { reportSchema } from '../../../shared/convert/types.ts';
import { storageObjectEventSchema } from '../../../shared/datasets/schema.ts';
import { launchMessageSchema } from '../../../shared/launch/schema.ts';
import { createLogger } from '../../../shared/log.ts';
import { useEmulators } from '../../support/emulators.ts';

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
    config: { DATASETS_BUCKET: 'sft-datasets', INPUT_PREFIX: 'incoming/', MAX_OBJECT_BYTES: 50 * 1024 * 1024, MAX_INVALID_SHARE: 0.1, DEFAULT_BASE_MODEL: 'gemini-2.5-flash', CONVERSION_LEASE_SECONDS: 600 },
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
/** The launch messages that arrive on the launcher's subscription within a moment. */
const pullLaunches = async (): Promise<unknown[]> => {
  const messages: unknown[] = [];
  await new Promise<void>((resolve) => {
    const onMessage = (message: { data: Buffer; ack(): void }) => {
      message.ack();
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
  assert.deepEqual(report.errors.map((e) => `${e.line}:${e.code}`), ['7:missing_field']);
  const doc = await deps.datasets.get(id);
  assert.equal(doc?.state, 'CONVERTED');
  assert.deepEqual(doc?.source, { bucket: 'raw-data', name: 'incoming/support-tickets.csv', generation: event.generation, size: raw.length });
  assert.equal(doc?.launch.state, 'PUBLISHED');
  const launches = await pullLaunches();
  assert.equal(launches.length, 1);
  const launch = launchMessageSchema.parse(launches[0]);
  assert.deepEqual([launch.requestId, launch.datasetId, launch.trainingDatasetUri, launch.experiment], [id, id, `${base}/train.jsonl`, 'support-tickets']);
  assert.ok((await readText('gs://raw-data/incoming/support-tickets.csv')) === raw.toString('utf8'), 'the raw object is untouched');
});

test('duplicate and concurrent deliveries of one event: one dataset, the same bytes, at most one launch message', async () => {
  await upload('incoming/dup.jsonl.launch.json', JSON.stringify({ launch: { experiment: 'dup' } }));
  const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify({ instruction: `Say ${i}`, output: String(i) })).join('\n');
  const event = await upload('incoming/dup.jsonl', lines);
  const eventId = randomUUID();
  const outcomes = await Promise.all(Array.from({ length: 5 }, () => handleObjectFinalized(event, eventId, deps)));
  const again = await handleObjectFinalized(event, randomUUID(), deps);
  assert.equal(outcomes.filter((o) => o.status === 'converted').length, 1);
  assert.equal(again.status, 'duplicate');
  const launches = await pullLaunches();
  assert.equal(launches.length, 1);
});

test('bad lines are located in the report; unusable files become REJECTED datasets with one reason; nothing throws', async () => {
  const chat = await upload('incoming/chat.jsonl', readFileSync(`${root}samples/support-chat.openai.jsonl`));
  const outcome = await handleObjectFinalized(chat, randomUUID(), deps);
  const report = (await deps.datasets.get((outcome as { datasetId: string }).datasetId))?.report;
  assert.deepEqual(report?.errors.map((e) => `${e.line}:${e.code}`), ['4:invalid_json', '8:consecutive_turns']);
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
  await storage.bucket('raw-data').file('media/huge.png').save(Buffer.concat([png, Buffer.alloc(21 * 1024 * 1024)]));
  const row = (image: string) => JSON.stringify({ messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: image } }] }, { role: 'assistant', content: 'a cat' }] });
  const lines = [row('gs://raw-data/media/cat.png'), row('gs://raw-data/media/missing.png'), row('gs://raw-data/media/really-a-png.jpg'), row('gs://raw-data/media/huge.png'), row('gs://raw-data/media/cat.png')];
  const outcome = await handleObjectFinalized(await upload('incoming/images.jsonl', lines.join('\n')), randomUUID(), deps);
  const report = (await deps.datasets.get((outcome as { datasetId: string }).datasetId))?.report;
  assert.deepEqual(report?.examples, { total: 5, valid: 2, invalid: 3 });
  assert.deepEqual(report?.errors.map((e) => `${e.line}:${e.code}@${e.path}`), [
    '2:media_not_found@contents[0].parts[1].fileData.fileUri',
    '3:media_type_mismatch@contents[0].parts[1].fileData.mimeType',
    '4:media_too_large@contents[0].parts[1].fileData.fileUri',
  ]);
});

test('a 200 MB file streams from the raw bucket to a dataset without being held in memory', async () => {
  const name = 'incoming/large.jsonl';
  const writer = storage.bucket('raw-data').file(name).createWriteStream({ resumable: true });
  const record = (i: number) => JSON.stringify({ conversations: [{ from: 'human', value: `Ticket ${i}: the export button is grey and the tooltip says no permission. ${'Please help. '.repeat(20)}` }, { from: 'gpt', value: JSON.stringify({ category: 'bug', ticket: i }) }] }) + '\n';
  let bytes = 0;
  let count = 0;
  while (bytes < 200 * 1024 * 1024) {
    const line = record(count++);
    bytes += Buffer.byteLength(line);
    if (!writer.write(line)) await once(writer, 'drain');
  }
  writer.end();
  await once(writer, 'finish');
  const rssBefore = process.memoryUsage().rss;
  const event = storageObjectEventSchema.parse(finalized.findLast((object) => object.name === name));
  const outcome = await handleObjectFinalized(event, randomUUID(), { ...deps, config: { ...deps.config, MAX_OBJECT_BYTES: 1024 * 1024 * 1024 } });
  assert.equal(outcome.status, 'converted');
  const doc = await deps.datasets.get((outcome as { datasetId: string }).datasetId);
  assert.deepEqual(doc?.report?.examples, { total: count, valid: count, invalid: 0 });
  const growth = process.memoryUsage().rss - rssBefore;
  assert.ok(growth < 150 * 1024 * 1024, `RSS grew ${Math.round(growth / 1e6)} MB converting a 200 MB object`);
});
