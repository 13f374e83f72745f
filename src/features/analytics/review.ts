/**
 * What the team reviews: ratings across the org with the question, the answer and its citations;
 * and unanswered turns (the bot fell back) not yet corrected, grouped by near-duplicate question
 * (messages.question_key). Deleted conversations are left out of both.
 */
import type { ServiceContext } from '../../context';
import type { Citation, FeedbackRating } from '../../db/schema';
import { ANALYTICS } from '../../limits';

export interface FeedbackFilter {
  orgId: string;
  botId?: string;
  rating?: FeedbackRating;
  from?: number;
  to?: number;
  hasComment?: boolean;
  /** Last id of the previous page. */
  before: string | null;
  limit: number;
}

export interface ReviewedFeedback {
  id: string;
  botId: string;
  conversationId: string;
  messageId: string;
  rating: FeedbackRating;
  comment: string | null;
  authorKind: string;
  authorId: string;
  createdAt: number;
  updatedAt: number;
  question: string | null;
  questionMessageId: string | null;
  answer: string;
  citations: Citation[];
  unanswered: boolean;
  improvement: { correctionId: string; sourceId: string; at: number } | null;
}

export async function listOrgFeedback(ctx: ServiceContext, filter: FeedbackFilter): Promise<ReviewedFeedback[]> {
  const where = ['f.org_id = ?1'];
  const binds: unknown[] = [filter.orgId];
  const add = (clause: (n: string) => string, value: unknown) => {
    binds.push(value);
    where.push(clause(`?${binds.length}`));
  };
  if (filter.botId) add((p) => `f.bot_id = ${p}`, filter.botId);
  if (filter.rating) add((p) => `f.rating = ${p}`, filter.rating);
  if (filter.from !== undefined) add((p) => `f.created_at >= ${p}`, filter.from);
  if (filter.to !== undefined) add((p) => `f.created_at < ${p}`, filter.to);
  if (filter.hasComment !== undefined) where.push(filter.hasComment ? 'f.comment IS NOT NULL' : 'f.comment IS NULL');
  if (filter.before) add((p) => `f.id < ${p}`, filter.before);
  binds.push(filter.limit + 1);
  const { results } = await ctx.env.DB.prepare(
    `SELECT f.id, f.bot_id AS botId, f.conversation_id AS conversationId, f.message_id AS messageId, f.rating, f.comment,
            f.author_kind AS authorKind, f.author_id AS authorId, f.created_at AS createdAt, f.updated_at AS updatedAt,
            u.content AS question, u.id AS questionMessageId, a.content AS answer, a.citations, a.unanswered,
            k.id AS correctionId, k.source_id AS correctionSourceId, k.created_at AS correctedAt
       FROM message_feedback f
       JOIN conversations c ON c.id = f.conversation_id AND c.deleted_at IS NULL
       JOIN messages a ON a.id = f.message_id
       LEFT JOIN messages u ON u.id = a.reply_to AND u.conversation_id = a.conversation_id
       LEFT JOIN answer_corrections k ON k.message_id = f.message_id
      WHERE ${where.join(' AND ')}
      ORDER BY f.id DESC LIMIT ?${binds.length}`,
  )
    .bind(...binds)
    .all<Record<string, unknown>>();
  return results.map((r) => ({
    id: String(r.id),
    botId: String(r.botId),
    conversationId: String(r.conversationId),
    messageId: String(r.messageId),
    rating: r.rating as FeedbackRating,
    comment: (r.comment as string | null) ?? null,
    authorKind: String(r.authorKind),
    authorId: String(r.authorId),
    createdAt: Number(r.createdAt),
    updatedAt: Number(r.updatedAt),
    question: (r.question as string | null) ?? null,
    questionMessageId: (r.questionMessageId as string | null) ?? null,
    answer: String(r.answer),
    citations: JSON.parse(String(r.citations ?? '[]')) as Citation[],
    unanswered: Boolean(r.unanswered),
    improvement: r.correctionId ? { correctionId: String(r.correctionId), sourceId: String(r.correctionSourceId), at: Number(r.correctedAt) } : null,
  }));
}

/** One feedback of the org (for improve): its message. */
export async function findFeedback(ctx: ServiceContext, orgId: string, feedbackId: string) {
  return ctx.env.DB.prepare('SELECT id, message_id AS messageId FROM message_feedback WHERE id = ?1 AND org_id = ?2')
    .bind(feedbackId, orgId)
    .first<{ id: string; messageId: string }>();
}

export interface UnansweredGroup {
  /** The last unanswered message id in the group: the page cursor. */
  id: string;
  botId: string;
  key: string;
  question: string;
  count: number;
  lastAskedAt: number;
  messages: { messageId: string; conversationId: string; question: string; answer: string; createdAt: number }[];
}

const UNANSWERED = `FROM messages a
  JOIN messages u ON u.id = a.reply_to AND u.conversation_id = a.conversation_id
  JOIN conversations c ON c.id = a.conversation_id AND c.deleted_at IS NULL
 WHERE a.org_id = ?1 AND a.role = 'assistant' AND a.unanswered = 1 AND (?2 IS NULL OR a.bot_id = ?2)
   AND NOT EXISTS (SELECT 1 FROM answer_corrections k WHERE k.message_id = a.id)`;

/** Groups newest first (by their latest unanswered turn), each with its latest few turns. */
export async function listUnanswered(ctx: ServiceContext, input: { orgId: string; botId: string | null; before: string | null; limit: number }): Promise<UnansweredGroup[]> {
  const db = ctx.env.DB;
  const { results: groups } = await db
    .prepare(
      `SELECT MAX(a.id) AS id, a.bot_id AS botId, COALESCE(u.question_key, '') AS key, COUNT(*) AS count, MAX(a.created_at) AS lastAskedAt
         ${UNANSWERED}
        GROUP BY a.bot_id, COALESCE(u.question_key, '')
       HAVING ?3 IS NULL OR MAX(a.id) < ?3
        ORDER BY id DESC LIMIT ?4`,
    )
    .bind(input.orgId, input.botId, input.before, input.limit + 1)
    .all<{ id: string; botId: string; key: string; count: number; lastAskedAt: number }>();
  if (groups.length === 0) return [];
  const samples = await db.batch<{ messageId: string; conversationId: string; question: string; answer: string; createdAt: number }>(
    groups.map((g) =>
      db
        .prepare(
          `SELECT a.id AS messageId, a.conversation_id AS conversationId, u.content AS question, a.content AS answer, a.created_at AS createdAt
             ${UNANSWERED} AND a.bot_id = ?3 AND COALESCE(u.question_key, '') = ?4
            ORDER BY a.id DESC LIMIT ${ANALYTICS.unansweredSamplesPerGroup}`,
        )
        .bind(input.orgId, null, g.botId, g.key),
    ),
  );
  return groups.map((g, i) => {
    const messages = samples[i]!.results;
    return { ...g, count: Number(g.count), lastAskedAt: Number(g.lastAskedAt), question: messages[0]?.question ?? '', messages };
  });
}
