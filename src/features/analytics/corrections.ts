/**
 * Answer correction: an assistant message (a rated answer from the feedback review, or an
 * unanswered turn) becomes a one-pair Q&A source of its bot, question → corrected answer, through
 * the knowledge service like any Q&A source. Once indexed, retrieval finds it for the same or a
 * paraphrased question and the bot answers from it. The message is marked improved (one
 * correction per message) with a link to the source, and `answer.improved` goes to the outbox in
 * the same batch.
 *
 * Retry-safe: the source is created first; if the mark is then lost, a retry with the same text
 * finds the source as a duplicate of the same content and links it instead of adding another.
 */
import type { Actor, ServiceContext } from '../../context';
import { sql } from 'drizzle-orm';
import { answerCorrections } from '../../db/schema';
import { newId } from '../../lib/ids';
import { createSource } from '../knowledge/sources';
import { checkSourceQuota, consumeQuota, type QuotaDecision } from '../usage/quotas';
import { domainEvent } from '../events/catalog';
import { eventInsertWhere, publishSoon } from '../events/outbox';

export type CorrectionRow = typeof answerCorrections.$inferSelect;

export interface ImproveInput {
  orgId: string;
  messageId: string;
  answer: string;
  /** The question as it should be stored; the asked question when absent. */
  question?: string | null;
  feedbackId?: string | null;
  /** Only unanswered messages (the unanswered list's route). */
  requireUnanswered?: boolean;
}

export type ImproveResult =
  | { status: 'not_found' }
  | { status: 'not_an_answer' }
  | { status: 'not_unanswered' }
  | { status: 'no_question' }
  | { status: 'already_improved'; correction: CorrectionRow }
  | { status: 'quota'; decision: Extract<QuotaDecision, { allowed: false }> }
  | { status: 'improved'; correction: CorrectionRow };

interface AnsweredMessage {
  id: string;
  botId: string;
  role: string;
  unanswered: number;
  question: string | null;
}

async function findMessage(ctx: ServiceContext, orgId: string, messageId: string) {
  // The answer of a live conversation of a live bot of this org, with the question it answered.
  return ctx.env.DB.prepare(
    `SELECT a.id, a.bot_id AS botId, a.role, a.unanswered, u.content AS question
       FROM messages a
       JOIN conversations c ON c.id = a.conversation_id AND c.org_id = a.org_id AND c.deleted_at IS NULL
       JOIN bots b ON b.id = a.bot_id AND b.org_id = a.org_id
       LEFT JOIN messages u ON u.id = a.reply_to AND u.conversation_id = a.conversation_id
      WHERE a.id = ?1 AND a.org_id = ?2`,
  )
    .bind(messageId, orgId)
    .first<AnsweredMessage>();
}

export async function findCorrection(ctx: ServiceContext, orgId: string, messageId: string): Promise<CorrectionRow | null> {
  const row = await ctx.env.DB.prepare(
    `SELECT id, org_id AS orgId, bot_id AS botId, message_id AS messageId, feedback_id AS feedbackId, source_id AS sourceId, question, answer,
            created_by AS createdBy, created_at AS createdAt FROM answer_corrections WHERE message_id = ?1 AND org_id = ?2`,
  )
    .bind(messageId, orgId)
    .first<CorrectionRow>();
  return row ?? null;
}

const actorId = (actor: Actor) => (actor.kind === 'user' ? actor.userId : actor.keyId);

export async function improveAnswer(ctx: ServiceContext, actor: Actor, input: ImproveInput): Promise<ImproveResult> {
  const message = await findMessage(ctx, input.orgId, input.messageId);
  if (!message) return { status: 'not_found' };
  if (message.role !== 'assistant') return { status: 'not_an_answer' };
  if (input.requireUnanswered && !message.unanswered) return { status: 'not_unanswered' };
  const question = (input.question ?? message.question ?? '').trim();
  const answer = input.answer.trim();
  if (!question) return { status: 'no_question' };
  const existing = await findCorrection(ctx, input.orgId, message.id);
  if (existing) return { status: 'already_improved', correction: existing };

  const pairs = [{ question, answer }];
  const count = await checkSourceQuota(ctx, input.orgId, 1);
  if (!count.allowed) return { status: 'quota', decision: count };
  const bytes = await consumeQuota(ctx, input.orgId, 'upload_bytes_per_day', new TextEncoder().encode(JSON.stringify({ pairs })).byteLength);
  if (!bytes.allowed) return { status: 'quota', decision: bytes };

  const title = `Improved answer: ${question.length > 80 ? `${question.slice(0, 79)}…` : question}`;
  const created = await createSource(ctx, actor, input.orgId, message.botId, { type: 'qa', title, pairs });
  const sourceId = created.status === 'created' ? created.source.id : created.existingSourceId;

  const correction: CorrectionRow = {
    id: newId('cor', ctx.clock),
    orgId: input.orgId,
    botId: message.botId,
    messageId: message.id,
    feedbackId: input.feedbackId ?? null,
    sourceId,
    question,
    answer,
    createdBy: actorId(actor),
    createdAt: ctx.clock.now(),
  };
  const [inserted] = await ctx.db.batch([
    ctx.db.insert(answerCorrections).values(correction).onConflictDoNothing().returning({ id: answerCorrections.id }),
    // The event only when this request's correction went in (not when another one won the race).
    eventInsertWhere(
      ctx.db,
      domainEvent('answer.improved', { orgId: input.orgId, botId: message.botId, data: { correctionId: correction.id, messageId: message.id, feedbackId: correction.feedbackId, sourceId, question } }),
      ctx.clock,
      sql`EXISTS (SELECT 1 FROM answer_corrections WHERE id = ${correction.id})`,
    ),
  ]);
  if (inserted.length === 0) {
    // Another request improved this message first: its correction stands.
    const winner = await findCorrection(ctx, input.orgId, message.id);
    if (winner) return { status: 'already_improved', correction: winner };
  }
  publishSoon(ctx, input.orgId);
  return { status: 'improved', correction };
}
