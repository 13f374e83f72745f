/**
 * Escalation tickets: create, list, read, transition (guarded single UPDATEs), comments and
 * watchers. Every change goes in one batch with its audit row and its outbox event; the mails
 * to the assignee and watchers go out after the commit (notify.ts).
 */
import { and, asc, desc, eq, gt, inArray, isNull, lt, sql, type SQL } from 'drizzle-orm';
import type { Actor, ServiceContext } from '../../context';
import { insertRowWhere, type Db } from '../../db/client';
import {
  escalationComments,
  escalations,
  escalationWatchers,
  type EscalationPriority,
  type EscalationSource,
  type EscalationStatus,
} from '../../db/schema';
import { ESCALATION } from '../../limits';
import { newId } from '../../lib/ids';
import { auditInsert, auditInsertIfChanged } from '../audit/service';
import { getBot } from '../bots/service';
import { getConversation } from '../conversations/service';
import { handoffSettingsOf } from '../handoff/settings';
import { addBusinessMinutes } from '../handoff/business-hours';
import { eventInsert, eventInsertIfChanged, publishSoon } from '../events/outbox';
import { domainEvent } from '../events/catalog';
import { findMembership } from '../orgs/service';
import { ACTION_EVENT, allowedActions, TRANSITIONS, type EscalationAction } from './state-machine';
import { notifyEscalation, type Notification } from './notify';

export type EscalationRow = typeof escalations.$inferSelect;
export type CommentRow = typeof escalationComments.$inferSelect;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const OPEN_STATES: EscalationStatus[] = ['open', 'assigned'];

export function toEscalationDto(row: EscalationRow, now: number) {
  return {
    id: row.id,
    botId: row.botId,
    conversationId: row.conversationId,
    title: row.title,
    description: row.description,
    status: row.status,
    priority: row.priority,
    source: row.source,
    assigneeId: row.assigneeId,
    createdBy: row.createdBy,
    slaDueAt: iso(row.slaDueAt)!,
    overdue: OPEN_STATES.includes(row.status) && row.slaDueAt < now,
    allowedActions: allowedActions(row.status),
    resolvedAt: iso(row.resolvedAt),
    closedAt: iso(row.closedAt),
    createdAt: iso(row.createdAt)!,
    updatedAt: iso(row.updatedAt)!,
  };
}

/** What an escalation event carries (the catalog's EscalationEventData). */
export function escalationEventData(row: Pick<EscalationRow, 'id' | 'conversationId' | 'botId' | 'status' | 'priority' | 'assigneeId' | 'source' | 'slaDueAt'>, actor: ActorRef) {
  return {
    escalationId: row.id,
    conversationId: row.conversationId,
    botId: row.botId,
    status: row.status,
    priority: row.priority,
    assigneeId: row.assigneeId,
    source: row.source,
    slaDueAt: new Date(row.slaDueAt).toISOString(),
    actor,
  };
}

/** Who did something, as events and mails name them. */
export type ActorRef = { type: 'user'; id: string } | { type: 'api_key'; id: string } | { type: 'visitor'; id: string | null } | { type: 'system'; id: null };
export const actorRef = (actor: Actor): ActorRef => (actor.kind === 'user' ? { type: 'user', id: actor.userId } : { type: 'api_key', id: actor.keyId });
const userIdOf = (actor: Actor) => (actor.kind === 'user' ? actor.userId : null);

/** The SLA due time: the priority's target counted in the bot's business hours (wall-clock without a bot). */
export async function slaDueAt(db: Db, orgId: string, botId: string | null, priority: EscalationPriority, from: number): Promise<number> {
  const bot = botId ? await getBot(db, orgId, botId) : null;
  const hours = bot ? handoffSettingsOf(bot.handoff).businessHours : null;
  return addBusinessMinutes(hours, from, ESCALATION.slaMinutes[priority]);
}

export async function isOrgMember(db: Db, orgId: string, userId: string): Promise<boolean> {
  return (await findMembership(db, orgId, userId)) !== null;
}

/** Adds a watcher only when the ticket exists (in the batch's own view) and they do not watch yet. */
function watchStatement(db: Db, orgId: string, escalationId: string, userId: string, now: number) {
  return insertRowWhere(
    db,
    escalationWatchers,
    { escalationId, userId, orgId, createdAt: now },
    sql`EXISTS (SELECT 1 FROM escalations WHERE id = ${escalationId} AND org_id = ${orgId})
        AND NOT EXISTS (SELECT 1 FROM escalation_watchers WHERE escalation_id = ${escalationId} AND user_id = ${userId})`,
  );
}

