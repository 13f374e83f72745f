/**
 * The cron sweeper's part for webhooks: nothing waits on a lost queue message for long.
 * - Outbox events still unpublished WEBHOOKS.sweepAfterMs after they were written (their
 *   publish job was never sent, or was lost) are published now.
 * - Pending deliveries overdue by that much (their delivery message was lost) are sent again.
 *   A message that was only late does no harm: an attempt claims its delivery first. One that
 *   waits behind an earlier pending delivery of its conversation and endpoint is not lost (its
 *   due time stays put while it waits): the earlier one wakes it when done.
 */
import { and, eq, lt, notExists, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/sqlite-core';
import { webhookDeliveries } from '../../db/schema';
import type { ServiceContext } from '../../context';
import { WEBHOOKS } from '../../limits';
import { enqueueMany } from '../../jobs/messages';
import { publishEvents } from './publisher';

export async function sweepWebhooks(ctx: ServiceContext, now: number) {
  let eventsPublished = 0;
  // A few batches per run, so a backlog drains without one run exceeding its query budget.
  for (let round = 0; round < 3; round++) {
    const result = await publishEvents(ctx, { createdBefore: now - WEBHOOKS.sweepAfterMs });
    eventsPublished += result.events;
    if (!result.more) break;
  }
  const earlier = alias(webhookDeliveries, 'earlier');
  const overdue = await ctx.db
    .select({ id: webhookDeliveries.id, orgId: webhookDeliveries.orgId })
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.status, 'pending'),
        lt(webhookDeliveries.nextAttemptAt, now - WEBHOOKS.sweepAfterMs),
        notExists(
          ctx.db
            .select({ one: sql`1` })
            .from(earlier)
            .where(
              and(
                eq(earlier.endpointId, webhookDeliveries.endpointId),
                eq(earlier.conversationId, webhookDeliveries.conversationId),
                eq(earlier.status, 'pending'),
                lt(earlier.eventSeq, webhookDeliveries.eventSeq),
              ),
            ),
        ),
      ),
    )
    .limit(WEBHOOKS.sweepPerRun);
  await enqueueMany(ctx.env, overdue.map((d) => ({ type: 'webhook.deliver' as const, orgId: d.orgId, deliveryId: d.id })));
  return { eventsPublished, deliveriesResent: overdue.length };
}
