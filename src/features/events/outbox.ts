/**
 * Writing domain events to the outbox. A service that changes state adds `eventInsert(...)` to
 * the same `db.batch([...])` as its change: both commit or neither does, so an event is never
 * lost and never announces a change that did not happen. Whoever consumes the outbox (webhook
 * delivery, notifications, analytics) reads `outbox_events`; nothing here sends anything.
 */
import { and, eq, type SQL } from 'drizzle-orm';
import { insertIfPreviousChanged, insertRowWhere, type Db } from '../../db/client';
import type { ServiceContext } from '../../context';
import { enqueueAfterCommit } from '../../jobs/messages';
import { outboxEvents, webhookEndpoints } from '../../db/schema';
import { WEBHOOKS } from '../../limits';
import type { Clock } from '../../lib/clock';
import { newId } from '../../lib/ids';

export interface DomainEvent {
  orgId: string;
  /** Dotted name from the event catalog, e.g. `lead.created`. */
  type: string;
  botId?: string | null;
  conversationId?: string | null;
  /** The payload; must be JSON-serializable. */
  data: Record<string, unknown>;
}

export function newEventRow(event: DomainEvent, clock: Clock): typeof outboxEvents.$inferInsert {
  return {
    id: newId('whe', clock),
    orgId: event.orgId,
    type: event.type,
    botId: event.botId ?? null,
    conversationId: event.conversationId ?? null,
    data: JSON.stringify(event.data),
    createdAt: clock.now(),
  };
}

/** The insert to put in the same batch as the change the event reports. */
export function eventInsert(db: Db, event: DomainEvent, clock: Clock) {
  return db.insert(outboxEvents).values(newEventRow(event, clock));
}

/** Like `eventInsert`, but written only when `condition` holds when the batch reaches it (a guarded change). */
export function eventInsertWhere(db: Db, event: DomainEvent, clock: Clock, condition: SQL) {
  return insertRowWhere(db, outboxEvents, newEventRow(event, clock), condition);
}

/** Like `eventInsert`, but written only if the batch's previous statement changed a row. */
export function eventInsertIfChanged(db: Db, event: DomainEvent, clock: Clock) {
  return insertIfPreviousChanged(db, outboxEvents, newEventRow(event, clock));
}

/**
 * After a batch that wrote events has committed: ask for them to be published now (best effort,
 * in the background), when the org has a webhook endpoint to publish them to. A lost or skipped
 * send loses nothing: the cron sweeper publishes whatever is still unpublished a minute later.
 */
export function publishSoon(ctx: Pick<ServiceContext, 'env' | 'waitUntil' | 'db' | 'clock'>, orgId: string) {
  ctx.waitUntil(
    (async () => {
      if (await hasEnabledEndpoint(ctx, orgId)) await enqueueAfterCommit(ctx.env, [{ type: 'events.publish', orgId }]);
    })(),
  );
}

/**
 * Whether the org has an enabled webhook endpoint, remembered per isolate for a short while.
 * Most orgs have none, and for them a publish job per chat message would be a queue message and
 * a job that finds nothing to deliver. Changing an endpoint here forgets the answer at once
 * (forgetEndpointPresence); another isolate's stale "none" only leaves the first events after a
 * new endpoint to the sweeper. If the read fails, the job is sent: that is the safe side.
 */
export async function hasEnabledEndpoint(ctx: Pick<ServiceContext, 'db' | 'clock'>, orgId: string): Promise<boolean> {
  const now = ctx.clock.now();
  const known = endpointPresence.get(orgId);
  if (known && known.until > now) return known.has;
  let has: boolean;
  try {
    has = (await ctx.db.select({ id: webhookEndpoints.id }).from(webhookEndpoints).where(and(eq(webhookEndpoints.orgId, orgId), eq(webhookEndpoints.enabled, true))).limit(1)).length > 0;
  } catch {
    return true;
  }
  if (endpointPresence.size >= WEBHOOKS.endpointPresenceMaxOrgs) endpointPresence.clear();
  endpointPresence.set(orgId, { has, until: now + WEBHOOKS.endpointPresenceTtlMs });
  return has;
}

const endpointPresence = new Map<string, { has: boolean; until: number }>();

/** After an org's endpoints changed in this isolate. */
export function forgetEndpointPresence(orgId: string) {
  endpointPresence.delete(orgId);
}
