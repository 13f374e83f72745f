/**
 * The answer pipeline every channel uses: `startTurn` checks and stores the user message, then
 * its events retrieve, build the prompt, stream the answer and store it (see turn.ts).
 *
 * Invariants:
 * - Nothing is stored for a refused turn; once `startTurn` answers ok, the user message is stored,
 *   whatever happens to the model afterwards.
 * - Every turn that reaches the model or the fallback ends with a stored assistant message: the
 *   answer, the abstention (`unanswered`), or the failure (`error`, empty content); a client that
 *   went away gets what was streamed so far stored (marked `aborted`, so a retry answers again).
 * - A retried turn (same Idempotency-Key) reuses its stored user message; when it already has a
 *   successful answer, that answer is replayed without a model call.
 */
import type { ServiceContext } from '../../context';
import type { Channel, Citation, TokenUsage } from '../../db/schema';
import { ChatModelError, type ChatModel, type PromptMessage, type PromptSource, type ToolCall } from '../../ai/chat-model';
import { createChatModel } from '../../ai/create-chat-model';
import { ACTIONS, CHAT, DEFAULT_ABSTAIN_RELEVANCE, DEFAULT_FALLBACK_MESSAGE } from '../../limits';
import { newId } from '../../lib/ids';
import { getBot, type BotRow } from '../bots/service';
import { search, searchDefaultsOf, type SearchHit } from '../knowledge/search';
import { countTokens } from '../knowledge/chunker';
import { consumeQuota } from '../usage/quotas';
import {
  appendAssistantMessage,
  appendUserMessage,
  AttachmentsTakenError,
  ConversationGoneError,
  findMessageByRequestKey,
  getConversation,
  getMessage,
  latestReplyTo,
  toolMessagesOf,
  recentHistory,
  scopedRequestKey,
  storeSummary,
  toMessageDto,
  type ConversationRow,
  type MessageRow,
} from './store';
import { buildPrompt } from './prompt';
import { summarize } from './summary';
import { autoTitle } from './title';
import { citationsFor } from './citations';
import { attachmentAsHit, attachmentContext, resolveAttachments } from './attachments';
import { answerCacheKey, putCachedAnswer, takeCachedAnswer } from './answer-cache';
import type { TurnCaller, TurnEvent, TurnInput, TurnRefusal, TurnStart } from './turn';
import { mirrorTurnToRoom } from './live/room-mirror';
import { actionsForBot, decideConfirmation, getAction, toToolDefinition, type ActionRow, type ConfirmationRow } from '../actions/service';
import { runToolRound, settleConfirmation, storedExchange, type RoundContext } from './tool-loop';
import { callerTag } from './store';
// Human handoff (issue #10): trigger phrases and N fallbacks in a row ask for a person.
import { alreadyRequestedNotice, fallbackStreak, requestHandoff } from '../handoff/service';
import { handoffSettingsOf, matchTriggerPhrase, type HandoffLang } from '../handoff/settings';

/**
 * Attachment text read per prompt token of its budget share: English averages ~4 characters per
 * cl100k token; the prompt builder then cuts by real token counts, so this only bounds the read.
 */
const ATTACHMENT_CONTEXT_CHARS_PER_TOKEN = 4;

const refuse = (refusal: TurnRefusal): TurnStart => ({ ok: false, refusal });
const conversationNotFound = () =>
  refuse({ status: 404, code: 'conversation_not_found', title: 'Not found', detail: 'Conversation was not found.' });

