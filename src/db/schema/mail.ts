import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';

/** Every mail the platform sends, kept locally so tests and developers can read it. */
export const emailOutbox = sqliteTable(
  'email_outbox',
  {
    id: text('id').primaryKey(),
    to: text('to_address').notNull(),
    subject: text('subject').notNull(),
    text: text('text').notNull(),
    kind: text('kind').notNull(),
    createdAt: integer('created_at').notNull(),
    sentAt: integer('sent_at'),
    error: text('error'),
  },
  (t) => [index('email_outbox_to_idx').on(t.to, t.id)],
);
