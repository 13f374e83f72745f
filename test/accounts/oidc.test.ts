import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { authenticateOidc } from '../../src/features/auth/oidc';
import { createDb } from '../../src/db/client';
import { parseConfig, OIDC_DEFAULT_ALGORITHMS } from '../../src/env';
import { systemClock } from '../../src/lib/clock';
import type { ServiceContext } from '../../src/context';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import worker from '../../src/index';
import type { Env } from '../../src/env';
import { expectProblem, register } from '../support/api';

const oidc = {
  issuer: 'https://idp.example.com/',
  jwksUrl: 'https://idp.example.com/.well-known/jwks.json',
  audience: 'kyrochat',
  algorithms: [...OIDC_DEFAULT_ALGORITHMS],
};

// Signing keys for the file: the Worker caches the issuer's JWKS like a real deployment would.
// RS512 is a key the issuer publishes but the default pinned algorithm list does not allow.
const rs256 = await generateKeyPair('RS256');
const rs512 = await generateKeyPair('RS512');
const keys = [
  { ...(await exportJWK(rs256.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' },
  { ...(await exportJWK(rs512.publicKey)), kid: 'k2', alg: 'RS512', use: 'sig' },
];

let subjects = 0;
/** A fresh IdP subject per call, so tests don't share links. */
const newSubject = () => `idp-user-${Date.now().toString(36)}-${subjects++}`;

interface SignOptions {
  issuer?: string;
  audience?: string;
  expiresIn?: string | null;
  subject?: string;
  alg?: 'RS256' | 'RS512';
}

async function identityProvider() {
  // The IdP's JWKS endpoint, served to jose's fetch instead of the network.
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input) => {
    const url = input instanceof Request ? input.url : String(input);
    if (url === oidc.jwksUrl) return Response.json({ keys });
    return new Response('not found', { status: 404 });
  });
  const sign = (claims: Record<string, unknown>, opts: SignOptions = {}) => {
    const alg = opts.alg ?? 'RS256';
    let jwt = new SignJWT(claims)
      .setProtectedHeader({ alg, kid: alg === 'RS256' ? 'k1' : 'k2' })
      .setIssuer(opts.issuer ?? oidc.issuer)
      .setAudience(opts.audience ?? oidc.audience)
      .setSubject(opts.subject ?? 'idp-user-1')
      .setIssuedAt();
    if (opts.expiresIn !== null) jwt = jwt.setExpirationTime(opts.expiresIn ?? '5m');
    return jwt.sign(alg === 'RS256' ? rs256.privateKey : rs512.privateKey);
  };
  return { sign };
}

function context(): ServiceContext {
  const config = parseConfig(env);
  if (!config.ok) throw new Error(config.problems.join('; '));
  return { db: createDb(env.DB), config: config.config, env, clock: systemClock, meta: { ip: null, userAgent: null }, waitUntil: () => {} };
}

const countUsers = async (email: string) =>
  (await env.DB.prepare('SELECT count(*) AS n FROM users WHERE email = ?').bind(email).first<{ n: number }>())!.n;

afterEach(() => vi.restoreAllMocks());

describe('external identity (OIDC JWTs verified against the issuer JWKS)', () => {
  it('links a verified email claim to the existing user, and remembers the link', async () => {
    const existing = await register('oidc-known');
    const idp = await identityProvider();
    const subject = newSubject();
    const result = await authenticateOidc(context(), oidc, await idp.sign({ email: existing.email.toUpperCase(), email_verified: true }, { subject }));
    expect(result).toMatchObject({ status: 'ok', user: { id: existing.userId } });
    const link = await env.DB.prepare('SELECT user_id FROM oidc_identities WHERE issuer = ? AND subject = ?').bind(oidc.issuer, subject).first();
    expect(link).toEqual({ user_id: existing.userId });
  });

  it('provisions a first-time person with a verified email as a verified user without an organization', async () => {
    const idp = await identityProvider();
    const result = await authenticateOidc(context(), oidc, await idp.sign({ email: 'newcomer@corp.example', email_verified: true, name: 'New Comer' }, { subject: newSubject() }));
    expect(result.status).toBe('ok');
    if (result.status !== 'ok') return;
    expect(result.user).toMatchObject({ email: 'newcomer@corp.example', name: 'New Comer', passwordHash: null });
    expect(result.user.emailVerifiedAt).not.toBeNull();
    const memberships = await env.DB.prepare('SELECT count(*) AS n FROM memberships WHERE user_id = ?').bind(result.user.id).first<{ n: number }>();
    expect(memberships!.n).toBe(0);
  });

  it('a missing email_verified claim is not verified: no link to the existing account, and no new account', async () => {
    const existing = await register('oidc-unverified-missing');
    const idp = await identityProvider();
    const ctx = context();
    const linking = await authenticateOidc(ctx, oidc, await idp.sign({ email: existing.email }, { subject: newSubject() }));
    expect(linking).toMatchObject({ status: 'rejected', code: 'oidc_email_unverified', forbidden: true });
    const provisioning = await authenticateOidc(ctx, oidc, await idp.sign({ email: 'nobody-yet@corp.example' }, { subject: newSubject() }));
    expect(provisioning).toMatchObject({ status: 'rejected', code: 'oidc_email_unverified' });
    expect(await countUsers('nobody-yet@corp.example')).toBe(0);
    expect(await countUsers(existing.email)).toBe(1);
    expect((await env.DB.prepare('SELECT count(*) AS n FROM oidc_identities WHERE user_id = ?').bind(existing.userId).first<{ n: number }>())!.n).toBe(0);
  });

  it('email_verified false (or a truthy non-boolean) is refused the same way', async () => {
    const existing = await register('oidc-unverified-false');
    const idp = await identityProvider();
    const ctx = context();
    for (const email_verified of [false, 'true', 1]) {
      const result = await authenticateOidc(ctx, oidc, await idp.sign({ email: existing.email, email_verified }, { subject: newSubject() }));
      expect(result, String(email_verified)).toMatchObject({ status: 'rejected', code: 'oidc_email_unverified' });
    }
    expect(await countUsers(existing.email)).toBe(1);
  });

  it('the (issuer, subject) link survives an email change at the IdP', async () => {
    const existing = await register('oidc-moves');
    const idp = await identityProvider();
    const ctx = context();
    const subject = newSubject();
    expect(await authenticateOidc(ctx, oidc, await idp.sign({ email: existing.email, email_verified: true }, { subject }))).toMatchObject({ status: 'ok', user: { id: existing.userId } });
    // The person changed their email at the IdP (not yet verified there): still the same user.
    const moved = await authenticateOidc(ctx, oidc, await idp.sign({ email: 'renamed@corp.example' }, { subject }));
    expect(moved).toMatchObject({ status: 'ok', user: { id: existing.userId } });
    expect(await countUsers('renamed@corp.example')).toBe(0);
  });

  it('a different subject claiming an already linked email is refused', async () => {
    const existing = await register('oidc-taken');
    const idp = await identityProvider();
    const ctx = context();
    expect((await authenticateOidc(ctx, oidc, await idp.sign({ email: existing.email, email_verified: true }, { subject: newSubject() }))).status).toBe('ok');
    const other = await authenticateOidc(ctx, oidc, await idp.sign({ email: existing.email, email_verified: true }, { subject: newSubject() }));
    expect(other).toMatchObject({ status: 'rejected', code: 'oidc_identity_conflict', forbidden: true });
  });

  it('a linked but deactivated account is refused with account_deactivated', async () => {
    const existing = await register('oidc-gone');
    const idp = await identityProvider();
    const ctx = context();
    const subject = newSubject();
    expect((await authenticateOidc(ctx, oidc, await idp.sign({ email: existing.email, email_verified: true }, { subject }))).status).toBe('ok');
    await env.DB.prepare("UPDATE users SET status = 'deactivated' WHERE id = ?").bind(existing.userId).run();
    expect(await authenticateOidc(ctx, oidc, await idp.sign({ email: existing.email, email_verified: true }, { subject }))).toMatchObject({
      status: 'rejected',
      code: 'account_deactivated',
      forbidden: true,
    });
  });

  it('refuses a token without exp', async () => {
    const idp = await identityProvider();
    const result = await authenticateOidc(context(), oidc, await idp.sign({ email: 'forever@corp.example', email_verified: true }, { expiresIn: null, subject: newSubject() }));
    expect(result).toMatchObject({ status: 'rejected', code: 'invalid_token', forbidden: false });
    expect(await countUsers('forever@corp.example')).toBe(0);
  });

  it('refuses an algorithm outside the pinned list even when the issuer publishes its key', async () => {
    const idp = await identityProvider();
    const result = await authenticateOidc(context(), oidc, await idp.sign({ email: 'rs512@corp.example', email_verified: true }, { alg: 'RS512', subject: newSubject() }));
    expect(result).toMatchObject({ status: 'rejected', code: 'invalid_token' });
    expect(await countUsers('rs512@corp.example')).toBe(0);
    // The same key type is fine once the operator allows it.
    const allowed = await authenticateOidc(context(), { ...oidc, algorithms: ['RS512'] }, await idp.sign({ email: 'rs512@corp.example', email_verified: true }, { alg: 'RS512', subject: newSubject() }));
    expect(allowed.status).toBe('ok');
  });

  it('never accepts alg none or HS256 (signed with the public key) as an identity token', async () => {
    await identityProvider();
    const ctx = context();
    const encode = (part: object) => btoa(JSON.stringify(part)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
    const now = Math.floor(Date.now() / 1000);
    const payload = { iss: oidc.issuer, aud: oidc.audience, sub: newSubject(), email: 'alg-none@corp.example', email_verified: true, iat: now, exp: now + 300 };
    const unsigned = `${encode({ alg: 'none' })}.${encode(payload)}.`;
    expect((await authenticateOidc(ctx, oidc, unsigned)).status).not.toBe('ok');
    // The classic confusion attack: HMAC keyed with the issuer's public key material.
    const hmacKey = new TextEncoder().encode(JSON.stringify(keys[0]));
    const confused = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(hmacKey);
    expect((await authenticateOidc(ctx, oidc, confused)).status).not.toBe('ok');
    expect(await countUsers('alg-none@corp.example')).toBe(0);
  });

  it('rejects a wrong audience, a wrong issuer and an expired token', async () => {
    const idp = await identityProvider();
    const ctx = context();
    const claims = { email: 'a@corp.example', email_verified: true };
    expect(await authenticateOidc(ctx, oidc, await idp.sign(claims, { audience: 'someone-else' }))).toMatchObject({ status: 'rejected', code: 'invalid_token' });
    expect(await authenticateOidc(ctx, oidc, await idp.sign(claims, { issuer: 'https://evil.example/' }))).toMatchObject({ status: 'rejected', code: 'invalid_token' });
    expect(await authenticateOidc(ctx, oidc, await idp.sign(claims, { expiresIn: '-1m' }))).toMatchObject({ status: 'rejected', code: 'invalid_token' });
    expect(await countUsers('a@corp.example')).toBe(0);
  });

  it('leaves our own HS256 tokens and garbage to the other authenticators', async () => {
    await identityProvider();
    const ctx = context();
    const ours = await new SignJWT({ sid: 'ses_x' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('x'.repeat(32)));
    expect((await authenticateOidc(ctx, oidc, ours)).status).toBe('not_oidc');
    expect((await authenticateOidc(ctx, oidc, 'not-a-jwt')).status).toBe('not_oidc');
  });
});

describe('POST /auth/oidc/token', () => {
  const oidcEnv = (): Env => ({ ...env, OIDC_ISSUER: oidc.issuer, OIDC_JWKS_URL: oidc.jwksUrl, OIDC_AUDIENCE: oidc.audience });
  async function exchange(idToken: string) {
    const ctx = createExecutionContext();
    const request = new Request('https://kc.test/api/v1/auth/oidc/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ idToken }),
    }) as Request<unknown, IncomingRequestCfProperties>;
    const res = await worker.fetch(request, oidcEnv(), ctx);
    await waitOnExecutionContext(ctx);
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  }

  it('answers an unverified email with a 403 problem, a token without exp with 401, and signs in a verified one', async () => {
    const idp = await identityProvider();
    const unverified = expectProblem(await exchange(await idp.sign({ email: 'route-unverified@corp.example' }, { subject: newSubject() })), 403, 'oidc_email_unverified');
    expect(unverified.detail).toContain('email_verified');
    expectProblem(await exchange(await idp.sign({ email: 'route-forever@corp.example', email_verified: true }, { subject: newSubject(), expiresIn: null })), 401, 'invalid_token');
    expect(await countUsers('route-unverified@corp.example')).toBe(0);
    const ok = await exchange(await idp.sign({ email: 'route-verified@corp.example', email_verified: true }, { subject: newSubject() }));
    expect(ok.status).toBe(200);
    expect(ok.body.user).toMatchObject({ email: 'route-verified@corp.example', emailVerified: true });
  });
});
