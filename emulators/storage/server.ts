import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Crc32c } from './crc32c.ts';

/**
 * A Cloud Storage emulator: a real HTTP server of the GCS JSON API, for tests and the local
 * stack, driven through the unmodified @google-cloud/storage client (STORAGE_EMULATOR_HOST).
 * Objects are files on disk, streamed in and out, so objects larger than memory work; uploads
 * may be simple, multipart or resumable (single request or chunked, as the client chooses);
 * generation preconditions are enforced (412), md5Hash and crc32c are real, and every finished
 * upload fires a finalize event: to in-process listeners, and as a CloudEvent
 * (`google.cloud.storage.object.v1.finalized`) POSTed to registered function URLs, retried
 * until accepted, as Eventarc delivers it.
 * Why our own: docs/emulators.md.
 */
export interface StoredObject {
  bucket: string;
  name: string;
  generation: number;
  metageneration: number;
  size: number;
  contentType: string;
  md5Hash: string;
  crc32c: string;
  metadata: Record<string, string>;
  timeCreated: string;
  updated: string;
  file: string;
}

export type ObjectResource = ReturnType<typeof resourceOf>;

interface PendingUpload {
  bucket: string;
  name: string;
  contentType: string;
  metadata: Record<string, string>;
  preconditions: Preconditions;
  file: string;
  received: number;
  /** The digests of the bytes received so far, kept as they arrive (null once a chunk failed midway). */
  digests: Digests | null;
  done: StoredObject | null;
  /** The request being handled for this upload: the next one waits for it, as bytes are appended in order. */
  inFlight: Promise<void>;
}

/** MD5 and CRC32C, updated as an object's bytes arrive, as Cloud Storage computes them. */
class Digests {
  private readonly md5 = createHash('md5');
  private readonly crc = new Crc32c();

  update(chunk: Uint8Array): void {
    this.md5.update(chunk);
    this.crc.update(chunk);
  }

  final(): { md5Hash: string; crc32c: string } {
    return { md5Hash: this.md5.digest('base64'), crc32c: this.crc.base64() };
  }
}

interface Preconditions {
  ifGenerationMatch?: number;
  ifGenerationNotMatch?: number;
  ifMetagenerationMatch?: number;
}

export interface StorageEmulator {
  /** The STORAGE_EMULATOR_HOST value: http://127.0.0.1:PORT */
  url: string;
  onObjectFinalized(listener: (object: ObjectResource) => void): void;
  /** Delivers finalize events of `bucket` (or every bucket) as CloudEvents to a function URL. */
  addNotificationTarget(target: string, bucket?: string): void;
  stop(): Promise<void>;
}

/**
 * How finalize events are retried. Eventarc's own policy: "the default delay starts at a minimum
 * of 10 seconds and increases with each subsequent failure, up to a maximum of 600 seconds", and
 * undelivered events are kept 24 hours (Eventarc's retry-events page). The defaults here are
 * compressed for tests; the local stack passes longer ones.
 */
export interface DeliveryRetry {
  minMs: number;
  maxMs: number;
  retentionMs: number;
}

