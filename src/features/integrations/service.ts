/**
 * The integrations registry: an org's inbound webhook endpoints. Each has one action, the bot
 * (knowledge.*) or source (source.sync) it acts on, a random public slug and its own Standard
 * Webhooks secret, shown once (at creation and at each rotation) and stored encrypted.
 * Every query is scoped by org id; every change is audited in the same batch.
 */
import { and, desc, eq, lt, sql } from 'drizzle-orm';
import { integrations, type IntegrationAction } from '../../db/schema';
import type { Db } from '../../db/client';
import type { Actor, ServiceContext } from '../../context';
import { newId, randomToken } from '../../lib/ids';
import { decryptSecret, encryptSecret, maskSecret } from '../../lib/secrets';
import { INBOUND_WEBHOOKS } from '../../limits';
import { auditInsert, auditInsertIfChanged } from '../audit/service';
import { getBot } from '../bots/service';
import { getSource } from '../knowledge/sources';
import { liveSecrets, newWebhookSecret } from '../../lib/webhook-secret';

export type IntegrationRow = typeof integrations.$inferSelect;

export interface IntegrationInput {
  name: string;
  action: IntegrationAction;
  botId?: string | null;
  sourceId?: string | null;
  enabled?: boolean;
}

export const secretAad = (orgId: string, integrationId: string) => `org:${orgId}:integration:${integrationId}:signing-secret`;

/** The secrets that verify right now: the current one, and the previous one during its grace period. */
export async function verifyingSecrets(ctx: ServiceContext, row: IntegrationRow): Promise<string[]> {
  const aad = secretAad(row.orgId, row.id);
  const secrets: string[] = [];
  for (const envelope of liveSecrets(row, ctx.clock.now())) secrets.push(await decryptSecret(ctx.config, envelope, aad, 'integration_secret'));
  return secrets;
}

export async function currentSecret(ctx: ServiceContext, row: IntegrationRow): Promise<string> {
  return decryptSecret(ctx.config, row.secret, secretAad(row.orgId, row.id), 'integration_secret');
}

