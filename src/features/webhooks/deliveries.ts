/** Reading deliveries and their attempts, redelivering, and the test event. Every query is scoped by org. */
import { and, asc, desc, eq, inArray, lt } from 'drizzle-orm';
import { outboxEvents, webhookAttempts, webhookDeliveries, type DeliveryStatus } from '../../db/schema';
import type { Db } from '../../db/client';
import type { Actor, ServiceContext } from '../../context';
import { newId } from '../../lib/ids';
import { newEventRow } from '../events/outbox';
import { domainEvent } from '../events/catalog';
import { enqueueAfterCommit } from '../../jobs/messages';
import { auditInsert } from '../audit/service';
import { attemptTestDelivery, type AttemptRow, type DeliveryRow } from './delivery';
import { getEndpoint } from './endpoints';

export function toAttemptDto(row: AttemptRow) {
  return {
    id: row.id,
    attempt: row.attempt,
    statusCode: row.statusCode,
    latencyMs: row.latencyMs,
    responseBody: row.responseBody,
    error: row.error,
    createdAt: new Date(row.createdAt).toISOString(),
  };
}

export function toDeliveryDto(row: DeliveryRow) {
  return {
    id: row.id,
    webhookId: row.endpointId,
    eventId: row.eventId,
    eventType: row.eventType,
    conversationId: row.conversationId,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.status === 'pending' && row.nextAttemptAt ? new Date(row.nextAttemptAt).toISOString() : null,
    lastStatusCode: row.lastStatusCode,
    lastError: row.lastError,
    createdAt: new Date(row.createdAt).toISOString(),
    completedAt: row.completedAt ? new Date(row.completedAt).toISOString() : null,
  };
}

export interface DeliveryFilter {
  status?: DeliveryStatus;
  eventType?: string;
}

export async function listDeliveries(db: Db, orgId: string, endpointId: string, filter: DeliveryFilter, cursor: string | null, limit: number) {
  return db
    .select()
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.orgId, orgId),
        eq(webhookDeliveries.endpointId, endpointId),
        cursor ? lt(webhookDeliveries.id, cursor) : undefined,
        filter.status ? eq(webhookDeliveries.status, filter.status) : undefined,
        filter.eventType ? eq(webhookDeliveries.eventType, filter.eventType) : undefined,
      ),
    )
    .orderBy(desc(webhookDeliveries.id))
    .limit(limit + 1);
}

export async function getDelivery(db: Db, orgId: string, deliveryId: string): Promise<DeliveryRow | null> {
  return (await db.select().from(webhookDeliveries).where(and(eq(webhookDeliveries.orgId, orgId), eq(webhookDeliveries.id, deliveryId))).get()) ?? null;
}

export async function listAttempts(db: Db, orgId: string, deliveryId: string, limit: number) {
  return db
    .select()
    .from(webhookAttempts)
    .where(and(eq(webhookAttempts.orgId, orgId), eq(webhookAttempts.deliveryId, deliveryId)))
    .orderBy(asc(webhookAttempts.id))
    .limit(limit);
}

export type RedeliverResult = { status: 'queued'; delivery: DeliveryRow } | { status: 'not_found' } | { status: 'pending' } | { status: 'endpoint_disabled' };

/** A finished delivery (failed or succeeded) starts a new attempt chain; its earlier attempts stay on record. */
export async function redeliver(ctx: ServiceContext, actor: Actor, orgId: string, deliveryId: string): Promise<RedeliverResult> {
  const current = await getDelivery(ctx.db, orgId, deliveryId);
  if (!current) return { status: 'not_found' };
  const endpoint = await getEndpoint(ctx.db, orgId, current.endpointId);
  if (!endpoint) return { status: 'not_found' };
  if (!endpoint.enabled) return { status: 'endpoint_disabled' };
  const now = ctx.clock.now();
  const [updated] = await ctx.db.batch([
    ctx.db
      .update(webhookDeliveries)
      .set({ status: 'pending', attempts: 0, nextAttemptAt: now, completedAt: null, updatedAt: now })
      .where(and(eq(webhookDeliveries.orgId, orgId), eq(webhookDeliveries.id, deliveryId), inArray(webhookDeliveries.status, ['failed', 'succeeded'])))
      .returning(),
    auditInsert(ctx.db, ctx.clock, ctx.meta, { orgId, actor, action: 'webhook.redeliver', target: { type: 'webhook_delivery', id: deliveryId }, metadata: { webhookId: endpoint.id } }),
  ]);
  const row = updated[0];
  if (!row) return { status: 'pending' };
  await enqueueAfterCommit(ctx.env, [{ type: 'webhook.deliver', orgId, deliveryId }]);
  return { status: 'queued', delivery: row };
}

export type TestResult = { status: 'sent'; delivery: DeliveryRow; attempt: AttemptRow } | { status: 'not_found' };

/**
 * Sends a `webhook.test` event to one endpoint now (even a disabled one, to check it before turning
 * it back on). The event is stored already published, so it never fans out to other endpoints.
 */
export async function sendTestEvent(ctx: ServiceContext, orgId: string, endpointId: string): Promise<TestResult> {
  const endpoint = await getEndpoint(ctx.db, orgId, endpointId);
  if (!endpoint) return { status: 'not_found' };
  const now = ctx.clock.now();
  const event = newEventRow(domainEvent('webhook.test', { orgId, data: { webhookId: endpoint.id, message: 'This is a test event from KyroChat.' } }), ctx.clock);
  const [[stored]] = await ctx.db.batch([
    ctx.db.insert(outboxEvents).values({ ...event, publishedAt: now }).returning({ seq: outboxEvents.seq }),
  ]);
  const delivery: DeliveryRow = {
    id: newId('whd', ctx.clock),
    orgId,
    endpointId: endpoint.id,
    eventId: event.id,
    eventSeq: stored!.seq,
    eventType: event.type,
    conversationId: null,
    status: 'pending',
    attempts: 0,
    // Owned by this request: no job or sweeper picks it up while the attempt runs.
    nextAttemptAt: null,
    lastStatusCode: null,
    lastError: null,
    createdAt: now,
    updatedAt: now,
    completedAt: null,
  };
  await ctx.db.insert(webhookDeliveries).values(delivery);
  const attempt = await attemptTestDelivery(ctx, endpoint, delivery, { id: event.id, type: event.type, createdAt: event.createdAt, data: event.data });
  return { status: 'sent', delivery: (await getDelivery(ctx.db, orgId, delivery.id))!, attempt };
}
