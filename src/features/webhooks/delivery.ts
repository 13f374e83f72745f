/**
 * Delivering one webhook (the `webhook.deliver` job). The delivery's state lives in D1, the queue
 * message only wakes it, so a lost or duplicated message is harmless:
 *
 * - An attempt claims the delivery with a guarded UPDATE (pending and due → attempts + 1, next
 *   attempt pushed out by a lease), so two messages for one delivery make one request.
 * - The body is `{type, timestamp, data}`, signed per Standard Webhooks (`webhook-id` is the event
 *   id, stable across retries; `webhook-signature` carries one `v1,` signature per active secret).
 * - It goes through the egress guard with a timeout and a response cap; redirects are not followed.
 * - Every attempt is recorded: status code, latency, the first 2 KB of the answer, or the error.
 * - A non-2xx answer or a network failure is retried on WEBHOOKS.retryDelaysSeconds (with jitter),
 *   or after the receiver's Retry-After (bounded). A URL the egress policy refuses fails at once.
 * - After the last attempt the delivery is `failed` and the endpoint's consecutive failure count
 *   goes up; at WEBHOOKS.disableAfterFailedDeliveries the endpoint is disabled and the org's
 *   owners are mailed. Any 2xx resets the count.
 * - Order: a delivery whose event belongs to a conversation waits while an earlier event (lower
 *   outbox seq) of that conversation is still pending to the same endpoint; when that one
 *   finishes (delivered or failed) it wakes the next.
 */
import { and, asc, eq, gt, isNull, lt, lte, or, sql } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { memberships, outboxEvents, users, webhookAttempts, webhookDeliveries, webhookEndpoints } from '../../db/schema';
import type { ServiceContext } from '../../context';
import { newId } from '../../lib/ids';
import { EgressError, fetcherFromBinding, guardedFetch } from '../../egress';
import { WEBHOOKS } from '../../limits';
import { enqueue } from '../../jobs/messages';
import { sendAfterCommit } from '../../adapters/mailer';
import { getEndpoint, signingSecrets, type EndpointRow } from './endpoints';

export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type AttemptRow = typeof webhookAttempts.$inferSelect;

/** Attempts in one chain: the first, then one per retry delay. */
export const MAX_ATTEMPTS = WEBHOOKS.retryDelaysSeconds.length + 1;

/** The wait after failed attempt number `attempt` (1-based), with ±jitter so retries spread out. */
export function retryDelaySeconds(attempt: number, random = Math.random): number {
  const base = WEBHOOKS.retryDelaysSeconds[Math.min(attempt, WEBHOOKS.retryDelaysSeconds.length) - 1]!;
  return Math.max(1, Math.round(base * (1 + WEBHOOKS.jitterRatio * (2 * random() - 1))));
}

/** Retry-After as seconds (delta or HTTP date), bounded; null when absent or unreadable. */
export function retryAfterSeconds(header: string | null, now: number): number | null {
  if (!header) return null;
  const trimmed = header.trim();
  let seconds: number;
  if (/^\d{1,10}$/.test(trimmed)) seconds = Number(trimmed);
  else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return null;
    seconds = Math.ceil((at - now) / 1000);
  }
  return Math.min(WEBHOOKS.retryAfterMaxSeconds, Math.max(WEBHOOKS.retryAfterMinSeconds, seconds));
}

interface AttemptOutcome {
  ok: boolean;
  statusCode: number | null;
  latencyMs: number;
  responseBody: string | null;
  error: string | null;
  /** Retrying cannot help (the URL is refused by the egress policy). */
  permanent: boolean;
  retryAfter: number | null;
}

/** The first `max` bytes of a body as text; the rest is never read. */
async function readHead(response: Response, max: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const bytes = new Uint8Array(Math.min(size, max));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.length - offset);
    bytes.set(part, offset);
    offset += part.byteLength;
    if (offset >= bytes.length) break;
  }
  return new TextDecoder().decode(bytes);
}

export interface SignedRequest {
  body: string;
  headers: Record<string, string>;
}

/** The request a receiver gets for one event, signed with every active secret. */
export function signedRequest(event: { id: string; type: string; createdAt: number; data: string }, secrets: string[], now: number): SignedRequest {
  // The stored payload is already JSON written by KyroChat: spliced in as it is.
  const body = `{"type":${JSON.stringify(event.type)},"timestamp":${JSON.stringify(new Date(event.createdAt).toISOString())},"data":${event.data}}`;
  const at = new Date(now);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'KyroChat-Webhooks/1',
      'webhook-id': event.id,
      'webhook-timestamp': String(Math.floor(now / 1000)),
      'webhook-signature': secrets.map((secret) => new Webhook(secret).sign(event.id, at, body)).join(' '),
    },
  };
}

