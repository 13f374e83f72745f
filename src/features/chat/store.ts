/**
 * Conversations and their append-only messages, as the answer pipeline writes them.
 *
 * - A user message is written in one D1 batch with its conversation (when new) and the
 *   conversation's counters, so there is never a message without its conversation or the reverse.
 * - A turn's Idempotency-Key is stored on its user message as a hash scoped to org, bot and caller.
 *   The batch's inserts are guarded by "no message of this org has that key yet", and D1 runs a
 *   batch atomically, so two attempts of one turn, even concurrent ones on a new conversation,
 *   store one conversation and one message; the loser reads the winner's back.
 * - Messages are never updated (a trigger refuses it): a retried answer is a new assistant message
 *   replying to the same user message.
 */
import { and, desc, eq, gt, inArray, isNull, lt, sql } from 'drizzle-orm';
import { conversations, messages, type Channel, type Citation, type TokenUsage } from '../../db/schema';
import { insertRowWhere, type Db } from '../../db/client';
import type { ServiceContext } from '../../context';
import { newId } from '../../lib/ids';
import { searchFormOf } from '../../lib/text/text-fold';
import { questionKeyOf } from '../../lib/text/question-key';
import { sentimentScore } from '../../lib/text/sentiment';
import { sha256Hex } from '../../lib/crypto';
import type { MessageDto, TurnCaller } from './turn';
import { claimAttachmentsStatement } from './attachments';
import { eventInsert, eventInsertWhere, publishSoon } from '../events/outbox';
import { domainEvent } from '../events/catalog';

/** message.created for a stored message (the catalog's payload: what the messages API shows). */
function messageCreated(row: Pick<MessageRow, 'id' | 'orgId' | 'botId' | 'conversationId' | 'role' | 'content' | 'unanswered' | 'authorId' | 'replyTo' | 'createdAt'>) {
  return domainEvent('message.created', {
    orgId: row.orgId,
    botId: row.botId,
    conversationId: row.conversationId,
    data: {
      id: row.id,
      conversationId: row.conversationId,
      botId: row.botId,
      role: row.role,
      content: row.content,
      unanswered: row.unanswered,
      authorId: row.authorId ?? null,
      replyTo: row.replyTo ?? null,
      createdAt: new Date(row.createdAt).toISOString(),
    },
  });
}
export { messageCreated };

export type ConversationRow = typeof conversations.$inferSelect;
export type MessageRow = typeof messages.$inferSelect;

export function toMessageDto(row: MessageRow): MessageDto {
  return {
    id: row.id,
    conversationId: row.conversationId,
    role: row.role,
    content: row.content,
    citations: row.citations,
    unanswered: row.unanswered,
    usage: row.usage ?? null,
    latencyMs: row.latencyMs ?? null,
    model: row.model ?? null,
    cached: row.cached,
    error: row.error ?? null,
    attachments: row.attachments ?? [],
    createdAt: new Date(row.createdAt).toISOString(),
  };
}

/** The caller's identity as one string (request-key scope, visitor checks). */
export function callerTag(caller: TurnCaller): string {
  switch (caller.kind) {
    case 'user':
      return `user:${caller.userId}`;
    case 'api_key':
      return `key:${caller.keyId}`;
    case 'visitor':
      return `visitor:${caller.visitorId}`;
  }
}

/** What is stored in messages.request_key: the client's key, scoped so another caller's same key is unrelated. */
export async function scopedRequestKey(orgId: string, botId: string, caller: TurnCaller, key: string): Promise<string> {
  return sha256Hex(`${orgId}\n${botId}\n${callerTag(caller)}\n${key}`);
}

/** A live (not deleted) conversation of the org. */
export async function getConversation(db: Db, orgId: string, conversationId: string): Promise<ConversationRow | null> {
  const row = await db
    .select()
    .from(conversations)
    .where(and(eq(conversations.orgId, orgId), eq(conversations.id, conversationId), isNull(conversations.deletedAt)))
    .get();
  return row ?? null;
}

export async function findMessageByRequestKey(db: Db, orgId: string, requestKey: string): Promise<MessageRow | null> {
  const row = await db
    .select()
    .from(messages)
    .where(and(eq(messages.orgId, orgId), eq(messages.requestKey, requestKey)))
    .get();
  return row ?? null;
}

/** The latest assistant message answering `userMessageId`, if any. */
export async function latestReplyTo(db: Db, conversationId: string, userMessageId: string): Promise<MessageRow | null> {
  const row = await db
    .select()
    .from(messages)
    .where(and(eq(messages.conversationId, conversationId), eq(messages.replyTo, userMessageId), eq(messages.role, 'assistant')))
    .orderBy(desc(messages.seq))
    .limit(1)
    .get();
  return row ?? null;
}