export async function toIntegrationDto(ctx: ServiceContext, row: IntegrationRow) {
  const now = ctx.clock.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    id: row.id,
    name: row.name,
    action: row.action,
    botId: row.botId,
    sourceId: row.sourceId,
    enabled: row.enabled,
    url: `/hooks/${row.slug}`,
    secret: {
      masked: maskSecret(await currentSecret(ctx, row)),
      rotatedAt: iso(row.secretRotatedAt),
      previousValidUntil: row.previousSecret && row.previousValidUntil !== null && row.previousValidUntil > now ? iso(row.previousValidUntil) : null,
    },
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

export async function listIntegrations(db: Db, orgId: string, cursor: string | null, limit: number) {
  const conditions = [eq(integrations.orgId, orgId)];
  if (cursor) conditions.push(lt(integrations.id, cursor));
  return db.select().from(integrations).where(and(...conditions)).orderBy(desc(integrations.id)).limit(limit + 1);
}

export async function getIntegration(db: Db, orgId: string, id: string): Promise<IntegrationRow | null> {
  return (await db.select().from(integrations).where(and(eq(integrations.orgId, orgId), eq(integrations.id, id))).get()) ?? null;
}

export async function integrationBySlug(db: Db, slug: string): Promise<IntegrationRow | null> {
  return (await db.select().from(integrations).where(eq(integrations.slug, slug)).get()) ?? null;
}

export type TargetProblem =
  | { status: 'bot_not_found' }
  | { status: 'source_not_found' }
  | { status: 'invalid'; errors: { path: string; message: string; code: string }[] };

/**
 * The action's targets must make sense together and belong to the org: knowledge.* needs a bot;
 * only source.sync takes a source (of the bot, when one is set). Another org's ids are not found.
 */
async function checkTargets(ctx: ServiceContext, orgId: string, t: { action: IntegrationAction; botId: string | null; sourceId: string | null }): Promise<TargetProblem | null> {
  if (t.action.startsWith('knowledge.') && !t.botId) {
    return { status: 'invalid', errors: [{ path: 'botId', message: `Required for ${t.action}: the bot whose knowledge it changes`, code: 'invalid_type' }] };
  }
  if (t.sourceId && t.action !== 'source.sync') {
    return { status: 'invalid', errors: [{ path: 'sourceId', message: 'Only source.sync acts on a source', code: 'custom' }] };
  }
  if (t.botId && !(await getBot(ctx.db, orgId, t.botId))) return { status: 'bot_not_found' };
  if (t.sourceId) {
    const source = await getSource(ctx.db, orgId, t.sourceId);
    if (!source || (t.botId && source.botId !== t.botId)) return { status: 'source_not_found' };
  }
  return null;
}

export type CreateResult = { status: 'created'; row: IntegrationRow; secret: string } | TargetProblem;

export async function createIntegration(ctx: ServiceContext, actor: Actor, orgId: string, input: IntegrationInput): Promise<CreateResult> {
  const targets = { action: input.action, botId: input.botId ?? null, sourceId: input.sourceId ?? null };
  const problem = await checkTargets(ctx, orgId, targets);
  if (problem) return problem;
  const now = ctx.clock.now();
  const id = newId('int', ctx.clock);
  const secret = newWebhookSecret();
  const row: IntegrationRow = {
    id,
    orgId,
    name: input.name,
    ...targets,
    enabled: input.enabled ?? true,
    slug: randomToken(INBOUND_WEBHOOKS.slugBytes),
    secret: await encryptSecret(ctx.config, secret, secretAad(orgId, id)),
    previousSecret: null,
    previousValidUntil: null,
    secretRotatedAt: now,
    revision: 1,
    createdBy: actor.kind === 'user' ? actor.userId : actor.keyId,
    createdAt: now,
    updatedAt: now,
  };
  await ctx.db.batch([
    ctx.db.insert(integrations).values(row),
    auditInsert(ctx.db, ctx.clock, ctx.meta, { orgId, actor, action: 'integration.create', target: { type: 'integration', id }, metadata: { name: row.name, ...targets } }),
  ]);
  return { status: 'created', row, secret };
}

export type UpdateResult = { status: 'updated'; row: IntegrationRow } | { status: 'not_found' } | { status: 'precondition_failed' } | TargetProblem;

/**
 * Writes only the given fields. The merged targets are checked against what is stored, and the
 * UPDATE is guarded by the revision that check read, so a concurrent change cannot slip a
 * combination past it; with If-Match the caller's revisions must match as well.
 */
export async function updateIntegration(
  ctx: ServiceContext,
  actor: Actor,
  orgId: string,
  id: string,
  patch: Partial<IntegrationInput>,
  ifMatch?: number[],
): Promise<UpdateResult> {
  const current = await getIntegration(ctx.db, orgId, id);
  if (!current) return { status: 'not_found' };
  if (ifMatch && !ifMatch.includes(current.revision)) return { status: 'precondition_failed' };
  const merged = {
    action: patch.action ?? current.action,
    botId: patch.botId !== undefined ? patch.botId : current.botId,
    sourceId: patch.sourceId !== undefined ? patch.sourceId : current.sourceId,
  };
  const problem = await checkTargets(ctx, orgId, merged);
  if (problem) return problem;
  const set: Partial<typeof integrations.$inferInsert> = { updatedAt: ctx.clock.now() };
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.action !== undefined) set.action = patch.action;
  if (patch.botId !== undefined) set.botId = patch.botId;
  if (patch.sourceId !== undefined) set.sourceId = patch.sourceId;
  if (patch.enabled !== undefined) set.enabled = patch.enabled;
  const [updated] = await ctx.db.batch([
    ctx.db
      .update(integrations)
      .set({ ...set, revision: sql`${integrations.revision} + 1` })
      .where(and(eq(integrations.orgId, orgId), eq(integrations.id, id), eq(integrations.revision, current.revision)))
      .returning(),
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, { orgId, actor, action: 'integration.update', target: { type: 'integration', id }, metadata: { ...patch } }),
  ]);
  const row = updated[0];
  // Someone else changed it between the read and the write: the same answer as a stale If-Match.
  return row ? { status: 'updated', row } : { status: 'precondition_failed' };
}

export async function deleteIntegration(ctx: ServiceContext, actor: Actor, orgId: string, id: string): Promise<boolean> {
  const [deleted] = await ctx.db.batch([
    ctx.db.delete(integrations).where(and(eq(integrations.orgId, orgId), eq(integrations.id, id))).returning({ id: integrations.id }),
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, { orgId, actor, action: 'integration.delete', target: { type: 'integration', id } }),
  ]);
  return deleted.length > 0;
}

/**
 * A new signing secret; the current one keeps verifying for INBOUND_WEBHOOKS.secretGraceMs. One
 * guarded UPDATE that moves `secret` to `previous_secret` in SQL, so two concurrent rotations
 * cannot lose the secret the sender has deployed.
 */
export async function rotateSecret(ctx: ServiceContext, actor: Actor, orgId: string, id: string) {
  if (!(await getIntegration(ctx.db, orgId, id))) return null;
  const secret = newWebhookSecret();
  const now = ctx.clock.now();
  const [updated] = await ctx.db.batch([
    ctx.db
      .update(integrations)
      .set({
        previousSecret: sql.raw('"secret"') as unknown as IntegrationRow['previousSecret'],
        previousValidUntil: now + INBOUND_WEBHOOKS.secretGraceMs,
        secret: await encryptSecret(ctx.config, secret, secretAad(orgId, id)),
        secretRotatedAt: now,
        updatedAt: now,
        revision: sql`${integrations.revision} + 1`,
      })
      .where(and(eq(integrations.orgId, orgId), eq(integrations.id, id)))
      .returning(),
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, { orgId, actor, action: 'integration.secret.rotate', target: { type: 'integration', id } }),
  ]);
  const row = updated[0];
  return row ? { row, secret } : null;
}

