import type { ObjectStore } from '../storage/object-store.ts';
import { addressRefusal, PUBLIC_ONLY, type AddressPolicy } from './address-policy.ts';
import { pinnedFetch } from './pinned-fetch.ts';

const MAX_REDIRECTS = 5;

export type DownloadResult = { size: number; head: Uint8Array } | { failure: string } | { tooLarge: number };

/**
 * Streams an https file into Cloud Storage (create-once), never holding it whole: it stops at
 * `maxBytes` (the object is not written) and after `timeoutMs`. Returns its size and first
 * bytes, for the same checks a gs:// file gets.
 */
export async function downloadToStorage(
  url: string,
  target: string,
  options: {
    objects: ObjectStore;
    contentType: string;
    maxBytes: number;
    timeoutMs: number;
    fetch?: typeof fetch;
    addresses?: AddressPolicy;
  },
): Promise<DownloadResult> {
  let response: Response;
  const signal = AbortSignal.timeout(options.timeoutMs);
  // Redirects are followed by hand, so every hop is checked before anything connects to it:
  // https only, and no private, loopback or link-local address (a data file must not be able to
  // make the pipeline read its own network, such as the metadata server).
  const policy = options.addresses ?? PUBLIC_ONLY;
  // The check below names a refusal; the pinned fetch enforces it again where the socket connects.
  const fetchHop = options.fetch ?? pinnedFetch(policy);
  let hop = new URL(url);
  for (let hops = 0; ; hops++) {
    if (hop.protocol !== 'https:')
      return { failure: `${hops === 0 ? 'it is' : 'it redirects to'} ${hop.protocol} URL: only https media are fetched` };
    const refusal = await addressRefusal(hop, policy);
    if (refusal) return { failure: hops === 0 ? refusal : `it redirects to ${hop.href}: ${refusal}` };
    try {
      response = await fetchHop(hop.href, { signal, redirect: 'manual' });
    } catch (error) {
      return { failure: `could not fetch it: ${error instanceof Error ? error.message : String(error)}` };
    }
    const location = response.status >= 300 && response.status < 400 ? response.headers.get('location') : null;
    if (!location) break;
    await response.body?.cancel();
    if (hops >= MAX_REDIRECTS) return { failure: `more than ${MAX_REDIRECTS} redirects` };
    hop = new URL(location, hop);
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
