/**
 * Per-org quotas (sources, uploaded bytes per day, searches per minute), the per-user request
 * limit on org routes, and GET /usage. Small limits are set per request by calling the real
 * Worker with an env that overrides the quota variables.
 */
import { env, createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { parseConfig, type Env } from '../../src/env';
import { BASE, call, createKey, expectProblem, register, type Account, type CallResult } from '../support/api';
import { joinAs } from '../support/accounts';
import { addText, countRows } from '../support/knowledge';

/** Like `call`, through the same Worker entry, with configuration overrides. */
async function callWith(overrides: Partial<Env>, method: string, path: string, who: Account, body?: unknown): Promise<CallResult> {
  const headers: Record<string, string> = { authorization: `Bearer ${who.token}` };
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const request = new Request(BASE + path, { method, headers, body: payload }) as Parameters<typeof worker.fetch>[0];
  const ctx = createExecutionContext();
  const res = await worker.fetch(request, { ...env, ...overrides } as Env, ctx);
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text };
}

const textSource = (title: string) => ({ type: 'text', title, text: `${title}: some knowledge worth keeping.` });
const fileForm = (name: string, bytes: number) => {
  const form = new FormData();
  form.append('file', new File(['x'.repeat(bytes)], name, { type: 'text/plain' }));
  return form;
};
const defaults = () => {
  const parsed = parseConfig(env);
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return parsed.config;
};

describe('org quotas', () => {
  it('refuses a source beyond ORG_MAX_SOURCES with 429 quota_exceeded naming "sources", no Retry-After, and stores nothing', async () => {
    const limits = { ORG_MAX_SOURCES: '2' };
    const owner = await register('quota-sources');
    for (const title of ['One', 'Two']) {
      expect((await callWith(limits, 'POST', `/api/v1/bots/${owner.botId}/sources`, owner, textSource(title))).status).toBe(202);
    }

    const third = await callWith(limits, 'POST', `/api/v1/bots/${owner.botId}/sources`, owner, textSource('Three'));
    const problem = expectProblem(third, 429, 'quota_exceeded');
    expect(problem).toMatchObject({ quota: 'sources', limit: 2, used: 2 });
    expect(third.headers.get('retry-after')).toBeNull();
    const upload = await callWith(limits, 'POST', `/api/v1/bots/${owner.botId}/sources/files`, owner, fileForm('extra.txt', 50));
    expect(expectProblem(upload, 429, 'quota_exceeded').quota).toBe('sources');
    expect(await countRows('SELECT count(*) AS n FROM sources WHERE org_id = ?', owner.orgId)).toBe(2);

    // Another org's sources do not count against this one.
    const other = await register('quota-sources-other');
    expect((await callWith(limits, 'POST', `/api/v1/bots/${other.botId}/sources`, other, textSource('Mine'))).status).toBe(202);
  });

  it('refuses uploads beyond ORG_UPLOAD_BYTES_PER_DAY with 429 upload_bytes_per_day and Retry-After, and stores nothing', async () => {
    const limits = { ORG_UPLOAD_BYTES_PER_DAY: '2000' };
    const owner = await register('quota-bytes');
    expect((await callWith(limits, 'POST', `/api/v1/bots/${owner.botId}/sources/files`, owner, fileForm('a.txt', 1200))).status).toBe(202);

    const second = await callWith(limits, 'POST', `/api/v1/bots/${owner.botId}/sources/files`, owner, fileForm('b.txt', 1200));
    expect(expectProblem(second, 429, 'quota_exceeded')).toMatchObject({ quota: 'upload_bytes_per_day', limit: 2000 });
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
    // Pasted text is stored too, so it spends the same quota.
    const text = await callWith(limits, 'POST', `/api/v1/bots/${owner.botId}/sources`, owner, { type: 'text', title: 'Big', text: 'y'.repeat(1000) });
    expect(expectProblem(text, 429, 'quota_exceeded').quota).toBe('upload_bytes_per_day');
    expect(await countRows('SELECT count(*) AS n FROM sources WHERE org_id = ?', owner.orgId)).toBe(1);

    const other = await register('quota-bytes-other');
    expect((await callWith(limits, 'POST', `/api/v1/bots/${other.botId}/sources/files`, other, fileForm('c.txt', 1200))).status).toBe(202);
  });

  it('refuses a search beyond ORG_SEARCHES_PER_MINUTE with 429 searches_per_minute and Retry-After; another org searches on', async () => {
    const limits = { ORG_SEARCHES_PER_MINUTE: '2' };
    const owner = await register('quota-search');
    const search = (who: Account) => callWith(limits, 'POST', `/api/v1/bots/${who.botId}/search`, who, { query: 'anything' });
    expect((await search(owner)).status).toBe(200);
    expect((await search(owner)).status).toBe(200);

    const third = await search(owner);
    expect(expectProblem(third, 429, 'quota_exceeded')).toMatchObject({ quota: 'searches_per_minute', limit: 2 });
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);

    const other = await register('quota-search-other');
    expect((await search(other)).status).toBe(200);
  });
});

