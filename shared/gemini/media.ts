import { createHash } from 'node:crypto';
import type { GeminiExample, Issue } from '../convert/types.ts';
import { MEDIA_KINDS, mediaKindOf } from './schema.ts';

/**
 * Every file an example references must open when the job starts, or Vertex fails the whole
 * job (the seed team's lesson). These pure helpers list the references and judge what storage
 * says about each; the converter function does the reading.
 */
export interface MediaReference {
  uri: string;
  mimeType: string;
  path: string;
}

export function mediaReferences(example: GeminiExample): MediaReference[] {
  const refs: MediaReference[] = [];
  example.contents.forEach((content, turn) =>
    content.parts.forEach((part, index) => {
      if (part.fileData)
        refs.push({ uri: part.fileData.fileUri, mimeType: part.fileData.mimeType, path: `contents[${turn}].parts[${index}].fileData` });
    }),
  );
  return refs;
}

/** The MIME type the first bytes of a file show, for the formats whose signature is certain. */
export function sniffMimeType(head: Uint8Array): string | undefined {
  const starts = (...bytes: number[]) => bytes.every((byte, i) => head[i] === byte);
  const ascii = (at: number, text: string) => [...text].every((c, i) => head[at + i] === c.charCodeAt(0));
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'image/png';
  if (starts(0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'image/webp';
  if (ascii(0, 'RIFF') && ascii(8, 'WAVE')) return 'audio/wav';
  if (ascii(0, '%PDF-')) return 'application/pdf';
  if (ascii(0, 'fLaC')) return 'audio/flac';
  if (ascii(0, 'OggS')) return 'audio/ogg';
  if (ascii(0, 'ID3') || starts(0xff, 0xfb) || starts(0xff, 0xf3) || starts(0xff, 0xf2)) return 'audio/mpeg';
  if (ascii(4, 'ftyp')) {
    if (ascii(8, 'heic') || ascii(8, 'heix') || ascii(8, 'mif1')) return 'image/heic';
    if (ascii(8, 'qt  ')) return 'video/quicktime';
    if (ascii(8, 'M4A ')) return 'audio/m4a';
    return 'video/mp4';
  }
  if (starts(0x1a, 0x45, 0xdf, 0xa3)) return 'video/webm';
  return undefined;
}

const EQUIVALENT: Record<string, string> = {
  'image/heif': 'image/heic',
  'audio/mp3': 'audio/mpeg',
  'audio/x-wav': 'audio/wav',
  'audio/mp4': 'audio/m4a',
  'video/mpeg': 'video/mp4',
  'audio/webm': 'video/webm',
  'audio/ogg': 'audio/ogg',
  'audio/opus': 'audio/ogg',
};
const canonical = (mime: string) => EQUIVALENT[mime.toLowerCase()] ?? mime.toLowerCase();

/** Problems with one referenced object, given what storage said about it. */
export function judgeMedia(ref: MediaReference, line: number, found: { size: number; head: Uint8Array } | null | 'unreadable'): Issue[] {
  if (found === null) return [{ line, code: 'media_not_found', message: `${ref.uri} does not exist`, path: `${ref.path}.fileUri` }];
  if (found === 'unreadable')
    return [
      {
        line,
        code: 'media_unreadable',
        message: `${ref.uri} cannot be read by the pipeline's service account`,
        path: `${ref.path}.fileUri`,
      },
    ];
  const issues: Issue[] = [];
  const kind = mediaKindOf(ref.mimeType);
  if (kind && found.size > MEDIA_KINDS[kind].maxBytes) {
    issues.push({
      line,
      code: 'media_too_large',
      message: `${ref.uri} is ${found.size} bytes, over the ${MEDIA_KINDS[kind].maxBytes} allowed for ${kind} files`,
      path: `${ref.path}.fileUri`,
    });
  }
  const sniffed = sniffMimeType(found.head);
  if (sniffed && canonical(sniffed) !== canonical(ref.mimeType)) {
    issues.push({
      line,
      code: 'media_type_mismatch',
      message: `${ref.uri} is declared ${ref.mimeType} but its first bytes are ${sniffed}`,
      path: `${ref.path}.mimeType`,
    });
  }
  return issues;
}

/** Where an https file is copied in the datasets bucket: named by a hash of its URL, so every delivery and every dataset shares one copy. */
export function copiedMediaUri(bucket: string, url: string, mimeType: string): string {
  const extension = EXTENSIONS[canonical(mimeType)] ?? '';
  return `gs://${bucket}/media/${createHash('sha256').update(url).digest('hex').slice(0, 32)}${extension}`;
}

/** Where an uploaded local file goes under `prefixUri` (gs://bucket[/prefix]): named by its content's SHA-256, so a file is stored once however often it is listed. */
export function contentAddressedUri(prefixUri: string, sha256Hex: string, mimeType: string): string {
  return `${prefixUri.replace(/\/+$/, '')}/${sha256Hex}${EXTENSIONS[canonical(mimeType)] ?? ''}`;
}

/** A fileUri with no URL scheme (nor a Windows drive letter's lookalike) names a local file. */
export function isLocalMediaPath(uri: string): boolean {
  return !/^[a-z][a-z0-9+.-]+:/i.test(uri) || /^[a-z]:[\\/]/i.test(uri);
}

/**
 * A relative media path of a dataset in Cloud Storage, as the object it names: relative to the
 * dataset object's folder, as LLaMA-Factory resolves paths against its dataset folder. null when
 * the path cannot be one (absolute, or leading out of the bucket with `..`).
 */
export function mediaBesideDataset(datasetUri: string, path: string): string | null {
  const match = /^gs:\/\/([^/]+)\/(.*)$/.exec(datasetUri);
  if (!match || path.startsWith('/') || /^[a-z]:[\\/]/i.test(path)) return null;
  const segments = match[2]!.split('/').slice(0, -1);
  for (const segment of path.replace(/\\/g, '/').split('/')) {
    if (segment === '..') {
      if (segments.length === 0) return null;
      segments.pop();
    } else if (segment !== '.' && segment !== '') segments.push(segment);
  }
  return `gs://${match[1]}/${segments.join('/')}`;
}

const EXTENSIONS: Record<string, string> = {
  'image/png': '.png',
  'image/jpeg': '.jpg',
  'image/webp': '.webp',
  'image/heic': '.heic',
  'application/pdf': '.pdf',
  'audio/mpeg': '.mp3',
  'audio/wav': '.wav',
  'audio/flac': '.flac',
  'audio/ogg': '.ogg',
  'audio/m4a': '.m4a',
  'video/mp4': '.mp4',
  'video/webm': '.webm',
  'video/quicktime': '.mov',
};

/** The example with each fileData URI found in `moved` replaced by its new place. */
export function withMovedMedia(example: GeminiExample, moved: ReadonlyMap<string, string>): GeminiExample {
  return {
    ...example,
    contents: example.contents.map((content) => ({
      ...content,
      parts: content.parts.map((part) =>
        part.fileData && moved.has(part.fileData.fileUri)
          ? { ...part, fileData: { ...part.fileData, fileUri: moved.get(part.fileData.fileUri)! } }
          : part,
      ),
    })),
  };
}
