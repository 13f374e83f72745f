import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';

/**
 * Every mail the platform sends. In outbox mode (local) the row is the delivery and keeps the
 * full text; in http mode it keeps a redacted copy and the delivery status (src/adapters/mailer.ts).
 */
export const emailOutbox = sqliteTable(
  'email_outbox',
  {
    id: text('id').primaryKey(),
    to: text('to_address').notNull(),
    subject: text('subject').notNull(),
    text: text('text').notNull(),
    kind: text('kind').notNull(),
    createdAt: integer('created_at').notNull(),
    /** queued → sent | failed. Rows from before delivery was queued were sent in the request. */
    status: text('status', { enum: ['queued', 'sent', 'failed'] }).notNull().default('sent'),
    attempts: integer('attempts').notNull().default(0),
    sentAt: integer('sent_at'),
    error: text('error'),
  },
  // The sweeper looks for mails stuck in `queued` (failLostMails).
  (t) => [index('email_outbox_to_idx').on(t.to, t.id), index('email_outbox_status_idx').on(t.status, t.createdAt)],
);
