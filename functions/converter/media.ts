import { downloadToStorage } from '../../adapters/http/media-download.ts';
import type { AddressPolicy } from '../../adapters/http/address-policy.ts';
import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import type { PreparedExample } from '../../shared/convert/pipeline.ts';
import type { GeminiExample, Issue } from '../../shared/convert/types.ts';
import {
  copiedMediaUri,
  isLocalMediaPath,
  judgeMedia,
  mediaBesideDataset,
  mediaReferences,
  withMovedMedia,
  type MediaReference,
} from '../../shared/gemini/media.ts';
import { MEDIA_KINDS, mediaKindOf } from '../../shared/gemini/schema.ts';

export interface MediaOptions {
  objects: ObjectStore;
  /** `copy`: https files are copied into `mediaBucket` and the example points there; `warn`: left as they are, with a warning. */
  httpsMedia: 'warn' | 'copy';
  mediaBucket: string;
  fetchTimeoutMs: number;
  fetch?: typeof fetch;
  /** Which hosts media may come from (public addresses only, unless a test says otherwise). */
  addresses?: AddressPolicy;
  /** The dataset object (gs://…): a relative media path names an object beside it. */
  datasetUri?: string;
}

type Found = { size: number; head: Uint8Array } | null | 'unreadable';

/**
 * Every file an example references must open when the job starts, or Vertex fails the whole job
 * (the seed team's lesson). gs:// files are opened (existence, read access, size, first bytes);
 * with `httpsMedia: 'copy'`, https files are copied into Cloud Storage first and checked the same
 * way, so the job never depends on a remote host. Results are cached per URI.
 */
export function mediaPreparer(options: MediaOptions): (example: GeminiExample, line: number) => PreparedExample | Promise<PreparedExample> {
  const inspected = new Map<string, Promise<Found>>();
  const copied = new Map<string, Promise<{ uri: string; found: Found } | { error: (ref: MediaReference, line: number) => Issue }>>();
  const cached = <T>(cache: Map<string, Promise<T>>, key: string, make: () => Promise<T>) => {
    if (!cache.has(key)) {
      if (cache.size > 10_000) cache.clear();
      cache.set(key, make());
    }
    return cache.get(key)!;
  };

  const inspect = async (uri: string): Promise<Found> => {
    try {
      const info = await options.objects.stat(uri);
      if (!info) return null;
      const chunks: Uint8Array[] = [];
      for await (const chunk of options.objects.read(uri, { start: 0, end: Math.min(63, Math.max(0, info.size - 1)) })) chunks.push(chunk);
      return { size: info.size, head: Buffer.concat(chunks) };
    } catch (error) {
      if ((error as { code?: number }).code === 403) return 'unreadable';
      throw error;
    }
  };

  const copy = async (ref: MediaReference) => {
    const target = copiedMediaUri(options.mediaBucket, ref.uri, ref.mimeType);
    // Copied by an earlier delivery or another dataset: the same URL, the same object.
    const existing = await inspect(target);
    if (existing && existing !== 'unreadable') return { uri: target, found: existing };
    const kind = mediaKindOf(ref.mimeType);
    const maxBytes = kind ? MEDIA_KINDS[kind].maxBytes : 100 * 1024 * 1024;
    const result = await downloadToStorage(ref.uri, target, {
      objects: options.objects,
      contentType: ref.mimeType,
      maxBytes,
      timeoutMs: options.fetchTimeoutMs,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.addresses ? { addresses: options.addresses } : {}),
    });
    if ('failure' in result) {
      return {
        error: (r: MediaReference, line: number): Issue => ({
          line,
          code: 'media_copy_failed',
          message: `${r.uri} could not be copied to Cloud Storage: ${result.failure}`,
          path: `${r.path}.fileUri`,
        }),
      };
    }
    if ('tooLarge' in result) {
      return {
        error: (r: MediaReference, line: number): Issue => ({
          line,
          code: 'media_too_large',
          message: `${r.uri} is over ${maxBytes} bytes (${result.tooLarge} read), the limit for ${kind ?? 'media'} files`,
          path: `${r.path}.fileUri`,
        }),
      };
    }
    return { uri: target, found: result };
  };

  const check = async (example: GeminiExample, line: number, refs: MediaReference[]): Promise<PreparedExample> => {
    const copying = (uri: string) => options.httpsMedia === 'copy' && uri.startsWith('https://');
    // An example's files are checked together; the errors keep the order of its parts.
    const checked = await Promise.all(
      refs.map(async (ref): Promise<{ errors: Issue[]; movedTo?: string }> => {
        if (isLocalMediaPath(ref.uri)) {
          // Media uploaded beside the dataset (LLaMA-Factory's `mllm_demo_data/1.jpg`): the object that path names there.
          const uri = options.datasetUri ? mediaBesideDataset(options.datasetUri, ref.uri) : null;
          if (!uri) {
            const message = `${ref.uri} cannot name an object beside the dataset: give a path relative to the dataset file (without leaving its bucket) or a gs:// URI`;
            return {
              errors: [
                { line, code: options.datasetUri ? 'media_outside_root' : 'local_media_path', message, path: `${ref.path}.fileUri` },
              ],
            };
          }
          const errors = judgeMedia({ ...ref, uri }, line, await cached(inspected, uri, () => inspect(uri)));
          return errors.length > 0 ? { errors } : { errors, movedTo: uri };
        }
        if (ref.uri.startsWith('gs://')) return { errors: judgeMedia(ref, line, await cached(inspected, ref.uri, () => inspect(ref.uri))) };
        if (!copying(ref.uri)) return { errors: [] };
        const outcome = await cached(copied, ref.uri, () => copy(ref));
        return 'error' in outcome
          ? { errors: [outcome.error(ref, line)] }
          : { errors: judgeMedia(ref, line, outcome.found), movedTo: outcome.uri };
      }),
    );
    const errors = checked.flatMap((check) => check.errors);
    const moved = new Map(refs.flatMap((ref, i) => (checked[i]!.movedTo ? [[ref.uri, checked[i]!.movedTo!] as const] : [])));
    const httpsHandled = refs.some((ref) => copying(ref.uri));
    // In copy mode every https file was either copied or is an error: the https warning no longer applies.
    // Every local path was found beside the dataset or is an error: neither does the local-path one.
    const resolved = [...(httpsHandled ? ['https_file_uri'] : []), 'local_media_path'];
    return moved.size === 0 ? { errors, resolved } : { errors, example: withMovedMedia(example, moved), resolved };
  };
  // Most examples hold no file: nothing to check, nothing to wait for, the example as it is.
  return (example, line) => {
    const refs = mediaReferences(example);
    return refs.length === 0 ? NO_MEDIA : check(example, line, refs);
  };
}

const NO_MEDIA: PreparedExample = Object.freeze({ errors: [] });
