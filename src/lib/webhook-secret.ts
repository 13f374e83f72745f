import { base64FromBytes } from './crypto';

/**
 * A Standard Webhooks signing secret, for outbound endpoints and inbound integrations alike:
 * 32 random bytes (the HMAC-SHA256 key size), base64, behind `whsec_` — the format every
 * Standard Webhooks library reads.
 */
export function newWebhookSecret(): string {
  return `whsec_${base64FromBytes(crypto.getRandomValues(new Uint8Array(32)))}`;
}

/**
 * The stored secrets that sign (or verify) at `now`: the current one, and the previous one while
 * its grace period after a rotation lasts.
 */
export function liveSecrets<T>(row: { secret: T; previousSecret: T | null; previousValidUntil: number | null }, now: number): T[] {
  return row.previousSecret && row.previousValidUntil !== null && row.previousValidUntil > now ? [row.secret, row.previousSecret] : [row.secret];
}