export async function startTurn(ctx: ServiceContext, input: TurnInput): Promise<TurnStart> {
  const startedAt = ctx.clock.now();
  const limit = ctx.config.chat.maxMessageChars;
  if (!input.message.trim()) {
    return refuse({ status: 422, code: 'message_empty', title: 'Empty message', detail: 'The message has no text.' });
  }
  if (input.message.length > limit) {
    return refuse({
      status: 413,
      code: 'message_too_long',
      title: 'Message too long',
      detail: `The message has ${input.message.length} characters; the limit is ${limit}.`,
      extensions: { limit },
    });
  }

  // Independent reads, in one round trip's time: the bot, the named conversation, an earlier attempt of this turn.
  const requestKey = input.requestKey ? await scopedRequestKey(input.orgId, input.botId, input.caller, input.requestKey) : null;
  const [bot, named, earlier] = await Promise.all([
    getBot(ctx.db, input.orgId, input.botId),
    input.conversationId ? getConversation(ctx.db, input.orgId, input.conversationId) : null,
    requestKey ? findMessageByRequestKey(ctx.db, input.orgId, requestKey) : null,
  ]);
  if (!bot) return refuse({ status: 404, code: 'bot_not_found', title: 'Not found', detail: 'Bot was not found.' });
  if (bot.status === 'paused') return refuse({ status: 409, code: 'bot_paused', title: 'Bot paused', detail: 'This bot is paused and does not answer.' });

  let existing = earlier;
  if (existing && !isSameTurn(existing, input)) return keyReused();

  let conversation: ConversationRow | null = null;
  const conversationId = existing?.conversationId ?? input.conversationId;
  if (conversationId) {
    conversation = named?.id === conversationId ? named : await getConversation(ctx.db, input.orgId, conversationId);
    if (!conversation || conversation.botId !== bot.id || !mayContinue(conversation, input)) return conversationNotFound();
    if (!existing && conversation.status === 'closed') {
      return refuse({ status: 409, code: 'conversation_closed', title: 'Conversation closed', detail: 'This conversation is closed; start a new one.' });
    }
  }

  let created = false;
  if (!existing) {
    const files = await resolveAttachments(ctx, { orgId: input.orgId, botId: bot.id, callerId: attachmentOwner(input.caller), ids: input.attachmentIds ?? [] });
    if (!files.ok) return refuse(files.refusal);
    const quota = await consumeQuota(ctx, input.orgId, 'messages_per_month', 1);
    if (!quota.allowed) {
      return refuse({
        status: 429,
        code: 'quota_exceeded',
        title: 'Quota exceeded',
        detail: `The organization's messages_per_month quota (${quota.limit}) is used up.${quota.retryAfterSeconds ? ` Try again in ${quota.retryAfterSeconds} seconds.` : ''}`,
        retryAfterSeconds: quota.retryAfterSeconds ?? undefined,
        extensions: { quota: quota.quota, limit: quota.limit, used: quota.used },
      });
    }
    // A request for a person is answered without retrieval or a model call.
    const handoff = handoffPhrase(bot, conversation, input.message);
    // Retrieval does not wait for the message to be stored (only the model call must): it runs
    // alongside the storing batch. Handled here so a refusal below leaves no unhandled rejection.
    const retrieval = handoff ? undefined : retrieve(ctx, bot, input.message);
    retrieval?.catch(() => undefined);
    let appended;
    try {
      appended = await appendUserMessage(ctx, {
        orgId: input.orgId,
        botId: bot.id,
        conversationId: conversation?.id ?? null,
        create: conversation ? null : { channel: input.channel, caller: input.caller, title: autoTitle(input.message) },
        content: input.message,
        requestKey,
        attachments: files.attachments.length ? files.attachments : null,
      });
    } catch (err) {
      if (err instanceof ConversationGoneError) return conversationNotFound();
      if (err instanceof AttachmentsTakenError) return refuse(attachmentsTaken());
      throw err;
    }
    if (appended.status === 'existing') {
      // A concurrent attempt of the same turn won the race: continue as its retry.
      existing = appended.message;
      if (!isSameTurn(existing, input)) return keyReused();
      conversation = await getConversation(ctx.db, input.orgId, existing.conversationId);
    } else {
      created = appended.created;
      conversation = appended.conversation;
      const events = runTurn(ctx, { bot, conversation, userMessage: appended.message, input, created, startedAt, retrieval, handoff });
      return started(conversation, created, live(ctx, input, conversation, appended.message, events));
    }
  }
  if (!conversation) return conversationNotFound();

  const reply = await latestReplyTo(ctx.db, conversation.id, existing.id);
  // A replayed answer is old news to the room; a retried turn's user message was shown the first time.
  if (reply && !reply.error) return started(conversation, false, replay(conversation.id, existing.id, reply));
  const events = runTurn(ctx, { bot, conversation, userMessage: existing, input, created: false, startedAt });
  return started(conversation, false, live(ctx, input, conversation, null, events));
}

