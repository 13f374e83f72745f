/**
 * What the live room reads and writes in D1 besides turns: the conversation it belongs to,
 * catch-up pages, takeover / hand-back (guarded single-statement updates: D1 has no
 * transactions, so the WHERE clause is the lock), and the messages a team member writes.
 */
import { and, asc, eq, gt, inArray, isNull, or, sql } from 'drizzle-orm';
import { insertIfPreviousChanged, type Db } from '../../../db/client';
import { conversations, messages, type ConversationStatus } from '../../../db/schema';
import type { ServiceContext } from '../../../context';
import { newId } from '../../../lib/ids';
import { searchFormOf } from '../../../lib/text/text-fold';
import type { MessageDto } from '../turn';
import { messageCreated, toMessageDto } from '../store';
import { eventInsertIfChanged, publishSoon } from '../../events/outbox';
import { domainEvent } from '../../events/catalog';

export interface RoomConversation {
  id: string;
  botId: string;
  status: ConversationStatus;
  humanUserId: string | null;
}

/** The org's live (not deleted) conversation, or null: another org's id is as absent as a wrong one. */
export async function conversationForRoom(db: Db, orgId: string, conversationId: string): Promise<RoomConversation | null> {
  const row = await db
    .select({ id: conversations.id, botId: conversations.botId, status: conversations.status, humanUserId: conversations.humanUserId })
    .from(conversations)
    .where(and(eq(conversations.id, conversationId), eq(conversations.orgId, orgId), isNull(conversations.deletedAt)))
    .get();
  return row ?? null;
}

/**
 * Marks a conversation as watched, once: from then on turns over HTTP mirror their frames into
 * its room (pipeline.ts). A conversation nobody ever opened a socket on never wakes its object.
 */
export async function markConversationLive(db: Db, orgId: string, conversationId: string, now: number): Promise<void> {
  await db
    .update(conversations)
    .set({ liveAt: now })
    .where(and(eq(conversations.id, conversationId), eq(conversations.orgId, orgId), isNull(conversations.liveAt)));
}

export async function loadMessage(db: Db, orgId: string, conversationId: string, messageId: string): Promise<MessageDto | null> {
  const row = await db
    .select()
    .from(messages)
    .where(and(eq(messages.id, messageId), eq(messages.conversationId, conversationId), eq(messages.orgId, orgId)))
    .get();
  return row ? toMessageDto(row) : null;
}

export type CatchUp =
  | { status: 'ok'; conversation: RoomConversation; messages: MessageDto[]; hasMore: boolean }
  | { status: 'conversation_not_found' }
  | { status: 'unknown_message' };

/**
 * Every stored message after `lastMessageId` (all of them when null), in storage order (seq),
 * at most `limit`; and the conversation's current status.
 */
export async function messagesAfter(db: Db, orgId: string, conversationId: string, lastMessageId: string | null, limit: number): Promise<CatchUp> {
  const conversation = await conversationForRoom(db, orgId, conversationId);
  if (!conversation) return { status: 'conversation_not_found' };
  let afterSeq = 0;
  if (lastMessageId !== null) {
    const anchor = await db
      .select({ seq: messages.seq })
      .from(messages)
      .where(and(eq(messages.id, lastMessageId), eq(messages.conversationId, conversationId)))
      .get();
    if (!anchor) return { status: 'unknown_message' };
    afterSeq = anchor.seq;
  }
  const rows = await db
    .select()
    .from(messages)
    .where(and(eq(messages.conversationId, conversationId), eq(messages.orgId, orgId), gt(messages.seq, afterSeq)))
    .orderBy(asc(messages.seq))
    .limit(limit + 1);
  return { status: 'ok', conversation, messages: rows.slice(0, limit).map(toMessageDto), hasMore: rows.length > limit };
}

export type StatusChange =
  | { status: 'ok'; conversation: RoomConversation }
  | { status: 'conversation_not_found' }
  /** Someone else holds it (takeover), or nobody does (hand-back). */
  | { status: 'conflict'; conversation: RoomConversation };

