/**
 * The HTTP conventions every route follows, now and later: RFC 9457 problem+json for every
 * error (validation, 404, 405, 413, 415, malformed JSON, 500), method override for GET/POST
 * clients, request ids, secure headers, CORS for the dashboard only, and an OpenAPI 3.1
 * document that validates, with interactive docs.
 */
import { SELF, createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../src/app';
import { BASE, call, expectProblem, register, type Account } from '../support/api';
import { openApi31Validator } from '../support/openapi-validator';

let account: Account;
beforeAll(async () => {
  account = await register('conventions');
});

const raw = (path: string, init: RequestInit = {}) => SELF.fetch(BASE + path, init);
async function asResult(res: Response) {
  const text = await res.text();
  const json = (res.headers.get('content-type') ?? '').includes('json') && text ? JSON.parse(text) : text;
  return { status: res.status, headers: res.headers, body: json };
}

describe('problem+json', () => {
  it('validation failures list every bad field with its path, message and code', async () => {
    const res = await call('POST', '/api/v1/bots', {
      token: account.token,
      body: { name: '', model: { temperature: 5 }, allowedOrigins: ['https://shop.example.com/path'], retrieval: { topK: 'many' } },
    });
    const problem = expectProblem(res, 400, 'validation_failed');
    expect(problem).toMatchObject({
      type: 'https://kyrochat.dev/problems/validation_failed',
      title: 'Validation failed',
      status: 400,
      detail: `The request has ${problem.errors.length} invalid fields.`,
      requestId: res.headers.get('x-request-id'),
    });
    const paths = problem.errors.map((e: { path: string }) => e.path).sort();
    expect(paths).toEqual(['allowedOrigins.0', 'model.temperature', 'name', 'retrieval.topK']);
    for (const error of problem.errors) {
      expect(error).toEqual({ path: expect.any(String), message: expect.any(String), code: expect.any(String) });
      expect(error.message.length).toBeGreaterThan(0);
    }
  });

  it('query and path parameters are validated too, with their location in the path', async () => {
    const query = expectProblem(await call('GET', '/api/v1/bots?limit=1000', { token: account.token }), 400, 'validation_failed');
    expect(query.errors.map((e: { path: string }) => e.path)).toEqual(['query.limit']);
    const param = expectProblem(await call('GET', `/api/v1/bots/${'x'.repeat(65)}`, { token: account.token }), 400, 'validation_failed');
    expect(param.errors.map((e: { path: string }) => e.path)).toEqual(['param.botId']);
  });

  it('unknown fields are refused rather than silently dropped', async () => {
    const problem = expectProblem(
      await call('PATCH', `/api/v1/bots/${account.botId}`, { token: account.token, body: { name: 'ok', colour: 'blue' } }),
      400,
      'validation_failed',
    );
    expect(problem.errors[0]).toMatchObject({ code: 'unrecognized_keys' });
    expect(problem.errors[0].message).toContain('colour');
  });

  it('malformed JSON is a 400 malformed_json', async () => {
    const problem = expectProblem(await call('POST', '/api/v1/bots', { token: account.token, body: '{"name":' }), 400, 'malformed_json');
    expect(problem.detail).toBe('The request body is not valid JSON.');
  });

  it('a body that is not JSON is a 415 unsupported_media_type', async () => {
    const plain = await call('POST', '/api/v1/bots', { token: account.token, body: 'name=x', headers: { 'content-type': 'text/plain' } });
    expectProblem(plain, 415, 'unsupported_media_type');
    const form = await call('POST', '/api/v1/bots', {
      token: account.token,
      body: 'name=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expectProblem(form, 415, 'unsupported_media_type');
    const none = await asResult(await raw('/api/v1/bots', { method: 'POST', headers: { authorization: `Bearer ${account.token}` }, body: '{"name":"x"}' }));
    expectProblem(none, 415, 'unsupported_media_type');
    // JSON with parameters is still JSON.
    const withCharset = await call('POST', '/api/v1/bots', {
      token: account.token,
      body: { name: 'charset' },
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    expect(withCharset.status).toBe(201);
  });

  it('a body over MAX_BODY_BYTES (1 MiB) is a 413, whether its length is declared or streamed', async () => {
    const big = JSON.stringify({ name: 'big', description: 'a'.repeat(1024 * 1024) });
    const declared = expectProblem(await call('POST', '/api/v1/bots', { token: account.token, body: big }), 413, 'payload_too_large');
    expect(declared.detail).toContain('1048576');

    const chunk = new TextEncoder().encode('a'.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 20) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const streamed = await asResult(
      await raw('/api/v1/bots', { method: 'POST', headers: { authorization: `Bearer ${account.token}`, 'content-type': 'application/json' }, body: stream }),
    );
    expectProblem(streamed, 413, 'payload_too_large');

    // A body under the limit goes through.
    const underLimit = JSON.stringify({ name: 'fits', description: 'a'.repeat(1000) });
    expect((await call('POST', '/api/v1/bots', { token: account.token, body: underLimit })).status).toBe(201);
  });

  it('an unknown route is a 404 route_not_found', async () => {
    const api = expectProblem(await call('GET', '/api/v1/nothing-here'), 404, 'route_not_found');
    expect(api.detail).toBe('No route matches GET /api/v1/nothing-here.');
    expectProblem(await call('GET', '/nothing-here'), 404, 'route_not_found');
  });

  it('an unknown id is a 404 naming the kind of object', async () => {
    const problem = expectProblem(await call('GET', '/api/v1/bots/bot_01JD3X0000000000000000000', { token: account.token }), 404, 'bot_not_found');
    expect(problem.detail).toBe('Bot was not found.');
    expectProblem(await call('DELETE', '/api/v1/api-keys/key_01JD3X0000000000000000000', { token: account.token }), 404, 'api_key_not_found');
  });

  it('a method the route does not take is a 405 with an Allow header', async () => {
    const put = expectProblem(await call('PUT', `/api/v1/bots/${account.botId}`, { token: account.token, body: { name: 'x' } }), 405, 'method_not_allowed');
    expect(put.detail).toContain('PUT');
    const res = await call('PUT', `/api/v1/bots/${account.botId}`, { token: account.token });
    expect(res.headers.get('allow')).toBe('DELETE, GET, HEAD, PATCH');

    const post = await call('POST', `/api/v1/bots/${account.botId}`, { token: account.token, body: {} });
    expectProblem(post, 405, 'method_not_allowed');
    expect(post.headers.get('allow')).toBe('DELETE, GET, HEAD, PATCH');

    const health = await call('PUT', '/health');
    expectProblem(health, 405, 'method_not_allowed');
    expect(health.headers.get('allow')).toBe('GET, HEAD');

    const collection = await call('DELETE', '/api/v1/bots', { token: account.token });
    expectProblem(collection, 405, 'method_not_allowed');
    expect(collection.headers.get('allow')).toBe('GET, HEAD, POST');
  });

  it('on org routes authentication comes first: an anonymous wrong method is a 401, not a 405', async () => {
    // Which methods exist on a tenant's resources is not told to strangers.
    expectProblem(await call('PUT', `/api/v1/bots/${account.botId}`), 401, 'unauthorized');
  });

  it('an unexpected exception is a 500 that shows no stack or internals (they go to the log)', async () => {
    const app = buildApp();
    app.get('/boom', () => {
      throw new TypeError('database password is hunter2 at /srv/kyrochat/src/secret.ts:42');
    });
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const ctx = createExecutionContext();
    const res = await app.fetch(new Request(`${BASE}/boom`, { headers: { 'x-request-id': 'boom-1' } }), env, ctx);
    await waitOnExecutionContext(ctx);
    const text = await res.text();
    const logLines = logged.mock.calls.map((args) => args.join(' '));
    logged.mockRestore();

    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(text)).toEqual({
      type: 'https://kyrochat.dev/problems/internal_error',
      title: 'Internal server error',
      status: 500,
      detail: 'Something went wrong on our side. Quote the request id if you contact support.',
      code: 'internal_error',
      requestId: 'boom-1',
    });
    for (const leak of ['hunter2', 'TypeError', 'secret.ts', 'stack', '/srv/']) expect(text).not.toContain(leak);
    // The operator still gets the whole story, tied to the request id.
    expect(logLines.some((line) => line.includes('hunter2') && line.includes('boom-1'))).toBe(true);
  });
});

describe('method override', () => {
  const override = (path: string, method: string, verb: string, body?: unknown) =>
    call(method, path, { token: account.token, body, headers: { 'x-http-method-override': verb } });

  it('POST with X-HTTP-Method-Override: PATCH is a PATCH', async () => {
    const bot = await call('POST', '/api/v1/bots', { token: account.token, body: { name: 'override me' } });
    const res = await override(`/api/v1/bots/${bot.body.id}`, 'POST', 'PATCH', { name: 'overridden' });
    expect(res.status).toBe(200);
    expect(res.body.name).toBe('overridden');
    expect((await call('GET', `/api/v1/bots/${bot.body.id}`, { token: account.token })).body.name).toBe('overridden');
  });

  it('POST with X-HTTP-Method-Override: DELETE is a DELETE (any letter case)', async () => {
    const bot = await call('POST', '/api/v1/bots', { token: account.token, body: { name: 'delete me' } });
    expect((await override(`/api/v1/bots/${bot.body.id}`, 'POST', 'delete')).status).toBe(204);
    expectProblem(await call('GET', `/api/v1/bots/${bot.body.id}`, { token: account.token }), 404, 'bot_not_found');
  });

  it('is ignored on GET: nothing destructive ever rides on a GET', async () => {
    const bot = await call('POST', '/api/v1/bots', { token: account.token, body: { name: 'keep me' } });
    const res = await override(`/api/v1/bots/${bot.body.id}`, 'GET', 'DELETE');
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(bot.body.id);
    expect((await call('GET', `/api/v1/bots/${bot.body.id}`, { token: account.token })).status).toBe(200);
  });

  it('only tunnels PUT, PATCH and DELETE', async () => {
    // POST overridden to GET stays a POST, which this route does not take.
    const res = await override(`/api/v1/bots/${account.botId}`, 'POST', 'GET', {});
    expectProblem(res, 405, 'method_not_allowed');
  });
});

describe('request ids', () => {
  it('are generated when the caller sends none, and echoed in the header and in problems', async () => {
    const ok = await call('GET', '/health');
    expect(ok.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const problem = await call('GET', '/api/v1/nothing-here');
    expect(problem.body.requestId).toBe(problem.headers.get('x-request-id'));
    expect(problem.body.requestId).not.toBe(ok.headers.get('x-request-id'));
  });

  it("reuse Cloudflare's cf-ray, ahead of a caller's X-Request-Id", async () => {
    const ray = await call('GET', '/api/v1/nothing-here', { headers: { 'cf-ray': '8f1e2d3c4b5a6978-AMS', 'x-request-id': 'mine' } });
    expect(ray.headers.get('x-request-id')).toBe('8f1e2d3c4b5a6978-AMS');
    expect(ray.body.requestId).toBe('8f1e2d3c4b5a6978-AMS');
    const mine = await call('GET', '/health', { headers: { 'x-request-id': 'client-req-42' } });
    expect(mine.headers.get('x-request-id')).toBe('client-req-42');
  });

  it('replace a caller id that is not a safe token', async () => {
    const res = await call('GET', '/health', { headers: { 'x-request-id': 'has spaces <script>' } });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('secure headers', () => {
  it.each([
    ['a success', () => call('GET', '/api/v1/bots', { token: account.token })],
    ['an error', () => call('GET', '/api/v1/nothing-here')],
    ['the docs', () => call('GET', '/docs')],
  ])('are on %s', async (_label, request) => {
    const res = await request();
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-permitted-cross-domain-policies')).toBe('none');
  });
});

describe('CORS', () => {
  const preflight = (origin: string) =>
    call('OPTIONS', '/api/v1/bots', {
      headers: { origin, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization,content-type,x-org-id' },
    });

  it('lets the configured dashboard origin call the API with credentials', async () => {
    const res = await preflight('https://dashboard.test');
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://dashboard.test');
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    const methods = res.headers.get('access-control-allow-methods')!.split(',');
    expect(methods).toEqual(expect.arrayContaining(['GET', 'POST', 'PATCH', 'DELETE']));
    const allowed = res.headers.get('access-control-allow-headers')!.toLowerCase().split(',');
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'x-org-id', 'x-http-method-override']));

    const actual = await call('GET', '/api/v1/bots', { token: account.token, headers: { origin: 'https://dashboard.test' } });
    expect(actual.headers.get('access-control-allow-origin')).toBe('https://dashboard.test');
    expect(actual.headers.get('vary')).toMatch(/origin/i);
    expect(actual.headers.get('access-control-expose-headers')).toContain('X-Request-Id');
  });

  it('does not allow any other origin', async () => {
    for (const origin of ['https://evil.test', 'https://dashboard.test.evil.test', 'http://dashboard.test', 'null']) {
      const res = await preflight(origin);
      expect(res.headers.get('access-control-allow-origin'), origin).toBeNull();
      const actual = await call('GET', '/api/v1/bots', { token: account.token, headers: { origin } });
      expect(actual.headers.get('access-control-allow-origin'), origin).toBeNull();
    }
  });
});

describe('OpenAPI document and docs', () => {
  it('/openapi.json is a valid OpenAPI 3.1 document', async () => {
    const res = await call('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    const result = await openApi31Validator().validate(res.body);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('the validator is not a rubber stamp', async () => {
    const res = await call('GET', '/openapi.json');
    const broken = { ...res.body, paths: { ...res.body.paths, '/broken': { get: { responses: { 200: { content: {} } } } } } };
    expect((await openApi31Validator().validate(broken)).valid).toBe(false);
  });

  it('documents every route the app serves, with the bearer scheme and problem responses', async () => {
    const doc = (await call('GET', '/openapi.json')).body;
    const documented = new Set(
      Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)),
    );
    const served = new Set(
      buildApp()
        .routes.filter((r) => r.method !== 'ALL' && !r.path.includes('*'))
        .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`)
        .filter((r) => !['GET /openapi.json', 'GET /docs'].includes(r)),
    );
    expect([...served].filter((r) => !documented.has(r))).toEqual([]);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.schemas.Problem).toBeDefined();
    const getBot = doc.paths['/api/v1/bots/{botId}'].get;
    expect(getBot.responses['404'].content).toHaveProperty(['application/problem+json']);
    expect(getBot.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'botId', in: 'path', required: true })]));
  });

  it('describes each error status in its own words: no status borrows another status\'s description', async () => {
    const doc = (await call('GET', '/openapi.json')).body;
    const statusesOf = new Map<string, Set<string>>();
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, { description: string }> }>>)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) < 400) continue;
          expect(response.description, `${method.toUpperCase()} ${path} ${status}`).toBeTruthy();
          const statuses = statusesOf.get(response.description) ?? new Set();
          statusesOf.set(response.description, statuses.add(status));
        }
      }
    }
    const shared = [...statusesOf].filter(([, statuses]) => statuses.size > 1).map(([description, statuses]) => `${description}: ${[...statuses].join(', ')}`);
    expect(shared).toEqual([]);
    const createSource = doc.paths['/api/v1/bots/{botId}/sources'].post.responses;
    expect(createSource['409'].description).toMatch(/conflict/i);
    expect(createSource['400'].description).toMatch(/validation/i);
    const upload = doc.paths['/api/v1/bots/{botId}/sources/files'].post.responses;
    expect(upload['413'].description).toMatch(/too large/i);
    expect(upload['415'].description).toMatch(/media type/i);
  });

  it('/docs serves interactive HTML docs pointing at the document', async () => {
    const res = await call('GET', '/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.body).toMatch(/<!doctype html>/i);
    expect(res.body).toContain('/openapi.json');
  });
});
