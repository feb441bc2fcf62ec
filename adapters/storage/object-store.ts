import { PassThrough, Readable } from 'node:stream';
import { once } from 'node:events';
import { finished, pipeline } from 'node:stream/promises';
import { Storage } from '@google-cloud/storage';

/**
 * Cloud Storage behind the smallest interface the pipeline needs, so the storage emulator (or
 * another one) can be swapped in with STORAGE_EMULATOR_HOST and nothing else changes.
 */
export interface ObjectStore {
  /** The object's bytes; with `generation`, exactly that version's (a 404 if it is gone), never a newer one's. */
  read(uri: string, range?: { start: number; end: number }, generation?: string): AsyncIterable<Uint8Array>;
  /** Writes an object; with `ifAbsent` only when none exists yet (false when one did). */
  write(uri: string, content: AsyncIterable<Uint8Array> | string, options?: { contentType?: string; ifAbsent?: boolean }): Promise<boolean>;
  stat(uri: string): Promise<{ size: number; contentType: string; generation: string } | null>;
  list(prefixUri: string): AsyncIterable<string>;
  /** A streaming writer: the object appears, whole, when `close` resolves ('exists' when `ifAbsent` found one). */
  openWriter(uri: string, options?: { contentType?: string; ifAbsent?: boolean }): ObjectWriter;
}

export interface ObjectWriter {
  write(data: string | Uint8Array): void | Promise<void>;
  close(): Promise<'written' | 'exists'>;
  abort(): void;
}

/** Small pieces (a line each, say) gathered into 256 KiB chunks: the upload stream handles each chunk with its own listeners. */
async function* inChunks(content: AsyncIterable<Uint8Array>, size = 256 * 1024): AsyncGenerator<Buffer> {
  let parts: Uint8Array[] = [];
  let bytes = 0;
  for await (const part of content) {
    parts.push(part);
    bytes += part.length;
    if (bytes >= size) {
      yield Buffer.concat(parts);
      parts = [];
      bytes = 0;
    }
  }
  if (bytes > 0) yield Buffer.concat(parts);
}

export function parseGsUri(uri: string): { bucket: string; name: string } {
  const match = /^gs:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match) throw new Error(`not a gs://bucket/object URI: ${uri}`);
  return { bucket: match[1]!, name: match[2]! };
}

/** How far a whole-object read runs ahead of its reader, and how much a writer queues before it waits. */
const READ_AHEAD_BYTES = 4 * 1024 * 1024;
const WRITE_BUFFER_BYTES = 4 * 1024 * 1024;
const WRITE_CHUNK_BYTES = 256 * 1024;

export function createObjectStore(storage: Storage = new Storage()): ObjectStore {
  const file = (uri: string, generation?: string) => {
    const { bucket, name } = parseGsUri(uri);
    return storage.bucket(bucket).file(name, generation ? { generation } : {});
  };
  return {
    read(uri, range, generation) {
      const source = file(uri, generation).createReadStream(range ? { start: range.start, end: range.end } : {});
      if (range) return source;
      // Read ahead while the caller works on what came before, so the download overlaps the work
      // (a stream that is not read stops pulling from the socket). An error reaches the caller through it.
      const ahead = new PassThrough({ highWaterMark: READ_AHEAD_BYTES });
      pipeline(source, ahead).catch(() => undefined);
      return ahead;
    },
    async write(uri, content, options = {}) {
      const target = file(uri);
      try {
        const stream = target.createWriteStream({
          resumable: true,
          contentType: options.contentType ?? 'application/octet-stream',
          ...(options.ifAbsent ? { preconditionOpts: { ifGenerationMatch: 0 } } : {}),
        });
        await pipeline(typeof content === 'string' ? Readable.from([Buffer.from(content)]) : Readable.from(inChunks(content)), stream);
        return true;
      } catch (error) {
        if ((error as { code?: number }).code === 412) return false;
        throw error;
      }
    },
    async stat(uri) {
      try {
        const [metadata] = await file(uri).getMetadata();
        return {
          size: Number(metadata.size ?? 0),
          contentType: String(metadata.contentType ?? ''),
          generation: String(metadata.generation ?? ''),
        };
      } catch (error) {
        if ((error as { code?: number }).code === 404) return null;
        throw error;
      }
    },
    openWriter(uri, options = {}) {
      const stream = file(uri).createWriteStream({
        resumable: true,
        contentType: options.contentType ?? 'application/octet-stream',
        ...(options.ifAbsent ? { preconditionOpts: { ifGenerationMatch: 0 } } : {}),
      });
      let failure: unknown;
      stream.on('error', (error) => {
        failure = error;
      });
      // Small writes (a line each) are gathered into chunks: every chunk costs the upload stream,
      // its checksum and the socket a fixed amount, so 70,000 lines as 70,000 chunks cost more than
      // the bytes. Text is encoded straight into the chunk: joining the lines first and encoding
      // the join cost a tenth of a 100 MB conversion (bench/converter-function.ts).
      let chunk = Buffer.allocUnsafe(WRITE_CHUNK_BYTES);
      let used = 0;
      const flush = () => {
        if (used === 0) return;
        stream.write(chunk.subarray(0, used));
        chunk = Buffer.allocUnsafe(WRITE_CHUNK_BYTES);
        used = 0;
      };
      return {
        write(data) {
          if (failure) throw failure;
          // A UTF-16 unit is at most 3 UTF-8 bytes: what may not fit goes after a flush, or alone.
          const most = typeof data === 'string' ? data.length * 3 : data.byteLength;
          if (used + most > WRITE_CHUNK_BYTES) flush();
          // Copied, as everything written is: the caller may reuse its bytes once this returns.
          if (most > WRITE_CHUNK_BYTES) stream.write(typeof data === 'string' ? data : Buffer.from(data));
          else if (typeof data === 'string') used += chunk.write(data, used);
          else {
            chunk.set(data, used);
            used += data.byteLength;
          }
          // The upload sends while the caller goes on: it waits only once this much is queued, not at the stream's 16 KiB.
          if (stream.writableLength >= WRITE_BUFFER_BYTES) return once(stream, 'drain').then(() => undefined);
        },
        async close() {
          if (!failure) flush();
          stream.end();
          try {
            if (!failure) await finished(stream);
          } catch (error) {
            failure = error;
          }
          if (failure) {
            if ((failure as { code?: number }).code === 412) return 'exists';
            throw failure;
          }
          return 'written';
        },
        abort() {
          stream.destroy();
        },
      };
    },
    async *list(prefixUri) {
      const { bucket, name } = parseGsUri(prefixUri.endsWith('/') ? `${prefixUri}x` : prefixUri);
      const prefix = prefixUri.endsWith('/') ? name.slice(0, -1) : name;
      for await (const entry of storage.bucket(bucket).getFilesStream({ prefix }))
        yield `gs://${bucket}/${(entry as { name: string }).name}`;
    },
  };
}