/**
 * Sockets in the conversation's room see every turn: the room relays its own (channel `ws`),
 * and a turn from any other channel is mirrored into it here, once for all of them.
 */
function live(ctx: ServiceContext, input: TurnInput, conversation: ConversationRow, newUserMessage: MessageRow | null, events: AsyncIterable<TurnEvent>) {
  // Only rooms someone has joined (live_at): the rest have no socket to tell.
  if (input.channel === 'ws' || conversation.liveAt === null) return events;
  return mirrorTurnToRoom(ctx, conversation.id, newUserMessage ? toMessageDto(newUserMessage) : null, events);
}

const started = (conversation: ConversationRow, created: boolean, events: AsyncIterable<TurnEvent>): TurnStart => ({
  ok: true,
  conversationId: conversation.id,
  created,
  events,
});

/** Who uploaded an attachment, as the upload route records it. */
function attachmentOwner(caller: TurnInput['caller']): string {
  return caller.kind === 'user' ? caller.userId : caller.kind === 'api_key' ? caller.keyId : caller.visitorId;
}

const attachmentsTaken = (): TurnRefusal => ({
  status: 409,
  code: 'attachment_already_used',
  title: 'Conflict',
  detail: 'An attachment was sent with another message at the same time.',
});

const keyReused = () =>
  refuse({
    status: 422,
    code: 'idempotency_key_reused',
    title: 'Idempotency-Key reused',
    detail: 'This Idempotency-Key was already used for another message or conversation.',
  });

/** A retry must be the same turn: same text, and the same conversation when it names one. */
function isSameTurn(stored: MessageRow, input: TurnInput): boolean {
  return stored.content === input.message && (!input.conversationId || input.conversationId === stored.conversationId);
}

/**
 * Members and keys act for the org. A widget visitor continues only their own widget
 * conversations: a verified user those stored with their user id (from any device or visitor id),
 * an anonymous visitor those of their visitor id that no verified user owns (the same rule as the
 * widget's conversation list, features/widget/visitors.ts).
 */
function mayContinue(conversation: ConversationRow, input: TurnInput): boolean {
  const caller = input.caller;
  if (caller.kind !== 'visitor') return true;
  if (conversation.channel !== 'widget' || conversation.visitorId === null) return false;
  if (caller.verifiedUserId !== null) return conversation.userId === caller.verifiedUserId;
  return conversation.visitorId === caller.visitorId && conversation.userId === null;
}

async function* replay(conversationId: string, userMessageId: string, reply: MessageRow): AsyncGenerator<TurnEvent> {
  yield { type: 'meta', conversationId, userMessageId, assistantMessageId: reply.id, created: false };
  if (reply.content) yield { type: 'token', text: reply.content };
  yield { type: 'citations', citations: reply.citations };
  yield { type: 'done', message: toMessageDto(reply) };
}

interface Turn {
  bot: BotRow;
  conversation: ConversationRow;
  userMessage: MessageRow;
  input: TurnInput;
  created: boolean;
  startedAt: number;
  /** Retrieval already under way for this message, if startTurn began it. */
  retrieval?: Promise<SearchHit[]>;
  /** A turn that paused for a confirmation, resuming now that it is decided (resumeTurn). */
  resume?: { confirmation: ConfirmationRow; action: ActionRow | null };
  /** The message asks for a person (a trigger phrase, in this language). */
  handoff?: { lang: HandoffLang } | null;
}

/** The trigger phrase a new message of a conversation that may still ask for a person contains. */
function handoffPhrase(bot: BotRow, conversation: ConversationRow | null, message: string): { lang: HandoffLang } | null {
  const settings = handoffSettingsOf(bot.handoff);
  if (!settings.enabled) return null;
  if (conversation && conversation.status !== 'open' && conversation.status !== 'handoff_requested') return null;
  return matchTriggerPhrase(settings, message);
}

const retrieve = (ctx: ServiceContext, bot: BotRow, question: string) =>
  search(ctx, { orgId: bot.orgId, botId: bot.id, query: question, ...searchDefaultsOf(bot) });

/** Text as word-sized token events (fallback and cached answers stream like a model's). */
function* words(text: string): Generator<TurnEvent> {
  for (const word of text.split(/(?<= )/)) if (word) yield { type: 'token', text: word };
}

