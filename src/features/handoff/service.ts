/**
 * Asking for a person. A conversation moves `open → handoff_requested` in one guarded UPDATE;
 * the same batch opens its escalation ticket, writes `conversation.handoff_requested` and
 * `escalation.created` to the outbox, records the audit row and stores the notice the visitor
 * is told (a person will join, or, outside business hours, when the team is back and to leave
 * an email). Everything after the UPDATE is written only if it changed the row, so two requests
 * racing open one ticket.
 *
 * While `handoff_requested` the bot keeps answering (the visitor is not left alone while they
 * wait); a member taking over (the room's `takeover`) makes it `human` and the bot silent;
 * handing back makes it `open` again.
 */
import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import type { ServiceContext } from '../../context';
import { insertIfPreviousChanged } from '../../db/client';
import { conversations, escalations, messages, type ConversationStatus, type EscalationPriority, type EscalationSource } from '../../db/schema';
import { ESCALATION } from '../../limits';
import { newId } from '../../lib/ids';
import { searchFormOf } from '../../lib/text/text-fold';
import type { AuditEntry } from '../audit/service';
import { auditInsertIfChanged } from '../audit/service';
import { getBot, type BotRow } from '../bots/service';
import { getConversation, messageCreated, toMessageDto, type ConversationRow, type MessageRow } from '../chat/store';
import type { ServerFrame } from '../chat/live/room-protocol';
import { publishToRoom } from '../chat/live/room-publish';
import { escalationEventData, newEscalationRow, type ActorRef, type EscalationRow } from '../escalations/service';
import { notifyEscalation } from '../escalations/notify';
import { formatOpening, isOpen, nextOpening } from './business-hours';
import { eventInsertIfChanged, publishSoon } from '../events/outbox';
import { domainEvent } from '../events/catalog';
import { DEFAULT_NOTICES, handoffSettingsOf, type HandoffLang } from './settings';

/** What a turn (or the button) tells the widget besides the notice text. */
export interface HandoffOutcome {
  conversationStatus: ConversationStatus;
  escalationId: string | null;
  outsideBusinessHours: boolean;
  /** The next opening (ISO), outside business hours. */
  nextOpeningAt: string | null;
  /** Show the lead form: nobody can answer now, so the team needs a way back to the visitor. */
  askForEmail: boolean;
}

export interface HandoffRequest {
  orgId: string;
  conversationId: string;
  source: EscalationSource;
  lang: HandoffLang;
  /** Who asked, for the event and the mail. */
  actor: ActorRef;
  /** Who asked, for the audit trail. */
  auditActor: AuditEntry['actor'];
  priority?: EscalationPriority;
  note?: string;
  /**
   * A turn's answer: the notice is stored as this assistant message (replying to the user's),
   * after `prefix` (the fallback text, when N fallbacks asked for the person).
   */
  answer?: { id: string; replyTo: string; latencyMs: number; unanswered: boolean; prefix?: string };
}

export type HandoffResult =
  | { status: 'requested'; conversation: ConversationRow; escalation: EscalationRow; notice: MessageRow; outcome: HandoffOutcome }
  /** Already waiting for a person, or with one: nothing changed. */
  | { status: 'already'; conversation: ConversationRow; escalation: EscalationRow | null }
  | { status: 'closed' }
  | { status: 'not_found' };

/** The notice for a conversation that waits for a person already (the button pressed twice, the phrase said again). */
export function alreadyRequestedNotice(lang: HandoffLang): string {
  return DEFAULT_NOTICES[lang].alreadyRequested;
}

function noticeFor(bot: BotRow, lang: HandoffLang, now: number) {
  const settings = handoffSettingsOf(bot.handoff);
  const hours = settings.businessHours;
  const opensAt = hours && !isOpen(hours, now) ? nextOpening(hours, now) : null;
  if (hours && opensAt !== null) {
    const template = settings.messages.outsideHours ?? DEFAULT_NOTICES[lang].outsideHours;
    // split/join, not a regex or a template engine: the bot's text is data, `{time}` the only hole.
    const text = template.split('{time}').join(formatOpening(opensAt, hours.timezone, lang));
    return { text, outside: true, opensAt };
  }
  return { text: settings.messages.requested ?? DEFAULT_NOTICES[lang].requested, outside: false, opensAt: null };
}

async function openTicketOf(ctx: ServiceContext, orgId: string, conversationId: string): Promise<EscalationRow | null> {
  const row = await ctx.db
    .select()
    .from(escalations)
    .where(and(eq(escalations.orgId, orgId), eq(escalations.conversationId, conversationId), sql`${escalations.status} IN ('open', 'assigned')`))
    .orderBy(desc(escalations.id))
    .limit(1)
    .get();
  return row ?? null;
}

