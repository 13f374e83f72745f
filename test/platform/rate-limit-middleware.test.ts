import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { errorToResponse } from '../../src/app';
import { createRouter } from '../../src/http/router';
import { requestId } from '../../src/http/middleware/request-context';
import { clientIp, rateLimit, type RateLimitOptions } from '../../src/http/middleware/rate-limit';

function appLimitedBy(opts: RateLimitOptions) {
  const app = createRouter();
  app.use('*', requestId());
  app.use('/limited', rateLimit(opts));
  app.get('/limited', (c) => c.json({ ok: true }));
  app.get('/ip', (c) => c.json({ ip: clientIp(c) }));
  app.onError((e, c) => errorToResponse(e, c));
  return app;
}

const fromIp = (ip: string | null, extra: Record<string, string> = {}) =>
  new Request('https://kc.test/limited', { headers: { ...(ip ? { 'cf-connecting-ip': ip } : {}), ...extra } });

describe('rateLimit middleware', () => {
  it('lets requests through under the limit and advertises the policy and what is left', async () => {
    const app = appLimitedBy({ name: 'login', limit: 3, windowSeconds: 60, key: clientIp });
    const res = await app.fetch(fromIp('198.51.100.1'), env);

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(res.headers.get('ratelimit-policy')).toBe('"login";q=3;w=60');
    expect(res.headers.get('ratelimit')).toMatch(/^"login";r=2;t=(60|61)$/);
    expect(res.headers.get('retry-after')).toBeNull();
  });

  it('answers 429 problem+json with Retry-After and RateLimit headers once the limit is spent', async () => {
    const app = appLimitedBy({ name: 'register', limit: 2, windowSeconds: 60, key: clientIp });
    for (let i = 0; i < 2; i++) {
      const ok = await app.fetch(fromIp('198.51.100.2'), env);
      expect(ok.status).toBe(200);
      await ok.body?.cancel();
    }

    const res = await app.fetch(fromIp('198.51.100.2', { 'x-request-id': 'req-limited-1' }), env);
    expect(res.status).toBe(429);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(59);
    expect(retryAfter).toBeLessThanOrEqual(61);
    expect(res.headers.get('ratelimit-policy')).toBe('"register";q=2;w=60');
    expect(res.headers.get('ratelimit')).toMatch(/^"register";r=0;t=\d+$/);
    expect(await res.json()).toEqual({
      type: 'https://kyrochat.dev/problems/rate_limited',
      title: 'Too many requests',
      status: 429,
      detail: `Too many requests. Try again in ${retryAfter} seconds.`,
      code: 'rate_limited',
      requestId: 'req-limited-1',
    });
  });

  it('admits exactly the limit even when units are leased to the isolate in bulk', async () => {
    // limit 200 leases up to 10 units per Durable Object call; the total must still be exact.
    const app = appLimitedBy({ name: 'bulk', limit: 200, windowSeconds: 60, key: clientIp });
    const statuses: number[] = [];
    for (let wave = 0; wave < 6; wave++) {
      const responses = await Promise.all(Array.from({ length: 40 }, () => app.fetch(fromIp('198.51.100.9'), env)));
      for (const res of responses) {
        statuses.push(res.status);
        await res.body?.cancel();
      }
    }
    const admitted = statuses.filter((s) => s === 200).length;
    expect(admitted).toBeLessThanOrEqual(200);
    // Leases expire after a second and lose their unspent units, so a few may go unused.
    expect(admitted).toBeGreaterThanOrEqual(180);
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    const booked = await env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName('bulk:198.51.100.9')).consume({ limit: 200, windowSeconds: 60 });
    expect(booked.allowed).toBe(false);
  });

  it('limits each key separately', async () => {
    const app = appLimitedBy({ name: 'per-ip', limit: 1, windowSeconds: 60, key: clientIp });
    const first = await app.fetch(fromIp('198.51.100.3'), env);
    const again = await app.fetch(fromIp('198.51.100.3'), env);
    const other = await app.fetch(fromIp('198.51.100.4'), env);
    await Promise.all([first, again, other].map((r) => r.body?.cancel()));
    expect([first.status, again.status, other.status]).toEqual([200, 429, 200]);
  });

  it('keeps policies with the same key apart', async () => {
    const login = appLimitedBy({ name: 'shared-login', limit: 1, windowSeconds: 60, key: () => 'same' });
    const reset = appLimitedBy({ name: 'shared-reset', limit: 1, windowSeconds: 60, key: () => 'same' });
    const a = await login.fetch(fromIp(null), env);
    const b = await reset.fetch(fromIp(null), env);
    await Promise.all([a, b].map((r) => r.body?.cancel()));
    expect([a.status, b.status]).toEqual([200, 200]);
  });

  it('skips the limit when the key is null', async () => {
    const app = appLimitedBy({ name: 'no-ip', limit: 1, windowSeconds: 60, key: clientIp });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await app.fetch(fromIp(null), env);
      statuses.push(res.status);
      expect(res.headers.get('ratelimit')).toBeNull();
      await res.body?.cancel();
    }
    expect(statuses).toEqual([200, 200, 200]);
  });

  it('takes the limit from the request context when given a function', async () => {
    const limitFromContext = vi.fn(() => 1);
    const app = appLimitedBy({ name: 'dynamic', limit: limitFromContext, windowSeconds: 60, key: clientIp });
    const first = await app.fetch(fromIp('198.51.100.5'), env);
    const second = await app.fetch(fromIp('198.51.100.5'), env);
    await Promise.all([first, second].map((r) => r.body?.cancel()));
    expect([first.status, second.status]).toEqual([200, 429]);
    expect(limitFromContext).toHaveBeenCalledTimes(2);
    expect(first.headers.get('ratelimit-policy')).toBe('"dynamic";q=1;w=60');
  });

  it('lets the request through, and logs, when the limiter itself fails', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const brokenLimiter = {
      idFromName: (name: string) => env.RATE_LIMITER.idFromName(name),
      get: () => ({ consume: () => Promise.reject(new Error('overloaded')) }),
    };
    const app = appLimitedBy({ name: 'outage', limit: 1, windowSeconds: 60, key: clientIp });
    const res = await app.fetch(fromIp('198.51.100.6'), { ...env, RATE_LIMITER: brokenLimiter });
    await res.body?.cancel();

    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit')).toBeNull();
    expect(errors).toHaveBeenCalledWith(expect.stringContaining('rate limiter unavailable'));
    errors.mockRestore();
  });

  it('refuses policy names that would need escaping in the headers', () => {
    expect(() => rateLimit({ name: 'bad "name"', limit: 1, windowSeconds: 60, key: clientIp })).toThrow(/invalid policy name/);
  });
});

describe('clientIp', () => {
  const app = appLimitedBy({ name: 'unused', limit: 1, windowSeconds: 60, key: () => null });
  const ipSeenFor = async (headers: Record<string, string>) =>
    ((await (await app.fetch(new Request('https://kc.test/ip', { headers }), env)).json()) as { ip: string | null }).ip;

  it('reads CF-Connecting-IP', async () => {
    expect(await ipSeenFor({ 'cf-connecting-ip': '2001:db8::1' })).toBe('2001:db8::1');
  });

  it('never trusts X-Forwarded-For, which the client controls', async () => {
    expect(await ipSeenFor({ 'x-forwarded-for': '203.0.113.9' })).toBeNull();
    expect(await ipSeenFor({ 'x-forwarded-for': '203.0.113.9', 'cf-connecting-ip': '192.0.2.10' })).toBe('192.0.2.10');
  });
});
