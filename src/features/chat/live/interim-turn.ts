/**
 * STAND-IN for `startTurn` (src/features/chat/pipeline.ts, the pipeline slice) until it merges;
 * delete this file then. It honours the contract of ../turn.ts the room relies on: the user
 * message is stored first (meta), a conversation a person took over pauses the bot (paused),
 * otherwise an answer streams (token*, citations) and is stored (done). It does not retrieve:
 * it answers with the bot's fallback message, one word at a time with a short pause, so tests
 * can observe an answer mid-stream.
 */
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { ServiceContext } from '../../../context';
import { bots, conversations, messages } from '../../../db/schema';
import { newId } from '../../../lib/ids';
import type { TurnEvent, TurnInput, TurnStart } from '../turn';
import { loadMessage } from './agent-messages';

const WORD_PAUSE_MS = 40;
const DEFAULT_FALLBACK = "Sorry, I don't know the answer to that yet. A member of the team can help you with it later today.";

export async function interimStartTurn(ctx: ServiceContext, input: TurnInput): Promise<TurnStart> {
  const conversation = input.conversationId
    ? await ctx.db
        .select({ status: conversations.status })
        .from(conversations)
        .where(and(eq(conversations.id, input.conversationId), eq(conversations.orgId, input.orgId), isNull(conversations.deletedAt)))
        .get()
    : undefined;
  if (!input.conversationId || !conversation) {
    return { ok: false, refusal: { status: 404, code: 'conversation_not_found', title: 'Not found', detail: 'Conversation was not found.' } };
  }
  const conversationId = input.conversationId;
  const bot = await ctx.db.select({ fallbackMessage: bots.fallbackMessage }).from(bots).where(eq(bots.id, input.botId)).get();
  const now = ctx.clock.now();
  const userMessageId = newId('msg', ctx.clock);
  const assistantMessageId = newId('msg', ctx.clock);
  const base = { orgId: input.orgId, botId: input.botId, conversationId, citations: [] };
  await ctx.db.batch([
    ctx.db.insert(messages).values({ ...base, id: userMessageId, role: 'user', content: input.message, createdAt: now }),
    ctx.db.update(conversations).set({ messageCount: sql`${conversations.messageCount} + 1`, lastMessageAt: now, updatedAt: now }).where(eq(conversations.id, conversationId)),
  ]);

  async function* events(): AsyncGenerator<TurnEvent> {
    yield { type: 'meta', conversationId, userMessageId, assistantMessageId, created: false };
    if (conversation!.status === 'human') {
      yield { type: 'paused', reason: 'human' };
      return;
    }
    const answer = bot?.fallbackMessage ?? DEFAULT_FALLBACK;
    const words = answer.split(/(?<=\s)/);
    for (const word of words) {
      await new Promise((resolve) => setTimeout(resolve, WORD_PAUSE_MS));
      yield { type: 'token', text: word };
    }
    yield { type: 'citations', citations: [] };
    const doneAt = ctx.clock.now();
    await ctx.db.batch([
      ctx.db.insert(messages).values({ ...base, id: assistantMessageId, role: 'assistant', content: answer, replyTo: userMessageId, unanswered: true, model: 'interim:fallback', latencyMs: doneAt - now, createdAt: doneAt }),
      ctx.db.update(conversations).set({ messageCount: sql`${conversations.messageCount} + 1`, lastMessageAt: doneAt, updatedAt: doneAt }).where(eq(conversations.id, conversationId)),
    ]);
    const stored = await loadMessage(ctx.db, input.orgId, conversationId, assistantMessageId);
    yield { type: 'done', message: stored! };
  }
  return { ok: true, conversationId, created: false, events: events() };
}