export async function startStorageEmulator(
  options: { port?: number; dataDir?: string; deliveryRetry?: Partial<DeliveryRetry> } = {},
): Promise<StorageEmulator> {
  const retry: DeliveryRetry = { minMs: 100, maxMs: 5000, retentionMs: 10 * 60_000, ...options.deliveryRetry };
  let stopping = false;
  const ownDir = !options.dataDir;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'gcs-emulator-'));
  mkdirSync(join(dataDir, 'objects'), { recursive: true });
  mkdirSync(join(dataDir, 'uploads'), { recursive: true });
  const buckets = new Map<string, { created: string; objects: Map<string, StoredObject> }>();
  const uploads = new Map<string, PendingUpload>();
  const listeners: ((object: ObjectResource) => void)[] = [];
  const targets: { url: string; bucket?: string }[] = [];
  const deliveries = new Set<Promise<void>>();
  let generationClock = Date.now() * 1000;
  let url = '';

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendError(response, 500, error instanceof Error ? error.message : String(error));
      else response.destroy();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse) {
    const parsed = new URL(request.url ?? '/', 'http://emulator');
    // With STORAGE_EMULATOR_HOST the client uses the host itself as the JSON API base (`/b/...`),
    // and `/storage/v1/b/...` otherwise: serve both, as fake-gcs-server does.
    const path = /^\/b(\/|$)/.test(parsed.pathname) ? `/storage/v1${parsed.pathname}` : parsed.pathname;
    const query = parsed.searchParams;
    const method = request.method ?? 'GET';
    let match: RegExpExecArray | null;

    if ((match = /^\/resumable\/([\w-]+)$/.exec(path)) && method === 'PUT') return resumableChunk(match[1]!, request, response);
    if ((match = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(path)) && method === 'POST')
      return startUpload(decodeURIComponent(match[1]!), query, request, response);
    if (path === '/storage/v1/b' && method === 'POST') return createBucket(await readJson(request), response);
    if (path === '/storage/v1/b' && method === 'GET')
      return sendJson(response, 200, { kind: 'storage#buckets', items: [...buckets.keys()].map((name) => bucketResource(name)) });
    if ((match = /^\/storage\/v1\/b\/([^/]+)$/.exec(path))) {
      const name = decodeURIComponent(match[1]!);
      if (!buckets.has(name)) return sendError(response, 404, `The specified bucket does not exist: ${name}`);
      if (method === 'GET') return sendJson(response, 200, bucketResource(name));
      if (method === 'DELETE') {
        if (buckets.get(name)!.objects.size > 0) return sendError(response, 409, 'The bucket you tried to delete is not empty.');
        buckets.delete(name);
        return send(response, 204);
      }
    }
    if ((match = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(path)) && method === 'GET')
      return listObjects(decodeURIComponent(match[1]!), query, response);
    if ((match = /^\/(?:download\/)?storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(path))) {
      const bucket = decodeURIComponent(match[1]!);
      const name = decodeURIComponent(match[2]!);
      // `generation=` names one version: without object versioning only the live one exists, so
      // an overwritten generation is gone (404), never answered with the newer bytes.
      const wanted = query.get('generation');
      const live = buckets.get(bucket)?.objects.get(name);
      const object = wanted !== null && live && String(live.generation) !== wanted ? undefined : live;
      const shown = wanted !== null ? `${name}#${wanted}` : name;
      if (!buckets.has(bucket)) return sendError(response, 404, `The specified bucket does not exist: ${bucket}`);
      if (method === 'GET' && query.get('alt') === 'media') return download(object, request, response, shown);
      if (!object) return sendError(response, 404, `No such object: ${bucket}/${shown}`);
      const failed = checkPreconditions(preconditionsOf(query), object);
      if (failed) return sendError(response, 412, failed);
      if (method === 'GET') return sendJson(response, 200, resourceOf(object));
      if (method === 'PATCH' || method === 'PUT') {
        const patch = await readJson(request);
        if (patch.metadata && typeof patch.metadata === 'object') {
          for (const [key, value] of Object.entries(patch.metadata as Record<string, unknown>)) {
            if (value === null) delete object.metadata[key];
            else object.metadata[key] = String(value);
          }
        }
        if (typeof patch.contentType === 'string') object.contentType = patch.contentType;
        object.metageneration += 1;
        object.updated = new Date().toISOString();
        return sendJson(response, 200, resourceOf(object));
      }
      if (method === 'DELETE') {
        buckets.get(bucket)!.objects.delete(name);
        await rm(object.file, { force: true });
        return send(response, 204);
      }
    }
    if ((match = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)\/(?:copyTo|rewriteTo)\/b\/([^/]+)\/o\/(.+)$/.exec(path)) && method === 'POST') {
      const source = buckets.get(decodeURIComponent(match[1]!))?.objects.get(decodeURIComponent(match[2]!));
      if (!source) return sendError(response, 404, 'No such object');
      const copy = await storeFile(
        decodeURIComponent(match[3]!),
        decodeURIComponent(match[4]!),
        source.contentType,
        { ...source.metadata },
        {},
        async (file) => {
          await pipeline(createReadStream(source.file), createWriteStream(file));
        },
      );
      if (typeof copy === 'string') return sendError(response, copy.startsWith('No such') ? 404 : 412, copy);
      const resource = resourceOf(copy);
      return sendJson(
        response,
        200,
        path.includes('/rewriteTo/')
          ? { kind: 'storage#rewriteResponse', done: true, totalBytesRewritten: resource.size, objectSize: resource.size, resource }
          : resource,
      );
    }
    return sendError(response, 404, `the storage emulator does not serve ${method} ${path}`);
  }

  function createBucket(body: Record<string, unknown>, response: ServerResponse) {
    const name = String(body.name ?? '');
    if (!/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(name)) return sendError(response, 400, `Invalid bucket name: '${name}'`);
    if (buckets.has(name))
      return sendError(response, 409, 'Your previous request to create the named bucket succeeded and you already own it.');
    buckets.set(name, { created: new Date().toISOString(), objects: new Map() });
    return sendJson(response, 200, bucketResource(name));
  }

  function bucketResource(name: string) {
    return { kind: 'storage#bucket', id: name, name, timeCreated: buckets.get(name)?.created, location: 'US', storageClass: 'STANDARD' };
  }

  async function startUpload(bucket: string, query: URLSearchParams, request: IncomingMessage, response: ServerResponse) {
    if (!buckets.has(bucket)) return sendError(response, 404, `The specified bucket does not exist: ${bucket}`);
    const uploadType = query.get('uploadType');
    const preconditions = preconditionsOf(query);
    if (uploadType === 'resumable') {
      const meta = await readJson(request);
      const name = String(meta.name ?? query.get('name') ?? '');
      const badName = objectNameProblem(name);
      if (badName) return sendError(response, 400, badName);
      const id = randomUUID();
      uploads.set(id, {
        bucket,
        name,
        contentType: String(meta.contentType ?? request.headers['x-upload-content-type'] ?? 'application/octet-stream'),
        metadata: stringRecord(meta.metadata),
        preconditions,
        file: join(dataDir, 'uploads', id),
        received: 0,
        digests: new Digests(),
        done: null,
        inFlight: Promise.resolve(),
      });
      response.setHeader('location', `${url}/resumable/${id}`);
      return sendJson(response, 200, {});
    }
    if (uploadType === 'media') {
      const name = query.get('name') ?? '';
      const badName = objectNameProblem(name);
      if (badName) return sendError(response, 400, badName);
      const result = await storeFile(
        bucket,
        name,
        String(request.headers['content-type'] ?? 'application/octet-stream'),
        {},
        preconditions,
        (file) => pipeline(request, createWriteStream(file)),
      );
      return typeof result === 'string' ? sendError(response, 412, result) : sendJson(response, 200, resourceOf(result));
    }
    if (uploadType === 'multipart') {
      const boundary = /boundary="?([^";]+)"?/.exec(String(request.headers['content-type']))?.[1];
      if (!boundary) return sendError(response, 400, 'multipart upload without a boundary');
      const body = await readBody(request);
      const parts = splitMultipart(body, boundary);
      if (parts.length < 2) return sendError(response, 400, 'multipart upload needs metadata and media parts');
      const meta = JSON.parse(parts[0]!.body.toString('utf8')) as Record<string, unknown>;
      const name = String(meta.name ?? query.get('name') ?? '');
      const badName = objectNameProblem(name);
      if (badName) return sendError(response, 400, badName);
      const contentType = String(meta.contentType ?? parts[1]!.headers['content-type'] ?? 'application/octet-stream');
      const result = await storeFile(bucket, name, contentType, stringRecord(meta.metadata), preconditions, async (file) => {
        await pipeline(async function* () {
          yield parts[1]!.body;
        }, createWriteStream(file));
      });
      return typeof result === 'string' ? sendError(response, 412, result) : sendJson(response, 200, resourceOf(result));
    }
    return sendError(response, 400, `unsupported uploadType ${uploadType}`);
  }

  async function resumableChunk(id: string, request: IncomingMessage, response: ServerResponse) {
    const upload = uploads.get(id);
    if (!upload) return sendError(response, 404, 'No such upload');
    // One request of an upload at a time: a status check or a resent chunk that arrives while a
    // broken one is still being written sees what that one left, never a count it then changes.
    const previous = upload.inFlight;
    let release = () => {};
    upload.inFlight = new Promise<void>((resolve) => (release = resolve));
    try {
      await previous;
      return await resumableChunkInTurn(id, upload, request, response);
    } finally {
      release();
    }
  }

  async function resumableChunkInTurn(id: string, upload: PendingUpload, request: IncomingMessage, response: ServerResponse) {
    const range = /^bytes (\*|(\d+)-(\d+|\*))\/(\d+|\*)$/.exec(String(request.headers['content-range'] ?? 'bytes */*'));
    if (!range) return sendError(response, 400, `bad Content-Range ${request.headers['content-range']}`);
    if (upload.done) {
      request.resume();
      return sendJson(response, 200, resourceOf(upload.done));
    }
    if (range[1] === '*') {
      // A status check: how much has arrived.
      request.resume();
      return incomplete(response, upload.received);
    }
    const start = Number(range[2]);
    if (start !== upload.received) {
      request.resume();
      return incomplete(response, upload.received);
    }
    // Hashed as the bytes arrive, so finishing the upload does not read it all again.
    const digests = start === 0 ? new Digests() : upload.digests;
    upload.digests = null;
    try {
      await pipeline(
        request,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            digests?.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(upload.file, { flags: start === 0 ? 'w' : 'a' }),
      );
      upload.digests = digests;
    } finally {
      upload.received = (await stat(upload.file)).size;
    }
    const total = range[4] === '*' ? null : Number(range[4]);
    const last = range[3] === '*' || (total !== null && upload.received >= total);
    if (!last) return incomplete(response, upload.received);
    const result = await storeFile(
      upload.bucket,
      upload.name,
      upload.contentType,
      upload.metadata,
      upload.preconditions,
      (file) => rename(upload.file, file),
      upload.digests,
    );
    if (typeof result === 'string') {
      uploads.delete(id);
      await rm(upload.file, { force: true });
      return sendError(response, 412, result);
    }
    upload.done = result;
    return sendJson(response, 200, resourceOf(result));
  }

  function incomplete(response: ServerResponse, received: number) {
    if (received > 0) response.setHeader('range', `bytes=0-${received - 1}`);
    response.writeHead(308);
    response.end();
  }

  /** Writes a new generation of an object through `fill`, checking preconditions first and last. */
  async function storeFile(
    bucket: string,
    name: string,
    contentType: string,
    metadata: Record<string, string>,
    preconditions: Preconditions,
    fill: (file: string) => Promise<unknown>,
    digests: Digests | null = null,
  ): Promise<StoredObject | string> {
    const store = buckets.get(bucket);
    if (!store) return `No such bucket: ${bucket}`;
    if (!name) return 'Required object name';
    const early = checkPreconditions(preconditions, store.objects.get(name));
    if (early) return early;
    generationClock = Math.max(generationClock + 1, Date.now() * 1000);
    const generation = generationClock;
    const file = join(dataDir, 'objects', `${createHash('sha1').update(`${bucket}/${name}`).digest('hex')}-${generation}`);
    await fill(file);
    // Preconditions are checked again once the bytes are in, since another upload may have won.
    const late = checkPreconditions(preconditions, store.objects.get(name));
    if (late) {
      await rm(file, { force: true });
      return late;
    }
    let known = digests;
    if (!known) {
      known = new Digests();
      for await (const chunk of createReadStream(file)) known.update(chunk as Buffer);
    }
    const { md5Hash, crc32c } = known.final();
    const now = new Date().toISOString();
    const previous = store.objects.get(name);
    const object: StoredObject = {
      bucket,
      name,
      generation,
      metageneration: 1,
      size: statSync(file).size,
      contentType,
      md5Hash,
      crc32c,
      metadata,
      timeCreated: now,
      updated: now,
      file,
    };
    store.objects.set(name, object);
    if (previous) rmSync(previous.file, { force: true });
    finalized(object);
    return object;
  }

  function checkPreconditions(p: Preconditions, current: StoredObject | undefined): string | null {
    const generation = current?.generation ?? 0;
    if (p.ifGenerationMatch !== undefined && p.ifGenerationMatch !== generation)
      return `At least one of the pre-conditions you specified did not hold. (ifGenerationMatch=${p.ifGenerationMatch}, generation=${generation})`;
    if (p.ifGenerationNotMatch !== undefined && p.ifGenerationNotMatch === generation)
      return 'At least one of the pre-conditions you specified did not hold. (ifGenerationNotMatch)';
    if (p.ifMetagenerationMatch !== undefined && p.ifMetagenerationMatch !== (current?.metageneration ?? 0))
      return 'At least one of the pre-conditions you specified did not hold. (ifMetagenerationMatch)';
    return null;
  }

  async function download(object: StoredObject | undefined, request: IncomingMessage, response: ServerResponse, name: string) {
    if (!object) return sendError(response, 404, `No such object: ${name}`);
    const headers: Record<string, string> = {
      'content-type': object.contentType,
      'x-goog-hash': `crc32c=${object.crc32c},md5=${object.md5Hash}`,
      'x-goog-generation': String(object.generation),
      'x-goog-metageneration': String(object.metageneration),
      'x-goog-stored-content-encoding': 'identity',
      'x-goog-stored-content-length': String(object.size),
      etag: object.md5Hash,
      'accept-ranges': 'bytes',
    };
    const range = /^bytes=(\d*)-(\d*)$/.exec(String(request.headers.range ?? ''));
    if (range && object.size > 0) {
      let start = range[1] === '' ? Math.max(0, object.size - Number(range[2])) : Number(range[1]);
      let end = range[1] === '' || range[2] === '' ? object.size - 1 : Math.min(Number(range[2]), object.size - 1);
      if (start > end || start >= object.size) {
        response.writeHead(416, { 'content-range': `bytes */${object.size}` });
        return response.end();
      }
      start = Math.max(0, start);
      end = Math.max(start, end);
      // A partial body cannot be checked against the whole object's hashes.
      delete headers['x-goog-hash'];
      response.writeHead(206, {
        ...headers,
        'content-range': `bytes ${start}-${end}/${object.size}`,
        'content-length': String(end - start + 1),
      });
      await pipeline(createReadStream(object.file, { start, end }), response);
      return;
    }
    response.writeHead(200, { ...headers, 'content-length': String(object.size) });
    await pipeline(createReadStream(object.file), response);
  }

  function listObjects(bucket: string, query: URLSearchParams, response: ServerResponse) {
    const store = buckets.get(bucket);
    if (!store) return sendError(response, 404, `The specified bucket does not exist: ${bucket}`);
    const prefix = query.get('prefix') ?? '';
    const delimiter = query.get('delimiter') ?? '';
    const maxResults = Math.min(Number(query.get('maxResults') ?? 1000) || 1000, 1000);
    const pageToken = query.get('pageToken') ?? '';
    const names = [...store.objects.keys()].filter((name) => name.startsWith(prefix)).sort();
    const entries: { name: string; prefix: boolean }[] = [];
    const seenPrefixes = new Set<string>();
    for (const name of names) {
      const rest = name.slice(prefix.length);
      const cut = delimiter ? rest.indexOf(delimiter) : -1;
      if (cut >= 0) {
        const common = prefix + rest.slice(0, cut + delimiter.length);
        if (!seenPrefixes.has(common)) {
          seenPrefixes.add(common);
          entries.push({ name: common, prefix: true });
        }
      } else entries.push({ name, prefix: false });
    }
    const startAt = pageToken ? entries.findIndex((entry) => entry.name > pageToken) : 0;
    const page = startAt < 0 ? [] : entries.slice(startAt, startAt + maxResults);
    const body: Record<string, unknown> = {
      kind: 'storage#objects',
      items: page.filter((e) => !e.prefix).map((e) => resourceOf(store.objects.get(e.name)!)),
      prefixes: page.filter((e) => e.prefix).map((e) => e.name),
    };
    if (startAt >= 0 && startAt + maxResults < entries.length) body.nextPageToken = page.at(-1)!.name;
    return sendJson(response, 200, body);
  }

  function finalized(object: StoredObject) {
    const resource = resourceOf(object);
    for (const listener of listeners) listener(resource);
    for (const target of targets) {
      if (target.bucket && target.bucket !== object.bucket) continue;
      const delivery = deliverCloudEvent(target.url, resource, retry, () => stopping).finally(() => deliveries.delete(delivery));
      deliveries.add(delivery);
    }
  }

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    onObjectFinalized: (listener) => void listeners.push(listener),
    addNotificationTarget: (target, bucket) => void targets.push({ url: target, ...(bucket ? { bucket } : {}) }),
    async stop() {
      stopping = true;
      await Promise.allSettled([...deliveries]);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function resourceOf(object: StoredObject) {
  return {
    kind: 'storage#object',
    id: `${object.bucket}/${object.name}/${object.generation}`,
    name: object.name,
    bucket: object.bucket,
    generation: String(object.generation),
    metageneration: String(object.metageneration),
    contentType: object.contentType,
    size: String(object.size),
    md5Hash: object.md5Hash,
    crc32c: object.crc32c,
    etag: object.md5Hash,
    timeCreated: object.timeCreated,
    updated: object.updated,
    storageClass: 'STANDARD',
    metadata: object.metadata,
  };
}

/**
 * At-least-once delivery of a finalize event as Eventarc sends it (binary content mode), retried
 * with doubling waits until it is acknowledged or its retention ends. Header values are
 * percent-encoded as the CloudEvents HTTP binding requires (space, '"', '%' and everything outside
 * printable ASCII), so any name Cloud Storage allows (Unicode included) reaches the function.
 */
async function deliverCloudEvent(
  target: string,
  resource: ReturnType<typeof resourceOf>,
  retry: DeliveryRetry,
  stopped: () => boolean,
): Promise<void> {
  const id = `${resource.bucket}/${resource.name}/${resource.generation}`;
  const giveUpAt = Date.now() + retry.retentionMs;
  for (let attempt = 0; !stopped() && Date.now() < giveUpAt; attempt++) {
    try {
      const response = await fetch(target, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'ce-id': cloudEventHeader(id),
          'ce-specversion': '1.0',
          'ce-type': 'google.cloud.storage.object.v1.finalized',
          'ce-source': cloudEventHeader(`//storage.googleapis.com/projects/_/buckets/${resource.bucket}`),
          'ce-subject': cloudEventHeader(`objects/${resource.name}`),
          'ce-time': resource.updated,
        },
        body: JSON.stringify(resource),
      });
      if (response.ok) return;
    } catch {
      // the function is not up (a crashed instance restarting), or failed: retry
    }
    const wait = Math.min(retry.maxMs, retry.minMs * 2 ** attempt);
    for (const end = Date.now() + wait; Date.now() < end && !stopped();)
      await new Promise((resolve) => setTimeout(resolve, Math.min(250, end - Date.now())));
  }
}

