import { sql } from 'drizzle-orm';
import { sqliteTable, text, integer, index, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { organizations } from './orgs';

export const CHANNELS = ['api', 'chatbase', 'openai', 'widget', 'ws'] as const;
export type Channel = (typeof CHANNELS)[number];

/**
 * `open`: the bot answers. `human`: a team member took over, the bot is silent until they hand
 * back. `handoff_requested` (the inbox issue) waits for a person. `closed`: no new turns.
 */
export const CONVERSATION_STATUSES = ['open', 'handoff_requested', 'human', 'closed'] as const;
export type ConversationStatus = (typeof CONVERSATION_STATUSES)[number];

/** `agent` is a team member speaking in the conversation (takeover); `tool` an action's result. */
export const MESSAGE_ROLES = ['user', 'assistant', 'agent', 'tool', 'system'] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

export interface Citation {
  n: number;
  sourceId: string;
  documentId: string;
  chunkId: string;
  title: string;
  url: string | null;
  snippet: string;
  score: number;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export const conversations = sqliteTable(
  'conversations',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    botId: text('bot_id').notNull(),
    channel: text('channel', { enum: CHANNELS }).notNull(),
    /** The widget's anonymous visitor, or an API caller's own end-user id. */
    visitorId: text('visitor_id'),
    /** A dashboard user who chats, or the verified identity of a widget visitor. */
    userId: text('user_id'),
    /** The API key a conversation was started with, if any. */
    apiKeyId: text('api_key_id'),
    title: text('title').notNull().default(''),
    /** True once a person renamed it: the automatic title no longer applies. */
    titleSetByUser: integer('title_set_by_user', { mode: 'boolean' }).notNull().default(false),
    status: text('status', { enum: CONVERSATION_STATUSES }).notNull().default('open'),
    /** When the visitor (or a member) asked for a person (issue #10): the inbox's waiting time. Cleared on hand-back. */
    handoffRequestedAt: integer('handoff_requested_at'),
    /** The member who took over while status is `human`. */
    humanUserId: text('human_user_id'),
    /** Summary of every message up to and including `summary_through` (a message id). */
    summary: text('summary'),
    summaryThrough: text('summary_through'),
    archived: integer('archived', { mode: 'boolean' }).notNull().default(false),
    /** Soft delete: hidden from every route, purged by retention. */
    deletedAt: integer('deleted_at'),
    /**
     * When a socket first joined the conversation's room. Turns over HTTP mirror their frames into
     * the room only from then on, so a conversation nobody ever watched never wakes its object.
     */
    liveAt: integer('live_at'),
    messageCount: integer('message_count').notNull().default(0),
    lastMessageAt: integer('last_message_at'),
    revision: integer('revision').notNull().default(1),
    /**
     * The client's own id for this chat (the AI SDK's `useChat` id), so the same client chat
     * continues the same conversation. Unique per org, bot and `client_ref_owner` among live
     * conversations.
     */
    clientRef: text('client_ref'),
    /** Who owns `client_ref`: `api_key:<id>`, `user:<id>` or `visitor:<id>` (one caller's ids never reach another's). */
    clientRefOwner: text('client_ref_owner'),
    /** ISO 3166 alpha-2 country of the request that started it (CF-IPCountry), for analytics. */
    country: text('country'),
    /** AFINN-165 score summed over the visitor's (user) messages: > 0 positive, < 0 negative. */
    sentiment: integer('sentiment').notNull().default(0),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('conversations_client_ref_idx')
      .on(t.orgId, t.botId, t.clientRefOwner, t.clientRef)
      .where(sql`client_ref IS NOT NULL AND deleted_at IS NULL`),
    index('conversations_org_idx').on(t.orgId, t.id),
    index('conversations_bot_idx').on(t.orgId, t.botId, t.id),
    index('conversations_visitor_idx').on(t.botId, t.visitorId),
    // A verified widget user's conversations across devices (features/widget).
    index('conversations_bot_user_idx').on(t.botId, t.userId),
    // The inbox: conversations that need a person, per org.
    index('conversations_inbox_idx').on(t.orgId, t.status, t.id),
    // Analytics reads a time range of an org's conversations, visitors included (covering index).
    index('conversations_org_created_idx').on(t.orgId, t.createdAt, t.botId, t.visitorId, t.userId),
  ],
);

/** Append-only: no message is rewritten by a later one. */
export const messages = sqliteTable(
  'messages',
  {
    /** Integer rowid for the full-text index (messages_fts, a hand-written migration); also the stable order. */
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    id: text('id').notNull(),
    orgId: text('org_id').notNull(),
    botId: text('bot_id').notNull(),
    conversationId: text('conversation_id').notNull().references(() => conversations.id, { onDelete: 'cascade' }),
    role: text('role', { enum: MESSAGE_ROLES }).notNull(),
    content: text('content').notNull(),
    /**
     * `content` folded for search (src/lib/text/text-fold.ts: ß → ss, accents, compatibility
     * forms), what messages_fts indexes; NULL when folding changes nothing, so most text is not
     * stored twice. Written with the message by the chat store.
     */
    searchText: text('search_text'),
    citations: text('citations', { mode: 'json' }).$type<Citation[]>().notNull(),
    /** The user message an assistant message answers. */
    replyTo: text('reply_to'),
    /** Who wrote an `agent` message (a member's user id). */
    authorId: text('author_id'),
    model: text('model'),
    usage: text('usage', { mode: 'json' }).$type<TokenUsage>(),
    latencyMs: integer('latency_ms'),
    unanswered: integer('unanswered', { mode: 'boolean' }).notNull().default(false),
    /** Set on an assistant message whose model call failed: { code, detail }. */
    error: text('error', { mode: 'json' }).$type<{ code: string; detail: string }>(),
    /** True when the answer came from the answer cache. */
    cached: integer('cached', { mode: 'boolean' }).notNull().default(false),
    /** Files sent with a user message: [{ id, name, mime, sizeBytes }]. */
    attachments: text('attachments', { mode: 'json' }).$type<{ id: string; name: string; mime: string; sizeBytes: number }[]>(),
    /** The client's Idempotency-Key for a user message: a retried turn reuses the stored message. */
    requestKey: text('request_key'),
    /**
     * User messages: the question folded, stop words dropped, words stemmed and sorted
     * (src/lib/text/question-key.ts), so near-duplicate questions share it (analytics groups by it).
     */
    questionKey: text('question_key'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('messages_id_idx').on(t.id),
    index('messages_conversation_idx').on(t.conversationId, t.id),
    uniqueIndex('messages_request_key_idx').on(t.conversationId, t.requestKey),
    /** A retried turn finds its stored user message (and the conversation it created) by key. */
    index('messages_org_request_key_idx').on(t.orgId, t.requestKey).where(sql`request_key IS NOT NULL`),
    index('messages_org_idx').on(t.orgId, t.createdAt),
  ],
);

/**
 * Files a chat message carries: original in R2, extracted text beside it. Uploaded first
 * (conversation and message still null), then claimed by the turn that sends them, which sets
 * both in the same batch as the user message; their text is context for that conversation.
 */
export const conversationAttachments = sqliteTable(
  'conversation_attachments',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull(),
    botId: text('bot_id').notNull(),
    conversationId: text('conversation_id').references(() => conversations.id, { onDelete: 'cascade' }),
    messageId: text('message_id'),
    name: text('name').notNull(),
    mime: text('mime').notNull(),
    sizeBytes: integer('size_bytes').notNull(),
    r2Key: text('r2_key').notNull(),
    textKey: text('text_key'),
    textChars: integer('text_chars').notNull().default(0),
    /** Who uploaded it: only the same caller may attach it to a message. */
    uploadedBy: text('uploaded_by').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('conversation_attachments_conversation_idx').on(t.conversationId, t.id), index('conversation_attachments_org_idx').on(t.orgId, t.createdAt)],
);

/**
 * Cached answers. The key hashes the bot's revision, the normalized question and the ids of the
 * chunks retrieved for it, so any change to the bot or to what retrieval finds misses.
 */
export const answerCache = sqliteTable(
  'answer_cache',
  {
    key: text('key').primaryKey(),
    orgId: text('org_id').notNull(),
    botId: text('bot_id').notNull(),
    content: text('content').notNull(),
    citations: text('citations', { mode: 'json' }).$type<Citation[]>().notNull(),
    model: text('model'),
    hits: integer('hits').notNull().default(0),
    expiresAt: integer('expires_at').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('answer_cache_expiry_idx').on(t.expiresAt), index('answer_cache_bot_idx').on(t.botId)],
);