export interface NewEscalation {
  orgId: string;
  title: string;
  description?: string;
  priority?: EscalationPriority;
  conversationId?: string | null;
  botId?: string | null;
  assigneeId?: string | null;
  source: EscalationSource;
}

/** The row a new ticket gets (the handoff service puts it in its own guarded batch). */
export async function newEscalationRow(ctx: ServiceContext, input: NewEscalation, createdBy: string | null): Promise<EscalationRow> {
  const now = ctx.clock.now();
  const priority = input.priority ?? 'normal';
  const botId = input.botId ?? null;
  return {
    id: newId('esc', ctx.clock),
    orgId: input.orgId,
    botId,
    conversationId: input.conversationId ?? null,
    title: input.title,
    description: input.description ?? '',
    status: input.assigneeId ? 'assigned' : 'open',
    priority,
    source: input.source,
    assigneeId: input.assigneeId ?? null,
    createdBy,
    slaDueAt: await slaDueAt(ctx.db, input.orgId, botId, priority, now),
    resolvedAt: null,
    closedAt: null,
    revision: 1,
    createdAt: now,
    updatedAt: now,
  };
}

export type CreateEscalationResult =
  | { status: 'created'; row: EscalationRow }
  | { status: 'conversation_not_found' }
  | { status: 'bot_not_found' }
  | { status: 'invalid_assignee' };

/** A ticket opened by a member or an API key (the handoff opens its own, handoff/service.ts). */
export async function createEscalation(ctx: ServiceContext, actor: Actor, input: NewEscalation): Promise<CreateEscalationResult> {
  let botId = input.botId ?? null;
  if (input.conversationId) {
    const conversation = await getConversation(ctx.db, input.orgId, input.conversationId);
    if (!conversation) return { status: 'conversation_not_found' };
    botId = conversation.botId;
  } else if (botId && !(await getBot(ctx.db, input.orgId, botId))) {
    return { status: 'bot_not_found' };
  }
  if (input.assigneeId && !(await isOrgMember(ctx.db, input.orgId, input.assigneeId))) return { status: 'invalid_assignee' };
  const creator = userIdOf(actor);
  const row = await newEscalationRow(ctx, { ...input, botId }, creator);
  const ref = actorRef(actor);
  const watchers = [...new Set([creator, row.assigneeId].filter((u): u is string => u !== null))];
  await ctx.db.batch([
    ctx.db.insert(escalations).values(row),
    ...watchers.map((u) => watchStatement(ctx.db, row.orgId, row.id, u, row.createdAt)),
    eventInsert(ctx.db, domainEvent('escalation.created', { orgId: row.orgId, botId: row.botId, conversationId: row.conversationId, data: escalationEventData(row, ref) }), ctx.clock),
    auditInsert(ctx.db, ctx.clock, ctx.meta, { orgId: row.orgId, actor, action: 'escalation.create', target: { type: 'escalation', id: row.id }, metadata: { priority: row.priority, assigneeId: row.assigneeId, conversationId: row.conversationId } }),
  ]);
  publishSoon(ctx, row.orgId);
  await notifyEscalation(ctx, { kind: 'created', ticket: row, actor: ref });
  return { status: 'created', row };
}

export async function getEscalation(db: Db, orgId: string, id: string): Promise<EscalationRow | null> {
  const row = await db.select().from(escalations).where(and(eq(escalations.orgId, orgId), eq(escalations.id, id))).get();
  return row ?? null;
}

export interface EscalationFilter {
  status?: EscalationStatus;
  priority?: EscalationPriority;
  /** A user id, or `none` for unassigned tickets. */
  assignee?: string;
  overdue?: boolean;
  botId?: string;
  conversationId?: string;
}

/** Newest first; limit + 1 rows for toPage. */
export async function listEscalations(db: Db, orgId: string, filter: EscalationFilter, now: number, cursor: string | null, limit: number) {
  const conditions: SQL[] = [eq(escalations.orgId, orgId)];
  if (cursor) conditions.push(lt(escalations.id, cursor));
  if (filter.status) conditions.push(eq(escalations.status, filter.status));
  if (filter.priority) conditions.push(eq(escalations.priority, filter.priority));
  if (filter.assignee === 'none') conditions.push(isNull(escalations.assigneeId));
  else if (filter.assignee) conditions.push(eq(escalations.assigneeId, filter.assignee));
  if (filter.overdue === true) conditions.push(inArray(escalations.status, OPEN_STATES), lt(escalations.slaDueAt, now));
  if (filter.overdue === false) conditions.push(sql`NOT (${escalations.status} IN ('open', 'assigned') AND ${escalations.slaDueAt} < ${now})`);
  if (filter.botId) conditions.push(eq(escalations.botId, filter.botId));
  if (filter.conversationId) conditions.push(eq(escalations.conversationId, filter.conversationId));
  return db.select().from(escalations).where(and(...conditions)).orderBy(desc(escalations.id)).limit(limit + 1);
}