/**
 * The bot pauses and `userId` owns the conversation. Taking over again is a no-op; taking it
 * from another member, or taking a closed conversation, is a conflict.
 */
export async function takeOver(ctx: ServiceContext, orgId: string, conversationId: string, userId: string): Promise<StatusChange> {
  const now = ctx.clock.now();
  const updated = await ctx.db
    .update(conversations)
    .set({ status: 'human', humanUserId: userId, updatedAt: now })
    .where(
      and(
        eq(conversations.id, conversationId),
        eq(conversations.orgId, orgId),
        isNull(conversations.deletedAt),
        or(inArray(conversations.status, ['open', 'handoff_requested']), and(eq(conversations.status, 'human'), eq(conversations.humanUserId, userId))),
      ),
    )
    .returning({ id: conversations.id, botId: conversations.botId, status: conversations.status, humanUserId: conversations.humanUserId })
    .get();
  if (updated) return { status: 'ok', conversation: updated };
  const current = await conversationForRoom(ctx.db, orgId, conversationId);
  return current ? { status: 'conflict', conversation: current } : { status: 'conversation_not_found' };
}

/**
 * The bot answers again. Any agent may hand back (the member who took over may have left). The
 * status change and its `conversation.handed_back` event are one batch (issue #10).
 */
export async function handBack(ctx: ServiceContext, orgId: string, conversationId: string, by: { userId: string | null; botId: string } | null = null): Promise<StatusChange> {
  const now = ctx.clock.now();
  const [updated] = await ctx.db.batch([
    ctx.db
      .update(conversations)
      .set({ status: 'open', humanUserId: null, handoffRequestedAt: null, updatedAt: now })
      .where(and(eq(conversations.id, conversationId), eq(conversations.orgId, orgId), isNull(conversations.deletedAt), eq(conversations.status, 'human')))
      .returning({ id: conversations.id, botId: conversations.botId, status: conversations.status, humanUserId: conversations.humanUserId }),
    eventInsertIfChanged(
      ctx.db,
      domainEvent('conversation.handed_back', { orgId, botId: by?.botId ?? null, conversationId, data: { conversationId, botId: by?.botId ?? null, byUserId: by?.userId ?? null, handedBackAt: new Date(now).toISOString() } }),
      ctx.clock,
    ),
  ]);
  const row = updated[0];
  if (row) {
    publishSoon(ctx, orgId);
    return { status: 'ok', conversation: row };
  }
  const current = await conversationForRoom(ctx.db, orgId, conversationId);
  return current ? { status: 'conflict', conversation: current } : { status: 'conversation_not_found' };
}

export type AgentMessageResult = { status: 'ok'; message: MessageDto } | { status: 'takeover_required' };

/**
 * A team member's message (role `agent`), stored only while the conversation is taken over:
 * the conversation's counters move first, guarded by `status = 'human'`, and the message row
 * is inserted only if that update changed a row, in one atomic batch.
 */
export async function postAgentMessage(
  ctx: ServiceContext,
  target: { orgId: string; botId: string; conversationId: string },
  authorId: string,
  content: string,
): Promise<AgentMessageResult> {
  const now = ctx.clock.now();
  const id = newId('msg', ctx.clock);
  const guard = and(
    eq(conversations.id, target.conversationId),
    eq(conversations.orgId, target.orgId),
    isNull(conversations.deletedAt),
    eq(conversations.status, 'human'),
  );
  const row: typeof messages.$inferInsert = {
    id,
    orgId: target.orgId,
    botId: target.botId,
    conversationId: target.conversationId,
    role: 'agent',
    content,
    searchText: searchFormOf(content),
    citations: [],
    authorId,
    createdAt: now,
  };
  await ctx.db.batch([
    ctx.db
      .update(conversations)
      .set({ messageCount: sql`${conversations.messageCount} + 1`, lastMessageAt: now, updatedAt: now })
      .where(guard),
    insertIfPreviousChanged(ctx.db, messages, row),
    // Only if the message went in (the insert above changed a row).
    eventInsertIfChanged(ctx.db, messageCreated({ ...row, unanswered: false, authorId, replyTo: null, createdAt: now } as Parameters<typeof messageCreated>[0]), ctx.clock),
  ]);
  const stored = await loadMessage(ctx.db, target.orgId, target.conversationId, id);
  if (stored) publishSoon(ctx, target.orgId);
  return stored ? { status: 'ok', message: stored } : { status: 'takeover_required' };
}

