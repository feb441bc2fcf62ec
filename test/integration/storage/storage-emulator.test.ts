import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CRC32C, Storage } from '@google-cloud/storage';
import { createObjectStore } from '../../../adapters/storage/object-store.ts';
import { startStorageEmulator, type StorageEmulator } from '../../../emulators/storage/server.ts';

let emulator: StorageEmulator;
let storage: Storage;

before(async () => {
  emulator = await startStorageEmulator();
  // The client reads STORAGE_EMULATOR_HOST (with the scheme) and skips authentication.
  process.env.STORAGE_EMULATOR_HOST = emulator.url;
  storage = new Storage({ projectId: 'storage-test' });
  await storage.createBucket('raw-data');
});
after(async () => {
  await emulator.stop();
});

test('save, read back, metadata, list with prefix and delimiter, delete: all through the real client', async () => {
  const bucket = storage.bucket('raw-data');
  await bucket
    .file('incoming/a.jsonl')
    .save('{"a":1}\n', { contentType: 'application/jsonl', metadata: { metadata: { team: 'support' } } });
  await bucket.file('incoming/b.csv').save('prompt,response\nq,a\n', { resumable: false });
  await bucket.file('incoming/sub/c.txt').save('c');
  await bucket.file('datasets/x.jsonl').save('x');
  const [content] = await bucket.file('incoming/a.jsonl').download();
  assert.equal(content.toString(), '{"a":1}\n');
  const [metadata] = await bucket.file('incoming/a.jsonl').getMetadata();
  assert.equal(metadata.contentType, 'application/jsonl');
  assert.equal(metadata.metadata?.team, 'support');
  assert.equal(metadata.md5Hash, createHash('md5').update('{"a":1}\n').digest('base64'));
  const [files, , response] = await bucket.getFiles({ prefix: 'incoming/', delimiter: '/', autoPaginate: false });
  assert.deepEqual(
    files.map((f) => f.name),
    ['incoming/a.jsonl', 'incoming/b.csv'],
  );
  assert.deepEqual((response as { prefixes?: string[] }).prefixes, ['incoming/sub/']);
  const names: string[] = [];
  let query: Record<string, unknown> | null = { maxResults: 2, autoPaginate: false };
  let pages = 0;
  while (query) {
    const [page, next] = (await bucket.getFiles(query)) as unknown as [{ name: string }[], Record<string, unknown> | null];
    names.push(...page.map((f) => f.name));
    pages += 1;
    query = next;
  }
  assert.deepEqual([pages, names], [2, ['datasets/x.jsonl', 'incoming/a.jsonl', 'incoming/b.csv', 'incoming/sub/c.txt']]);
  await bucket.file('datasets/x.jsonl').delete();
  assert.deepEqual((await bucket.file('datasets/x.jsonl').exists())[0], false);
});

test('create-once writes: a second write with ifGenerationMatch 0 fails with 412', async () => {
  const file = storage.bucket('raw-data').file('once.json');
  await file.save('first', { preconditionOpts: { ifGenerationMatch: 0 } });
  await assert.rejects(
    file.save('second', { preconditionOpts: { ifGenerationMatch: 0 }, resumable: false }),
    (error: { code?: number }) => error.code === 412,
  );
  assert.equal((await file.download())[0].toString(), 'first');
});

test('a 150 MB object streams in (resumable) and out (with range reads) with bounded memory and intact bytes', async () => {
  const file = storage.bucket('raw-data').file('big/150mb.bin');
  const chunk = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31) & 0xff;
  const written = createHash('sha256');
  const rssBefore = process.memoryUsage().rss;
  await pipeline(
    Readable.from(
      (function* () {
        for (let i = 0; i < 150; i++) {
          chunk[0] = i;
          written.update(chunk);
          yield Buffer.from(chunk);
        }
      })(),
    ),
    file.createWriteStream({ resumable: true, chunkSize: 32 * 1024 * 1024 }),
  );
  const read = createHash('sha256');
  let bytes = 0;
  for await (const piece of file.createReadStream()) {
    read.update(piece as Buffer);
    bytes += (piece as Buffer).length;
  }
  assert.equal(bytes, 150 * 1024 * 1024);
  assert.equal(read.digest('hex'), written.digest('hex'));
  const growth = process.memoryUsage().rss - rssBefore;
  assert.ok(growth < 120 * 1024 * 1024, `RSS grew ${Math.round(growth / 1e6)} MB for a 150 MB round trip`);
  const [range] = await file.download({ start: 1024 * 1024, end: 1024 * 1024 + 9 });
  assert.deepEqual([...range], [1, 31, 62, 93, 124, 155, 186, 217, 248, 23]);
});

