/**
 * External identity: JWTs from a configured OIDC issuer, verified against its JWKS with jose
 * and mapped to a KyroChat user by their (verified) email claim. A first-time person is
 * provisioned as a user without organization; they join one by invitation or create one.
 */
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import { eq } from 'drizzle-orm';
import { users } from '../../db/schema';
import type { ServiceContext } from '../../context';
import { newId } from '../../lib/ids';
import { OIDC_JWKS_CACHE_MAX_AGE_MS, OIDC_JWKS_COOLDOWN_MS } from '../../limits';
import { auditInsert } from '../audit/service';
import { normalizeEmail, type UserRow } from './service';

const jwksCache = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
function jwksFor(url: string) {
  let jwks = jwksCache.get(url);
  if (!jwks) {
    jwks = createRemoteJWKSet(new URL(url), { cooldownDuration: OIDC_JWKS_COOLDOWN_MS, cacheMaxAge: OIDC_JWKS_CACHE_MAX_AGE_MS });
    jwksCache.set(url, jwks);
  }
  return jwks;
}

export type OidcResult =
  | { status: 'ok'; user: UserRow }
  | { status: 'not_oidc' }
  | { status: 'rejected'; reason: string };

export async function authenticateOidc(
  ctx: ServiceContext,
  oidc: { issuer: string; jwksUrl: string; audience: string },
  token: string,
): Promise<OidcResult> {
  try {
    const header = decodeProtectedHeader(token);
    if (!header.alg || header.alg.startsWith('HS')) return { status: 'not_oidc' };
  } catch {
    return { status: 'not_oidc' };
  }
  let claims;
  try {
    ({ payload: claims } = await jwtVerify(token, jwksFor(oidc.jwksUrl), { issuer: oidc.issuer, audience: oidc.audience }));
  } catch (err) {
    return { status: 'rejected', reason: `The identity token was rejected (${(err as Error).name ?? 'invalid'}).` };
  }
  if (typeof claims.email !== 'string' || claims.email_verified === false) {
    return { status: 'rejected', reason: 'The identity token carries no verified email claim.' };
  }
  const email = normalizeEmail(claims.email);
  const existing = await ctx.db.select().from(users).where(eq(users.email, email)).get();
  if (existing) {
    return existing.status === 'active' ? { status: 'ok', user: existing } : { status: 'rejected', reason: 'This account is deactivated.' };
  }
  const now = ctx.clock.now();
  const user: UserRow = {
    id: newId('usr', ctx.clock),
    email,
    name: typeof claims.name === 'string' ? claims.name.slice(0, 120) : email.split('@')[0]!,
    passwordHash: null,
    emailVerifiedAt: now,
    status: 'active',
    createdAt: now,
    updatedAt: now,
  };
  try {
    await ctx.db.batch([
      ctx.db.insert(users).values(user),
      auditInsert(ctx.db, ctx.clock, ctx.meta, {
        orgId: null,
        actor: { kind: 'system' },
        action: 'auth.oidc_provision',
        target: { type: 'user', id: user.id },
        metadata: { issuer: oidc.issuer, subject: claims.sub ?? null },
      }),
    ]);
    return { status: 'ok', user };
  } catch (err) {
    // A concurrent first request provisioned the same person.
    if (!String(err).includes('UNIQUE')) throw err;
    const raced = await ctx.db.select().from(users).where(eq(users.email, email)).get();
    return raced ? { status: 'ok', user: raced } : { status: 'rejected', reason: 'Could not provision the user.' };
  }
}
