import { sqliteTable, text, integer, index, primaryKey } from 'drizzle-orm/sqlite-core';
import { organizations } from './orgs';

/**
 * Escalation tickets (issue #10): open → assigned → resolved → closed, and reopen. Every
 * transition is one guarded UPDATE (`WHERE status IN (…)`), so two members racing cannot both
 * win; `revision` is the ETag.
 */
export const ESCALATION_STATUSES = ['open', 'assigned', 'resolved', 'closed'] as const;
export type EscalationStatus = (typeof ESCALATION_STATUSES)[number];
export const ESCALATION_PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export type EscalationPriority = (typeof ESCALATION_PRIORITIES)[number];
/** Why a ticket exists: the visitor's button, a trigger phrase, N fallbacks in a row, a member or API call. */
/** `action`: the bot's `handoff_to_human` action (issue #11). */
export const ESCALATION_SOURCES = ['button', 'phrase', 'fallbacks', 'member', 'api', 'action'] as const;
export type EscalationSource = (typeof ESCALATION_SOURCES)[number];

export const escalations = sqliteTable(
  'escalations',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    botId: text('bot_id'),
    conversationId: text('conversation_id'),
    title: text('title').notNull(),
    description: text('description').notNull().default(''),
    status: text('status', { enum: ESCALATION_STATUSES }).notNull().default('open'),
    priority: text('priority', { enum: ESCALATION_PRIORITIES }).notNull().default('normal'),
    source: text('source', { enum: ESCALATION_SOURCES }).notNull(),
    /** A member's user id (checked against memberships when set). */
    assigneeId: text('assignee_id'),
    /** The member who opened it; null when a visitor (or the bot) did. */
    createdBy: text('created_by'),
    /** When the ticket must be resolved: the priority's target in the bot's business hours. */
    slaDueAt: integer('sla_due_at').notNull(),
    resolvedAt: integer('resolved_at'),
    closedAt: integer('closed_at'),
    revision: integer('revision').notNull().default(1),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    index('escalations_org_idx').on(t.orgId, t.id),
    index('escalations_org_status_idx').on(t.orgId, t.status, t.slaDueAt),
    index('escalations_conversation_idx').on(t.conversationId, t.status),
  ],
);

/** Internal notes on a ticket (never shown to the visitor). */
export const escalationComments = sqliteTable(
  'escalation_comments',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    escalationId: text('escalation_id').notNull().references(() => escalations.id, { onDelete: 'cascade' }),
    /** A user id, or null for an API key (the key id is in the audit trail). */
    authorId: text('author_id'),
    body: text('body').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('escalation_comments_ticket_idx').on(t.escalationId, t.id)],
);

/** Who is mailed on every transition besides the assignee (the creator and assignees join automatically). */
export const escalationWatchers = sqliteTable(
  'escalation_watchers',
  {
    escalationId: text('escalation_id').notNull().references(() => escalations.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull(),
    orgId: text('org_id').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.escalationId, t.userId] })],
);

/** A member's read marker in a conversation: the seq of the last message they read (unread counts). */
export const conversationReads = sqliteTable(
  'conversation_reads',
  {
    conversationId: text('conversation_id').notNull(),
    userId: text('user_id').notNull(),
    orgId: text('org_id').notNull(),
    lastReadSeq: integer('last_read_seq').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.userId] }), index('conversation_reads_user_idx').on(t.userId)],
);

/** One weekly opening interval in the bot's timezone: day 0 = Monday … 6 = Sunday, times `HH:MM` (to may be `24:00`). */
export interface BusinessInterval {
  day: number;
  from: string;
  to: string;
}

/** A bot's handoff settings as stored (bots.handoff); null fields mean the defaults (features/handoff/settings.ts). */
export interface BotHandoffSettings {
  enabled: boolean;
  /** null: the built-in multilingual list. */
  triggerPhrases: string[] | null;
  /** Fallback answers in a row that ask for a person; 0 = never. */
  fallbackTurns: number;
  businessHours: { timezone: string; intervals: BusinessInterval[] } | null;
  /** Overrides of the visitor notices (`{time}` in outsideHours becomes the next opening). */
  messages: { requested: string | null; outsideHours: string | null };
}
