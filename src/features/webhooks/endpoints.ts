/**
 * Webhook endpoints: where an org's events go. The URL passes the egress policy when it is saved
 * (and again before every request); outside development and tests it must be https unless the
 * operator allowlisted its host. The signing secret (`whsec_…`, Standard Webhooks format) is
 * encrypted at rest, returned once at creation or rotation, and masked everywhere else.
 */
import { liveSecrets, newWebhookSecret } from '../../lib/webhook-secret';
import { and, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import { webhookEndpoints } from '../../db/schema';
import { insertRowWhere, type Db } from '../../db/client';
import type { Actor, ServiceContext } from '../../context';
import { newId } from '../../lib/ids';
import { decryptSecret, encryptSecret, maskSecret, type SecretEnvelope } from '../../lib/secrets';
import { checkUrl } from '../../egress';
import { WEBHOOKS } from '../../limits';
import { auditInsertIfChanged } from '../audit/service';
import { getBot } from '../bots/service';
import { isValidEventFilter } from '../events/catalog';
import { forgetEndpointPresence } from '../events/outbox';

export type EndpointRow = typeof webhookEndpoints.$inferSelect;

export interface EndpointInput {
  url: string;
  description?: string;
  eventTypes: string[];
  botId?: string | null;
  enabled?: boolean;
}

export interface FieldProblem {
  path: string;
  message: string;
}

const secretAad = (orgId: string, endpointId: string) => `org:${orgId}:webhook:${endpointId}`;

export function toEndpointDto(row: EndpointRow) {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    eventTypes: row.eventTypes,
    botId: row.botId,
    enabled: row.enabled,
    disabledReason: row.disabledReason,
    disabledAt: row.disabledAt ? new Date(row.disabledAt).toISOString() : null,
    secret: row.secretHint,
    previousSecretValidUntil: row.previousValidUntil ? new Date(row.previousValidUntil).toISOString() : null,
    consecutiveFailures: row.consecutiveFailures,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
}

/** The URL rules; the reasons describe the tenant's own URL, so they are safe to show. */
export function urlProblem(ctx: ServiceContext, url: string): string | null {
  if (url.length > WEBHOOKS.maxUrlChars) return `At most ${WEBHOOKS.maxUrlChars} characters`;
  const check = checkUrl(url, ctx.config.egress);
  if (!check.ok) return check.refusal.reason;
  const local = ctx.config.environment !== 'production';
  if (check.url.protocol !== 'https:' && !local && !check.allowlisted) return 'Webhook URLs must use https.';
  if (check.url.hash) return 'A webhook URL has no #fragment.';
  return null;
}

async function inputProblems(ctx: ServiceContext, orgId: string, input: Partial<EndpointInput>): Promise<FieldProblem[]> {
  const problems: FieldProblem[] = [];
  if (input.url !== undefined) {
    const reason = urlProblem(ctx, input.url);
    if (reason) problems.push({ path: 'url', message: reason });
  }
  input.eventTypes?.forEach((pattern, i) => {
    if (!isValidEventFilter(pattern)) problems.push({ path: `eventTypes.${i}`, message: `Unknown event type "${pattern.slice(0, 100)}" (see GET /api/v1/webhooks/event-types)` });
  });
  // Another org's bot is as unknown as a missing one.
  if (input.botId && !(await getBot(ctx.db, orgId, input.botId))) problems.push({ path: 'botId', message: 'No such bot' });
  return problems;
}

export async function listEndpoints(db: Db, orgId: string, cursor: string | null, limit: number) {
  return db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.orgId, orgId), cursor ? lt(webhookEndpoints.id, cursor) : undefined))
    .orderBy(desc(webhookEndpoints.id))
    .limit(limit + 1);
}

export async function getEndpoint(db: Db, orgId: string, id: string): Promise<EndpointRow | null> {
  return (await db.select().from(webhookEndpoints).where(and(eq(webhookEndpoints.orgId, orgId), eq(webhookEndpoints.id, id))).get()) ?? null;
}

export type CreateEndpointResult =
  | { status: 'created'; row: EndpointRow; secret: string }
  | { status: 'invalid'; errors: FieldProblem[] }
  | { status: 'too_many' };

export async function createEndpoint(ctx: ServiceContext, actor: Actor, orgId: string, input: EndpointInput): Promise<CreateEndpointResult> {
  const errors = await inputProblems(ctx, orgId, input);
  if (errors.length) return { status: 'invalid', errors };
  const now = ctx.clock.now();
  const id = newId('whk', ctx.clock);
  const secret = newWebhookSecret();
  const row: EndpointRow = {
    id,
    orgId,
    url: input.url,
    description: input.description ?? '',
    eventTypes: [...new Set(input.eventTypes)],
    botId: input.botId ?? null,
    enabled: input.enabled ?? true,
    disabledReason: null,
    disabledAt: null,
    secret: await encryptSecret(ctx.config, secret, secretAad(orgId, id)),
    secretHint: maskSecret(secret),
    previousSecret: null,
    previousValidUntil: null,
    consecutiveFailures: 0,
    revision: 1,
    createdAt: now,
    updatedAt: now,
  };
  // The per-org cap is part of the insert's guard, so two concurrent creates cannot both pass it.
  const underCap = sql`(SELECT count(*) FROM webhook_endpoints WHERE org_id = ${orgId}) < ${WEBHOOKS.maxEndpointsPerOrg}`;
  const [inserted] = await ctx.db.batch([
    insertRowWhere(ctx.db, webhookEndpoints, row, underCap).returning({ id: webhookEndpoints.id }),
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, {
      orgId,
      actor,
      action: 'webhook.create',
      target: { type: 'webhook', id },
      metadata: { url: row.url, eventTypes: row.eventTypes },
    }),
  ]);
  if (inserted.length === 0) return { status: 'too_many' };
  forgetEndpointPresence(orgId);
  return { status: 'created', row, secret };
}

