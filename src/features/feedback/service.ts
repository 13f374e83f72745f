/**
 * Thumbs up / down on assistant messages, from team members or from the widget visitor who owns
 * the conversation. One rating per author per message: rating again replaces it (an upsert on
 * (message_id, author_kind, author_id)). Expected outcomes are discriminated results, so the
 * member route here and the visitor route (widget) map them to their own answers.
 *
 * Everything a visitor sends is hostile: the message must be an assistant message of that very
 * conversation, in that org, not deleted, and for a visitor a widget conversation of the
 * visitor's bot that the visitor (or their verified identity) owns. All of it is checked in the
 * same statement that writes, so nothing is stored for a request that fails a check.
 */
import type { ServiceContext } from '../../context';
import { FEEDBACK_RATINGS, type FeedbackAuthorKind, type FeedbackRating } from '../../db/schema';
import { newId } from '../../lib/ids';
import { FEEDBACK } from '../../limits';
import { publishSoon } from '../events/outbox';
import { splitForStatements } from '../../db/bound-parameters';

/**
 * feedback.created, written in the same batch as the rating and only when the rating row is new:
 * a changed rating keeps the first row's id, so `id = ?` finds nothing then. The payload is the
 * catalog's (events/catalog.ts), built in SQL from the stored row.
 */
const FEEDBACK_CREATED_EVENT = `INSERT INTO outbox_events (id, org_id, type, bot_id, conversation_id, data, created_at)
  SELECT ?, org_id, 'feedback.created', bot_id, conversation_id,
         json_object('id', id, 'botId', bot_id, 'conversationId', conversation_id, 'messageId', message_id, 'rating', rating,
                     'comment', comment, 'authorKind', author_kind, 'createdAt', ?),
         ?
    FROM message_feedback WHERE id = ?`;

/**
 * Who rates. A member is a user id or an API key id. A visitor is the widget session's visitor id,
 * bound to its bot; `verifiedUserId` is the host-signed identity when there is one, and then the
 * rating belongs to that identity (it follows the person across devices, as their conversations do).
 */
export type FeedbackAuthor =
  | { kind: 'member'; id: string }
  | { kind: 'visitor'; id: string; botId: string; verifiedUserId?: string | null };

export interface FeedbackRow {
  id: string;
  orgId: string;
  botId: string;
  conversationId: string;
  messageId: string;
  rating: FeedbackRating;
  comment: string | null;
  authorKind: FeedbackAuthorKind;
  authorId: string;
  createdAt: number;
  updatedAt: number;
}

export interface RecordFeedbackInput {
  orgId: string;
  conversationId: string;
  messageId: string;
  rating: FeedbackRating;
  comment?: string | null;
  author: FeedbackAuthor;
}

export type RecordFeedbackResult =
  /** No such message in that conversation of that org (or deleted, or not the visitor's). */
  | { status: 'not_found' }
  /** The message exists but is not the bot's answer (a user, agent, tool or system message). */
  | { status: 'not_assistant' }
  /** The rating or comment fails validation (the route's schema should have caught it first). */
  | { status: 'invalid'; errors: { path: string; message: string }[] }
  | { status: 'stored'; created: boolean; feedback: FeedbackRow };

/** The id one author's rating is stored under (see FeedbackAuthor). */
export function feedbackAuthorId(author: FeedbackAuthor): string {
  return author.kind === 'visitor' && author.verifiedUserId ? author.verifiedUserId : author.id;
}

// C0/C1 controls except tab and newline, and the bidi controls that can disguise a comment's text.
const UNSAFE_CHARS = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/** Trimmed, unsafe characters removed, empty → null; or a reason it cannot be stored. */
export function cleanComment(comment: string | null | undefined): { ok: true; value: string | null } | { ok: false; message: string } {
  if (comment === null || comment === undefined) return { ok: true, value: null };
  const cleaned = comment.replace(/\r\n?/g, '\n').replace(UNSAFE_CHARS, '').trim();
  if (cleaned.length > FEEDBACK.maxCommentChars) return { ok: false, message: `At most ${FEEDBACK.maxCommentChars} characters` };
  return { ok: true, value: cleaned === '' ? null : cleaned };
}

/** The message's conversation, as seen by `author`: SQL conditions on `m` and `c`, and their binds. */
function scope(input: { orgId: string; conversationId: string; messageId: string }, author: FeedbackAuthor | null) {
  let where = 'm.id = ? AND m.conversation_id = ? AND m.org_id = ? AND c.org_id = ? AND c.deleted_at IS NULL';
  const binds: unknown[] = [input.messageId, input.conversationId, input.orgId, input.orgId];
  if (author?.kind === 'visitor') {
    // A visitor reaches only widget conversations of the bot their session is bound to, and only
    // their own: by visitor id, or by the verified identity that follows them across devices.
    where += " AND c.channel = 'widget' AND c.bot_id = ? AND (c.visitor_id = ? OR (? IS NOT NULL AND c.user_id = ?))";
    const verified = author.verifiedUserId ?? null;
    binds.push(author.botId, author.id, verified, verified);
  }
  return { where, binds };
}

const COLUMNS = `id, org_id AS orgId, bot_id AS botId, conversation_id AS conversationId, message_id AS messageId, rating, comment,
  author_kind AS authorKind, author_id AS authorId, created_at AS createdAt, updated_at AS updatedAt`;