async function* runTurn(ctx: ServiceContext, turn: Turn): AsyncGenerator<TurnEvent> {
  const { bot, conversation, userMessage, input } = turn;
  const assistantId = newId('msg', ctx.clock);
  yield { type: 'meta', conversationId: conversation.id, userMessageId: userMessage.id, assistantMessageId: assistantId, created: turn.created };
  const roundContext: RoundContext = {
    orgId: input.orgId,
    botId: bot.id,
    conversationId: conversation.id,
    userMessageId: userMessage.id,
    caller: input.caller,
    actions: new Map(),
  };
  // What was approved runs (or the rejection is recorded) before anything else: the decision is made.
  if (turn.resume) yield* settleConfirmation(ctx, roundContext, turn.resume.confirmation, turn.resume.action);
  if (conversation.status === 'human') {
    yield { type: 'paused', reason: 'human' };
    return;
  }
  if (turn.handoff) {
    yield* handoffTurn(ctx, turn, assistantId, turn.handoff.lang);
    return;
  }

  const store = async (fields: { content: string; citations: Citation[]; model: string | null; usage: TokenUsage | null; unanswered?: boolean; cached?: boolean; error?: { code: string; detail: string } | null }) =>
    toMessageDto(
      await appendAssistantMessage(ctx, {
        id: assistantId,
        orgId: input.orgId,
        botId: bot.id,
        conversationId: conversation.id,
        replyTo: userMessage.id,
        latencyMs: ctx.clock.now() - turn.startedAt,
        unanswered: false,
        cached: false,
        error: null,
        ...fields,
      }),
    );

  let model: ChatModel | null = null;
  let streamed = '';
  try {
    const question = userMessage.content;
    // Files sent in the conversation are context the user chose: they come first, and with them
    // the turn is never an abstention. A new conversation without files has none to read.
    const needsFiles = !turn.created || Boolean(userMessage.attachments?.length);
    const [hits, files, history, actionRows] = await Promise.all([
      turn.retrieval ?? retrieve(ctx, bot, question),
      needsFiles
        ? attachmentContext(ctx, input.orgId, conversation.id, ATTACHMENT_CONTEXT_CHARS_PER_TOKEN * Math.floor(ctx.config.chat.promptBudgetTokens * CHAT.attachmentsBudgetShare))
        : [],
      historyFor(ctx, turn),
      actionsForBot(ctx, input.orgId, bot.id),
    ]);
    // A bot with actions and a model that takes tools may answer from a tool rather than from
    // knowledge: it does not abstain, and its answers are not cached (tool results change).
    if (actionRows.length > 0) model = await createChatModel(ctx, input.orgId, bot);
    const toolsOffered = actionRows.length > 0 && model?.supportsTools === true;
    roundContext.actions = new Map(actionRows.map((a) => [a.name, a]));
    const abstainBelow = Math.max(bot.minScore, DEFAULT_ABSTAIN_RELEVANCE);
    if (!toolsOffered && files.length === 0 && !hits.some((h) => h.relevance >= abstainBelow)) {
      const fallback = bot.fallbackMessage ?? DEFAULT_FALLBACK_MESSAGE;
      const handoff = await fallbackHandoff(ctx, turn, assistantId, fallback);
      if (handoff) {
        yield* words(handoff.message.content);
        yield { type: 'citations', citations: [] };
        yield handoff;
        return;
      }
      yield* words(fallback);
      yield { type: 'citations', citations: [] };
      yield { type: 'done', message: await store({ content: fallback, citations: [], model: null, usage: null, unanswered: true }) };
      return;
    }
    const context = [...files.map(attachmentAsHit), ...hits];

    const cacheable = bot.answerCacheTtlSeconds > 0 && history.messages.length === 0 && !conversation.summary && files.length === 0 && !toolsOffered;
    const cacheKey = cacheable ? await answerCacheKey(bot, question, hits.map((h) => h.chunkId)) : null;
    if (cacheKey) {
      const cached = await takeCachedAnswer(ctx, input.orgId, bot.id, cacheKey);
      if (cached) {
        yield* words(cached.content);
        yield { type: 'citations', citations: cached.citations };
        yield { type: 'done', message: await store({ content: cached.content, citations: cached.citations, model: cached.model, usage: null, cached: true }) };
        return;
      }
    }

    model ??= await createChatModel(ctx, input.orgId, bot);
    // The heading path tells an extractive model which section a chunk cut from mid-document is in.
    const sources: PromptSource[] = context.map((h, i) => ({ n: i + 1, title: h.document.title || h.source.title, text: h.windowText ?? h.text, headings: h.headingPath }));
    const budgetTokens = ctx.config.chat.promptBudgetTokens;
    const promptInput = { instructions: bot.instructions, question, sources, summary: conversation.summary, history: history.messages, budgetTokens };
    let prompt = buildPrompt(promptInput);
    const dropped = history.stored ? history.rows.slice(0, history.rows.length - history.messages.length + prompt.droppedHistory) : [];
    if (dropped.length > 0) {
      const summary = await summarize(model, conversation.summary, dropped.map(asPromptRole), input.signal);
      if (summary) {
        await storeSummary(ctx, conversation, summary, dropped.at(-1)!.id);
        prompt = buildPrompt({ ...promptInput, summary, history: history.messages.slice(prompt.droppedHistory) });
      }
    }

    const numbered = new Map<number, SearchHit>(prompt.sources.map((s) => [s.n, context[s.n - 1]!]));
    let usage: TokenUsage | null = null;
    // The tool-call loop (issue #11): while tools are offered and the model calls them, run the
    // round and ask again with the results; after ACTIONS.maxRoundsPerTurn rounds the model is
    // asked once more without tools, so it must answer in text.
    const tools = toolsOffered ? actionRows.map(toToolDefinition) : undefined;
    const exchange: PromptMessage[] = [];
    let round = 0;
    if (turn.resume) {
      const stored = storedExchange(await toolMessagesOf(ctx.db, conversation.id, userMessage.id));
      exchange.push(...stored.messages);
      round = stored.rounds;
    }
    for (;;) {
      const offer = tools !== undefined && round < ACTIONS.maxRoundsPerTurn;
      let calls: ToolCall[] = [];
      for await (const chunk of model.stream({
        messages: exchange.length ? [...prompt.messages, ...exchange] : prompt.messages,
        question,
        sources: prompt.sources,
        temperature: bot.temperature,
        maxTokens: bot.maxTokens,
        signal: input.signal,
        tools: offer ? tools : undefined,
      })) {
        if (chunk.type === 'usage') {
          usage = usage ? addUsage(usage, chunk.usage) : chunk.usage;
          continue;
        }
        if (chunk.type === 'tool_calls') {
          calls = chunk.calls;
          continue;
        }
        const room = CHAT.maxAnswerChars - streamed.length;
        const text = chunk.text.length > room ? chunk.text.slice(0, room) : chunk.text;
        if (!text) continue;
        streamed += text;
        yield { type: 'token', text };
        if (streamed.length >= CHAT.maxAnswerChars) break;
      }
      if (input.signal?.aborted) throw new ChatModelError('aborted', 'the client went away');
      if (!offer || calls.length === 0) break;
      const outcome = yield* runToolRound(ctx, roundContext, round, calls);
      if (outcome.paused) {
        const c = outcome.paused;
        yield { type: 'confirmation', confirmationId: c.id, action: c.actionName, arguments: c.arguments, expiresAt: new Date(c.expiresAt).toISOString() };
        yield { type: 'paused', reason: 'confirmation' };
        return;
      }
      exchange.push(...outcome.messages);
      round++;
    }

    const citations = citationsFor(streamed, numbered);
    usage ??= countedUsage(prompt.promptTokens, streamed);
    yield { type: 'citations', citations };
    const message = await store({ content: streamed, citations, model: model.id, usage });
    if (cacheKey && streamed.trim()) {
      await putCachedAnswer(ctx, { key: cacheKey, orgId: input.orgId, botId: bot.id, ttlSeconds: bot.answerCacheTtlSeconds, content: streamed, citations, model: model.id });
    }
    yield { type: 'done', message };
  } catch (err) {
    if (input.signal?.aborted) {
      // Nobody is listening any more; keep what was said, marked so that a retry answers again.
      const message = await store({
        content: streamed,
        citations: [],
        model: model?.id ?? null,
        usage: null,
        error: { code: 'aborted', detail: 'The client went away before the answer was complete.' },
      });
      yield { type: 'done', message };
      return;
    }
    const failure = describeFailure(err);
    console.error(JSON.stringify({ level: 'error', msg: 'chat turn failed', code: failure.code, conversationId: conversation.id, reason: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }));
    const message = await store({ content: '', citations: [], model: model?.id ?? null, usage: null, error: { code: failure.code, detail: failure.detail } });
    yield { type: 'error', ...failure, message };
  }
}

