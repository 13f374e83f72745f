/**
 * Actions: CRUD (org-scoped, audited, unique names, guarded revisions), their runs, the tools a
 * bot offers in a chat turn, and confirmations that pause a turn until a person decides.
 */
import { and, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Actor, ServiceContext } from '../../context';
import { actionConfirmations, actionRuns, actions, bots, type ActionType } from '../../db/schema';
import { insertRowWhere } from '../../db/client';
import { newId } from '../../lib/ids';
import { ACTIONS } from '../../limits';
import { auditInsertIfChanged } from '../audit/service';
import { BUILTIN_PARAMETERS, definitionProblems, isBuiltin, type ActionDefinition, type DefinitionProblem, type EmailConfig, type HttpConfig } from './definition';
import type { ToolDefinition } from '../../ai/chat-model';

export type ActionRow = typeof actions.$inferSelect;
export type ActionRunRow = typeof actionRuns.$inferSelect;
export type ConfirmationRow = typeof actionConfirmations.$inferSelect;

export interface ActionInput {
  name: string;
  description: string;
  type: ActionType;
  parameters?: Record<string, unknown>;
  http?: HttpConfig;
  email?: EmailConfig;
  botIds?: string[];
  needsConfirmation?: boolean;
  enabled?: boolean;
}

export type ActionPatch = Partial<Omit<ActionInput, 'type'>>;

export function toActionDto(row: ActionRow) {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    type: row.type,
    parameters: row.parameters,
    http: row.type === 'http' ? (row.config as unknown as HttpConfig) : null,
    email: row.type === 'email' ? (row.config as unknown as EmailConfig) : null,
    botIds: row.botIds,
    needsConfirmation: row.needsConfirmation,
    enabled: row.enabled,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
}

export function toRunDto(row: ActionRunRow) {
  return {
    id: row.id,
    actionId: row.actionId,
    actionName: row.actionName,
    source: row.source,
    botId: row.botId,
    conversationId: row.conversationId,
    messageId: row.messageId,
    status: row.status,
    latencyMs: row.latencyMs,
    request: row.request ?? null,
    response: row.response ?? null,
    error: row.error,
    createdAt: new Date(row.createdAt).toISOString(),
  };
}

export type SaveResult =
  | { status: 'saved'; row: ActionRow }
  | { status: 'invalid'; problems: DefinitionProblem[] }
  | { status: 'name_taken' }
  | { status: 'too_many' }
  | { status: 'not_found' }
  | { status: 'precondition_failed' }
  | { status: 'conflict' };

function definitionOf(input: { name: string; description: string; type: ActionType; parameters?: Record<string, unknown>; http?: HttpConfig | null; email?: EmailConfig | null }): ActionDefinition {
  return {
    name: input.name,
    description: input.description,
    type: input.type,
    parameters: isBuiltin(input.type) ? BUILTIN_PARAMETERS[input.type] : (input.parameters ?? { type: 'object', properties: {} }),
    http: input.type === 'http' ? (input.http ?? null) : null,
    email: input.type === 'email' ? (input.email ?? null) : null,
  };
}

/** Field problems the definition and the bot list have; the caller answers 422 with them. */
async function problemsOf(ctx: ServiceContext, orgId: string, def: ActionDefinition, input: { parameters?: unknown; http?: unknown; email?: unknown }, botIds: string[]) {
  const problems = definitionProblems(def, ctx.config.egress);
  if (isBuiltin(def.type) && input.parameters !== undefined) problems.push({ path: 'parameters', message: `${def.type} has fixed parameters`, code: 'invalid' });
  if (def.type !== 'http' && input.http !== undefined && input.http !== null) problems.push({ path: 'http', message: `Only for type http`, code: 'invalid' });
  if (def.type !== 'email' && input.email !== undefined && input.email !== null) problems.push({ path: 'email', message: `Only for type email`, code: 'invalid' });
  const unique = [...new Set(botIds)];
  if (unique.length > 0) {
    const found = await ctx.db.select({ id: bots.id }).from(bots).where(and(eq(bots.orgId, orgId), inArray(bots.id, unique)));
    const known = new Set(found.map((b) => b.id));
    for (const id of unique) if (!known.has(id)) problems.push({ path: 'botIds', message: `No bot ${id} in this organization`, code: 'unknown_bot' });
  }
  return problems;
}

const configOf = (def: ActionDefinition): Record<string, unknown> => (def.http ?? def.email ?? {}) as unknown as Record<string, unknown>;

