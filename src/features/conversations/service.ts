/**
 * Managing conversations: list, read, rename / archive / close, soft delete, message pages and
 * full-text search. The answer pipeline (features/chat) writes conversations and messages; this
 * module only reads them and writes the management columns. Every query is scoped by org id and
 * skips soft-deleted conversations, so a deleted one is a 404 everywhere at once.
 */
import { and, asc, desc, eq, gt, gte, inArray, isNull, lt, lte, sql, type SQL } from 'drizzle-orm';
import type { Actor, ServiceContext } from '../../context';
import type { Db } from '../../db/client';
import { conversations, messages, type Channel, type ConversationStatus, type MessageRole } from '../../db/schema';
import { auditInsertIfChanged } from '../audit/service';
import { wordsMatchExpression } from '../knowledge/retrieval/query-terms';
import { snippetOverOriginal } from './folded-snippet';
import { CONVERSATION_SEARCH } from '../../limits';

export type ConversationRow = typeof conversations.$inferSelect;
export type MessageRow = typeof messages.$inferSelect;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function toConversationDto(row: ConversationRow) {
  return {
    id: row.id,
    botId: row.botId,
    channel: row.channel,
    visitorId: row.visitorId,
    userId: row.userId,
    apiKeyId: row.apiKeyId,
    title: row.title,
    titleSetByUser: row.titleSetByUser,
    status: row.status,
    humanUserId: row.humanUserId,
    summary: row.summary,
    archived: row.archived,
    messageCount: row.messageCount,
    lastMessageAt: iso(row.lastMessageAt),
    createdAt: iso(row.createdAt)!,
    updatedAt: iso(row.updatedAt)!,
  };
}

export interface ConversationFilter {
  botId?: string;
  channel?: Channel;
  status?: ConversationStatus;
  archived?: boolean;
  /** created_at bounds in ms, inclusive. */
  from?: number;
  to?: number;
}

const live = (orgId: string) => [eq(conversations.orgId, orgId), isNull(conversations.deletedAt)];

/** Newest first (ids are time-sortable); fetches limit + 1 rows for toPage. */
export async function listConversations(db: Db, orgId: string, filter: ConversationFilter, cursor: string | null, limit: number) {
  const conditions: SQL[] = live(orgId);
  if (cursor) conditions.push(lt(conversations.id, cursor));
  if (filter.botId) conditions.push(eq(conversations.botId, filter.botId));
  if (filter.channel) conditions.push(eq(conversations.channel, filter.channel));
  if (filter.status) conditions.push(eq(conversations.status, filter.status));
  if (filter.archived !== undefined) conditions.push(eq(conversations.archived, filter.archived));
  if (filter.from !== undefined) conditions.push(gte(conversations.createdAt, filter.from));
  if (filter.to !== undefined) conditions.push(lte(conversations.createdAt, filter.to));
  return db
    .select()
    .from(conversations)
    .where(and(...conditions))
    .orderBy(desc(conversations.id))
    .limit(limit + 1);
}

export async function getConversation(db: Db, orgId: string, id: string): Promise<ConversationRow | null> {
  const row = await db
    .select()
    .from(conversations)
    .where(and(...live(orgId), eq(conversations.id, id)))
    .get();
  return row ?? null;
}

export interface ConversationPatch {
  title?: string;
  archived?: boolean;
  status?: 'open' | 'closed';
}

export type UpdateConversationResult =
  | { status: 'updated'; row: ConversationRow }
  | { status: 'not_found' }
  | { status: 'precondition_failed' }
  /** `open` was asked while a person owns the conversation: handing back is the live room's job. */
  | { status: 'with_human' };

/** Statuses a PATCH may reopen from; `human` and `handoff_requested` end through the room's hand-back. */
const REOPENABLE: ConversationStatus[] = ['open', 'closed'];

/** Writes only the given fields, in one guarded UPDATE (conditional on `ifMatch` revisions when given). */
export async function updateConversation(
  ctx: ServiceContext,
  actor: Actor,
  orgId: string,
  id: string,
  patch: ConversationPatch,
  ifMatch?: number[],
): Promise<UpdateConversationResult> {
  const set: Partial<Record<keyof ConversationRow, unknown>> = { updatedAt: ctx.clock.now(), revision: sql`${conversations.revision} + 1` };
  // A person's title wins over the automatic one from then on.
  if (patch.title !== undefined) Object.assign(set, { title: patch.title, titleSetByUser: true });
  if (patch.archived !== undefined) set.archived = patch.archived;
  if (patch.status !== undefined) set.status = patch.status;
  const conditions = [...live(orgId), eq(conversations.id, id)];
  if (ifMatch) conditions.push(inArray(conversations.revision, ifMatch));
  if (patch.status === 'open') conditions.push(inArray(conversations.status, REOPENABLE));
  const [updated] = await ctx.db.batch([
    ctx.db
      .update(conversations)
      .set(set as Partial<ConversationRow>)
      .where(and(...conditions))
      .returning(),
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, {
      orgId,
      actor,
      action: 'conversation.update',
      target: { type: 'conversation', id },
      metadata: { fields: Object.keys(patch) },
    }),
  ]);
  const row = updated[0];
  if (row) return { status: 'updated', row };
  const current = await getConversation(ctx.db, orgId, id);
  if (!current) return { status: 'not_found' };
  if (ifMatch && !ifMatch.includes(current.revision)) return { status: 'precondition_failed' };
  return patch.status === 'open' && !REOPENABLE.includes(current.status) ? { status: 'with_human' } : { status: 'precondition_failed' };
}