export interface NewConversation {
  channel: Channel;
  caller: TurnCaller;
  title: string;
}

export interface UserMessageInput {
  orgId: string;
  botId: string;
  /** Continue this conversation, or create one from `create`. */
  conversationId: string | null;
  create: NewConversation | null;
  content: string;
  requestKey: string | null;
  attachments: MessageRow['attachments'];
}

export type AppendUserResult =
  | { status: 'stored'; conversation: ConversationRow; message: MessageRow; created: boolean }
  /** Another attempt with the same request key stored its message first. */
  | { status: 'existing'; message: MessageRow };

function conversationRow(ctx: ServiceContext, orgId: string, botId: string, create: NewConversation, now: number): ConversationRow {
  const caller = create.caller;
  return {
    id: newId('cnv', ctx.clock),
    orgId,
    botId,
    channel: create.channel,
    visitorId: caller.kind === 'visitor' ? caller.visitorId : null,
    userId: caller.kind === 'user' ? caller.userId : caller.kind === 'visitor' ? caller.verifiedUserId : null,
    apiKeyId: caller.kind === 'api_key' ? caller.keyId : null,
    title: create.title,
    titleSetByUser: false,
    status: 'open',
    humanUserId: null,
    handoffRequestedAt: null,
    liveAt: null,
    summary: null,
    summaryThrough: null,
    archived: false,
    deletedAt: null,
    messageCount: 0,
    lastMessageAt: null,
    revision: 1,
    // Set by the useChat branch (protocols/client-ref.ts) once the turn has created the conversation.
    clientRef: null,
    clientRefOwner: null,
    // Analytics (issue #10): where the conversation started.
    country: ctx.meta.country ?? null,
    sentiment: 0,
    createdAt: now,
    updatedAt: now,
  };
}

/** Counters follow only a message that was really inserted (its id is new, so it exists only then). */
function bumpCounters(db: Db, conversationId: string, messageId: string, now: number) {
  return db
    .update(conversations)
    .set({ messageCount: sql`${conversations.messageCount} + 1`, lastMessageAt: now, updatedAt: now })
    .where(and(eq(conversations.id, conversationId), sql`EXISTS (SELECT 1 FROM messages WHERE id = ${messageId})`));
}

/** Analytics: the visitor's words add to the conversation's sentiment, once per message really inserted. */
function addSentiment(db: Db, conversationId: string, messageId: string, score: number) {
  return db
    .update(conversations)
    .set({ sentiment: sql`${conversations.sentiment} + ${score}` })
    .where(and(eq(conversations.id, conversationId), sql`${score} <> 0`, sql`EXISTS (SELECT 1 FROM messages WHERE id = ${messageId})`));
}

