/**
 * Addresses the Worker must never be pointed at: the IANA IPv4 and IPv6 Special-Purpose
 * Address Registries (https://www.iana.org/assignments/iana-ipv4-special-registry,
 * https://www.iana.org/assignments/iana-ipv6-special-registry), multicast, and for IPv6
 * everything outside global unicast 2000::/3. Addresses that carry an IPv4 address inside
 * (mapped, compatible, NAT64, 6to4, Teredo) name it in the reason; an IPv4-mapped address is
 * judged by the IPv4 address it maps to, as that is where a dual-stack socket connects.
 */
import { formatIPv4, parseIPv4 } from './ipv4';
import { parseIPv6, type IPv6Groups } from './ipv6';

interface V4Range {
  base: number;
  bits: number;
  name: string;
}

const v4 = (cidr: string, name: string): V4Range => {
  const [address, bits] = cidr.split('/');
  return { base: parseIPv4(address!)!, bits: Number(bits), name };
};

/** Most specific first, so the reason names the narrowest range. */
const IPV4_SPECIAL: readonly V4Range[] = [
  v4('255.255.255.255/32', 'limited broadcast'),
  v4('192.0.0.0/24', 'IETF protocol assignments'),
  v4('192.0.2.0/24', 'documentation (TEST-NET-1)'),
  v4('192.31.196.0/24', 'AS112'),
  v4('192.52.193.0/24', 'AMT'),
  v4('192.88.99.0/24', 'deprecated 6to4 relay anycast'),
  v4('192.175.48.0/24', 'AS112 direct delegation'),
  v4('198.51.100.0/24', 'documentation (TEST-NET-2)'),
  v4('203.0.113.0/24', 'documentation (TEST-NET-3)'),
  v4('169.254.0.0/16', 'link-local'),
  v4('192.168.0.0/16', 'private-use'),
  v4('198.18.0.0/15', 'benchmarking'),
  v4('172.16.0.0/12', 'private-use'),
  v4('100.64.0.0/10', 'shared address space (carrier-grade NAT)'),
  v4('0.0.0.0/8', '"this network"'),
  v4('10.0.0.0/8', 'private-use'),
  v4('127.0.0.0/8', 'loopback'),
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved'),
];

const inV4Range = (address: number, range: V4Range) =>
  range.bits === 0 || address >>> (32 - range.bits) === range.base >>> (32 - range.bits);

/** The special-purpose range an IPv4 address falls in, or null for an ordinary public address. */
export function specialIPv4(address: number): string | null {
  return IPV4_SPECIAL.find((range) => inV4Range(address, range))?.name ?? null;
}

interface V6Range {
  groups: IPv6Groups;
  bits: number;
  name: string;
  /** Where an embedded IPv4 address sits: the group index of its high half. */
  embeddedV4At?: number;
  /** Teredo stores the client address inverted. */
  embeddedV4Inverted?: boolean;
}

const v6 = (cidr: string, name: string, embedded: Partial<V6Range> = {}): V6Range => {
  const [address, bits] = cidr.split('/');
  return { groups: parseIPv6(address!)!, bits: Number(bits), name, ...embedded };
};

const IPV6_SPECIAL: readonly V6Range[] = [
  v6('::/128', 'unspecified'),
  v6('::1/128', 'loopback'),
  v6('::/96', 'IPv4-compatible (deprecated)', { embeddedV4At: 6 }),
  v6('64:ff9b::/96', 'NAT64 (well-known prefix)', { embeddedV4At: 6 }),
  v6('64:ff9b:1::/48', 'NAT64 (local use)', { embeddedV4At: 6 }),
  v6('100::/64', 'discard-only'),
  v6('2001::/32', 'Teredo', { embeddedV4At: 6, embeddedV4Inverted: true }),
  v6('2001:db8::/32', 'documentation'),
  v6('2001::/23', 'IETF protocol assignments'),
  v6('2002::/16', '6to4', { embeddedV4At: 1 }),
  v6('2620:4f:8000::/48', 'AS112 direct delegation'),
  v6('3fff::/20', 'documentation'),
  v6('5f00::/16', 'SRv6 SIDs'),
  v6('fc00::/7', 'unique local'),
  v6('fe80::/10', 'link-local'),
  v6('fec0::/10', 'site-local (deprecated)'),
  v6('ff00::/8', 'multicast'),
];

function inV6Range(address: IPv6Groups, range: V6Range): boolean {
  let bits = range.bits;
  for (let i = 0; i < 8 && bits > 0; i++, bits -= 16) {
    const take = Math.min(16, bits);
    const mask = (0xffff << (16 - take)) & 0xffff;
    if ((address[i]! & mask) !== (range.groups[i]! & mask)) return false;
  }
  return true;
}

const v4At = (address: IPv6Groups, at: number, inverted = false) => {
  const value = ((address[at]! << 16) | address[at + 1]!) >>> 0;
  return inverted ? ~value >>> 0 : value;
};

const isMapped = (a: IPv6Groups) => a.slice(0, 5).every((g) => g === 0) && a[5] === 0xffff;

/** Why an IPv6 address is refused, or null for an ordinary global unicast address. */
export function specialIPv6(address: IPv6Groups): string | null {
  if (isMapped(address)) {
    const embedded = v4At(address, 6);
    const special = specialIPv4(embedded);
    return special ? `IPv4-mapped ${formatIPv4(embedded)} (${special})` : null;
  }
  const range = IPV6_SPECIAL.find((r) => inV6Range(address, r));
  if (range) {
    if (range.embeddedV4At === undefined) return range.name;
    const embedded = v4At(address, range.embeddedV4At, range.embeddedV4Inverted);
    const special = specialIPv4(embedded);
    return `${range.name}, embedding ${formatIPv4(embedded)}${special ? ` (${special})` : ''}`;
  }
  // Global unicast is 2000::/3; everything else is reserved by the IETF.
  if ((address[0]! & 0xe000) !== 0x2000) return 'outside global unicast (reserved)';
  return null;
}