export type UpdateEndpointResult =
  | { status: 'updated'; row: EndpointRow }
  | { status: 'not_found' }
  | { status: 'precondition_failed' }
  | { status: 'invalid'; errors: FieldProblem[] };

export async function updateEndpoint(
  ctx: ServiceContext,
  actor: Actor,
  orgId: string,
  id: string,
  patch: Partial<EndpointInput>,
  ifMatch?: number[],
): Promise<UpdateEndpointResult> {
  const errors = await inputProblems(ctx, orgId, patch);
  if (errors.length) return { status: 'invalid', errors };
  const now = ctx.clock.now();
  const set: Partial<Record<keyof EndpointRow, unknown>> = { updatedAt: now, revision: sql`${webhookEndpoints.revision} + 1` };
  if (patch.url !== undefined) set.url = patch.url;
  if (patch.description !== undefined) set.description = patch.description;
  if (patch.eventTypes !== undefined) set.eventTypes = [...new Set(patch.eventTypes)];
  if (patch.botId !== undefined) set.botId = patch.botId;
  if (patch.enabled !== undefined) {
    set.enabled = patch.enabled;
    // Turning an endpoint (back) on starts its failure count afresh.
    if (patch.enabled) Object.assign(set, { disabledReason: null, disabledAt: null, consecutiveFailures: 0 });
    else Object.assign(set, { disabledReason: 'Disabled by a member.', disabledAt: now });
  }
  const conditions = [eq(webhookEndpoints.orgId, orgId), eq(webhookEndpoints.id, id)];
  if (ifMatch) conditions.push(inArray(webhookEndpoints.revision, ifMatch));
  const [updated] = await ctx.db.batch([
    ctx.db.update(webhookEndpoints).set(set as Partial<EndpointRow>).where(and(...conditions)).returning(),
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, {
      orgId,
      actor,
      action: 'webhook.update',
      target: { type: 'webhook', id },
      metadata: { fields: Object.keys(patch) },
    }),
  ]);
  const row = updated[0];
  if (row) {
    forgetEndpointPresence(orgId);
    return { status: 'updated', row };
  }
  return (await getEndpoint(ctx.db, orgId, id)) ? { status: 'precondition_failed' } : { status: 'not_found' };
}

export async function deleteEndpoint(ctx: ServiceContext, actor: Actor, orgId: string, id: string): Promise<boolean> {
  const [deleted] = await ctx.db.batch([
    ctx.db.delete(webhookEndpoints).where(and(eq(webhookEndpoints.orgId, orgId), eq(webhookEndpoints.id, id))).returning({ url: webhookEndpoints.url }),
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, { orgId, actor, action: 'webhook.delete', target: { type: 'webhook', id } }),
  ]);
  return deleted.length > 0;
}

export type RotateResult = { status: 'rotated'; row: EndpointRow; secret: string } | { status: 'not_found' };

/** A new secret signs from now on; the current one keeps signing alongside it for the grace period. */
export async function rotateSecret(ctx: ServiceContext, actor: Actor, orgId: string, id: string): Promise<RotateResult> {
  const current = await getEndpoint(ctx.db, orgId, id);
  if (!current) return { status: 'not_found' };
  const now = ctx.clock.now();
  const secret = newWebhookSecret();
  const [updated] = await ctx.db.batch([
    ctx.db
      .update(webhookEndpoints)
      .set({
        secret: await encryptSecret(ctx.config, secret, secretAad(orgId, id)),
        secretHint: maskSecret(secret),
        previousSecret: current.secret,
        previousValidUntil: now + WEBHOOKS.previousSecretGraceMs,
        revision: sql`${webhookEndpoints.revision} + 1`,
        updatedAt: now,
      })
      // Guarded on the secret read above: of two concurrent rotations one wins, and the old
      // secret the winner keeps is the one receivers really had.
      .where(and(eq(webhookEndpoints.orgId, orgId), eq(webhookEndpoints.id, id), eq(webhookEndpoints.secretHint, current.secretHint)))
      .returning(),
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, { orgId, actor, action: 'webhook.rotate_secret', target: { type: 'webhook', id } }),
  ]);
  const row = updated[0];
  if (!row) return rotateSecret(ctx, actor, orgId, id);
  return { status: 'rotated', row, secret };
}

/** The secrets that sign a request now: the current one, and the previous one during its grace period. */
export async function signingSecrets(ctx: ServiceContext, row: EndpointRow, now: number): Promise<string[]> {
  const aad = secretAad(row.orgId, row.id);
  const secrets: string[] = [];
  for (const envelope of liveSecrets(row, now)) secrets.push(await decryptSecret(ctx.config, envelope as SecretEnvelope, aad, 'webhook secret'));
  return secrets;
}
