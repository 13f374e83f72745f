/**
 * Publishing: unpublished outbox events become webhook deliveries, one per (event, enabled
 * endpoint whose filters match). Runs from the `events.publish` job a service asks for after its
 * batch (publishSoon) and from the cron sweeper for anything left behind.
 *
 * Safe under concurrent publishers and re-runs: deliveries are `INSERT OR IGNORE` on the unique
 * (endpoint, event), only the rows a publisher really inserted come back from RETURNING and get
 * a delivery job, and the inserts and the "published" mark commit in one batch.
 */
import { and, asc, eq, inArray, isNull, lte } from 'drizzle-orm';
import { outboxEvents, webhookDeliveries, webhookEndpoints } from '../../db/schema';
import type { ServiceContext } from '../../context';
import { newId } from '../../lib/ids';
import { splitForStatements } from '../../db/bound-parameters';
import { WEBHOOKS } from '../../limits';
import { enqueueAfterCommit } from '../../jobs/messages';
import { eventMatchesFilter } from '../events/catalog';

type DeliveryRow = typeof webhookDeliveries.$inferInsert;
/** Every column of a delivery row is bound (drizzle binds the defaults it fills in too). */
const DELIVERY_COLUMNS = 15;

export interface PublishOptions {
  /** Only this org's events (the job); every org's when absent (the sweeper). */
  orgId?: string;
  /** Only events created at or before this time (the sweeper leaves fresh ones to their jobs). */
  createdBefore?: number;
  limit?: number;
}

export interface PublishResult {
  events: number;
  deliveries: number;
  /** True when the batch was full: more events may be waiting. */
  more: boolean;
}

export async function publishEvents(ctx: ServiceContext, options: PublishOptions = {}): Promise<PublishResult> {
  const limit = options.limit ?? WEBHOOKS.publishBatch;
  const events = await ctx.db
    .select({ seq: outboxEvents.seq, id: outboxEvents.id, orgId: outboxEvents.orgId, type: outboxEvents.type, botId: outboxEvents.botId, conversationId: outboxEvents.conversationId })
    .from(outboxEvents)
    .where(
      and(
        isNull(outboxEvents.publishedAt),
        options.orgId ? eq(outboxEvents.orgId, options.orgId) : undefined,
        options.createdBefore !== undefined ? lte(outboxEvents.createdAt, options.createdBefore) : undefined,
      ),
    )
    .orderBy(asc(outboxEvents.seq))
    .limit(limit);
  if (events.length === 0) return { events: 0, deliveries: 0, more: false };

  const orgIds = [...new Set(events.map((e) => e.orgId))];
  const endpoints = [];
  for (const group of splitForStatements(orgIds, 1, 1)) {
    endpoints.push(
      ...(await ctx.db
        .select({ id: webhookEndpoints.id, orgId: webhookEndpoints.orgId, eventTypes: webhookEndpoints.eventTypes, botId: webhookEndpoints.botId })
        .from(webhookEndpoints)
        .where(and(inArray(webhookEndpoints.orgId, group), eq(webhookEndpoints.enabled, true)))),
    );
  }

  const now = ctx.clock.now();
  const rows: DeliveryRow[] = [];
  for (const event of events) {
    for (const endpoint of endpoints) {
      if (endpoint.orgId !== event.orgId || !eventMatchesFilter(event.type, endpoint.eventTypes)) continue;
      // A bot filter passes events of that bot and org-wide events (members) that have none.
      if (endpoint.botId && event.botId && endpoint.botId !== event.botId) continue;
      rows.push({
        id: newId('whd', ctx.clock),
        orgId: event.orgId,
        endpointId: endpoint.id,
        eventId: event.id,
        eventSeq: event.seq,
        eventType: event.type,
        conversationId: event.conversationId,
        status: 'pending',
        attempts: 0,
        nextAttemptAt: now,
        lastStatusCode: null,
        lastError: null,
        createdAt: now,
        updatedAt: now,
        completedAt: null,
      });
    }
  }

  const inserts = splitForStatements(rows, DELIVERY_COLUMNS).map((group) =>
    ctx.db.insert(webhookDeliveries).values(group).onConflictDoNothing().returning({ id: webhookDeliveries.id, orgId: webhookDeliveries.orgId }),
  );
  const marks = splitForStatements(events.map((e) => e.seq), 1, 1).map((seqs) =>
    ctx.db.update(outboxEvents).set({ publishedAt: now }).where(and(inArray(outboxEvents.seq, seqs), isNull(outboxEvents.publishedAt))),
  );
  const statements = [...inserts, ...marks];
  const results = (await ctx.db.batch(statements as unknown as Parameters<typeof ctx.db.batch>[0])) as unknown as unknown[];
  const inserted = results.slice(0, inserts.length).flat() as { id: string; orgId: string }[];

  await enqueueAfterCommit(ctx.env, [
    ...inserted.map((d) => ({ type: 'webhook.deliver' as const, orgId: d.orgId, deliveryId: d.id })),
    // A full batch: the rest follows in another job rather than in this invocation.
    ...(events.length === limit && options.orgId ? [{ type: 'events.publish' as const, orgId: options.orgId }] : []),
  ]);
  return { events: events.length, deliveries: inserted.length, more: events.length === limit };
}
