/**
 * Writing domain events to the outbox. A service that changes state adds `eventInsert(...)` to
 * the same `db.batch([...])` as its change: both commit or neither does, so an event is never
 * lost and never announces a change that did not happen. Whoever consumes the outbox (webhook
 * delivery, notifications, analytics) reads `outbox_events`; nothing here sends anything.
 */
import type { SQL } from 'drizzle-orm';
import { insertIfPreviousChanged, insertRowWhere, type Db } from '../../db/client';
import type { ServiceContext } from '../../context';
import { enqueueAfterCommit } from '../../jobs/messages';
import { outboxEvents } from '../../db/schema';
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
 * in the background). A lost send loses nothing: the cron sweeper publishes whatever is still
 * unpublished a minute later.
 */
export function publishSoon(ctx: Pick<ServiceContext, 'env' | 'waitUntil'>, orgId: string) {
  ctx.waitUntil(enqueueAfterCommit(ctx.env, [{ type: 'events.publish', orgId }]));
}