/** Soft delete: hidden from every route at once; messages and attachments stay for retention to purge. */
export async function deleteConversation(ctx: ServiceContext, actor: Actor, orgId: string, id: string): Promise<boolean> {
  const now = ctx.clock.now();
  const [deleted] = await ctx.db.batch([
    ctx.db
      .update(conversations)
      .set({ deletedAt: now, updatedAt: now, revision: sql`${conversations.revision} + 1` })
      .where(and(...live(orgId), eq(conversations.id, id)))
      .returning({ id: conversations.id }),
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, { orgId, actor, action: 'conversation.delete', target: { type: 'conversation', id } }),
  ]);
  return deleted.length > 0;
}

/**
 * A page of a conversation's messages in `order` of seq (the insert order). The cursor is the
 * last message id of the previous page; its seq is looked up inside the same conversation, so a
 * cursor from another conversation matches nothing.
 */
/** A page of a conversation's messages in `order` (limit + 1 rows for toPage), optionally only some roles. */
export async function listMessages(db: Db, conversationId: string, order: 'asc' | 'desc', cursor: string | null, limit: number, roles?: readonly MessageRole[]) {
  const conditions: SQL[] = [eq(messages.conversationId, conversationId)];
  if (roles) conditions.push(inArray(messages.role, [...roles]));
  if (cursor) {
    const anchor = sql`(SELECT seq FROM messages WHERE id = ${cursor} AND conversation_id = ${conversationId})`;
    conditions.push(order === 'asc' ? gt(messages.seq, anchor) : lt(messages.seq, anchor));
  }
  return db
    .select()
    .from(messages)
    .where(and(...conditions))
    .orderBy(order === 'asc' ? asc(messages.seq) : desc(messages.seq))
    .limit(limit + 1);
}

/** Marks snippet() puts around matches; noncharacters, then turned into offsets (see searchMessages). */
const OPEN = '\uFDD0';
const CLOSE = '\uFDD1';
const ELLIPSIS = '…';

/** A snippet as plain text plus the [start, end) UTF-16 ranges of the matched words in it. */
export function splitHighlights(marked: string): { snippet: string; highlights: { start: number; end: number }[] } {
  let snippet = '';
  const highlights: { start: number; end: number }[] = [];
  let openAt: number | null = null;
  for (const char of marked) {
    if (char === OPEN) openAt ??= snippet.length;
    else if (char === CLOSE) {
      if (openAt !== null && snippet.length > openAt) highlights.push({ start: openAt, end: snippet.length });
      openAt = null;
    } else snippet += char;
  }
  return { snippet, highlights };
}

export interface MessageSearchHit {
  messageId: string;
  conversationId: string;
  botId: string;
  role: MessageRow['role'];
  createdAt: number;
  marked: string;
}

/**
 * Full-text search over the org's message text, newest first (FTS5 walks its rowid, the
 * message seq, backwards; a stable order for cursors). The query is escaped exactly as knowledge
 * keyword search escapes it (`wordsMatchExpression`): a query with no content word (only
 * operators, quotes or stop words) matches nothing rather than failing.
 */
export async function searchMessages(
  ctx: ServiceContext,
  input: { orgId: string; query: string; botId?: string; cursor: string | null; limit: number },
): Promise<{ id: string; hit: MessageSearchHit }[]> {
  // Messages have the word index only: a Korean or Japanese word matches where the text has it whole.
  const match = wordsMatchExpression(input.query.slice(0, CONVERSATION_SEARCH.maxQueryChars), true);
  if (!match) return [];
  const binds: unknown[] = [OPEN, CLOSE, ELLIPSIS, CONVERSATION_SEARCH.snippetTokens, match, input.orgId];
  let extra = '';
  if (input.botId) {
    extra += ' AND m.bot_id = ?';
    binds.push(input.botId);
  }
  if (input.cursor) {
    extra += ' AND messages_fts.rowid < (SELECT seq FROM messages WHERE id = ? AND org_id = ?)';
    binds.push(input.cursor, input.orgId);
  }
  binds.push(input.limit + 1);
  const { results } = await ctx.env.DB.prepare(
    `SELECT m.id AS messageId, m.conversation_id AS conversationId, m.bot_id AS botId, m.role AS role, m.created_at AS createdAt,
            snippet(messages_fts, 0, ?, ?, ?, ?) AS marked, m.search_text AS searchText, CASE WHEN m.search_text IS NULL THEN NULL ELSE m.content END AS content
       FROM messages_fts
       JOIN messages m ON m.seq = messages_fts.rowid
       JOIN conversations c ON c.id = m.conversation_id
      WHERE messages_fts MATCH ? AND m.org_id = ? AND c.deleted_at IS NULL${extra}
      ORDER BY messages_fts.rowid DESC
      LIMIT ?`,
  )
    .bind(...binds)
    .all<MessageSearchHit & { searchText: string | null; content: string | null }>();
  return results.map(({ searchText, content, ...hit }) => {
    // The index quotes the folded text; show the message as written.
    if (searchText !== null && content !== null) hit.marked = snippetOverOriginal(hit.marked, content, searchText, { open: OPEN, close: CLOSE, ellipsis: ELLIPSIS });
    return { id: hit.messageId, hit };
  });
}

export function toSearchHitDto(hit: MessageSearchHit) {
  return { messageId: hit.messageId, conversationId: hit.conversationId, botId: hit.botId, role: hit.role, createdAt: new Date(hit.createdAt).toISOString(), ...splitHighlights(hit.marked) };
}
