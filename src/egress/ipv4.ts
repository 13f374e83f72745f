/**
 * IPv4 literals in every form a URL parser or a resolver (inet_aton) accepts: dotted quads,
 * one to four parts (`127.1`, `10.1.2`), each part decimal, hex (`0x7f`) or octal (`0177`),
 * mixed freely (`0x7f.0.1`), and a single 32-bit number (`2130706433`). Parsing every form
 * ourselves means an address cannot slip past the guard by being spelled differently from
 * the way a later parser (the runtime's, a proxy's) will read it.
 */

/** Dotted-part count → how many bits the last part may fill (`127.1` puts 24 bits in the `1`). */
const LAST_PART_MAX = [0, 0xffffffff, 0xffffff, 0xffff, 0xff] as const;

function parsePart(part: string): number | null {
  let digits = part;
  let radix = 10;
  if (/^0x/i.test(part)) {
    digits = part.slice(2);
    radix = 16;
    // WHATWG accepts a bare `0x` as zero.
    if (digits === '') return 0;
  } else if (part.length > 1 && part.startsWith('0')) {
    digits = part.slice(1);
    radix = 8;
  }
  const valid = radix === 16 ? /^[0-9a-f]+$/i : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!valid.test(digits)) return null;
  // Leading zeros cannot make a number overflow the check below: strip them before measuring.
  const significant = digits.replace(/^0+(?=.)/, '');
  if (significant.length > 12) return null;
  return parseInt(significant, radix);
}

/**
 * The address as an unsigned 32-bit number, or null when `host` is not an IPv4 literal.
 * Trailing dots are ignored (`127.0.0.1.` is the same host).
 */
export function parseIPv4(host: string): number | null {
  const trimmed = host.replace(/\.+$/, '');
  if (trimmed === '') return null;
  const parts = trimmed.split('.');
  if (parts.length > 4) return null;
  const numbers: number[] = [];
  for (const part of parts) {
    if (part === '') return null;
    const n = parsePart(part);
    if (n === null) return null;
    numbers.push(n);
  }
  const last = numbers.pop()!;
  if (numbers.some((n) => n > 255) || last > LAST_PART_MAX[parts.length]!) return null;
  let value = 0;
  numbers.forEach((n, i) => (value += n * 2 ** (8 * (3 - i))));
  return value + last;
}

export function formatIPv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join('.');
}

/** Whether a host's last label is numeric: WHATWG treats such hosts as IPv4 or invalid, never as names. */
export function endsInNumber(host: string): boolean {
  const labels = host.replace(/\.+$/, '').split('.');
  const last = labels[labels.length - 1] ?? '';
  return /^[0-9]+$/.test(last) || /^0x[0-9a-f]*$/i.test(last);
}
