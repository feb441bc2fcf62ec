import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Which addresses a media download may reach: public unicast only. The ranges are the IANA
 * special-purpose registries' (RFC 6890 and its updates): loopback, private (RFC 1918), shared
 * (100.64/10), link-local (169.254/16 holds cloud metadata servers), unique-local and
 * link-local IPv6, multicast, documentation, reserved, and IPv4 written inside IPv6.
 */
// Two lists: one BlockList holding both families matches IPv4 addresses against IPv6 rules too.
const blockedV4 = new BlockList();
const blockedV6 = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  blockedV4.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
  ['100::', 64],
  // IPv4 written inside IPv6 (mapped, NAT64, the deprecated compatible form): no public media host
  // is named so, and any of them can hide a private IPv4 address.
  ['::ffff:0:0', 96],
  ['64:ff9b::', 96],
  ['::', 96],
] as const)
  blockedV6.addSubnet(network, prefix, 'ipv6');

export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return family === 4 ? !blockedV4.check(address, 'ipv4') : !blockedV6.check(address, 'ipv6');
}

export interface AddressPolicy {
  /** Whether a resolved address may be connected to (default: isPublicAddress). */
  allows(address: string): boolean;
  /** Every address a host name resolves to (default: the system resolver). */
  resolve(hostname: string): Promise<string[]>;
}

export const PUBLIC_ONLY: AddressPolicy = {
  allows: isPublicAddress,
  resolve: async (hostname) => (await lookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address),
};

/**
 * Every address a host stands for (an IP literal, bracketed or not, stands for itself), and the
 * first the policy does not allow, if any. The download's check and the socket's lookup both use it.
 */
export async function checkedAddresses(hostname: string, policy: AddressPolicy): Promise<{ addresses: string[]; refused: string | null }> {
  const host = hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [host] : await policy.resolve(host);
  return { addresses, refused: addresses.find((address) => !policy.allows(address)) ?? null };
}

/** Why `url` may not be fetched, or null: every address its host stands for must be allowed. */
export async function addressRefusal(url: URL, policy: AddressPolicy): Promise<string | null> {
  let checked: Awaited<ReturnType<typeof checkedAddresses>>;
  try {
    checked = await checkedAddresses(url.hostname, policy);
  } catch (error) {
    return `${url.host} could not be resolved (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
  if (checked.addresses.length === 0) return `${url.host} resolves to no address`;
  return checked.refused
    ? `${url.host} is a private, loopback or link-local address (${checked.refused}): media are fetched only from public hosts`
    : null;
}
