/**
 * Receiving one request on `/hooks/{slug}`: find the integration, read the body (capped, by the
 * route's reader), verify it (signing.ts), refuse a replayed webhook-id, validate the payload for
 * the integration's action, then log and queue it. Every outcome except an unknown slug is one
 * row in `inbound_events`; a request that failed verification keeps no byte of its body.
 *
 * The replay guard is the partial unique index on (integration, webhook-id) over accepted rows:
 * the accepting INSERT … ON CONFLICT DO NOTHING either stores the event or stores nothing, so two
 * concurrent deliveries of one id cannot both be accepted.
 */
import { and, desc, eq, lt } from 'drizzle-orm';
import type { z } from 'zod';
import { inboundEvents, type InboundStatus, type InboundVerification } from '../../db/schema';
import type { Db } from '../../db/client';
import type { ServiceContext } from '../../context';
import { newId } from '../../lib/ids';
import { enqueueAfterCommit } from '../../jobs/messages';
import { ACTION_PAYLOADS } from './payloads';
import { integrationBySlug, verifyingSecrets, type IntegrationRow } from './service';
import { verifySignature, type WebhookHeaders } from './signing';

export type InboundEventRow = typeof inboundEvents.$inferSelect;

export type BodyRead = { ok: true; text: string } | { ok: false; reason: 'too_large' };

export interface FieldIssue {
  path: string;
  message: string;
  code: string;
}

export type ReceiveResult =
  | { status: 'not_found' }
  | { status: 'too_large'; eventId: string }
  | { status: 'rejected'; eventId: string; verification: InboundVerification }
  | { status: 'replayed'; eventId: string }
  | { status: 'malformed_json'; eventId: string }
  | { status: 'invalid'; eventId: string; errors: FieldIssue[] }
  | { status: 'accepted'; eventId: string };

function logRow(
  ctx: ServiceContext,
  integration: IntegrationRow,
  fields: { webhookId: string | null; verification: InboundVerification; status: InboundStatus; sizeBytes: number; error?: string; payload?: string },
): typeof inboundEvents.$inferInsert {
  return {
    id: newId('ihe', ctx.clock),
    orgId: integration.orgId,
    integrationId: integration.id,
    webhookId: fields.webhookId?.slice(0, 256) ?? null,
    verification: fields.verification,
    status: fields.status,
    accepted: fields.status === 'queued',
    action: integration.action,
    payload: fields.payload ?? null,
    sizeBytes: fields.sizeBytes,
    error: fields.error?.slice(0, 500) ?? null,
    receivedAt: ctx.clock.now(),
  };
}

/** zod issues as the API's field errors (paths relative to the body). */
export function issuesOf(error: z.ZodError): FieldIssue[] {
  return error.issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join('.') || '(body)', message: i.message, code: i.code }));
}

/**
 * Parses and validates a verified body for the integration's action. An empty body is `{}` (a
 * bare "publish happened" ping is a fine source.sync). source.sync needs a source from somewhere.
 */
export function validatePayload(integration: Pick<IntegrationRow, 'action' | 'sourceId'>, text: string): { ok: true; payload: unknown } | { ok: false; malformed: true } | { ok: false; malformed: false; errors: FieldIssue[] } {
  let json: unknown;
  try {
    json = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    return { ok: false, malformed: true };
  }
  const parsed = ACTION_PAYLOADS[integration.action].safeParse(json);
  if (!parsed.success) return { ok: false, malformed: false, errors: issuesOf(parsed.error) };
  if (integration.action === 'source.sync' && !integration.sourceId && !(parsed.data as { sourceId?: string }).sourceId) {
    return { ok: false, malformed: false, errors: [{ path: 'sourceId', message: 'This integration names no source: the event must', code: 'invalid_type' }] };
  }
  return { ok: true, payload: parsed.data };
}

/**
 * `admit` runs once the integration is known, before anything is logged or read: the route's
 * per-integration rate limit, which throws when it is used up. (Keyed by integration, not by the
 * slug in the URL, so random slugs cost a lookup and nothing more.)
 */
export async function receiveInbound(
  ctx: ServiceContext,
  slug: string,
  headers: WebhookHeaders,
  readBody: () => Promise<BodyRead>,
  admit: (integration: IntegrationRow) => Promise<void> = async () => undefined,
): Promise<ReceiveResult> {
  const integration = await integrationBySlug(ctx.db, slug);
  if (!integration) return { status: 'not_found' };
  await admit(integration);
  const log = async (fields: Parameters<typeof logRow>[2]) => {
    const row = logRow(ctx, integration, fields);
    await ctx.db.insert(inboundEvents).values(row);
    return row.id!;
  };
  if (!integration.enabled) {
    // Logged (the org sees its sender still calling) but answered like an unknown slug.
    await log({ webhookId: headers.id, verification: 'integration_disabled', status: 'rejected', sizeBytes: 0 });
    return { status: 'not_found' };
  }
  const body = await readBody();
  if (!body.ok) return { status: 'too_large', eventId: await log({ webhookId: headers.id, verification: 'not_checked', status: 'too_large', sizeBytes: 0 }) };
  const sizeBytes = new TextEncoder().encode(body.text).byteLength;

  const verification = verifySignature(await verifyingSecrets(ctx, integration), body.text, headers);
  if (verification !== 'verified') {
    return { status: 'rejected', verification, eventId: await log({ webhookId: headers.id, verification, status: 'rejected', sizeBytes }) };
  }

  const valid = validatePayload(integration, body.text);
  if (!valid.ok) {
    // Not accepted, so the id stays free: the sender can fix the payload and send it again.
    const error = valid.malformed ? 'The body is not valid JSON.' : valid.errors.map((e) => `${e.path}: ${e.message}`).join('; ');
    const eventId = await log({ webhookId: headers.id, verification, status: 'invalid', sizeBytes, error });
    return valid.malformed ? { status: 'malformed_json', eventId } : { status: 'invalid', eventId, errors: valid.errors };
  }

  const accepted = logRow(ctx, integration, { webhookId: headers.id, verification, status: 'queued', sizeBytes, payload: JSON.stringify(valid.payload) });
  const inserted = await ctx.db.insert(inboundEvents).values(accepted).onConflictDoNothing().returning({ id: inboundEvents.id });
  if (inserted.length === 0) {
    return { status: 'replayed', eventId: await log({ webhookId: headers.id, verification, status: 'replayed', sizeBytes }) };
  }
  await enqueueAfterCommit(ctx.env, [{ type: 'inbound.process', orgId: integration.orgId, eventId: accepted.id! }]);
  return { status: 'accepted', eventId: accepted.id! };
}

export async function listInboundEvents(db: Db, orgId: string, integrationId: string, cursor: string | null, limit: number) {
  const conditions = [eq(inboundEvents.orgId, orgId), eq(inboundEvents.integrationId, integrationId)];
  if (cursor) conditions.push(lt(inboundEvents.id, cursor));
  return db.select().from(inboundEvents).where(and(...conditions)).orderBy(desc(inboundEvents.id)).limit(limit + 1);
}

export function toInboundEventDto(row: InboundEventRow) {
  return {
    id: row.id,
    webhookId: row.webhookId,
    action: row.action,
    verification: row.verification,
    status: row.status,
    sizeBytes: row.sizeBytes,
    result: row.result ?? null,
    error: row.error,
    attempts: row.attempts,
    receivedAt: new Date(row.receivedAt).toISOString(),
    processedAt: row.processedAt ? new Date(row.processedAt).toISOString() : null,
  };
}