/**
 * The answer to a trigger phrase: the conversation asks for a person (ticket, events) and the
 * notice is the stored answer. Said again while waiting, the visitor hears that someone is asked.
 */
async function* handoffTurn(ctx: ServiceContext, turn: Turn, assistantId: string, lang: HandoffLang): AsyncGenerator<TurnEvent> {
  const { input, conversation, userMessage } = turn;
  const result = await requestHandoff(ctx, {
    orgId: input.orgId,
    conversationId: conversation.id,
    source: 'phrase',
    lang,
    actor: { type: 'visitor', id: conversation.visitorId },
    auditActor: { kind: 'system' },
    answer: { id: assistantId, replyTo: userMessage.id, latencyMs: ctx.clock.now() - turn.startedAt, unanswered: false },
  });
  if (result.status === 'requested') {
    yield* words(result.notice.content);
    yield { type: 'citations', citations: [] };
    yield { type: 'done', message: toMessageDto(result.notice), handoff: result.outcome };
    return;
  }
  const text = alreadyRequestedNotice(lang);
  yield* words(text);
  yield { type: 'citations', citations: [] };
  const message = await appendAssistantMessage(ctx, {
    id: assistantId,
    orgId: input.orgId,
    botId: turn.bot.id,
    conversationId: conversation.id,
    replyTo: userMessage.id,
    content: text,
    citations: [],
    model: null,
    usage: null,
    latencyMs: ctx.clock.now() - turn.startedAt,
    unanswered: false,
    cached: false,
    error: null,
  });
  yield { type: 'done', message: toMessageDto(message) };
}

