/**
 * Prefixed, random, time-sortable ids (`org_01J…`): 48-bit millisecond timestamp then
 * 80 random bits, Crockford base32 (ULID layout). Sorting ids as strings sorts by creation
 * time, which is what keeps cursor pagination stable under inserts.
 */
import { systemClock, type Clock } from './clock';
import { base64url } from './crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export const ID_PREFIXES = [
  'usr', 'org', 'mem', 'inv', 'bot', 'key', 'ses', 'rtk', 'evt', 'tok', 'mail',
  'src', 'doc', 'chk', 'job', 'cnv', 'msg', 'idn', 'att', 'fbk', 'led', 'vis', 'whe',
  // inbound webhooks: integrations and the events they receive
  'int', 'ihe',
  // Outbound webhooks: endpoint, delivery, attempt.
  'whk', 'whd', 'wha',
  // actions (issue #11): an action, one of its runs, a pending confirmation
  'act', 'arn', 'cfm',
  'esc', 'cmt',
  // analytics (issue #10): answer corrections
  'cor',
] as const;
export type IdPrefix = (typeof ID_PREFIXES)[number];

function encodeTime(ms: number): string {
  let out = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  // 80 bits -> 16 base32 chars, 5 bits at a time.
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}

export function newId(prefix: IdPrefix, clock: Clock = systemClock): string {
  const random = crypto.getRandomValues(new Uint8Array(10));
  return `${prefix}_${encodeTime(clock.now())}${encodeRandom(random)}`;
}

const ID_PATTERN = /^[a-z]{2,4}_[0-9A-HJKMNP-TV-Z]{26}$/;
export function looksLikeId(value: string, prefix?: IdPrefix): boolean {
  return ID_PATTERN.test(value) && (!prefix || value.startsWith(`${prefix}_`));
}

/** URL-safe random secret (base64url, no padding). */
export function randomToken(byteLength = 32): string {
  const bytes = crypto.getRandomValues(new Uint8Array(byteLength));
  return base64url(bytes);
}
