import { sqliteTable, text, integer, index, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { organizations } from './orgs';

/** What an action does when the model calls it (features/actions/types.ts describes each config). */
export const ACTION_TYPES = ['http', 'email', 'collect_lead', 'search_knowledge', 'handoff_to_human'] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

export const ACTION_RUN_STATUSES = ['ok', 'error', 'rejected', 'timeout'] as const;
export type ActionRunStatus = (typeof ACTION_RUN_STATUSES)[number];

/** Where a run came from: a chat turn's tool call, or POST /actions/{id}/test. */
export const ACTION_RUN_SOURCES = ['chat', 'test'] as const;

export const CONFIRMATION_STATUSES = ['pending', 'approved', 'rejected'] as const;
export type ConfirmationStatus = (typeof CONFIRMATION_STATUSES)[number];

/**
 * Actions a bot may call as tools during a chat turn. `config` holds the type's settings (URL,
 * header and body templates for `http`; recipient and templates for `email`; nothing for the
 * built-ins) and never a secret: templates reference org settings secrets by name
 * (`{{secrets.NAME}}`), resolved only when the action runs. `name` is the tool name the model
 * sees, unique per org.
 */
export const actions = sqliteTable(
  'actions',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description').notNull(),
    type: text('type', { enum: ACTION_TYPES }).notNull(),
    config: text('config', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    /** JSON Schema (an object schema) for the call's arguments; checked when saved and on every call. */
    parameters: text('parameters', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    /** The bots that may use it. */
    botIds: text('bot_ids', { mode: 'json' }).$type<string[]>().notNull(),
    needsConfirmation: integer('needs_confirmation', { mode: 'boolean' }).notNull().default(false),
    enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
    revision: integer('revision').notNull().default(1),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('actions_org_name_idx').on(t.orgId, t.name), index('actions_org_idx').on(t.orgId, t.id)],
);

/**
 * Every run of an action, from chat or a test: status, latency and the request and response as
 * recorded, with resolved secret values, credential headers and personal data (emails, phones)
 * replaced before the row is written. A run outlives its action (the log stays readable).
 */
export const actionRuns = sqliteTable(
  'action_runs',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    actionId: text('action_id').notNull(),
    actionName: text('action_name').notNull(),
    source: text('source', { enum: ACTION_RUN_SOURCES }).notNull(),
    botId: text('bot_id'),
    conversationId: text('conversation_id'),
    /** The `tool` message that carries this run's result to the model (chat runs). */
    messageId: text('message_id'),
    status: text('status', { enum: ACTION_RUN_STATUSES }).notNull(),
    latencyMs: integer('latency_ms').notNull(),
    request: text('request', { mode: 'json' }).$type<unknown>(),
    response: text('response', { mode: 'json' }).$type<unknown>(),
    error: text('error'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('action_runs_action_idx').on(t.orgId, t.actionId, t.id), index('action_runs_conversation_idx').on(t.conversationId)],
);

/**
 * A tool call that waits for a person: the turn paused with a `confirmation` event and nothing
 * ran. Decided once (a guarded UPDATE from `pending`), within CONFIRMATION TTL (`expires_at`).
 * It keeps what resuming the turn needs: the user message it answers, the round of tool calls it
 * belongs to and the call itself (arguments already validated against the action's schema).
 */
export const actionConfirmations = sqliteTable(
  'action_confirmations',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    botId: text('bot_id').notNull(),
    conversationId: text('conversation_id').notNull(),
    /** The user message whose turn paused. */
    userMessageId: text('user_message_id').notNull(),
    actionId: text('action_id').notNull(),
    actionName: text('action_name').notNull(),
    /** The model's id for the call (tool_call_id), and the tool-call round it came in. */
    toolCallId: text('tool_call_id').notNull(),
    round: integer('round').notNull(),
    arguments: text('arguments', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    status: text('status', { enum: CONFIRMATION_STATUSES }).notNull().default('pending'),
    /** `user:<id>`, `key:<id>` or `visitor:<id>`. */
    decidedBy: text('decided_by'),
    decidedAt: integer('decided_at'),
    expiresAt: integer('expires_at').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('action_confirmations_conversation_idx').on(t.conversationId, t.id)],
);