/**
 * When this fallback makes N in a row (the bot's `fallbackTurns`), the conversation asks for a
 * person and the stored answer is the fallback followed by the notice; null otherwise.
 */
async function fallbackHandoff(ctx: ServiceContext, turn: Turn, assistantId: string, fallback: string): Promise<Extract<TurnEvent, { type: 'done' }> | null> {
  const settings = handoffSettingsOf(turn.bot.handoff);
  if (!settings.enabled || settings.fallbackTurns <= 0 || turn.conversation.status !== 'open') return null;
  const before = await fallbackStreak(ctx, turn.conversation.id, turn.userMessage.seq, settings.fallbackTurns - 1);
  if (before < settings.fallbackTurns - 1) return null;
  const result = await requestHandoff(ctx, {
    orgId: turn.input.orgId,
    conversationId: turn.conversation.id,
    source: 'fallbacks',
    lang: 'en',
    actor: { type: 'system', id: null },
    auditActor: { kind: 'system' },
    answer: { id: assistantId, replyTo: turn.userMessage.id, latencyMs: ctx.clock.now() - turn.startedAt, unanswered: true, prefix: fallback },
  });
  return result.status === 'requested' ? { type: 'done', message: toMessageDto(result.notice), handoff: result.outcome } : null;
}

const asPromptRole = (m: { role: string; content: string }) => ({ role: m.role === 'user' ? ('user' as const) : ('assistant' as const), content: m.content });

/**
 * Stored history (only the newest half of what is read goes to the prompt, so anything older is
 * summarized while it is still in the read window), or the client's own history for a new
 * conversation (OpenAI and Chatbase clients resend it).
 */
async function historyFor(ctx: ServiceContext, turn: Turn) {
  if (!turn.created) {
    const rows = await recentHistory(ctx.db, turn.conversation, turn.userMessage.seq, CHAT.historyMessagesRead);
    const offered = rows.slice(-Math.floor(CHAT.historyMessagesRead / 2));
    return { stored: true, rows, messages: offered.map(asPromptRole) };
  }
  const client = (turn.input.clientHistory ?? []).slice(-CHAT.clientHistoryMessages).map((m) => ({
    role: m.role,
    content: m.content.slice(0, CHAT.maxMessageCharsCeiling),
  }));
  return { stored: false, rows: [], messages: client };
}