describe('per-user rate limit on org routes', () => {
  it('answers 429 rate_limited naming user_requests_per_minute beyond USER_RATE_LIMIT; another person is not limited', async () => {
    const limits = { USER_RATE_LIMIT: '3' };
    const busy = await register('user-limit');
    for (let i = 0; i < 3; i++) expect((await callWith(limits, 'GET', '/api/v1/bots', busy)).status).toBe(200);

    const limited = await callWith(limits, 'GET', `/api/v1/bots/${busy.botId}`, busy);
    expect(expectProblem(limited, 429, 'rate_limited')).toMatchObject({ quota: 'user_requests_per_minute', limit: 3 });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);

    const calm = await register('user-limit-other');
    expect((await callWith(limits, 'GET', '/api/v1/bots', calm)).status).toBe(200);
  });
});

describe('GET /usage', () => {
  it("reports the caller's org use against each limit, and nothing of another org's", async () => {
    const owner = await register('usage');
    const text = 'Usage reports count what the org stored today.';
    await addText(owner.token, owner.botId, 'Usage', text);
    expect((await call('POST', `/api/v1/bots/${owner.botId}/search`, { token: owner.token, body: { query: 'usage' } })).status).toBe(200);
    const quotas = defaults().quotas;

    const report = await call('GET', '/api/v1/usage', { token: owner.token });

    expect(report.status).toBe(200);
    expect(report.body.orgId).toBe(owner.orgId);
    expect(report.body.quotas.sources).toEqual({ used: 1, limit: quotas.sources, windowSeconds: null, resetSeconds: null });
    expect(report.body.quotas.upload_bytes_per_day).toMatchObject({ used: new TextEncoder().encode(text).byteLength, limit: quotas.uploadBytesPerDay, windowSeconds: 86_400 });
    expect(report.body.quotas.searches_per_minute).toMatchObject({ used: 1, limit: quotas.searchesPerMinute, windowSeconds: 60 });
    expect(report.body.quotas.crawl_pages_per_day).toEqual({ used: 0, limit: quotas.crawlPagesPerDay, windowSeconds: 86_400, resetSeconds: 0 });
    expect(report.body.rateLimits.user_requests_per_minute.used).toBeGreaterThan(0);
    expect(report.body.rateLimits.user_requests_per_minute.limit).toBe(defaults().userRateLimitPerMinute);

    const other = await register('usage-other');
    const otherReport = await call('GET', '/api/v1/usage', { token: other.token });
    expect(otherReport.body.quotas.sources.used).toBe(0);
    expect(otherReport.body.quotas.upload_bytes_per_day.used).toBe(0);
    expect(otherReport.body.quotas.searches_per_minute.used).toBe(0);
  });

  it('may be read by a viewer and by an API key; another org answers 404', async () => {
    const owner = await register('usage-roles');
    const viewer = await joinAs(owner, owner.orgId, 'viewer');
    const asViewer = await call('GET', '/api/v1/usage', { token: viewer.token, orgId: owner.orgId });
    expect(asViewer.status).toBe(200);
    expect(asViewer.body.orgId).toBe(owner.orgId);

    const key = await createKey(owner, ['bots:read']);
    const asKey = await call('GET', '/api/v1/usage', { token: key });
    expect(asKey.status).toBe(200);
    expect(asKey.body.rateLimits.user_requests_per_minute).toBeNull();

    const stranger = await register('usage-stranger');
    expectProblem(await call('GET', '/api/v1/usage', { token: stranger.token, orgId: owner.orgId }), 404, 'org_not_found');
  });
});
