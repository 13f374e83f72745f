/**
 * External identity: JWTs from a configured OIDC issuer, verified against its JWKS with jose.
 *
 * - Only the configured asymmetric algorithms are accepted (OIDC_ALGORITHMS), and `exp` and
 *   `sub` are required: a token that never expires is a password that never changes.
 * - The person is the (issuer, subject) pair. Once linked, it maps to the same user whatever
 *   email the IdP reports later.
 * - A first sign-in links by email only when the IdP says `email_verified: true` (a missing
 *   claim is not a yes). An unverified email is refused outright, whether or not an account
 *   has that address: linking would hand an account to whoever typed its email at some IdP,
 *   and provisioning would squat the address before its owner registers. Nothing is created.
 * - A user links to one subject per issuer: another subject claiming the same email is refused.
 * A first-time person is provisioned as a user without organization; they join one by
 * invitation or create one.
 */
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader, type JWTPayload } from 'jose';
import { and, eq } from 'drizzle-orm';
import { oidcIdentities, users } from '../../db/schema';
import type { ServiceContext } from '../../context';
import type { Config } from '../../env';
import { newId } from '../../lib/ids';
import { OIDC_JWKS_CACHE_MAX_AGE_MS, OIDC_JWKS_COOLDOWN_MS } from '../../limits';
import { auditInsert } from '../audit/service';
import { normalizeEmail, type UserRow } from './service';

type OidcSettings = NonNullable<Config['oidc']>;

const jwksCache = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
function jwksFor(url: string) {
  let jwks = jwksCache.get(url);
  if (!jwks) {
    jwks = createRemoteJWKSet(new URL(url), { cooldownDuration: OIDC_JWKS_COOLDOWN_MS, cacheMaxAge: OIDC_JWKS_CACHE_MAX_AGE_MS });
    jwksCache.set(url, jwks);
  }
  return jwks;
}

/** Why a token was refused; `forbidden` ones proved who they are but may not have this account. */
export type OidcRejection =
  | { code: 'invalid_token'; forbidden: false }
  | { code: 'oidc_email_unverified'; forbidden: true }
  | { code: 'oidc_identity_conflict'; forbidden: true }
  | { code: 'account_deactivated'; forbidden: true };

export type OidcResult =
  | { status: 'ok'; user: UserRow }
  | { status: 'not_oidc' }
  | ({ status: 'rejected'; reason: string } & OidcRejection);

const rejected = (code: OidcRejection['code'], reason: string): OidcResult =>
  ({ status: 'rejected', code, forbidden: code !== 'invalid_token', reason }) as OidcResult;

export async function authenticateOidc(ctx: ServiceContext, oidc: OidcSettings, token: string): Promise<OidcResult> {
  try {
    // Our own access tokens are HS256: leave them (and anything unsigned) to the other authenticators.
    const header = decodeProtectedHeader(token);
    if (!header.alg || header.alg.startsWith('HS')) return { status: 'not_oidc' };
  } catch {
    return { status: 'not_oidc' };
  }
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(token, jwksFor(oidc.jwksUrl), {
      issuer: oidc.issuer,
      audience: oidc.audience,
      algorithms: oidc.algorithms,
      requiredClaims: ['exp', 'sub'],
    }));
  } catch (err) {
    return rejected('invalid_token', `The identity token was rejected (${(err as Error).name ?? 'invalid'}).`);
  }
  const subject = claims.sub!;

  const linked = await ctx.db
    .select({ user: users })
    .from(oidcIdentities)
    .innerJoin(users, eq(users.id, oidcIdentities.userId))
    .where(and(eq(oidcIdentities.issuer, oidc.issuer), eq(oidcIdentities.subject, subject)))
    .get();
  if (linked) return activeOnly(linked.user);

  if (typeof claims.email !== 'string' || claims.email_verified !== true) {
    return rejected('oidc_email_unverified', 'The identity provider has not verified this email address (email_verified must be true).');
  }
  const email = normalizeEmail(claims.email);
  const existing = await ctx.db.select().from(users).where(eq(users.email, email)).get();
  if (existing) return linkExisting(ctx, oidc, subject, existing);
  return provision(ctx, oidc, subject, email, claims);
}

