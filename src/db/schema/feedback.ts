import { sqliteTable, text, integer, index, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { organizations } from './orgs';
import { conversations } from './chat';

export const FEEDBACK_RATINGS = ['up', 'down'] as const;
export type FeedbackRating = (typeof FEEDBACK_RATINGS)[number];

/** A team member (a user, or an API key acting for the org) or the widget visitor who owns the conversation. */
export const FEEDBACK_AUTHOR_KINDS = ['member', 'visitor'] as const;
export type FeedbackAuthorKind = (typeof FEEDBACK_AUTHOR_KINDS)[number];

/**
 * Thumbs up / down on an assistant message. One row per author per message: rating again
 * replaces the row (rating, comment, updated_at), so a count of rows is a count of people.
 */
export const messageFeedback = sqliteTable(
  'message_feedback',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    botId: text('bot_id').notNull(),
    conversationId: text('conversation_id').notNull().references(() => conversations.id, { onDelete: 'cascade' }),
    messageId: text('message_id').notNull(),
    rating: text('rating', { enum: FEEDBACK_RATINGS }).notNull(),
    comment: text('comment'),
    authorKind: text('author_kind', { enum: FEEDBACK_AUTHOR_KINDS }).notNull(),
    /** A user id or API key id for members; the visitor id (or verified user id) for visitors. */
    authorId: text('author_id').notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('message_feedback_author_idx').on(t.messageId, t.authorKind, t.authorId),
    index('message_feedback_org_idx').on(t.orgId, t.botId, t.createdAt),
    index('message_feedback_org_created_idx').on(t.orgId, t.createdAt),
  ],
);
