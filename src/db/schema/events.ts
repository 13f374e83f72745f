import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';
import { organizations } from './orgs';

/**
 * The outbox: every domain event (a message stored, a lead left, a source ready, a ticket
 * moved…) is inserted here in the same D1 batch as the change that caused it, so a crash
 * between the write and any send loses nothing. Webhook delivery, notifications and analytics
 * read from it; `published_at` is set once the event has been fanned out to its consumers,
 * and the cron sweeper republishes whatever stays unpublished.
 *
 * `seq` orders events per org (and so per conversation) where order matters; `id` is the
 * public event id (`whe_…`) a webhook receiver deduplicates on.
 */
export const outboxEvents = sqliteTable(
  'outbox_events',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    id: text('id').notNull().unique(),
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    /** Dotted name from the event catalog, e.g. `message.created`. */
    type: text('type').notNull(),
    botId: text('bot_id'),
    conversationId: text('conversation_id'),
    /** The event's JSON payload (`data` in a webhook body). */
    data: text('data').notNull(),
    createdAt: integer('created_at').notNull(),
    publishedAt: integer('published_at'),
  },
  (t) => [
    index('outbox_events_unpublished_idx').on(t.publishedAt, t.seq),
    index('outbox_events_org_idx').on(t.orgId, t.type, t.createdAt),
  ],
);
