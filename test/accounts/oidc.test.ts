import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { authenticateOidc } from '../../src/features/auth/oidc';
import { createDb } from '../../src/db/client';
import { parseConfig } from '../../src/env';
import { systemClock } from '../../src/lib/clock';
import type { ServiceContext } from '../../src/context';
import { register } from '../support/api';

const oidc = { issuer: 'https://idp.example.com/', jwksUrl: 'https://idp.example.com/.well-known/jwks.json', audience: 'kyrochat' };

// One signing key for the file: the Worker caches the issuer's JWKS like a real deployment would.
const { publicKey, privateKey } = await generateKeyPair('RS256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };

async function identityProvider() {
  // The IdP's JWKS endpoint, served to jose's fetch instead of the network.
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input) => {
    const url = input instanceof Request ? input.url : String(input);
    if (url === oidc.jwksUrl) return Response.json({ keys: [jwk] });
    return new Response('not found', { status: 404 });
  });
  const sign = (claims: Record<string, unknown>, opts: { issuer?: string; audience?: string; expiresIn?: string } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(opts.issuer ?? oidc.issuer)
      .setAudience(opts.audience ?? oidc.audience)
      .setSubject('idp-user-1')
      .setIssuedAt()
      .setExpirationTime(opts.expiresIn ?? '5m')
      .sign(privateKey);
  return { sign };
}

function context(): ServiceContext {
  const config = parseConfig(env);
  if (!config.ok) throw new Error(config.problems.join('; '));
  return { db: createDb(env.DB), config: config.config, env, clock: systemClock, meta: { ip: null, userAgent: null }, waitUntil: () => {} };
}

afterEach(() => vi.restoreAllMocks());

describe('external identity (OIDC JWTs verified against the issuer JWKS)', () => {
  it('maps a verified email claim to the existing user', async () => {
    const existing = await register('oidc-known');
    const idp = await identityProvider();
    const result = await authenticateOidc(context(), oidc, await idp.sign({ email: existing.email.toUpperCase(), email_verified: true }));
    expect(result).toMatchObject({ status: 'ok', user: { id: existing.userId } });
  });

  it('provisions a first-time person as a verified user without an organization', async () => {
    const idp = await identityProvider();
    const result = await authenticateOidc(context(), oidc, await idp.sign({ email: 'newcomer@corp.example', name: 'New Comer' }));
    expect(result.status).toBe('ok');
    if (result.status !== 'ok') return;
    expect(result.user).toMatchObject({ email: 'newcomer@corp.example', name: 'New Comer', passwordHash: null });
    expect(result.user.emailVerifiedAt).not.toBeNull();
    const memberships = await env.DB.prepare('SELECT count(*) AS n FROM memberships WHERE user_id = ?').bind(result.user.id).first<{ n: number }>();
    expect(memberships!.n).toBe(0);
  });

  it('rejects a wrong audience, a wrong issuer, an expired token and an unverified email', async () => {
    const idp = await identityProvider();
    const ctx = context();
    expect((await authenticateOidc(ctx, oidc, await idp.sign({ email: 'a@corp.example' }, { audience: 'someone-else' }))).status).toBe('rejected');
    expect((await authenticateOidc(ctx, oidc, await idp.sign({ email: 'a@corp.example' }, { issuer: 'https://evil.example/' }))).status).toBe('rejected');
    expect((await authenticateOidc(ctx, oidc, await idp.sign({ email: 'a@corp.example' }, { expiresIn: '-1m' }))).status).toBe('rejected');
    expect((await authenticateOidc(ctx, oidc, await idp.sign({ email: 'a@corp.example', email_verified: false }))).status).toBe('rejected');
    expect((await authenticateOidc(ctx, oidc, await idp.sign({ sub: 'no-email' }))).status).toBe('rejected');
  });

  it('leaves our own HS256 tokens and garbage to the other authenticators', async () => {
    await identityProvider();
    const ctx = context();
    const ours = await new SignJWT({ sid: 'ses_x' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('x'.repeat(32)));
    expect((await authenticateOidc(ctx, oidc, ours)).status).toBe('not_oidc');
    expect((await authenticateOidc(ctx, oidc, 'not-a-jwt')).status).toBe('not_oidc');
  });
});
