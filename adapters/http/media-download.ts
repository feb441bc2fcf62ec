import type { ObjectStore } from '../storage/object-store.ts';

export type DownloadResult = { size: number; head: Uint8Array } | { failure: string } | { tooLarge: number };

/**
 * Streams an https file into Cloud Storage (create-once), never holding it whole: it stops at
 * `maxBytes` (the object is not written) and after `timeoutMs`. Returns its size and first
 * bytes, for the same checks a gs:// file gets.
 */
export async function downloadToStorage(url: string, target: string, options: { objects: ObjectStore; contentType: string; maxBytes: number; timeoutMs: number; fetch?: typeof fetch }): Promise<DownloadResult> {
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(url, { signal: AbortSignal.timeout(options.timeoutMs), redirect: 'follow' });
  } catch (error) {
    return { failure: `could not fetch it: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (!response.ok || !response.body) return { failure: `the host answered HTTP ${response.status}` };
  const declared = Number(response.headers.get('content-length'));
  if (declared > options.maxBytes) {
    await response.body.cancel();
    return { tooLarge: declared };
  }
  const writer = options.objects.openWriter(target, { contentType: options.contentType, ifAbsent: true });
  const head: number[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > options.maxBytes) {
        writer.abort();
        return { tooLarge: size };
      }
      for (let i = 0; i < chunk.length && head.length < 64; i++) head.push(chunk[i]!);
      await writer.write(chunk);
    }
  } catch (error) {
    writer.abort();
    return { failure: `the download broke off: ${error instanceof Error ? error.message : String(error)}` };
  }
  await writer.close();
  return { size, head: Uint8Array.from(head) };
}
