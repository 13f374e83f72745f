/**
 * IPv6 literals as eight 16-bit groups: full and compressed (`::`) forms, a trailing dotted
 * IPv4 part (`::ffff:127.0.0.1`, `64:ff9b::10.0.0.1`), optional brackets and a zone id
 * (`fe80::1%eth0`, `%25` URL-encoded), which names an interface and does not change the address.
 */
import { parseIPv4 } from './ipv4';

export type IPv6Groups = readonly number[];

function parseGroups(text: string): number[] | null {
  if (text === '') return [];
  const groups: number[] = [];
  for (const piece of text.split(':')) {
    if (!/^[0-9a-f]{1,4}$/i.test(piece)) return null;
    groups.push(parseInt(piece, 16));
  }
  return groups;
}

/** Strictly four decimal parts, as RFC 4291 §2.2 writes the embedded IPv4 form. */
function embeddedIPv4(text: string): number[] | null {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) return null;
  const value = parseIPv4(text.replace(/(^|\.)0+(?=\d)/g, '$1'));
  if (value === null) return null;
  return [value >>> 16, value & 0xffff];
}

export function parseIPv6(input: string): IPv6Groups | null {
  let text = input.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.search(/%/);
  if (zone !== -1) {
    if (zone === text.length - 1) return null;
    text = text.slice(0, zone);
  }
  if (!text.includes(':')) return null;

  // A dotted IPv4 tail stands for the last two groups: parse it apart, keep what precedes it
  // (`::ffff:` → `::ffff`, but `::` stays `::`).
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = embeddedIPv4(text.slice(lastColon + 1));
    if (!v4) return null;
    tail = v4;
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }

  const doubleColon = text.indexOf('::');
  if (doubleColon !== text.lastIndexOf('::')) return null;
  let groups: number[];
  if (doubleColon === -1) {
    const all = parseGroups(text);
    if (!all) return null;
    groups = [...all, ...tail];
    if (groups.length !== 8) return null;
  } else {
    const head = parseGroups(text.slice(0, doubleColon));
    const rest = parseGroups(text.slice(doubleColon + 2));
    if (!head || !rest) return null;
    const known = head.length + rest.length + tail.length;
    // `::` stands for at least one group of zeros.
    if (known > 7) return null;
    groups = [...head, ...new Array<number>(8 - known).fill(0), ...rest, ...tail];
  }
  return groups;
}

/** RFC 5952 text: lower-case hex, the longest run of two or more zero groups as `::`. */
export function formatIPv6(groups: IPv6Groups): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > bestLength) [bestStart, bestLength] = [i, end - i];
    i = end;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