export interface EscalationPatch {
  action?: EscalationAction;
  assigneeId?: string;
  priority?: EscalationPriority;
  title?: string;
  description?: string;
}

export type UpdateEscalationResult =
  | { status: 'updated'; row: EscalationRow }
  | { status: 'not_found' }
  | { status: 'precondition_failed' }
  | { status: 'invalid_assignee' }
  | { status: 'illegal_transition'; current: EscalationStatus; allowed: EscalationAction[] };

/**
 * One guarded UPDATE: `WHERE status IN (the action's from-states)` (and the If-Match revisions),
 * so of two members racing, one wins and the other gets the 409 naming what is allowed now.
 */
export async function updateEscalation(ctx: ServiceContext, actor: Actor, orgId: string, id: string, patch: EscalationPatch, ifMatch?: number[]): Promise<UpdateEscalationResult> {
  // Read once for the SLA inputs (bot, created time) and to answer 404 before any validation.
  const before = await getEscalation(ctx.db, orgId, id);
  if (!before) return { status: 'not_found' };
  if (patch.assigneeId && !(await isOrgMember(ctx.db, orgId, patch.assigneeId))) return { status: 'invalid_assignee' };
  const now = ctx.clock.now();
  const set: Partial<Record<keyof EscalationRow, unknown>> = { updatedAt: now, revision: sql`${escalations.revision} + 1` };
  if (patch.title !== undefined) set.title = patch.title;
  if (patch.description !== undefined) set.description = patch.description;
  if (patch.priority !== undefined) {
    set.priority = patch.priority;
    set.slaDueAt = await slaDueAt(ctx.db, orgId, before.botId, patch.priority, before.createdAt);
  }
  const conditions: SQL[] = [eq(escalations.orgId, orgId), eq(escalations.id, id)];
  if (ifMatch) conditions.push(inArray(escalations.revision, ifMatch));
  const action = patch.action;
  if (action) {
    const transition = TRANSITIONS[action];
    set.status = transition.to;
    conditions.push(inArray(escalations.status, [...transition.from]));
    if (action === 'assign') set.assigneeId = patch.assigneeId;
    if (action === 'unassign' || action === 'reopen') set.assigneeId = null;
    if (action === 'resolve') set.resolvedAt = now;
    if (action === 'close') set.closedAt = now;
    if (action === 'reopen') {
      Object.assign(set, { resolvedAt: null, closedAt: null });
      // A reopened ticket gets a fresh target from now.
      set.slaDueAt = await slaDueAt(ctx.db, orgId, before.botId, patch.priority ?? before.priority, now);
    }
  }
  const ref = actorRef(actor);
  const after = { ...before, ...(set as Partial<EscalationRow>), status: (set.status as EscalationStatus | undefined) ?? before.status } as EscalationRow;
  const eventType = action ? ACTION_EVENT[action] : 'escalation.updated';
  const [updated] = await ctx.db.batch([
    ctx.db.update(escalations).set(set as Partial<EscalationRow>).where(and(...conditions)).returning(),
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, {
      orgId,
      actor,
      action: action ? `escalation.${action}` : 'escalation.update',
      target: { type: 'escalation', id },
      metadata: { from: before.status, to: after.status, fields: Object.keys(patch), assigneeId: patch.assigneeId ?? null, priority: patch.priority ?? null },
    }),
    eventInsertIfChanged(
      ctx.db,
      domainEvent(eventType, { orgId, botId: before.botId, conversationId: before.conversationId, data: { ...escalationEventData({ ...after, slaDueAt: (set.slaDueAt as number | undefined) ?? before.slaDueAt }, ref), previousStatus: before.status } }),
      ctx.clock,
    ),
    // The new assignee watches from now on (only if the assignment really happened).
    ...(action === 'assign' && patch.assigneeId
      ? [
          insertRowWhere(
            ctx.db,
            escalationWatchers,
            { escalationId: id, userId: patch.assigneeId, orgId, createdAt: now },
            sql`EXISTS (SELECT 1 FROM escalations WHERE id = ${id} AND assignee_id = ${patch.assigneeId} AND updated_at = ${now})
                AND NOT EXISTS (SELECT 1 FROM escalation_watchers WHERE escalation_id = ${id} AND user_id = ${patch.assigneeId})`,
          ),
        ]
      : []),
  ]);
  const row = updated[0];
  if (!row) {
    const current = await getEscalation(ctx.db, orgId, id);
    if (!current) return { status: 'not_found' };
    if (ifMatch && !ifMatch.includes(current.revision)) return { status: 'precondition_failed' };
    return { status: 'illegal_transition', current: current.status, allowed: allowedActions(current.status) };
  }
  publishSoon(ctx, orgId);
  const notification: Notification = action
    ? { kind: action, ticket: row, actor: ref, previousStatus: before.status }
    : { kind: 'updated', ticket: row, actor: ref, previousStatus: before.status };
  await notifyEscalation(ctx, notification);
  return { status: 'updated', row };
}

