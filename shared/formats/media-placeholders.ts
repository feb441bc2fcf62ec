import type { GeminiPart } from '../convert/types.ts';
import { isLocalMediaPath } from '../gemini/media.ts';
import { mimeTypeFromUri } from '../gemini/schema.ts';
import { isRecord, mediaPart, type IssueCollector, type SourceTurn } from './mapping.ts';

/**
 * Media lists of LLaMA-Factory's multimodal datasets (its data/README.md, "Multimodal Image /
 * Video / Audio Dataset"): a record holds `images`, `videos` or `audios`, lists of file paths,
 * and each `<image>`, `<video>` or `<audio>` in the conversation marks where the next file of
 * its list goes ("the number of images should be identical to the `<image>` tokens"). Each
 * placeholder becomes a fileData part in its place. LLaMA-Factory's own mllm_demo.json had
 * versions without any placeholder (its loader then put the images first): when a list has no
 * placeholder at all, its files go before the first user message's text, with a warning. A
 * count that differs otherwise cannot be placed and is an error. Media are never dropped.
 */
const KINDS = [
  { field: 'images', tag: '<image>', noun: 'image' },
  { field: 'videos', tag: '<video>', noun: 'video' },
  { field: 'audios', tag: '<audio>', noun: 'audio' },
] as const;

export function placeMedia(turns: SourceTurn[], record: Record<string, unknown>, issues: IssueCollector): void {
  const lists: { tag: string; field: string; noun: string; parts: (GeminiPart | null)[]; paths: string[]; placeholders: number }[] = [];
  for (const kind of KINDS) {
    const raw = record[kind.field];
    if (raw === undefined || raw === null) continue;
    const items = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : null;
    if (!items) {
      issues.error('invalid_media_reference', `"${kind.field}" must be a list of file paths or URIs`, kind.field);
      continue;
    }
    if (items.length === 0) continue;
    const paths = items.map((_, index) => (typeof raw === 'string' ? kind.field : `${kind.field}[${index}]`));
    const parts = items.map((item, index) => mediaItemPart(item, paths[index]!, issues));
    lists.push({ ...kind, parts, paths, placeholders: 0 });
  }
  if (lists.length === 0) return;

  const conversation = turns.filter((turn) => turn.role !== 'system');
  const pattern = new RegExp(lists.map((list) => list.tag).join('|'), 'g');
  for (const turn of conversation) {
    for (const part of turn.parts) {
      for (const match of part.text?.matchAll(pattern) ?? []) lists.find((list) => list.tag === match[0])!.placeholders += 1;
    }
  }
  const placeable = lists.filter((list) => {
    if (list.placeholders === 0 || list.placeholders === list.parts.length) return true;
    issues.error(
      'media_placeholder_mismatch',
      `"${list.field}" lists ${list.parts.length} file(s) but the conversation has ${list.placeholders} ${list.tag} placeholder(s): each placeholder marks where the next file goes, so the files cannot be placed`,
      list.field,
    );
    return false;
  });

  // Placeholders become the files of their lists, in order; the text around them stays as it was.
  const byTag = new Map(placeable.filter((list) => list.placeholders > 0).map((list) => [list.tag, { list, next: 0 }]));
  if (byTag.size > 0) {
    const tags = new RegExp(`(${[...byTag.keys()].join('|')})`);
    for (const turn of conversation) {
      const parts: GeminiPart[] = [];
      const partPaths: string[] = [];
      turn.parts.forEach((part, index) => {
        const path = turn.partPaths?.[index] ?? turn.path;
        if (typeof part.text !== 'string' || !tags.test(part.text)) {
          parts.push(part);
          partPaths.push(path);
          return;
        }
        for (const piece of part.text.split(tags)) {
          const slot = byTag.get(piece);
          if (slot) {
            const at = slot.next++;
            const media = slot.list.parts[at];
            if (media) {
              parts.push(media);
              partPaths.push(slot.list.paths[at]!);
            }
          } else if (piece.trim() !== '') {
            parts.push({ text: piece });
            partPaths.push(path);
          }
        }
      });
      turn.parts = parts;
      turn.partPaths = partPaths;
    }
  }

  const unmarked = placeable.filter((list) => list.placeholders === 0);
  const firstUser = conversation.find((turn) => turn.role === 'user');
  for (const list of unmarked) {
    if (!firstUser) {
      issues.error(
        'media_placeholder_mismatch',
        `"${list.field}" lists ${list.parts.length} file(s) but there is no user message to put them in`,
        list.field,
      );
      continue;
    }
    issues.warn(
      'media_placed_first',
      `no ${list.tag} placeholder marks where the ${list.parts.length} ${list.noun} file(s) go: they were put before the text of the first user message`,
      list.field,
    );
  }
  if (firstUser) {
    const first = unmarked.flatMap((list) => list.parts.flatMap((media, index) => (media ? [{ media, path: list.paths[index]! }] : [])));
    firstUser.partPaths = [...first.map((item) => item.path), ...(firstUser.partPaths ?? firstUser.parts.map(() => firstUser.path))];
    firstUser.parts = [...first.map((item) => item.media), ...firstUser.parts];
  }
}

/**
 * One entry of a media list: a path or URI string, or the {path, bytes} object Hugging Face's
 * Image feature stores. gs:// and https:// become fileData (validation judges them); a local path
 * becomes fileData holding the path, which validation reports (`local_media_path`) unless the
 * caller uploads local files; `file://` URLs are local paths.
 */
function mediaItemPart(item: unknown, path: string, issues: IssueCollector): GeminiPart | null {
  const reference = typeof item === 'string' ? item : isRecord(item) && typeof item.path === 'string' ? item.path : null;
  if (reference === null || reference.trim() === '') {
    const embedded = isRecord(item) && item.bytes !== undefined && item.bytes !== null;
    issues.error(
      'invalid_media_reference',
      embedded
        ? 'the file is embedded as bytes with no path: save it as a file and list its path or gs:// URI'
        : 'a media entry must be a file path or URI',
      path,
    );
    return null;
  }
  const trimmed = reference.trim();
  // One rule for what is a local path, the validator's: anything with a URL scheme is a URI to judge.
  const fileUrl = /^file:/i.test(trimmed);
  if (!fileUrl && !isLocalMediaPath(trimmed)) return mediaPart(trimmed, issues, path);
  const local = fileUrl ? decodeURIComponent(trimmed.replace(/^file:(\/\/)?/i, '')) : trimmed;
  const mimeType = mimeTypeFromUri(local);
  if (!mimeType) {
    issues.error('missing_mime_type', `cannot tell the MIME type of ${JSON.stringify(local)} from its extension`, path);
    return null;
  }
  return { fileData: { mimeType, fileUri: local } };
}
