/**
 * Identity verification for the widget: the host signs its user id with the bot's identity
 * secret, hex(HMAC-SHA256(secret, userId)), and the widget sends both when it opens a session.
 *
 * - The secret is 32 random bytes (as `kcid_` + base64url; the HMAC key is that whole string's
 *   UTF-8, which is what `crypto.createHmac('sha256', secret)` uses on the host), stored
 *   encrypted like every tenant secret and shown once, when a rotation makes it.
 * - A bot has none until its first rotation: nobody could sign with a secret never shown.
 * - After a rotation the previous secret verifies until WIDGET.identityGraceMs has passed.
 * - Hashes are compared in constant time.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Actor, ServiceContext } from '../../context';
import { botIdentitySecrets } from '../../db/schema';
import { decryptSecret, encryptSecret, maskSecret, type SecretEnvelope } from '../../lib/secrets';
import { randomToken } from '../../lib/ids';
import { timingSafeEqual, toHex } from '../../lib/crypto';
import { WIDGET } from '../../limits';
import { auditInsert } from '../audit/service';
import { getBot } from '../bots/service';

export const IDENTITY_SECRET_PREFIX = 'kcid_';

const aad = (orgId: string, botId: string) => `org:${orgId}:bot:${botId}:identity-secret`;

export async function identityHash(secret: string, userId: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return toHex(new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(userId))));
}

export interface IdentitySecretInfo {
  configured: boolean;
  masked: string | null;
  createdAt: number | null;
  rotatedAt: number | null;
  /** Until when the previous secret still verifies; null when there is none (or its grace is over). */
  previousValidUntil: number | null;
}

export async function identitySecretInfo(ctx: ServiceContext, orgId: string, botId: string): Promise<IdentitySecretInfo | null> {
  if (!(await getBot(ctx.db, orgId, botId))) return null;
  const row = await ctx.db
    .select()
    .from(botIdentitySecrets)
    .where(and(eq(botIdentitySecrets.orgId, orgId), eq(botIdentitySecrets.botId, botId)))
    .get();
  if (!row) return { configured: false, masked: null, createdAt: null, rotatedAt: null, previousValidUntil: null };
  const secret = await decryptSecret(ctx.config, row.secret, aad(orgId, botId), 'identity_secret');
  const now = ctx.clock.now();
  return {
    configured: true,
    masked: maskSecret(secret),
    createdAt: row.createdAt,
    rotatedAt: row.rotatedAt,
    previousValidUntil: row.previousSecret && row.previousValidUntil !== null && row.previousValidUntil > now ? row.previousValidUntil : null,
  };
}

/**
 * Makes a new secret (the bot's first, or a rotation keeping the current one as `previous` for the
 * grace period) in one upsert, so two concurrent rotations never lose the secret a host deployed.
 * Returns the new secret in full: the only time it is shown.
 */
export async function rotateIdentitySecret(
  ctx: ServiceContext,
  actor: Actor,
  orgId: string,
  botId: string,
): Promise<{ secret: string; rotatedAt: number; previousValidUntil: number | null } | null> {
  if (!(await getBot(ctx.db, orgId, botId))) return null;
  const secret = IDENTITY_SECRET_PREFIX + randomToken(32);
  const envelope: SecretEnvelope = await encryptSecret(ctx.config, secret, aad(orgId, botId));
  const now = ctx.clock.now();
  const graceUntil = now + WIDGET.identityGraceMs;
  const [written] = await ctx.db.batch([
    ctx.db
      .insert(botIdentitySecrets)
      .values({ botId, orgId, secret: envelope, previousSecret: null, previousValidUntil: null, createdAt: now, rotatedAt: now })
      .onConflictDoUpdate({
        target: botIdentitySecrets.botId,
        set: {
          // Unqualified in SQLite's DO UPDATE: these read the row as it was before this statement.
          previousSecret: sql.raw('"secret"'),
          previousValidUntil: graceUntil,
          secret: sql.raw('excluded."secret"'),
          rotatedAt: now,
        },
        where: eq(botIdentitySecrets.orgId, orgId),
      })
      .returning({ previousValidUntil: botIdentitySecrets.previousValidUntil }),
    auditInsert(ctx.db, ctx.clock, ctx.meta, { orgId, actor, action: 'bot.identity_secret.rotate', target: { type: 'bot', id: botId } }),
  ]);
  return { secret, rotatedAt: now, previousValidUntil: written[0]?.previousValidUntil ?? null };
}

/** True when `hash` is the host's signature of `userId` under the bot's current secret, or its previous one within the grace period. */
export async function verifyIdentity(ctx: ServiceContext, orgId: string, botId: string, userId: string, hash: string): Promise<boolean> {
  const row = await ctx.db
    .select()
    .from(botIdentitySecrets)
    .where(and(eq(botIdentitySecrets.orgId, orgId), eq(botIdentitySecrets.botId, botId)))
    .get();
  if (!row) return false;
  const given = hash.toLowerCase();
  const candidates = [row.secret];
  if (row.previousSecret && row.previousValidUntil !== null && ctx.clock.now() < row.previousValidUntil) candidates.push(row.previousSecret);
  let ok = false;
  // Every candidate is computed and compared, so the answer's timing does not tell which secret matched.
  for (const envelope of candidates) {
    const secret = await decryptSecret(ctx.config, envelope, aad(orgId, botId), 'identity_secret');
    if (timingSafeEqual(await identityHash(secret, userId), given)) ok = true;
  }
  return ok;
}