/** CloudEvents HTTP binding 1.0, 3.1.3.2: percent-encode space, '"', '%' and anything outside U+0021–U+007E (as UTF-8). */
export function cloudEventHeader(value: string): string {
  return Array.from(new TextEncoder().encode(value), (byte) =>
    byte > 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x25
      ? String.fromCharCode(byte)
      : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`,
  ).join('');
}

/**
 * Why Cloud Storage would refuse an object name, or null (its naming rules: 1–1,024 bytes of
 * UTF-8, no carriage return or line feed, not "." or "..", not under .well-known/acme-challenge/).
 */
export function objectNameProblem(name: string): string | null {
  if (name === '') return 'Required object name';
  if (Buffer.byteLength(name) > 1024) return 'The object name is longer than 1024 bytes';
  if (/[\r\n]/.test(name)) return 'Object names cannot contain carriage return or line feed characters';
  if (name === '.' || name === '..') return 'Object names cannot be "." or ".."';
  if (name.startsWith('.well-known/acme-challenge/')) return 'Object names cannot start with .well-known/acme-challenge/';
  if (!name.isWellFormed()) return 'The object name is not valid UTF-8';
  return null;
}

function preconditionsOf(query: URLSearchParams): Preconditions {
  const number = (key: string) => (query.has(key) ? Number(query.get(key)) : undefined);
  return {
    ifGenerationMatch: number('ifGenerationMatch'),
    ifGenerationNotMatch: number('ifGenerationNotMatch'),
    ifMetagenerationMatch: number('ifMetagenerationMatch'),
  };
}

function stringRecord(value: unknown): Record<string, string> {
  if (!value || typeof value !== 'object') return {};
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const text = (await readBody(request)).toString('utf8');
  if (!text.trim()) return {};
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function splitMultipart(body: Buffer, boundary: string): { headers: Record<string, string>; body: Buffer }[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: { headers: Record<string, string>; body: Buffer }[] = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const next = body.indexOf(delimiter, at + delimiter.length);
    if (next < 0) break;
    const raw = body.subarray(at + delimiter.length, next);
    const headerEnd = raw.indexOf('\r\n\r\n');
    if (headerEnd >= 0) {
      const headers = Object.fromEntries(
        raw
          .subarray(0, headerEnd)
          .toString('utf8')
          .split('\r\n')
          .filter(Boolean)
          .map((line) => {
            const colon = line.indexOf(':');
            return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
          }),
      );
      let content = raw.subarray(headerEnd + 4);
      if (content.subarray(-2).toString() === '\r\n') content = content.subarray(0, -2);
      parts.push({ headers, body: content });
    }
    at = next;
  }
  return parts;
}

function send(response: ServerResponse, status: number) {
  response.writeHead(status);
  response.end();
}

function sendJson(response: ServerResponse, status: number, body: unknown) {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  response.end(JSON.stringify(body));
}

function sendError(response: ServerResponse, status: number, message: string) {
  sendJson(response, status, {
    error: {
      code: status,
      message,
      errors: [{ message, reason: status === 412 ? 'conditionNotMet' : status === 404 ? 'notFound' : 'invalid' }],
    },
  });
}
