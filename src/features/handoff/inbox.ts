/**
 * The team inbox: conversations that need a person (`handoff_requested`, `human`), with who has
 * them, how long the visitor has waited, and how many messages the calling member has not read
 * (their read marker: the seq of the last message they read, per conversation).
 */
import type { ServiceContext } from '../../context';
import type { ConversationStatus } from '../../db/schema';

export const INBOX_STATUSES = ['handoff_requested', 'human'] as const satisfies readonly ConversationStatus[];

export interface InboxFilter {
  status?: (typeof INBOX_STATUSES)[number];
  botId?: string;
  /** A user id, or `none`: nobody has taken the conversation over nor holds its ticket. */
  assignee?: string;
  waitingLongerThanSeconds?: number;
}

export interface InboxRow {
  id: string;
  botId: string;
  channel: string;
  title: string;
  status: (typeof INBOX_STATUSES)[number];
  visitorId: string | null;
  humanUserId: string | null;
  messageCount: number;
  lastMessageAt: number | null;
  handoffRequestedAt: number | null;
  createdAt: number;
  escalationId: string | null;
  assigneeId: string | null;
  unread: number | null;
}

/** The conversation's open ticket (the newest, if several). */
const OPEN_TICKET = (column: string) =>
  `(SELECT e.${column} FROM escalations e WHERE e.conversation_id = c.id AND e.org_id = c.org_id AND e.status IN ('open', 'assigned') ORDER BY e.id DESC LIMIT 1)`;
const ASSIGNEE = `COALESCE(c.human_user_id, ${OPEN_TICKET('assignee_id')})`;

/**
 * Oldest conversation first (the longest waiting near the top), limit + 1 rows for toPage; the
 * cursor is the last id seen. `readerId`: whose unread counts (null for an API key: no marker).
 */
export async function listInbox(ctx: ServiceContext, orgId: string, readerId: string | null, filter: InboxFilter, cursor: string | null, limit: number): Promise<InboxRow[]> {
  const where = ['c.org_id = ?', 'c.deleted_at IS NULL'];
  const binds: unknown[] = [];
  const unread = readerId
    ? `(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id
          AND m.seq > COALESCE((SELECT r.last_read_seq FROM conversation_reads r WHERE r.conversation_id = c.id AND r.user_id = ?), 0)
          AND (m.author_id IS NULL OR m.author_id != ?))`
    : 'NULL';
  if (readerId) binds.push(readerId, readerId);
  binds.push(orgId);
  if (filter.status) {
    where.push('c.status = ?');
    binds.push(filter.status);
  } else where.push(`c.status IN ('handoff_requested', 'human')`);
  if (filter.botId) {
    where.push('c.bot_id = ?');
    binds.push(filter.botId);
  }
  if (filter.assignee === 'none') where.push(`${ASSIGNEE} IS NULL`);
  else if (filter.assignee) {
    where.push(`${ASSIGNEE} = ?`);
    binds.push(filter.assignee);
  }
  if (filter.waitingLongerThanSeconds !== undefined) {
    where.push('c.handoff_requested_at IS NOT NULL AND c.handoff_requested_at <= ?');
    binds.push(ctx.clock.now() - filter.waitingLongerThanSeconds * 1000);
  }
  if (cursor) {
    where.push('c.id > ?');
    binds.push(cursor);
  }
  binds.push(limit + 1);
  const { results } = await ctx.env.DB.prepare(
    `SELECT c.id, c.bot_id AS botId, c.channel, c.title, c.status, c.visitor_id AS visitorId, c.human_user_id AS humanUserId,
            c.message_count AS messageCount, c.last_message_at AS lastMessageAt, c.handoff_requested_at AS handoffRequestedAt,
            c.created_at AS createdAt, ${OPEN_TICKET('id')} AS escalationId, ${ASSIGNEE} AS assigneeId, ${unread} AS unread
       FROM conversations c
      WHERE ${where.join(' AND ')}
      ORDER BY c.id ASC
      LIMIT ?`,
  )
    .bind(...binds)
    .all<InboxRow>();
  return results;
}

export function toInboxDto(row: InboxRow, now: number) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: row.id,
    botId: row.botId,
    channel: row.channel,
    title: row.title,
    status: row.status,
    visitorId: row.visitorId,
    humanUserId: row.humanUserId,
    assigneeId: row.assigneeId,
    escalationId: row.escalationId,
    messageCount: row.messageCount,
    unread: row.unread,
    lastMessageAt: iso(row.lastMessageAt),
    handoffRequestedAt: iso(row.handoffRequestedAt),
    waitingSeconds: row.handoffRequestedAt === null ? null : Math.max(0, Math.floor((now - row.handoffRequestedAt) / 1000)),
    createdAt: iso(row.createdAt)!,
  };
}

export type MarkReadResult = { status: 'ok'; messageId: string; lastReadSeq: number } | { status: 'unknown_message' } | { status: 'empty' };

/**
 * Moves `userId`'s read marker to `messageId` (the newest message when null), never backwards:
 * a late receipt from another tab does not un-read what was read. One statement; a message of
 * another conversation matches nothing.
 */
export async function markRead(ctx: ServiceContext, orgId: string, conversationId: string, userId: string, messageId: string | null): Promise<MarkReadResult> {
  const target = await ctx.env.DB.prepare(
    messageId
      ? 'SELECT id, seq FROM messages WHERE id = ? AND conversation_id = ? AND org_id = ?'
      : 'SELECT id, seq FROM messages WHERE conversation_id = ? AND org_id = ? ORDER BY seq DESC LIMIT 1',
  )
    .bind(...(messageId ? [messageId, conversationId, orgId] : [conversationId, orgId]))
    .first<{ id: string; seq: number }>();
  if (!target) return messageId ? { status: 'unknown_message' } : { status: 'empty' };
  const stored = await ctx.env.DB.prepare(
    `INSERT INTO conversation_reads (conversation_id, user_id, org_id, last_read_seq, updated_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (conversation_id, user_id) DO UPDATE SET last_read_seq = max(last_read_seq, excluded.last_read_seq), updated_at = excluded.updated_at
     RETURNING last_read_seq AS lastReadSeq`,
  )
    .bind(conversationId, userId, orgId, target.seq, ctx.clock.now())
    .first<{ lastReadSeq: number }>();
  return { status: 'ok', messageId: target.id, lastReadSeq: stored?.lastReadSeq ?? target.seq };
}