export async function recordFeedback(ctx: ServiceContext, input: RecordFeedbackInput): Promise<RecordFeedbackResult> {
  if (!(FEEDBACK_RATINGS as readonly string[]).includes(input.rating)) {
    return { status: 'invalid', errors: [{ path: 'rating', message: `One of ${FEEDBACK_RATINGS.join(', ')}` }] };
  }
  const comment = cleanComment(input.comment);
  if (!comment.ok) return { status: 'invalid', errors: [{ path: 'comment', message: comment.message }] };

  const id = newId('fbk', ctx.clock);
  const now = ctx.clock.now();
  const { where, binds } = scope(input, input.author);
  // One guarded statement: it writes only when every check holds. SQLite needs the WHERE for
  // INSERT … SELECT … ON CONFLICT to parse, and has it here.
  const upsert = ctx.env.DB.prepare(
    `INSERT INTO message_feedback (id, org_id, bot_id, conversation_id, message_id, rating, comment, author_kind, author_id, created_at, updated_at)
     SELECT ?, m.org_id, m.bot_id, m.conversation_id, m.id, ?, ?, ?, ?, ?, ?
       FROM messages m JOIN conversations c ON c.id = m.conversation_id
      WHERE ${where} AND m.role = 'assistant'
     ON CONFLICT (message_id, author_kind, author_id)
     DO UPDATE SET rating = excluded.rating, comment = excluded.comment, updated_at = excluded.updated_at
     RETURNING ${COLUMNS}`,
  )
    .bind(id, input.rating, comment.value, input.author.kind, feedbackAuthorId(input.author), now, now, ...binds);
  const event = ctx.env.DB.prepare(FEEDBACK_CREATED_EVENT).bind(newId('whe', ctx.clock), new Date(now).toISOString(), now, id);
  const [result] = await ctx.env.DB.batch<FeedbackRow>([upsert, event]);
  const stored = result?.results[0];
  if (stored) {
    if (stored.id === id) publishSoon(ctx, input.orgId);
    return { status: 'stored', created: stored.id === id, feedback: stored };
  }

  const message = await findMessage(ctx, input, input.author);
  return message && message.role !== 'assistant' ? { status: 'not_assistant' } : { status: 'not_found' };
}

async function findMessage(ctx: ServiceContext, input: { orgId: string; conversationId: string; messageId: string }, author: FeedbackAuthor | null) {
  const { where, binds } = scope(input, author);
  return ctx.env.DB.prepare(`SELECT m.role AS role FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE ${where}`)
    .bind(...binds)
    .first<{ role: string }>();
}

/**
 * One author's ratings of some messages of a conversation, by message id: what the widget shows
 * as the pressed thumb when it reloads a conversation. Looked up through the (message, author)
 * unique index.
 */
export async function ratingsBy(
  ctx: Pick<ServiceContext, 'env'>,
  input: { orgId: string; conversationId: string; messageIds: readonly string[]; author: FeedbackAuthor },
): Promise<Map<string, FeedbackRating>> {
  const ratings = new Map<string, FeedbackRating>();
  const fixed = [input.orgId, input.conversationId, input.author.kind, feedbackAuthorId(input.author)];
  for (const ids of splitForStatements(input.messageIds, 1, fixed.length)) {
    const { results } = await ctx.env.DB.prepare(
      `SELECT message_id AS messageId, rating FROM message_feedback
        WHERE message_id IN (${ids.map(() => '?').join(',')}) AND org_id = ? AND conversation_id = ? AND author_kind = ? AND author_id = ?`,
    )
      .bind(...ids, ...fixed)
      .all<{ messageId: string; rating: FeedbackRating }>();
    for (const row of results) ratings.set(row.messageId, row.rating);
  }
  return ratings;
}

export type ListFeedbackResult = { status: 'not_found' } | { status: 'ok'; items: (FeedbackRow & { mine: boolean })[] };

/**
 * The feedback on one message, newest first. A member sees everyone's (the caller's own marked);
 * a visitor sees only their own, and only on a conversation they own.
 */
export async function listFeedback(
  ctx: ServiceContext,
  input: { orgId: string; conversationId: string; messageId: string; viewer: FeedbackAuthor },
): Promise<ListFeedbackResult> {
  const message = await findMessage(ctx, input, input.viewer);
  if (!message) return { status: 'not_found' };
  const viewerId = feedbackAuthorId(input.viewer);
  let sql = `SELECT ${COLUMNS} FROM message_feedback WHERE message_id = ? AND org_id = ?`;
  const binds: unknown[] = [input.messageId, input.orgId];
  if (input.viewer.kind === 'visitor') {
    sql += " AND author_kind = 'visitor' AND author_id = ?";
    binds.push(viewerId);
  }
  sql += ' ORDER BY updated_at DESC, id DESC LIMIT ?';
  binds.push(FEEDBACK.maxListed);
  const { results } = await ctx.env.DB.prepare(sql).bind(...binds).all<FeedbackRow>();
  return {
    status: 'ok',
    items: results.map((row) => ({ ...row, mine: row.authorKind === input.viewer.kind && row.authorId === viewerId })),
  };
}

export function toFeedbackDto(row: FeedbackRow & { mine: boolean }) {
  return {
    id: row.id,
    conversationId: row.conversationId,
    messageId: row.messageId,
    botId: row.botId,
    rating: row.rating,
    comment: row.comment,
    author: { kind: row.authorKind, id: row.authorId },
    mine: row.mine,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
}