test("the object store's writer keeps every byte of many small and some huge writes, text in any script and bytes mixed", async () => {
  const objects = createObjectStore(storage);
  const writer = objects.openWriter('gs://raw-data/out/mixed.jsonl', { contentType: 'application/jsonl', ifAbsent: true });
  const expected: Buffer[] = [];
  const reused = new Uint8Array(5000);
  for (let i = 0; i < 20_000; i++) {
    const pick = i % 7;
    let data: string | Uint8Array;
    if (pick === 0) data = `{"line":${i},"text":"plain ascii"}\n`;
    else if (pick === 1) data = `{"line":${i},"text":"한국어 😀 café ${'ü'.repeat(i % 50)}"}\n`;
    else if (pick === 2) data = reused.fill(i % 251).subarray(0, 1 + (i % 5000));
    else if (pick === 3 && i % 5000 === 3)
      data = '長'.repeat(300_000); // over the 256 KiB chunk, alone
    else if (pick === 3 && i % 5000 === 10) data = new Uint8Array(400_000).fill(7);
    else data = `${i}\n`;
    expected.push(Buffer.from(typeof data === 'string' ? Buffer.from(data) : Uint8Array.from(data)));
    await writer.write(data);
  }
  assert.equal(await writer.close(), 'written');
  const chunks: Uint8Array[] = [];
  for await (const chunk of objects.read('gs://raw-data/out/mixed.jsonl')) chunks.push(chunk);
  const got = Buffer.concat(chunks);
  const want = Buffer.concat(expected);
  assert.equal(got.length, want.length);
  assert.ok(got.equals(want), 'the object holds exactly what was written, in order');
});

test('every finished upload fires one finalize event: in-process and as a CloudEvent to a function URL', async () => {
  const seen: string[] = [];
  emulator.onObjectFinalized((object) => seen.push(`${object.bucket}/${object.name}#${object.generation}`));
  const received: { headers: Record<string, string | string[] | undefined>; body: { name: string; bucket: string } }[] = [];
  const target = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      received.push({ headers: request.headers, body: JSON.parse(Buffer.concat(chunks).toString()) });
      response.writeHead(received.length === 1 ? 500 : 204); // the first delivery fails: it is retried
      response.end();
    });
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  emulator.addNotificationTarget(`http://127.0.0.1:${(target.address() as AddressInfo).port}/`, 'raw-data');
  await storage.bucket('raw-data').file('incoming/event.jsonl').save('{"x":1}\n');
  for (let i = 0; i < 100 && received.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  target.close();
  assert.equal(seen.filter((s) => s.startsWith('raw-data/incoming/event.jsonl#')).length, 1);
  assert.equal(received.length, 2, 'a failed delivery is retried');
  assert.equal(received[1]!.headers['ce-type'], 'google.cloud.storage.object.v1.finalized');
  assert.equal(received[1]!.headers['ce-subject'], 'objects/incoming/event.jsonl');
  assert.equal(received[1]!.headers['ce-id'], received[0]!.headers['ce-id'], 'a retry is the same event');
  assert.deepEqual([received[1]!.body.bucket, received[1]!.body.name], ['raw-data', 'incoming/event.jsonl']);
});