export async function appendUserMessage(ctx: ServiceContext, input: UserMessageInput): Promise<AppendUserResult> {
  const now = ctx.clock.now();
  const created = input.create ? conversationRow(ctx, input.orgId, input.botId, input.create, now) : null;
  const conversationId = created?.id ?? input.conversationId!;
  // seq is assigned by SQLite.
  const message: Omit<MessageRow, 'seq'> = {
    id: newId('msg', ctx.clock),
    orgId: input.orgId,
    botId: input.botId,
    conversationId,
    role: 'user',
    content: input.content,
    searchText: searchFormOf(input.content),
    citations: [],
    replyTo: null,
    authorId: null,
    model: null,
    usage: null,
    latencyMs: null,
    unanswered: false,
    error: null,
    cached: false,
    attachments: input.attachments,
    requestKey: input.requestKey,
    questionKey: questionKeyOf(input.content),
    createdAt: now,
  };
  const keyIsFree = input.requestKey
    ? sql`NOT EXISTS (SELECT 1 FROM messages WHERE org_id = ${input.orgId} AND request_key = ${input.requestKey})`
    : sql`1`;
  const conversationExists = sql`EXISTS (SELECT 1 FROM conversations WHERE id = ${conversationId} AND deleted_at IS NULL)`;
  // The message goes in only with all its files still unclaimed, and claims them in the same
  // batch: of two turns racing for one upload, exactly one stores its message.
  const fileIds = (input.attachments ?? []).map((a) => a.id);
  const filesFree = fileIds.length
    ? sql`(SELECT count(*) FROM conversation_attachments WHERE org_id = ${input.orgId} AND conversation_id IS NULL AND id IN (${sql.join(
        fileIds.map((id) => sql`${id}`),
        sql`, `,
      )})) = ${fileIds.length}`
    : sql`1`;
  const statements = [
    ...(created ? [insertRowWhere(ctx.db, conversations, created, keyIsFree)] : []),
    insertRowWhere(ctx.db, messages, message, sql`${conversationExists} AND ${keyIsFree} AND ${filesFree}`),
    ...(fileIds.length ? [claimAttachmentsStatement(ctx.db, { orgId: input.orgId, ids: fileIds, conversationId, messageId: message.id })] : []),
    bumpCounters(ctx.db, conversationId, message.id, now),
    // Events only for what really went in: the message (and so its new conversation) exists.
    ...(created
      ? [
          eventInsertWhere(
            ctx.db,
            domainEvent('conversation.created', {
              orgId: input.orgId,
              botId: input.botId,
              conversationId,
              data: { id: created.id, botId: created.botId, channel: created.channel, title: created.title, visitorId: created.visitorId, createdAt: new Date(now).toISOString() },
            }),
            ctx.clock,
            sql`EXISTS (SELECT 1 FROM messages WHERE id = ${message.id})`,
          ),
        ]
      : []),
    eventInsertWhere(ctx.db, messageCreated(message), ctx.clock, sql`EXISTS (SELECT 1 FROM messages WHERE id = ${message.id})`),
    addSentiment(ctx.db, conversationId, message.id, sentimentScore(input.content)),
    // Read back in the same round trip: the message (with its seq) and the conversation as stored.
    ctx.db.select().from(messages).where(eq(messages.id, message.id)),
    ctx.db.select().from(conversations).where(eq(conversations.id, conversationId)),
  ] as const;
  const results = (await ctx.db.batch(statements as unknown as Parameters<Db["batch"]>[0])) as readonly unknown[];
  const [stored] = results.at(-2) as MessageRow[];
  const [conversation] = results.at(-1) as ConversationRow[];
  if (stored && conversation) {
    publishSoon(ctx, input.orgId);
    return { status: 'stored', conversation, message: stored, created: created !== null };
  }
  if (input.requestKey) {
    const winner = await findMessageByRequestKey(ctx.db, input.orgId, input.requestKey);
    if (winner) return { status: 'existing', message: winner };
  }
  if (fileIds.length) {
    const free = await ctx.db.get<{ n: number }>(sql`SELECT count(*) AS n FROM conversation_attachments WHERE org_id = ${input.orgId} AND conversation_id IS NULL AND id IN (${sql.join(fileIds.map((id) => sql`${id}`), sql`, `)})`);
    if ((free?.n ?? 0) < fileIds.length) throw new AttachmentsTakenError();
  }
  // The conversation was deleted between the check and the write.
  throw new ConversationGoneError(conversationId);
}

/** Another turn claimed one of this message's attachments first. */
export class AttachmentsTakenError extends Error {
  constructor() {
    super('an attachment was claimed by another message');
    this.name = 'AttachmentsTakenError';
  }
}

export class ConversationGoneError extends Error {
  constructor(readonly conversationId: string) {
    super(`conversation ${conversationId} disappeared while a message was being stored`);
    this.name = 'ConversationGoneError';
  }
}

export interface AssistantMessageInput {
  id: string;
  orgId: string;
  botId: string;
  conversationId: string;
  replyTo: string;
  content: string;
  citations: Citation[];
  model: string | null;
  usage: TokenUsage | null;
  latencyMs: number;
  unanswered: boolean;
  cached: boolean;
  error: { code: string; detail: string } | null;
}

export async function appendAssistantMessage(ctx: ServiceContext, input: AssistantMessageInput): Promise<MessageRow> {
  const now = ctx.clock.now();
  const row = { ...input, searchText: searchFormOf(input.content), role: 'assistant' as const, authorId: null, attachments: null, requestKey: null, questionKey: null, createdAt: now };
  const unanswered = input.unanswered
    ? [
        eventInsert(
          ctx.db,
          domainEvent('conversation.unanswered', {
            orgId: input.orgId,
            botId: input.botId,
            conversationId: input.conversationId,
            data: { conversationId: input.conversationId, botId: input.botId, messageId: input.id, replyTo: input.replyTo, createdAt: new Date(now).toISOString() },
          }),
          ctx.clock,
        ),
      ]
    : [];
  const [inserted] = await ctx.db.batch([
    ctx.db.insert(messages).values(row).returning(),
    bumpCounters(ctx.db, input.conversationId, input.id, now),
    eventInsert(ctx.db, messageCreated(row), ctx.clock),
    ...unanswered,
  ]);
  publishSoon(ctx, input.orgId);
  return inserted[0]!;
}