function activeOnly(user: UserRow): OidcResult {
  return user.status === 'active' ? { status: 'ok', user } : rejected('account_deactivated', 'This account is deactivated.');
}

const identityConflict = () =>
  rejected('oidc_identity_conflict', 'This account is already linked to another identity at this issuer.');

function linkRow(ctx: ServiceContext, oidc: OidcSettings, subject: string, userId: string) {
  return { id: newId('idn', ctx.clock), issuer: oidc.issuer, subject, userId, createdAt: ctx.clock.now() };
}

async function linkExisting(ctx: ServiceContext, oidc: OidcSettings, subject: string, user: UserRow): Promise<OidcResult> {
  if (user.status !== 'active') return activeOnly(user);
  try {
    await ctx.db.batch([
      ctx.db.insert(oidcIdentities).values(linkRow(ctx, oidc, subject, user.id)),
      auditInsert(ctx.db, ctx.clock, ctx.meta, {
        orgId: null,
        actor: { kind: 'system' },
        action: 'auth.oidc_link',
        target: { type: 'user', id: user.id },
        metadata: { issuer: oidc.issuer, subject },
      }),
    ]);
    return { status: 'ok', user };
  } catch (err) {
    if (!String(err).includes('UNIQUE')) throw err;
    // Either this user already has another subject at this issuer, or a concurrent first
    // sign-in of the same subject linked it a moment ago.
    return (await sameSubjectLinkedTo(ctx, oidc, subject)) === user.id ? { status: 'ok', user } : identityConflict();
  }
}

async function sameSubjectLinkedTo(ctx: ServiceContext, oidc: OidcSettings, subject: string) {
  const row = await ctx.db
    .select({ userId: oidcIdentities.userId })
    .from(oidcIdentities)
    .where(and(eq(oidcIdentities.issuer, oidc.issuer), eq(oidcIdentities.subject, subject)))
    .get();
  return row?.userId ?? null;
}

async function provision(ctx: ServiceContext, oidc: OidcSettings, subject: string, email: string, claims: JWTPayload): Promise<OidcResult> {
  const now = ctx.clock.now();
  const user: UserRow = {
    id: newId('usr', ctx.clock),
    email,
    name: typeof claims.name === 'string' && claims.name.trim() ? claims.name.trim().slice(0, 120) : email.split('@')[0]!,
    passwordHash: null,
    emailVerifiedAt: now,
    status: 'active',
    createdAt: now,
    updatedAt: now,
  };
  try {
    await ctx.db.batch([
      ctx.db.insert(users).values(user),
      ctx.db.insert(oidcIdentities).values(linkRow(ctx, oidc, subject, user.id)),
      auditInsert(ctx.db, ctx.clock, ctx.meta, {
        orgId: null,
        actor: { kind: 'system' },
        action: 'auth.oidc_provision',
        target: { type: 'user', id: user.id },
        metadata: { issuer: oidc.issuer, subject },
      }),
    ]);
    return { status: 'ok', user };
  } catch (err) {
    // A concurrent first request provisioned the same person (or registered the email).
    if (!String(err).includes('UNIQUE')) throw err;
    const linkedTo = await sameSubjectLinkedTo(ctx, oidc, subject);
    if (linkedTo) {
      const raced = await ctx.db.select().from(users).where(eq(users.id, linkedTo)).get();
      if (raced) return activeOnly(raced);
    }
    const byEmail = await ctx.db.select().from(users).where(eq(users.email, email)).get();
    return byEmail ? linkExisting(ctx, oidc, subject, byEmail) : rejected('invalid_token', 'Could not provision the user.');
  }
}
