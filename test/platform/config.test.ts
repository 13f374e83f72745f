/**
 * Configuration is parsed with zod at startup. In production a missing or weak secret makes
 * every request a clear 500 problem (and an error log line saying why), never a silent
 * fallback to development secrets; locally, secrets are generated with a warning.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import worker from '../../src/index';
import { parseConfig, type Env } from '../../src/env';

const STRONG_JWT_SECRET = 'a-production-secret-of-at-least-32-bytes';
const VALID_ENCRYPTION_KEY = btoa(String.fromCharCode(...new Uint8Array(32).map((_, i) => 255 - i)));

/** Each case gets its own env object: config is parsed (and logged) once per env object. */
function productionEnv(overrides: Partial<Env>): Env {
  return { ...env, ENVIRONMENT: 'production', JWT_SECRET: STRONG_JWT_SECRET, ENCRYPTION_KEY: VALID_ENCRYPTION_KEY, ...overrides };
}

async function fetchWith(workerEnv: Env, path = '/health', init: RequestInit = {}) {
  const ctx = createExecutionContext();
  const request = new Request(`https://kc.test${path}`, init) as Request<unknown, IncomingRequestCfProperties>;
  const res = await worker.fetch(request, workerEnv, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, headers: res.headers, text: await res.text() };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('production refuses to serve without proper secrets', () => {
  it.each([
    ['JWT_SECRET is missing', { JWT_SECRET: undefined }, 'JWT_SECRET is missing'],
    ['JWT_SECRET is empty', { JWT_SECRET: '' }, 'JWT_SECRET is missing'],
    ['JWT_SECRET is shorter than 32 bytes', { JWT_SECRET: 'x'.repeat(31) }, 'JWT_SECRET is shorter than 32 bytes'],
    ['ENCRYPTION_KEY is missing', { ENCRYPTION_KEY: undefined }, 'ENCRYPTION_KEY is missing'],
    ['ENCRYPTION_KEY is not a 32-byte key', { ENCRYPTION_KEY: btoa('sixteen byte key') }, 'ENCRYPTION_KEY must be 32 bytes'],
  ])('%s: every request is a 500 misconfigured problem that names no secret', async (_label, overrides, reason) => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const workerEnv = productionEnv(overrides as Partial<Env>);

    for (const [path, init] of [
      ['/health', {}],
      ['/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"email":"a@b.co","password":"x"}' }],
      ['/openapi.json', {}],
    ] as const) {
      const res = await fetchWith(workerEnv, path, { ...init, headers: { ...('headers' in init ? init.headers : {}), 'x-request-id': 'cfg-1' } });
      expect(res.status, path).toBe(500);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(res.text)).toEqual({
        type: 'https://kyrochat.dev/problems/misconfigured',
        title: 'Service misconfigured',
        status: 500,
        detail: 'The service is not configured correctly. The operator has been told why in the logs.',
        code: 'misconfigured',
        requestId: 'cfg-1',
      });
      for (const leak of ['JWT_SECRET', 'ENCRYPTION_KEY', 'xxxxxxxx', STRONG_JWT_SECRET, VALID_ENCRYPTION_KEY]) expect(res.text).not.toContain(leak);
    }

    // The operator learns why, from the log.
    const logged = errors.mock.calls.map((args) => args.join(' '));
    expect(logged.some((line) => line.includes(reason))).toBe(true);
    for (const line of logged) {
      expect(line).not.toContain(STRONG_JWT_SECRET);
      expect(line).not.toContain(VALID_ENCRYPTION_KEY);
    }
  });

  it('accepts a 32-byte JWT secret and a valid key', async () => {
    const res = await fetchWith(productionEnv({ JWT_SECRET: 'y'.repeat(32) }));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ status: 'ok' });
  });

  it('rejects other invalid settings too, such as an unknown environment name', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const res = await fetchWith({ ...env, ENVIRONMENT: 'prod' });
    expect(res.status).toBe(500);
    expect(JSON.parse(res.text).code).toBe('misconfigured');
  });
});

describe('mail in production', () => {
  it('MAILER=outbox still serves but warns that full tokens stay in email_outbox', () => {
    const outbox = parseConfig(productionEnv({ MAILER: 'outbox' }));
    expect(outbox.ok).toBe(true);
    expect(outbox.ok && outbox.warnings.some((w) => w.includes('MAILER=outbox in production'))).toBe(true);
    const http = parseConfig(productionEnv({ MAILER: 'http', MAIL_API_URL: 'https://mail.example/send', MAIL_API_KEY: 'k' }));
    expect(http.ok && http.warnings).toEqual([]);
  });
});

describe('OIDC algorithms', () => {
  const oidcEnv = (algorithms?: string): Env => ({
    ...env,
    OIDC_ISSUER: 'https://idp.example.com/',
    OIDC_JWKS_URL: 'https://idp.example.com/jwks.json',
    OIDC_AUDIENCE: 'kyrochat',
    OIDC_ALGORITHMS: algorithms,
  });

  it('default to RS256, ES256, PS256 and EdDSA, and take an operator list', () => {
    const defaults = parseConfig(oidcEnv());
    expect(defaults.ok && defaults.config.oidc?.algorithms).toEqual(['RS256', 'ES256', 'PS256', 'EdDSA']);
    const chosen = parseConfig(oidcEnv('ES384, RS512'));
    expect(chosen.ok && chosen.config.oidc?.algorithms).toEqual(['ES384', 'RS512']);
  });

  it('refuse symmetric and unsigned algorithms: HS256 or none is a configuration problem', () => {
    for (const bad of ['HS256', 'RS256,none']) {
      const result = parseConfig(oidcEnv(bad));
      expect(result.ok, bad).toBe(false);
      if (!result.ok) expect(result.problems.join(' ')).toContain('OIDC_ALGORITHMS');
    }
  });
});

describe('locally', () => {
  it('missing secrets are generated, with a warning, and the service works', async () => {
    const warnings = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const devEnv: Env = { ...env, ENVIRONMENT: 'development', JWT_SECRET: undefined, ENCRYPTION_KEY: undefined };

    expect((await fetchWith(devEnv)).status).toBe(200);
    const email = `dev-${crypto.randomUUID()}@example.com`;
    const registered = await fetchWith(devEnv, '/api/v1/auth/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'a-long-enough-password', name: 'Dev' }),
    });
    expect(registered.status).toBe(201);
    const { accessToken } = JSON.parse(registered.text);
    expect((await fetchWith(devEnv, '/api/v1/users/me', { headers: { authorization: `Bearer ${accessToken}` } })).status).toBe(200);

    const logged = warnings.mock.calls.map((args) => args.join(' '));
    expect(logged.some((line) => line.includes('JWT_SECRET missing or weak'))).toBe(true);
    expect(logged.some((line) => line.includes('ENCRYPTION_KEY missing'))).toBe(true);
  });

  it("a token signed with the generated development secret is worthless under the configured one", async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const devEnv: Env = { ...env, ENVIRONMENT: 'development', JWT_SECRET: undefined };
    const email = `dev-${crypto.randomUUID()}@example.com`;
    const registered = await fetchWith(devEnv, '/api/v1/auth/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'a-long-enough-password', name: 'Dev' }),
    });
    const { accessToken } = JSON.parse(registered.text);
    const elsewhere = await fetchWith({ ...env }, '/api/v1/users/me', { headers: { authorization: `Bearer ${accessToken}` } });
    expect(elsewhere.status).toBe(401);
  });
});