export async function requestHandoff(ctx: ServiceContext, req: HandoffRequest): Promise<HandoffResult> {
  const conversation = await getConversation(ctx.db, req.orgId, req.conversationId);
  if (!conversation) return { status: 'not_found' };
  if (conversation.status === 'closed') return { status: 'closed' };
  if (conversation.status !== 'open') return { status: 'already', conversation, escalation: await openTicketOf(ctx, req.orgId, conversation.id) };
  const bot = await getBot(ctx.db, req.orgId, conversation.botId);
  if (!bot) return { status: 'not_found' };

  const now = ctx.clock.now();
  const notice = noticeFor(bot, req.lang, now);
  const title = `${req.source === 'member' || req.source === 'api' ? 'Handoff' : 'A visitor asked for a person'}: ${conversation.title || 'conversation'}`.slice(0, ESCALATION.maxTitleChars);
  const ticket = await newEscalationRow(
    ctx,
    { orgId: req.orgId, title, description: req.note ?? '', priority: req.priority, conversationId: conversation.id, botId: bot.id, source: req.source },
    req.actor.type === 'user' ? req.actor.id : null,
  );
  const content = req.answer?.prefix ? `${req.answer.prefix}\n\n${notice.text}` : notice.text;
  const noticeRow: typeof messages.$inferInsert = {
    id: req.answer?.id ?? newId('msg', ctx.clock),
    orgId: req.orgId,
    botId: bot.id,
    conversationId: conversation.id,
    role: 'assistant',
    content,
    searchText: searchFormOf(content),
    citations: [],
    replyTo: req.answer?.replyTo ?? null,
    latencyMs: req.answer?.latencyMs ?? null,
    unanswered: req.answer?.unanswered ?? false,
    createdAt: now,
  };
  const requestedData = {
    conversationId: conversation.id,
    botId: bot.id,
    escalationId: ticket.id,
    source: req.source,
    outsideBusinessHours: notice.outside,
    nextOpeningAt: notice.opensAt === null ? null : new Date(notice.opensAt).toISOString(),
    requestedAt: new Date(now).toISOString(),
    actor: req.actor,
  };
  const scope = { orgId: req.orgId, botId: bot.id, conversationId: conversation.id };
  const results = await ctx.db.batch([
    ctx.db
      .update(conversations)
      .set({ status: 'handoff_requested', handoffRequestedAt: now, updatedAt: now, revision: sql`${conversations.revision} + 1` })
      .where(and(eq(conversations.id, conversation.id), eq(conversations.orgId, req.orgId), isNull(conversations.deletedAt), eq(conversations.status, 'open')))
      .returning(),
    insertIfPreviousChanged(ctx.db, escalations, ticket),
    eventInsertIfChanged(ctx.db, domainEvent('conversation.handoff_requested', { ...scope, data: requestedData }), ctx.clock),
    eventInsertIfChanged(ctx.db, domainEvent('escalation.created', { ...scope, data: escalationEventData(ticket, req.actor) }), ctx.clock),
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, {
      orgId: req.orgId,
      actor: req.auditActor,
      action: 'conversation.handoff_request',
      target: { type: 'conversation', id: conversation.id },
      metadata: { source: req.source, escalationId: ticket.id },
    }),
    insertIfPreviousChanged(ctx.db, messages, noticeRow),
    // The notice is a stored answer like any other: it is announced only if it went in.
    eventInsertIfChanged(ctx.db, messageCreated({ ...(noticeRow as MessageRow), authorId: null }), ctx.clock),
    ctx.db
      .update(conversations)
      .set({ messageCount: sql`${conversations.messageCount} + 1`, lastMessageAt: now })
      .where(and(eq(conversations.id, conversation.id), sql`EXISTS (SELECT 1 FROM messages WHERE id = ${noticeRow.id})`)),
    ctx.db.select().from(messages).where(eq(messages.id, noticeRow.id!)),
  ]);
  const [updated] = results[0] as ConversationRow[];
  const [stored] = results.at(-1) as MessageRow[];
  if (!updated || !stored) {
    // Someone else asked (or took over, or closed) between the read and the write.
    const current = await getConversation(ctx.db, req.orgId, conversation.id);
    if (!current) return { status: 'not_found' };
    if (current.status === 'closed') return { status: 'closed' };
    return { status: 'already', conversation: current, escalation: await openTicketOf(ctx, req.orgId, current.id) };
  }
  publishSoon(ctx, req.orgId);
  try {
    // The handoff has committed: a failed recipient lookup or mail must not fail the request (or the turn).
    await notifyEscalation(ctx, { kind: 'created', ticket, actor: req.actor });
  } catch (err) {
    console.warn(JSON.stringify({ level: 'warn', msg: 'handoff notification not sent', escalationId: ticket.id, conversationId: conversation.id, error: err instanceof Error ? err.message : String(err) }));
  }
  return {
    status: 'requested',
    conversation: updated,
    escalation: ticket,
    notice: stored,
    outcome: {
      conversationStatus: updated.status,
      escalationId: ticket.id,
      outsideBusinessHours: notice.outside,
      nextOpeningAt: requestedData.nextOpeningAt,
      askForEmail: notice.outside,
    },
  };
}

/**
 * Tells the sockets in a watched conversation's room about a handoff asked for outside a turn
 * (the button, a member): the new status and the notice. A turn's own frames carry its notice.
 * Best effort: the room only relays, D1 is the record, a resume catches up.
 */
export async function announceHandoff(ctx: ServiceContext, result: Extract<HandoffResult, { status: 'requested' }>, withNotice: boolean): Promise<void> {
  if (result.conversation.liveAt === null) return;
  const frames: ServerFrame[] = [{ type: 'status', status: result.conversation.status, humanUserId: result.conversation.humanUserId }];
  if (withNotice) frames.push({ type: 'message', message: toMessageDto(result.notice) });
  await publishToRoom(ctx, result.conversation.id, frames, 'handoff not announced to the room');
}

/**
 * How many assistant answers in a row, right before `beforeSeq`, were fallbacks (unanswered), up
 * to `limit`: the pipeline asks for a person when this turn's fallback makes it N.
 */
export async function fallbackStreak(ctx: ServiceContext, conversationId: string, beforeSeq: number, limit: number): Promise<number> {
  if (limit <= 0) return 0;
  const rows = await ctx.db
    .select({ unanswered: messages.unanswered })
    .from(messages)
    .where(and(eq(messages.conversationId, conversationId), eq(messages.role, 'assistant'), isNull(messages.error), sql`${messages.seq} < ${beforeSeq}`))
    .orderBy(desc(messages.seq))
    .limit(limit);
  let streak = 0;
  for (const row of rows) {
    if (!row.unanswered) break;
    streak++;
  }
  return streak;
}