export type CommentResult = { status: 'created'; row: CommentRow } | { status: 'not_found' };

export async function addComment(ctx: ServiceContext, actor: Actor, orgId: string, escalationId: string, body: string): Promise<CommentResult> {
  const ticket = await getEscalation(ctx.db, orgId, escalationId);
  if (!ticket) return { status: 'not_found' };
  const now = ctx.clock.now();
  const row: CommentRow = { id: newId('cmt', ctx.clock), orgId, escalationId, authorId: userIdOf(actor), body, createdAt: now };
  const ref = actorRef(actor);
  const author = userIdOf(actor);
  await ctx.db.batch([
    // Guarded: a ticket deleted with its org meanwhile takes no comment (and no event).
    insertRowWhere(ctx.db, escalationComments, row, sql`EXISTS (SELECT 1 FROM escalations WHERE id = ${escalationId} AND org_id = ${orgId})`),
    eventInsertIfChanged(ctx.db, domainEvent('escalation.commented', { orgId, botId: ticket.botId, conversationId: ticket.conversationId, data: { ...escalationEventData(ticket, ref), commentId: row.id } }), ctx.clock),
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, { orgId, actor, action: 'escalation.comment', target: { type: 'escalation', id: escalationId }, metadata: { commentId: row.id } }),
    // Commenting is taking part: the author watches from now on.
    ...(author ? [watchStatement(ctx.db, orgId, escalationId, author, now)] : []),
  ]);
  publishSoon(ctx, orgId);
  await notifyEscalation(ctx, { kind: 'commented', ticket, actor: ref, comment: body });
  return { status: 'created', row };
}

/** Oldest first (a thread reads top-down); limit + 1 rows for toPage. */
export async function listComments(db: Db, escalationId: string, cursor: string | null, limit: number) {
  const conditions: SQL[] = [eq(escalationComments.escalationId, escalationId)];
  if (cursor) conditions.push(gt(escalationComments.id, cursor));
  return db.select().from(escalationComments).where(and(...conditions)).orderBy(asc(escalationComments.id)).limit(limit + 1);
}

export function toCommentDto(row: CommentRow) {
  return { id: row.id, escalationId: row.escalationId, authorId: row.authorId, body: row.body, createdAt: iso(row.createdAt)! };
}

export async function listWatchers(db: Db, escalationId: string): Promise<string[]> {
  const rows = await db.select({ userId: escalationWatchers.userId }).from(escalationWatchers).where(eq(escalationWatchers.escalationId, escalationId)).orderBy(asc(escalationWatchers.createdAt)).limit(ESCALATION.maxWatchers);
  return rows.map((r) => r.userId);
}

export type WatchResult = { status: 'ok'; watchers: string[] } | { status: 'not_found' } | { status: 'invalid_user' } | { status: 'too_many' };

export async function addWatcher(ctx: ServiceContext, orgId: string, escalationId: string, userId: string): Promise<WatchResult> {
  if (!(await getEscalation(ctx.db, orgId, escalationId))) return { status: 'not_found' };
  if (!(await isOrgMember(ctx.db, orgId, userId))) return { status: 'invalid_user' };
  const current = await listWatchers(ctx.db, escalationId);
  if (!current.includes(userId) && current.length >= ESCALATION.maxWatchers) return { status: 'too_many' };
  await ctx.db.batch([watchStatement(ctx.db, orgId, escalationId, userId, ctx.clock.now())]);
  return { status: 'ok', watchers: await listWatchers(ctx.db, escalationId) };
}

export async function removeWatcher(ctx: ServiceContext, orgId: string, escalationId: string, userId: string): Promise<WatchResult> {
  if (!(await getEscalation(ctx.db, orgId, escalationId))) return { status: 'not_found' };
  await ctx.db.delete(escalationWatchers).where(and(eq(escalationWatchers.escalationId, escalationId), eq(escalationWatchers.userId, userId)));
  return { status: 'ok', watchers: await listWatchers(ctx.db, escalationId) };
}