const isUniqueViolation = (error: unknown) => error instanceof Error && /UNIQUE constraint failed/i.test(`${error.message} ${(error as { cause?: Error }).cause?.message ?? ''}`);

export async function createAction(ctx: ServiceContext, actor: Actor, orgId: string, input: ActionInput): Promise<SaveResult> {
  const def = definitionOf(input);
  const botIds = [...new Set(input.botIds ?? [])];
  const problems = await problemsOf(ctx, orgId, def, input, botIds);
  if (problems.length > 0) return { status: 'invalid', problems };
  const now = ctx.clock.now();
  const row: ActionRow = {
    id: newId('act', ctx.clock),
    orgId,
    name: def.name,
    description: def.description,
    type: def.type,
    config: configOf(def),
    parameters: def.parameters,
    botIds,
    needsConfirmation: input.needsConfirmation ?? false,
    enabled: input.enabled ?? true,
    revision: 1,
    createdAt: now,
    updatedAt: now,
  };
  // The per-org cap is part of the insert's guard, so two creates cannot both pass a stale count.
  const underCap = sql`(SELECT count(*) FROM actions WHERE org_id = ${orgId}) < ${ACTIONS.maxPerOrg}`;
  try {
    const [inserted] = await ctx.db.batch([
      insertRowWhere(ctx.db, actions, row, underCap).returning({ id: actions.id }),
      auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, { orgId, actor, action: 'action.create', target: { type: 'action', id: row.id }, metadata: { name: row.name, type: row.type } }),
    ]);
    if (inserted.length === 0) return { status: 'too_many' };
  } catch (error) {
    if (isUniqueViolation(error)) return { status: 'name_taken' };
    throw error;
  }
  return { status: 'saved', row };
}

export async function getAction(ctx: ServiceContext, orgId: string, id: string): Promise<ActionRow | null> {
  return (await ctx.db.select().from(actions).where(and(eq(actions.orgId, orgId), eq(actions.id, id))).get()) ?? null;
}

export async function listActions(ctx: ServiceContext, orgId: string, cursor: string | null, limit: number) {
  const conditions = [eq(actions.orgId, orgId)];
  if (cursor) conditions.push(lt(actions.id, cursor));
  return ctx.db.select().from(actions).where(and(...conditions)).orderBy(desc(actions.id)).limit(limit + 1);
}

/**
 * Merges the patch with the stored action, checks the merged definition as a whole (a new
 * parameters schema must still declare every argument the templates use), then writes it with a
 * guarded UPDATE on the revision it read: a concurrent edit is a conflict, never a lost update.
 */
export async function updateAction(ctx: ServiceContext, actor: Actor, orgId: string, id: string, patch: ActionPatch, ifMatch?: number[]): Promise<SaveResult> {
  const current = await getAction(ctx, orgId, id);
  if (!current) return { status: 'not_found' };
  if (ifMatch && !ifMatch.includes(current.revision)) return { status: 'precondition_failed' };
  const def = definitionOf({
    name: patch.name ?? current.name,
    description: patch.description ?? current.description,
    type: current.type,
    parameters: patch.parameters ?? current.parameters,
    http: patch.http ?? (current.type === 'http' ? (current.config as unknown as HttpConfig) : null),
    email: patch.email ?? (current.type === 'email' ? (current.config as unknown as EmailConfig) : null),
  });
  const botIds = patch.botIds ? [...new Set(patch.botIds)] : current.botIds;
  const problems = await problemsOf(ctx, orgId, def, patch, patch.botIds ? botIds : []);
  if (problems.length > 0) return { status: 'invalid', problems };
  const now = ctx.clock.now();
  try {
    const [updated] = await ctx.db.batch([
      ctx.db
        .update(actions)
        .set({
          name: def.name,
          description: def.description,
          parameters: def.parameters,
          config: configOf(def),
          botIds,
          needsConfirmation: patch.needsConfirmation ?? current.needsConfirmation,
          enabled: patch.enabled ?? current.enabled,
          revision: current.revision + 1,
          updatedAt: now,
        })
        .where(and(eq(actions.orgId, orgId), eq(actions.id, id), eq(actions.revision, current.revision)))
        .returning(),
      auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, { orgId, actor, action: 'action.update', target: { type: 'action', id }, metadata: { fields: Object.keys(patch) } }),
    ]);
    const row = updated[0];
    if (!row) {
      const again = await getAction(ctx, orgId, id);
      if (!again) return { status: 'not_found' };
      return ifMatch ? { status: 'precondition_failed' } : { status: 'conflict' };
    }
    return { status: 'saved', row };
  } catch (error) {
    if (isUniqueViolation(error)) return { status: 'name_taken' };
    throw error;
  }
}

