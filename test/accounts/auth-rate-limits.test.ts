import { env } from 'cloudflare:test';
/**
 * Register, login and password reset are limited per client IP (CF-Connecting-IP, which
 * Cloudflare's edge sets; never X-Forwarded-For). Responses advertise the quota with the
 * IETF RateLimit-Policy / RateLimit headers. The tests run with AUTH_RATE_LIMIT=1000, so
 * this checks the wiring; the 429 itself is specified by the rate limiter's own tests.
 */
import { describe, expect, it } from 'vitest';
import { call, createKey, register, uniqueEmail, PASSWORD } from '../support/api';

const policy = (name: string, quota: number) => `"${name}";q=${quota};w=60`;

describe('per-IP limits on the auth endpoints', () => {
  it('login answers carry the login policy and what is left, success or failure', async () => {
    const account = await register('limited');
    const ip = '198.51.100.20';
    const ok = await call('POST', '/api/v1/auth/login', { ip, body: { email: account.email, password: PASSWORD } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('ratelimit-policy')).toBe(policy('login', 1000));
    expect(ok.headers.get('ratelimit')).toMatch(/^"login";r=999;t=\d+$/);

    const failed = await call('POST', '/api/v1/auth/login', { ip, body: { email: account.email, password: 'wrong-password!!' } });
    expect(failed.status).toBe(401);
    expect(failed.headers.get('ratelimit')).toMatch(/^"login";r=998;t=\d+$/);
  });

  it('each IP has its own budget', async () => {
    const account = await register('limited-ips');
    await call('POST', '/api/v1/auth/login', { ip: '198.51.100.21', body: { email: account.email, password: PASSWORD } });
    const other = await call('POST', '/api/v1/auth/login', { ip: '198.51.100.22', body: { email: account.email, password: PASSWORD } });
    expect(other.headers.get('ratelimit')).toMatch(/^"login";r=999;/);
  });

  it('register and password reset have their own policies', async () => {
    const registered = await call('POST', '/api/v1/auth/register', {
      ip: '198.51.100.23',
      body: { email: uniqueEmail('limited-reg'), password: PASSWORD, name: 'Reg' },
    });
    expect(registered.status).toBe(201);
    expect(registered.headers.get('ratelimit-policy')).toBe(policy('register', 1000));

    const forgot = await call('POST', '/api/v1/auth/password/forgot', { ip: '198.51.100.23', body: { email: uniqueEmail('nobody') } });
    expect(forgot.headers.get('ratelimit-policy')).toBe(policy('password-reset', 1000));
    const reset = await call('POST', '/api/v1/auth/password/reset', { ip: '198.51.100.23', body: { token: 'x'.repeat(43), password: PASSWORD } });
    expect(reset.headers.get('ratelimit')).toMatch(/^"password-reset";r=998;/);
  });

  it('without CF-Connecting-IP there is no per-IP limit, and X-Forwarded-For does not count', async () => {
    const account = await register('unlimited');
    const plain = await call('POST', '/api/v1/auth/login', { body: { email: account.email, password: PASSWORD } });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('ratelimit')).toBeNull();
    expect(plain.headers.get('ratelimit-policy')).toBeNull();
    const forwarded = await call('POST', '/api/v1/auth/login', { headers: { 'x-forwarded-for': '203.0.113.99' }, body: { email: account.email, password: PASSWORD } });
    expect(forwarded.headers.get('ratelimit')).toBeNull();
  });
});

describe('per-key limits on the API', () => {
  it('API key requests carry the api-key policy; people are metered by their own per-user policy instead', async () => {
    const account = await register('metered');
    const key = await createKey(account, ['bots:read']);
    const byKey = await call('GET', '/api/v1/bots', { token: key });
    expect(byKey.headers.get('ratelimit-policy')).toMatch(/^"api-key";q=\d+;w=60$/);
    const byPerson = await call('GET', '/api/v1/bots', { token: account.token });
    expect(byPerson.headers.get('ratelimit-policy')).toMatch(/^"user";q=\d+;w=60$/);
  });

  it('a request to a collection path is metered once, not once per matching middleware', async () => {
    const account = await register('metered-once');
    const key = await createKey(account, ['bots:read']);
    const limiter = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`api-key:api-key:${await keyId(account, key)}`));
    await call('GET', '/api/v1/bots', { token: key });
    // The key's first request takes a single unit (no lease history yet); the probe takes one more.
    const probe = await limiter.consume({ limit: 1_000_000, windowSeconds: 60 });
    expect(1_000_000 - probe.remaining).toBe(2);
  });
});

async function keyId(account: { token: string }, secret: string) {
  const res = await call('GET', '/api/v1/api-keys', { token: account.token });
  return res.body.data.find((k: { prefix: string }) => secret.startsWith(k.prefix)).id as string;
}
