/**
 * One normal form for a URL's host, so that every spelling of a host is judged as the same
 * host: lower case, trailing dots removed (`localhost.` is `localhost`), IDNA applied by the
 * URL parser (`ｌｏｃａｌｈｏｓｔ` is `localhost`), and IP literals read in every form.
 */
import { endsInNumber, formatIPv4, parseIPv4 } from './ipv4';
import { formatIPv6, parseIPv6, type IPv6Groups } from './ipv6';

export type NormalizedHost =
  | { kind: 'ipv4'; address: number; text: string }
  | { kind: 'ipv6'; address: IPv6Groups; text: string }
  | { kind: 'name'; text: string }
  /** Looks like an address (last label numeric) but is not a valid one. */
  | { kind: 'invalid'; text: string };

/** Normalizes `URL.hostname` (already lower-cased and punycoded by the parser). */
export function normalizeHost(hostname: string): NormalizedHost {
  const lowered = hostname.toLowerCase();
  if (lowered.startsWith('[') || lowered.includes(':')) {
    const address = parseIPv6(lowered);
    return address ? { kind: 'ipv6', address, text: formatIPv6(address) } : { kind: 'invalid', text: lowered };
  }
  const text = lowered.replace(/\.+$/, '');
  const address = parseIPv4(text);
  if (address !== null) return { kind: 'ipv4', address, text: formatIPv4(address) };
  if (text === '' || endsInNumber(text)) return { kind: 'invalid', text };
  return { kind: 'name', text };
}

/**
 * Names that only resolve inside a network: RFC 6761 `localhost`, RFC 6762 `.local` and the
 * private suffixes of its appendix G, RFC 8375 `home.arpa`, ICANN's reserved `.internal`,
 * RFC 7686 `.onion`, RFC 9476 `.alt`, RFC 6761 `.invalid`, and every `.arpa` name.
 */
const INTERNAL_SUFFIXES = ['localhost', 'local', 'internal', 'localdomain', 'lan', 'intranet', 'corp', 'private', 'home', 'onion', 'alt', 'invalid', 'arpa'];

/** Why a host name is refused, or null when it may be a public name. */
export function internalNameReason(name: string): string | null {
  if (!name.includes('.')) return `"${name}" is a single-label name; use a fully qualified public hostname`;
  const top = name.slice(name.lastIndexOf('.') + 1);
  if (INTERNAL_SUFFIXES.includes(top)) return `".${top}" names are internal`;
  return null;
}