const addUsage = (a: TokenUsage, b: TokenUsage): TokenUsage => ({
  promptTokens: a.promptTokens + b.promptTokens,
  completionTokens: a.completionTokens + b.completionTokens,
  totalTokens: a.totalTokens + b.totalTokens,
});

function countedUsage(promptTokens: number, answer: string): TokenUsage {
  const completionTokens = countTokens(answer);
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens };
}

/** What the client is told; the internal reason goes to the log only. */
function describeFailure(err: unknown): { status: 502 | 503 | 504; code: string; title: string; detail: string } {
  if (err instanceof ChatModelError) {
    if (err.reason === 'timeout') return { status: 504, code: 'model_timeout', title: 'Model timed out', detail: 'The language model did not answer in time. Retry the same turn.' };
    if (err.reason === 'rate_limited') return { status: 502, code: 'model_rate_limited', title: 'Model rate limited', detail: 'The language model provider is rate limiting requests. Retry the same turn later.' };
    return { status: 502, code: 'model_failed', title: 'Model failed', detail: 'The language model failed to answer. Retry the same turn.' };
  }
  return { status: 503, code: 'answer_unavailable', title: 'Answer unavailable', detail: 'Retrieval or the answer pipeline is unavailable. Retry the same turn.' };
}

// --- confirmations (issue #11) ----------------------------------------------------------------

export interface ResumeInput {
  orgId: string;
  conversationId: string;
  confirmationId: string;
  approve: boolean;
  /** Who decides: a member or key of the org, or the widget visitor who owns the conversation. */
  caller: TurnCaller;
  /** For a visitor: the bot their token is for (the conversation must be that bot's). */
  botId?: string;
  channel: Channel;
  signal?: AbortSignal;
}

/**
 * Decides a pending confirmation and resumes its turn: the approved action runs (a rejected one
 * is recorded, not run), its result goes to the model with the round's other results, and the
 * turn continues like any other (it may call more tools, or pause again). Decided once: a second
 * decision, or one after expiry, is a 409 refusal and nothing runs.
 */
export async function resumeTurn(ctx: ServiceContext, input: ResumeInput): Promise<TurnStart> {
  const startedAt = ctx.clock.now();
  const conversation = await getConversation(ctx.db, input.orgId, input.conversationId);
  const notFound = () => refuse({ status: 404, code: 'confirmation_not_found', title: 'Not found', detail: 'Confirmation was not found.' });
  if (!conversation) return conversationNotFound();
  if (input.botId && conversation.botId !== input.botId) return conversationNotFound();
  if (!mayContinue(conversation, { caller: input.caller } as TurnInput)) return conversationNotFound();
  const decided = await decideConfirmation(ctx, { orgId: input.orgId, conversationId: conversation.id, confirmationId: input.confirmationId }, input.approve, callerTag(input.caller));
  switch (decided.status) {
    case 'not_found':
      return notFound();
    case 'already_decided':
      return refuse({ status: 409, code: 'confirmation_decided', title: 'Already decided', detail: `This confirmation was already ${decided.decision}.` });
    case 'expired':
      return refuse({ status: 409, code: 'confirmation_expired', title: 'Confirmation expired', detail: 'This confirmation expired before it was decided; nothing ran. Ask again.' });
    case 'decided':
      break;
  }
  const confirmation = decided.confirmation;
  const [bot, userMessage, action] = await Promise.all([
    getBot(ctx.db, input.orgId, conversation.botId),
    getMessage(ctx.db, conversation.id, confirmation.userMessageId),
    getAction(ctx, input.orgId, confirmation.actionId),
  ]);
  if (!bot || !userMessage) return conversationNotFound();
  const turnInput: TurnInput = {
    orgId: input.orgId,
    botId: bot.id,
    channel: input.channel,
    caller: input.caller,
    conversationId: conversation.id,
    message: userMessage.content,
    signal: input.signal,
  };
  const events = runTurn(ctx, { bot, conversation, userMessage, input: turnInput, created: false, startedAt, resume: { confirmation, action } });
  return started(conversation, false, live(ctx, turnInput, conversation, null, events));
}