export async function deleteAction(ctx: ServiceContext, actor: Actor, orgId: string, id: string): Promise<boolean> {
  const [deleted] = await ctx.db.batch([
    ctx.db.delete(actions).where(and(eq(actions.orgId, orgId), eq(actions.id, id))).returning({ id: actions.id }),
    // Recorded only when the DELETE removed the row (changes() = 1).
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, { orgId, actor, action: 'action.delete', target: { type: 'action', id } }),
  ]);
  return deleted.length > 0;
}

export async function listRuns(ctx: ServiceContext, orgId: string, actionId: string, cursor: string | null, limit: number) {
  const conditions = [eq(actionRuns.orgId, orgId), eq(actionRuns.actionId, actionId)];
  if (cursor) conditions.push(lt(actionRuns.id, cursor));
  return ctx.db.select().from(actionRuns).where(and(...conditions)).orderBy(desc(actionRuns.id)).limit(limit + 1);
}

/** The enabled actions a bot may call, at most ACTIONS.maxToolsPerTurn (oldest first: a stable tool list). */
export async function actionsForBot(ctx: ServiceContext, orgId: string, botId: string): Promise<ActionRow[]> {
  return ctx.db
    .select()
    .from(actions)
    .where(and(eq(actions.orgId, orgId), eq(actions.enabled, true), sql`EXISTS (SELECT 1 FROM json_each(${actions.botIds}) WHERE value = ${botId})`))
    .orderBy(actions.id)
    .limit(ACTIONS.maxToolsPerTurn);
}

export const toToolDefinition = (row: ActionRow): ToolDefinition => ({ name: row.name, description: row.description, parameters: row.parameters });

// --- confirmations --------------------------------------------------------------------------

export interface NewConfirmation {
  orgId: string;
  botId: string;
  conversationId: string;
  userMessageId: string;
  action: ActionRow;
  toolCallId: string;
  round: number;
  arguments: Record<string, unknown>;
}

export async function createConfirmation(ctx: ServiceContext, input: NewConfirmation): Promise<ConfirmationRow> {
  const now = ctx.clock.now();
  const row: ConfirmationRow = {
    id: newId('cfm', ctx.clock),
    orgId: input.orgId,
    botId: input.botId,
    conversationId: input.conversationId,
    userMessageId: input.userMessageId,
    actionId: input.action.id,
    actionName: input.action.name,
    toolCallId: input.toolCallId,
    round: input.round,
    arguments: input.arguments,
    status: 'pending',
    decidedBy: null,
    decidedAt: null,
    expiresAt: now + ACTIONS.confirmationTtlMs,
    createdAt: now,
  };
  await ctx.db.insert(actionConfirmations).values(row);
  return row;
}

export type DecideResult =
  | { status: 'decided'; confirmation: ConfirmationRow }
  | { status: 'not_found' }
  | { status: 'already_decided'; decision: string }
  | { status: 'expired' };

/**
 * Decides a pending confirmation once: the UPDATE only applies while it is still pending and not
 * expired, so of two deciders (a visitor and a member, or a double click) exactly one wins.
 */
export async function decideConfirmation(
  ctx: ServiceContext,
  where: { orgId: string; conversationId: string; confirmationId: string },
  approve: boolean,
  decidedBy: string,
): Promise<DecideResult> {
  const now = ctx.clock.now();
  const [row] = await ctx.db
    .update(actionConfirmations)
    .set({ status: approve ? 'approved' : 'rejected', decidedBy, decidedAt: now })
    .where(
      and(
        eq(actionConfirmations.orgId, where.orgId),
        eq(actionConfirmations.conversationId, where.conversationId),
        eq(actionConfirmations.id, where.confirmationId),
        eq(actionConfirmations.status, 'pending'),
        sql`${actionConfirmations.expiresAt} > ${now}`,
      ),
    )
    .returning();
  if (row) return { status: 'decided', confirmation: row };
  const current = await ctx.db
    .select()
    .from(actionConfirmations)
    .where(and(eq(actionConfirmations.orgId, where.orgId), eq(actionConfirmations.conversationId, where.conversationId), eq(actionConfirmations.id, where.confirmationId)))
    .get();
  if (!current) return { status: 'not_found' };
  if (current.status !== 'pending') return { status: 'already_decided', decision: current.status };
  return { status: 'expired' };
}
