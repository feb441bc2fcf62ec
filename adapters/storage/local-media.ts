import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import type { PreparedExample } from '../../shared/convert/pipeline.ts';
import type { GeminiExample, Issue } from '../../shared/convert/types.ts';
import {
  contentAddressedUri,
  isLocalMediaPath,
  judgeMedia,
  mediaReferences,
  withMovedMedia,
  type MediaReference,
} from '../../shared/gemini/media.ts';
import type { ObjectStore } from './object-store.ts';

export interface LocalMediaOptions {
  /** Where relative paths are looked up; nothing outside it is ever read. */
  root: string;
  /** gs://bucket[/prefix] the files are uploaded under. */
  target: string;
  objects: ObjectStore;
}

type Uploaded = { uri: string } | { issues: (ref: MediaReference, line: number) => Issue[] };

/**
 * The CLI's `--upload`: every local file an example references is found under the media root,
 * checked as the converter function checks gs:// files (size, first bytes), uploaded once under
 * the target named by its SHA-256 (an object already there is not uploaded again: a rerun, or
 * the same picture in two datasets, costs nothing), and the example is rewritten to point at it.
 * A dataset is data from anywhere: a path that leads out of the root (`../../.ssh/id_rsa`, an
 * absolute path elsewhere, a symbolic link out) is refused, never read.
 */
export function localMediaUploader(options: LocalMediaOptions): (example: GeminiExample, line: number) => Promise<PreparedExample> {
  const uploads = new Map<string, Promise<Uploaded>>();
  const rootReal = realpath(options.root);
  const refused = (code: Issue['code'], message: (ref: MediaReference) => string): Uploaded => ({
    issues: (ref, line) => [{ line, code, message: message(ref), path: `${ref.path}.fileUri` }],
  });

  const upload = async (path: string, mimeType: string): Promise<Uploaded> => {
    const root = await rootReal;
    const wanted = isAbsolute(path) ? path : resolve(root, path);
    let real: string;
    try {
      real = await realpath(wanted);
    } catch {
      return refused('media_not_found', (ref) => `${ref.uri} does not exist (looked for ${wanted})`);
    }
    const inside = relative(root, real);
    if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) {
      return refused(
        'media_outside_root',
        (ref) => `${ref.uri} leads to ${real}, outside the media folder ${root} (--media-root): it is not read`,
      );
    }
    try {
      const info = await stat(real);
      if (!info.isFile()) return refused('media_not_found', (ref) => `${ref.uri} is not a file (${real})`);
      const found = { size: info.size, head: await firstBytes(real, 64) };
      // Judged before anything is uploaded: a file Vertex would refuse is not sent.
      if (judgeMedia({ uri: path, mimeType, path: '' }, 0, found).length > 0)
        return { issues: (ref, line) => judgeMedia(ref, line, found) };
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(real)) hash.update(chunk as Buffer);
      const uri = contentAddressedUri(options.target, hash.digest('hex'), mimeType);
      if (!(await options.objects.stat(uri)))
        await options.objects.write(uri, createReadStream(real), { contentType: mimeType, ifAbsent: true });
      return { uri };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return refused('media_upload_failed', (ref) => `${ref.uri} could not be uploaded to ${options.target}: ${reason}`);
    }
  };

  return async (example, line) => {
    const errors: Issue[] = [];
    const moved = new Map<string, string>();
    for (const ref of mediaReferences(example).filter((each) => isLocalMediaPath(each.uri))) {
      const key = `${ref.uri}\u0000${ref.mimeType}`;
      if (!uploads.has(key)) {
        // Bounded memory on huge datasets: a file met again after a clear is found in the bucket, not sent twice.
        if (uploads.size >= 50_000) uploads.clear();
        uploads.set(key, upload(ref.uri, ref.mimeType));
      }
      const outcome = await uploads.get(key)!;
      if ('issues' in outcome) errors.push(...outcome.issues(ref, line));
      else moved.set(ref.uri, outcome.uri);
    }
    // Every local file was uploaded or is an error now: the warning that they would be no longer applies.
    const resolved = ['local_media_path'];
    return errors.length > 0 || moved.size === 0 ? { errors, resolved } : { errors, example: withMovedMedia(example, moved), resolved };
  };
}

async function firstBytes(path: string, count: number): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(count);
    const { bytesRead } = await handle.read(buffer, 0, count, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