test('any name Cloud Storage allows reaches the function (CloudEvent headers percent-encoded); names it refuses are refused', async () => {
  const received: { subject: string; name: string }[] = [];
  const target = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      received.push({
        subject: String(request.headers['ce-subject']),
        name: (JSON.parse(Buffer.concat(chunks).toString()) as { name: string }).name,
      });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  await storage.createBucket('unicode-names');
  emulator.addNotificationTarget(`http://127.0.0.1:${(target.address() as AddressInfo).port}/`, 'unicode-names');
  const name = 'incoming/données d\'été — 質問 😀 "quoted" 100%.jsonl';
  await storage.bucket('unicode-names').file(name).save('{"x":1}\n');
  for (let i = 0; i < 100 && received.length < 1; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  target.close();
  assert.equal(received.length, 1, 'delivered');
  assert.equal(received[0]!.name, name, 'the body carries the name as it is');
  assert.equal(decodeURIComponent(received[0]!.subject), `objects/${name}`, 'the header carries it percent-encoded');
  assert.match(received[0]!.subject, /^[\x21-\x7e]+$/, 'printable ASCII only');
  for (const bad of ['incoming/two\nlines.jsonl', 'incoming/carriage\rreturn.jsonl', '..']) {
    await assert.rejects(
      storage.bucket('unicode-names').file(bad).save('x', { resumable: false }),
      (error: { code?: number }) => error.code === 400,
      JSON.stringify(bad),
    );
  }
});

test('a resumable upload whose chunk breaks midway resumes where the bytes stopped, and its md5 and crc32c are those of the whole object', async () => {
  const bytes = Buffer.from(Array.from({ length: 3 * 256 * 1024 }, (_, i) => (i * 7 + (i >> 9)) & 0xff));
  const session = await fetch(`${emulator.url}/upload/storage/v1/b/raw-data/o?uploadType=resumable&name=resumed.bin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ contentType: 'application/octet-stream' }),
  });
  const location = session.headers.get('location')!;
  const put = (start: number, end: number, total: string) =>
    fetch(location, {
      method: 'PUT',
      headers: { 'content-range': `bytes ${start}-${end - 1}/${total}` },
      body: bytes.subarray(start, end),
    });
  assert.equal((await put(0, 256 * 1024, '*')).status, 308);
  // The second chunk: half its bytes sent, then the connection drops.
  await new Promise<void>((resolve) => {
    const request = httpRequest(location, { method: 'PUT', headers: { 'content-range': `bytes ${256 * 1024}-${512 * 1024 - 1}/*` } });
    request.on('error', () => resolve());
    request.write(bytes.subarray(256 * 1024, 384 * 1024), () => setTimeout(() => (request.destroy(), resolve()), 100));
  });
  // Then as a client resumes: ask how much arrived, send the rest from there, again on a 308.
  const receivedSoFar = async () => {
    const status = await fetch(location, { method: 'PUT', headers: { 'content-range': 'bytes */*' } });
    return Number(/bytes=0-(\d+)/.exec(status.headers.get('range') ?? '')?.[1] ?? -1) + 1;
  };
  const resumedFrom: number[] = [];
  for (let status = 308; status === 308 && resumedFrom.length < 5;) {
    const received = await receivedSoFar();
    resumedFrom.push(received);
    status = (await put(received, bytes.length, String(bytes.length))).status;
    assert.ok(status === 200 || status === 308, `status ${status}`);
  }
  assert.ok(resumedFrom[0]! >= 256 * 1024 && resumedFrom[0]! <= 384 * 1024, `resumed from ${resumedFrom.join(', ')}`);
  const [metadata] = await storage.bucket('raw-data').file('resumed.bin').getMetadata();
  assert.equal(metadata.md5Hash, createHash('md5').update(bytes).digest('base64'));
  // The client library's own CRC32C, not the emulator's: the two are written apart.
  const crc32c = new CRC32C();
  crc32c.update(bytes);
  assert.equal(metadata.crc32c, crc32c.toString());
  const [back] = await storage.bucket('raw-data').file('resumed.bin').download();
  assert.ok(back.equals(bytes));
});