async function post(ctx: ServiceContext, url: string, request: SignedRequest): Promise<AttemptOutcome> {
  const started = Date.now();
  try {
    const { response } = await guardedFetch(
      url,
      { method: 'POST', headers: request.headers, body: request.body },
      {
        policy: ctx.config.egress,
        fetcher: fetcherFromBinding(ctx.env.WEB_FETCHER),
        timeoutMs: WEBHOOKS.timeoutMs,
        maxBytes: WEBHOOKS.maxResponseBytes,
        // A redirected POST would arrive as a GET or unsigned elsewhere: a 3xx is a failed attempt.
        maxRedirects: 0,
      },
    );
    let responseBody: string | null = null;
    try {
      responseBody = await readHead(response, WEBHOOKS.maxStoredResponseBytes);
    } catch {
      // A body that breaks off (or passes the cap) does not change what the status said.
    }
    const ok = response.status >= 200 && response.status < 300;
    return {
      ok,
      statusCode: response.status,
      latencyMs: Date.now() - started,
      responseBody,
      error: ok ? null : `The endpoint answered ${response.status}.`,
      permanent: false,
      retryAfter: ok ? null : retryAfterSeconds(response.headers.get('retry-after'), ctx.clock.now()),
    };
  } catch (err) {
    const latencyMs = Date.now() - started;
    if (err instanceof EgressError) {
      const error =
        err.code === 'egress_too_many_redirects' ? 'The endpoint answered with a redirect; webhook requests do not follow redirects.' : `${err.code}: ${err.message}`;
      return { ok: false, statusCode: null, latencyMs, responseBody: null, error: error.slice(0, 500), permanent: err.code === 'egress_refused', retryAfter: null };
    }
    const error = `Request failed: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500);
    return { ok: false, statusCode: null, latencyMs, responseBody: null, error, permanent: false, retryAfter: null };
  }
}

function attemptRow(ctx: ServiceContext, delivery: DeliveryRow, attempt: number, outcome: AttemptOutcome): AttemptRow {
  return {
    id: newId('wha', ctx.clock),
    orgId: delivery.orgId,
    deliveryId: delivery.id,
    attempt,
    statusCode: outcome.statusCode,
    latencyMs: outcome.latencyMs,
    responseBody: outcome.responseBody,
    error: outcome.error,
    createdAt: ctx.clock.now(),
  };
}

/** Claims a due pending delivery for one attempt; its attempt number, or null when not ours to make. */
async function claim(ctx: ServiceContext, deliveryId: string, now: number): Promise<number | null> {
  const claimed = await ctx.db
    .update(webhookDeliveries)
    .set({ attempts: sql`${webhookDeliveries.attempts} + 1`, nextAttemptAt: now + WEBHOOKS.leaseMs, updatedAt: now })
    .where(
      and(
        eq(webhookDeliveries.id, deliveryId),
        eq(webhookDeliveries.status, 'pending'),
        or(isNull(webhookDeliveries.nextAttemptAt), lte(webhookDeliveries.nextAttemptAt, now)),
      ),
    )
    .returning({ attempts: webhookDeliveries.attempts })
    .get();
  return claimed?.attempts ?? null;
}

/**
 * The nearest pending delivery of the same conversation to the same endpoint: `before` this one
 * (an earlier event it must wait for) or `after` it (the next one to wake once this is done).
 */
async function pendingNeighbour(ctx: ServiceContext, delivery: DeliveryRow, side: 'before' | 'after') {
  if (!delivery.conversationId) return null;
  return (
    (await ctx.db
      .select({ id: webhookDeliveries.id, nextAttemptAt: webhookDeliveries.nextAttemptAt })
      .from(webhookDeliveries)
      .where(
        and(
          eq(webhookDeliveries.endpointId, delivery.endpointId),
          eq(webhookDeliveries.conversationId, delivery.conversationId),
          eq(webhookDeliveries.status, 'pending'),
          side === 'before' ? lt(webhookDeliveries.eventSeq, delivery.eventSeq) : gt(webhookDeliveries.eventSeq, delivery.eventSeq),
        ),
      )
      .orderBy(asc(webhookDeliveries.eventSeq))
      .limit(1)
      .get()) ?? null
  );
}

/** Wakes the next pending delivery of the same conversation and endpoint, now that this one is done. */
async function wakeNext(ctx: ServiceContext, delivery: DeliveryRow) {
  const next = await pendingNeighbour(ctx, delivery, 'after');
  if (next) await enqueue(ctx.env, { type: 'webhook.deliver', orgId: delivery.orgId, deliveryId: next.id });
}

async function loadEvent(ctx: ServiceContext, orgId: string, eventId: string) {
  return (
    (await ctx.db
      .select({ id: outboxEvents.id, type: outboxEvents.type, createdAt: outboxEvents.createdAt, data: outboxEvents.data })
      .from(outboxEvents)
      .where(and(eq(outboxEvents.id, eventId), eq(outboxEvents.orgId, orgId)))
      .get()) ?? null
  );
}

async function finish(ctx: ServiceContext, delivery: DeliveryRow, status: 'succeeded' | 'failed', error: string | null) {
  const now = ctx.clock.now();
  await ctx.db
    .update(webhookDeliveries)
    .set({ status, lastError: error, nextAttemptAt: null, completedAt: now, updatedAt: now })
    .where(and(eq(webhookDeliveries.id, delivery.id), eq(webhookDeliveries.status, 'pending')));
  await wakeNext(ctx, delivery);
}

export type DeliverOutcome = 'unknown' | 'done' | 'not_due' | 'waiting' | 'claimed_elsewhere' | 'delivered' | 'retrying' | 'failed';

/** Handles one `webhook.deliver` job. */
export async function deliverWebhook(ctx: ServiceContext, job: { orgId: string; deliveryId: string }): Promise<DeliverOutcome> {
  const now = ctx.clock.now();
  const delivery = await ctx.db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.id, job.deliveryId), eq(webhookDeliveries.orgId, job.orgId)))
    .get();
  if (!delivery) return 'unknown';
  if (delivery.status !== 'pending') return 'done';
  // A message that came early (or a duplicate while an attempt holds the lease) comes back when due.
  if (delivery.nextAttemptAt !== null && delivery.nextAttemptAt > now) {
    await enqueue(ctx.env, { type: 'webhook.deliver', ...job }, Math.ceil((delivery.nextAttemptAt - now) / 1000));
    return 'not_due';
  }
  const blocker = await pendingNeighbour(ctx, delivery, 'before');
  if (blocker) {
    const untilDue = blocker.nextAttemptAt ? Math.ceil((blocker.nextAttemptAt - now) / 1000) : 0;
    await enqueue(ctx.env, { type: 'webhook.deliver', ...job }, Math.max(WEBHOOKS.orderWaitSeconds, untilDue));
    return 'waiting';
  }
  const endpoint = await getEndpoint(ctx.db, delivery.orgId, delivery.endpointId);
  if (!endpoint) return 'unknown';
  if (!endpoint.enabled) {
    await finish(ctx, delivery, 'failed', `The endpoint is disabled${endpoint.disabledReason ? `: ${endpoint.disabledReason}` : '.'}`);
    return 'failed';
  }
  const attempt = await claim(ctx, delivery.id, now);
  if (attempt === null) return 'claimed_elsewhere';
  const event = await loadEvent(ctx, delivery.orgId, delivery.eventId);
  if (!event) {
    await finish(ctx, delivery, 'failed', 'The event is no longer stored.');
    return 'failed';
  }
  const outcome = await post(ctx, endpoint.url, signedRequest(event, await signingSecrets(ctx, endpoint, now), ctx.clock.now()));
  return recordOutcome(ctx, endpoint, delivery, attempt, outcome);
}

async function recordOutcome(ctx: ServiceContext, endpoint: EndpointRow, delivery: DeliveryRow, attempt: number, outcome: AttemptOutcome): Promise<DeliverOutcome> {
  const now = ctx.clock.now();
  const attemptInsert = ctx.db.insert(webhookAttempts).values(attemptRow(ctx, delivery, attempt, outcome));
  const thisDelivery = and(eq(webhookDeliveries.id, delivery.id), eq(webhookDeliveries.status, 'pending'));
  const last = { lastStatusCode: outcome.statusCode, lastError: outcome.error, updatedAt: now };

  if (outcome.ok) {
    await ctx.db.batch([
      attemptInsert,
      ctx.db.update(webhookDeliveries).set({ ...last, status: 'succeeded', nextAttemptAt: null, completedAt: now }).where(thisDelivery),
      ctx.db.update(webhookEndpoints).set({ consecutiveFailures: 0 }).where(and(eq(webhookEndpoints.id, endpoint.id), gt(webhookEndpoints.consecutiveFailures, 0))),
    ]);
    await wakeNext(ctx, delivery);
    return 'delivered';
  }

  if (!outcome.permanent && attempt < MAX_ATTEMPTS) {
    const delay = outcome.retryAfter ?? retryDelaySeconds(attempt);
    await ctx.db.batch([attemptInsert, ctx.db.update(webhookDeliveries).set({ ...last, nextAttemptAt: now + delay * 1000 }).where(thisDelivery)]);
    await enqueue(ctx.env, { type: 'webhook.deliver', orgId: delivery.orgId, deliveryId: delivery.id }, delay);
    return 'retrying';
  }

  const reason = `${WEBHOOKS.disableAfterFailedDeliveries} deliveries in a row failed after every retry (last: ${outcome.error ?? 'unknown error'})`.slice(0, 500);
  const [, , , disabled] = await ctx.db.batch([
    attemptInsert,
    ctx.db.update(webhookDeliveries).set({ ...last, status: 'failed', nextAttemptAt: null, completedAt: now }).where(thisDelivery),
    // Counted only if the delivery really moved to failed just now (the statement above changed it).
    ctx.db
      .update(webhookEndpoints)
      .set({ consecutiveFailures: sql`${webhookEndpoints.consecutiveFailures} + 1` })
      .where(and(eq(webhookEndpoints.id, endpoint.id), sql`changes() = 1`)),
    ctx.db
      .update(webhookEndpoints)
      .set({ enabled: false, disabledReason: reason, disabledAt: now, updatedAt: now, revision: sql`${webhookEndpoints.revision} + 1` })
      .where(and(eq(webhookEndpoints.id, endpoint.id), eq(webhookEndpoints.enabled, true), sql`${webhookEndpoints.consecutiveFailures} >= ${WEBHOOKS.disableAfterFailedDeliveries}`))
      .returning({ id: webhookEndpoints.id }),
  ]);
  if (disabled.length > 0) await mailOwners(ctx, endpoint, reason);
  await wakeNext(ctx, delivery);
  return 'failed';
}

async function mailOwners(ctx: ServiceContext, endpoint: EndpointRow, reason: string) {
  const owners = await ctx.db
    .select({ email: users.email })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.orgId, endpoint.orgId), eq(memberships.role, 'owner')));
  for (const owner of owners) {
    await sendAfterCommit(ctx, {
      to: owner.email,
      kind: 'webhook_disabled',
      subject: 'A KyroChat webhook endpoint was disabled',
      text: [
        `Your webhook endpoint ${endpoint.url} (${endpoint.id}) was disabled:`,
        reason,
        '',
        'Events are no longer sent to it. Fix the receiver, turn the endpoint back on',
        `(PATCH /api/v1/webhooks/${endpoint.id} with {"enabled": true}) and redeliver what it missed.`,
        `${ctx.config.appUrl}`,
      ].join('\n'),
      secrets: [],
    });
  }
}

// --- the test event -----------------------------------------------------------------------

/** POST /webhooks/{id}/test: one attempt now, no retries, not counted against the endpoint. */
export async function attemptTestDelivery(ctx: ServiceContext, endpoint: EndpointRow, delivery: DeliveryRow, event: { id: string; type: string; createdAt: number; data: string }) {
  const now = ctx.clock.now();
  const outcome = await post(ctx, endpoint.url, signedRequest(event, await signingSecrets(ctx, endpoint, now), now));
  const attempt = attemptRow(ctx, delivery, 1, outcome);
  const done = ctx.clock.now();
  await ctx.db.batch([
    ctx.db.insert(webhookAttempts).values(attempt),
    ctx.db
      .update(webhookDeliveries)
      .set({ status: outcome.ok ? 'succeeded' : 'failed', attempts: 1, lastStatusCode: outcome.statusCode, lastError: outcome.error, nextAttemptAt: null, completedAt: done, updatedAt: done })
      .where(eq(webhookDeliveries.id, delivery.id)),
  ]);
  return attempt;
}