// --- Replies from an external helpdesk (inbound webhooks' conversation.reply) -----------------

export type ExternalReplyResult =
  | { status: 'ok'; message: MessageDto; conversation: RoomConversation }
  | { status: 'conversation_not_found' }
  | { status: 'conversation_closed' };

/**
 * A human agent's reply written in another system (role `agent`, `authorId` naming that
 * system). A person answering means the bot should stop, so an open (or waiting) conversation is
 * taken over in the same batch: status `human`, no member holding it, until someone hands back.
 * `requestKey` makes it idempotent: the same key (one inbound event) stores one message, whoever
 * retries and however often (the unique (conversation, request_key) index decides a race).
 */
export async function postExternalAgentReply(
  ctx: ServiceContext,
  target: { orgId: string; conversationId: string },
  authorId: string,
  content: string,
  requestKey: string,
): Promise<ExternalReplyResult> {
  const conversation = await conversationForRoom(ctx.db, target.orgId, target.conversationId);
  if (!conversation) return { status: 'conversation_not_found' };
  const byKey = () =>
    ctx.db
      .select()
      .from(messages)
      .where(and(eq(messages.conversationId, target.conversationId), eq(messages.orgId, target.orgId), eq(messages.requestKey, requestKey)))
      .get();
  const replayed = await byKey();
  if (replayed) return { status: 'ok', message: toMessageDto(replayed), conversation: { ...conversation, status: 'human' } };
  if (conversation.status === 'closed') return { status: 'conversation_closed' };

  const now = ctx.clock.now();
  const id = newId('msg', ctx.clock);
  const row = {
    id,
    orgId: target.orgId,
    botId: conversation.botId,
    conversationId: target.conversationId,
    role: 'agent' as const,
    content,
    searchText: searchFormOf(content),
    citations: [],
    authorId,
    requestKey,
    createdAt: now,
  };
  try {
    await ctx.db.batch([
      ctx.db
        .update(conversations)
        .set({ status: 'human', messageCount: sql`${conversations.messageCount} + 1`, lastMessageAt: now, updatedAt: now })
        .where(
          and(
            eq(conversations.id, target.conversationId),
            eq(conversations.orgId, target.orgId),
            isNull(conversations.deletedAt),
            inArray(conversations.status, ['open', 'handoff_requested', 'human']),
          ),
        ),
      insertIfPreviousChanged(ctx.db, messages, row),
      eventInsertIfChanged(ctx.db, messageCreated({ ...row, unanswered: false, replyTo: null } as Parameters<typeof messageCreated>[0]), ctx.clock),
    ]);
  } catch (err) {
    // A concurrent run of the same event stored it first (unique request key): that one stands.
    const stored = await byKey();
    if (stored) return { status: 'ok', message: toMessageDto(stored), conversation: { ...conversation, status: 'human' } };
    throw err;
  }
  const stored = await loadMessage(ctx.db, target.orgId, target.conversationId, id);
  if (stored) publishSoon(ctx, target.orgId);
  if (stored) return { status: 'ok', message: stored, conversation: { ...conversation, status: 'human' } };
  // Closed or deleted between the read and the write.
  return (await conversationForRoom(ctx.db, target.orgId, target.conversationId)) ? { status: 'conversation_closed' } : { status: 'conversation_not_found' };
}