export type HistoryMessage = Pick<MessageRow, 'id' | 'seq' | 'role' | 'content'>;

/**
 * The newest `limit` messages before `beforeSeq` not yet covered by the summary, oldest first.
 * Failed answers are left out (they said nothing); a team member's words count as the assistant side.
 */
export async function recentHistory(db: Db, conversation: ConversationRow, beforeSeq: number, limit: number): Promise<HistoryMessage[]> {
  const conditions = [
    eq(messages.conversationId, conversation.id),
    lt(messages.seq, beforeSeq),
    inArray(messages.role, ['user', 'assistant', 'agent']),
    isNull(messages.error),
  ];
  if (conversation.summaryThrough) {
    conditions.push(gt(messages.seq, sql`COALESCE((SELECT seq FROM messages WHERE id = ${conversation.summaryThrough}), 0)`));
  }
  const rows = await db
    .select({ id: messages.id, seq: messages.seq, role: messages.role, content: messages.content })
    .from(messages)
    .where(and(...conditions))
    .orderBy(desc(messages.seq))
    .limit(limit);
  return rows.reverse();
}

/**
 * Stores a new summary only if nobody stored another since this turn read the conversation
 * (`summary_through` unchanged): concurrent turns never replace a newer summary with an older one.
 */
export async function storeSummary(ctx: ServiceContext, conversation: ConversationRow, summary: string, throughId: string): Promise<boolean> {
  const guard = conversation.summaryThrough === null ? isNull(conversations.summaryThrough) : eq(conversations.summaryThrough, conversation.summaryThrough);
  const updated = await ctx.db
    .update(conversations)
    .set({ summary, summaryThrough: throughId, updatedAt: ctx.clock.now() })
    .where(and(eq(conversations.id, conversation.id), guard))
    .returning({ id: conversations.id });
  return updated.length === 1;
}

// --- tool messages (issue #11: actions) ----------------------------------------------------------

/**
 * What a `tool` message holds (as JSON in `content`): one tool call of one round of a turn and its
 * result, so a paused turn can be rebuilt exactly for the model when it resumes.
 */
export interface ToolMessageContent {
  round: number;
  callId: string;
  name: string;
  /** The model's raw argument text. */
  arguments: string;
  status: string;
  /** What the model was given back. */
  result: string;
}

export interface ToolMessageInput extends ToolMessageContent {
  id: string;
}

/** Appends a round's tool messages (replying to the turn's user message) in one batch. */
export async function appendToolMessages(ctx: ServiceContext, turn: { orgId: string; botId: string; conversationId: string; userMessageId: string }, tools: ToolMessageInput[]) {
  if (tools.length === 0) return;
  const now = ctx.clock.now();
  const rows = tools.map(({ id, ...content }) => {
    const text = JSON.stringify(content);
    return {
      id,
      orgId: turn.orgId,
      botId: turn.botId,
      conversationId: turn.conversationId,
      role: 'tool' as const,
      content: text,
      searchText: searchFormOf(text),
      citations: [],
      replyTo: turn.userMessageId,
      authorId: null,
      model: null,
      usage: null,
      latencyMs: null,
      unanswered: false,
      error: null,
      cached: false,
      attachments: null,
      requestKey: null,
      createdAt: now,
    };
  });
  await ctx.db.batch([
    // One row per statement keeps every insert far under D1's 100 bound parameters.
    ...rows.map((row) => ctx.db.insert(messages).values(row)),
    ctx.db
      .update(conversations)
      .set({ messageCount: sql`${conversations.messageCount} + ${rows.length}`, lastMessageAt: now, updatedAt: now })
      .where(eq(conversations.id, turn.conversationId)),
  ] as unknown as Parameters<Db['batch']>[0]);
}

/** The tool messages of one turn (replying to `userMessageId`), oldest first. */
export async function toolMessagesOf(db: Db, conversationId: string, userMessageId: string): Promise<ToolMessageContent[]> {
  const rows = await db
    .select({ content: messages.content })
    .from(messages)
    .where(and(eq(messages.conversationId, conversationId), eq(messages.replyTo, userMessageId), eq(messages.role, 'tool')))
    .orderBy(messages.seq)
    .limit(200);
  return rows.map((r) => JSON.parse(r.content) as ToolMessageContent);
}

export async function getMessage(db: Db, conversationId: string, id: string): Promise<MessageRow | null> {
  return (await db.select().from(messages).where(and(eq(messages.conversationId, conversationId), eq(messages.id, id))).get()) ?? null;
}
