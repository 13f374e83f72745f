/**
 * Standard Webhooks (https://www.standardwebhooks.com) for inbound events, with the reference
 * `standardwebhooks` library: HMAC-SHA256 over `{id}.{timestamp}.{body}`, a 5-minute timestamp
 * tolerance both ways, signatures compared in constant time (the library's timingSafeEqual).
 *
 * During a rotation's grace period both secrets are tried, always both, so the time taken does
 * not tell which one matched.
 */
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { INBOUND_WEBHOOKS } from '../../limits';
import type { InboundVerification } from '../../db/schema';

export interface WebhookHeaders {
  id: string | null;
  timestamp: string | null;
  signature: string | null;
}

/** Missing or absurdly long headers are not worth an HMAC. */
function headersProblem(h: WebhookHeaders): boolean {
  return (
    !h.id ||
    !h.timestamp ||
    !h.signature ||
    h.id.length > INBOUND_WEBHOOKS.maxWebhookIdChars ||
    h.timestamp.length > 20 ||
    h.signature.length > INBOUND_WEBHOOKS.maxSignatureHeaderChars
  );
}

export function verifySignature(secrets: string[], body: string, h: WebhookHeaders): Exclude<InboundVerification, 'integration_disabled' | 'not_checked'> {
  if (headersProblem(h)) return 'invalid_headers';
  const headers = { 'webhook-id': h.id!, 'webhook-timestamp': h.timestamp!, 'webhook-signature': h.signature! };
  let verified = false;
  let stale = false;
  for (const secret of secrets) {
    try {
      new Webhook(secret).verify(body, headers, { jsonParse: false });
      verified = true;
    } catch (err) {
      if (!(err instanceof WebhookVerificationError)) throw err;
      // The library checks the timestamp first, with the same message for every secret.
      if (/timestamp too (old|new)/i.test(err.message)) stale = true;
      if (/invalid signature headers/i.test(err.message)) return 'invalid_headers';
    }
  }
  if (stale) return 'stale_timestamp';
  return verified ? 'verified' : 'bad_signature';
}

/** The three headers a sender puts on `body` (for the integration's test and the README's example). */
export function signedHeaders(secret: string, id: string, at: Date, body: string) {
  return { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign(id, at, body) };
}
