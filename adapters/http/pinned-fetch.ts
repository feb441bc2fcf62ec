import { request } from 'node:https';
import { isIP } from 'node:net';
import type { LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import { checkedAddresses, type AddressPolicy } from './address-policy.ts';

/**
 * `fetch` for media downloads whose connection goes only where the address policy allows, checked
 * when the socket connects: the host name is resolved once, inside the connection, and every
 * address it gave must pass. Checking a name and then letting `fetch` resolve it again would
 * leave a gap a DNS answer with a short TTL can use (DNS rebinding: public for the check, the
 * metadata server for the connection). https only; redirects are the caller's (`redirect: 'manual'`).
 */
export function pinnedFetch(policy: AddressPolicy, tls: { ca?: string } = {}): typeof fetch {
  const lookup = checkedLookup(policy);
  return async (input, init) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    if (url.protocol !== 'https:') throw new TypeError(`only https is fetched, not ${url.protocol}`);
    return new Promise<Response>((resolve, reject) => {
      const outgoing = request(
        url,
        {
          method: init?.method ?? 'GET',
          lookup,
          ...(tls.ca ? { ca: tls.ca } : {}),
          signal: init?.signal ?? undefined,
          headers: { 'user-agent': 'gemini-sft-pipeline media copy' },
        },
        (incoming) => {
          const status = incoming.statusCode ?? 502;
          const headers = new Headers();
          for (const [name, value] of Object.entries(incoming.headers)) {
            for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, item);
          }
          const nullBody = [101, 204, 205, 304].includes(status);
          if (nullBody) incoming.resume();
          resolve(
            new Response(nullBody ? null : (Readable.toWeb(incoming) as ReadableStream<Uint8Array>), {
              status,
              statusText: incoming.statusMessage ?? '',
              headers,
            }),
          );
        },
      );
      outgoing.on('error', reject);
      outgoing.end();
    });
  };
}

/** A `lookup` for sockets that resolves through the policy and refuses a name with any address it does not allow. */
export function checkedLookup(policy: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    checkedAddresses(hostname, policy).then(
      ({ addresses, refused }) => {
        if (addresses.length === 0 || refused) {
          const error = Object.assign(
            new Error(`${hostname} resolves to ${refused ?? 'no address'}: media are fetched only from public hosts`),
            { code: 'EADDRNOTALLOWED' },
          );
          return callback(error, '', 4);
        }
        const entries = addresses.map((address) => ({ address, family: isIP(address) }));
        if (options.all)
          return (callback as unknown as (error: null, entries: { address: string; family: number }[]) => void)(null, entries);
        return callback(null, entries[0]!.address, entries[0]!.family);
      },
      (error: unknown) => callback(error as NodeJS.ErrnoException, '', 4),
    );
  };
}
