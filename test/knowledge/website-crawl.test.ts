import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import { call, register, type Account } from '../support/api';
import { searchBot, waitForSource } from '../support/knowledge';
import { parseConfig } from '../../src/env';

const SITE = 'https://docs.acme.test';

async function site(body: Record<string, unknown>) {
  const res = await env.WEB_FETCHER!.fetch(`${SITE}/__control`, { method: 'POST', body: JSON.stringify(body) });
  await res.json();
}
async function hits(): Promise<Record<string, number>> {
  return (await env.WEB_FETCHER!.fetch(`${SITE}/__hits`)).json();
}

async function crawl(owner: Account, body: Record<string, unknown>) {
  const res = await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'website', url: `${SITE}/`, ...body } });
  expect(res.status).toBe(202);
  return waitForSource(owner.token, res.body.id);
}

async function pages(owner: Account, sourceId: string) {
  const res = await call('GET', `/api/v1/sources/${sourceId}/documents?limit=100`, { token: owner.token });
  return res.body.data as { id: string; url: string; status: string; title: string; chunks: number; error: string | null }[];
}

describe('website crawl', () => {
  beforeEach(() => site({ reset: true }));

  it('follows same-site links and the sitemap, respects robots.txt and keeps only the main content', async () => {
    const owner = await register('crawl');
    const source = await crawl(owner, { maxPages: 20, maxDepth: 3 });
    expect(source).toMatchObject({ status: 'ready', error: null });
    const found = await pages(owner, source.id);
    // Links are followed from the whole page (navigation and footer too); only the text is main-content only.
    expect(found.map((p) => new URL(p.url).pathname).sort()).toEqual(['/', '/docs/billing', '/docs/install', '/docs/install/linux', '/legal']);
    expect(found.every((p) => p.status === 'ready' && p.chunks > 0)).toBe(true);
    expect(found.find((p) => p.url.endsWith('/docs/install/linux'))!.title).toBe('Linux notes');
    expect(source.progress).toEqual({ done: 5, total: 5, failed: 0 });

    // Disallowed by robots.txt (linked from a page and listed in the sitemap): never fetched.
    expect((await hits())['/private/secrets']).toBeUndefined();
    expect(await searchBot(owner.token, owner.botId, 'vault combination', { mode: 'keyword' })).toEqual([]);
    // Scripts and footers are not content.
    expect(await searchBot(owner.token, owner.botId, 'tracking', { mode: 'keyword' })).toEqual([]);
    const [top] = await searchBot(owner.token, owner.botId, 'where is the configuration file on linux');
    expect(top!.text).toContain('/etc/acme/widgets.toml');
  });

  it('honours maxPages, maxDepth and include / exclude patterns', async () => {
    const owner = await register('crawl-limits');
    const shallow = await crawl(owner, { maxDepth: 0 });
    expect((await pages(owner, shallow.id)).map((p) => new URL(p.url).pathname)).toEqual(['/']);

    const other = await call('POST', '/api/v1/bots', { token: owner.token, body: { name: 'b2' } });
    const limited = await call('POST', `/api/v1/bots/${other.body.id}/sources`, { token: owner.token, body: { type: 'website', url: `${SITE}/`, maxPages: 2 } });
    const done = await waitForSource(owner.token, limited.body.id);
    expect(done.progress.total).toBe(2);

    const third = await call('POST', '/api/v1/bots', { token: owner.token, body: { name: 'b3' } });
    const filtered = await call('POST', `/api/v1/bots/${third.body.id}/sources`, {
      token: owner.token,
      body: { type: 'website', url: `${SITE}/`, exclude: ['/docs/billing'], include: ['/', '/docs/*'] },
    });
    const ready = await waitForSource(owner.token, filtered.body.id);
    const paths = (await pages(owner, ready.id)).map((p) => new URL(p.url).pathname).sort();
    expect(paths).toContain('/docs/install');
    expect(paths).not.toContain('/docs/billing');
  });

  it('re-sync skips unchanged pages, re-indexes changed ones and deletes removed ones', async () => {
    const owner = await register('crawl-sync');
    const first = await crawl(owner, {});
    const before = await pages(owner, first.id);
    const home = before.find((p) => new URL(p.url).pathname === '/')!;
    const homeChunks = await env.DB.prepare('SELECT seq FROM chunks WHERE document_id = ? ORDER BY seq').bind(home.id).all();

    await site({
      set: { '/docs/billing': { title: 'Billing', body: '<p>Invoices now arrive on the fifteenth of each month.</p>' } },
      remove: ['/docs/install/linux'],
    });
    const sync = await call('POST', `/api/v1/sources/${first.id}/sync`, { token: owner.token });
    expect(sync.status).toBe(202);
    const synced = await waitForSource(owner.token, first.id);
    expect(synced.status).toBe('ready');

    const after = await pages(owner, first.id);
    expect(after.map((p) => new URL(p.url).pathname).sort()).toEqual(['/', '/docs/billing', '/docs/install', '/legal']);
    // The unchanged page kept its chunk rows: it was not re-indexed.
    expect((await env.DB.prepare('SELECT seq FROM chunks WHERE document_id = ? ORDER BY seq').bind(home.id).all()).results).toEqual(homeChunks.results);
    const billing = await searchBot(owner.token, owner.botId, 'when do invoices arrive', { mode: 'keyword' });
    expect(billing[0]!.text).toContain('fifteenth');
    expect(await searchBot(owner.token, owner.botId, 'widgets.toml', { mode: 'keyword' })).toEqual([]);
  });

  it('keeps every page of a link-heavy page across a sync (links are looked up in chunks)', async () => {
    const owner = await register('crawl-many');
    const many = Object.fromEntries(Array.from({ length: 95 }, (_, i) => [`/many/${i}`, { title: `Page ${i}`, body: `<p>Leaf page number ${i}.</p>` }]));
    const hub = Object.keys(many).map((path) => `<a href="${path}">${path}</a>`).join(' ');
    await site({ set: { ...many, '/': { title: 'Hub', body: `<p>All pages: ${hub}</p>` } }, sitemap: false });
    const first = await crawl(owner, { maxPages: 200, maxDepth: 1 });
    expect(first.progress.total).toBeGreaterThanOrEqual(96);
    expect((await call('POST', `/api/v1/sources/${first.id}/sync`, { token: owner.token })).status).toBe(202);
    const synced = await waitForSource(owner.token, first.id, ['ready', 'failed'], 60_000);
    expect(synced.status).toBe('ready');
    expect(synced.progress.total).toBe(first.progress.total);
  }, 120_000);

  it('stops at the daily crawl quota, fetching no more pages, and records why on the source', async () => {
    const owner = await register('crawl-quota');
    const parsed = parseConfig(env);
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    const limit = parsed.config.quotas.crawlPagesPerDay;
    // Earlier crawls today left room for two pages.
    const limiter = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`crawl_pages_per_day:${owner.orgId}`));
    expect((await limiter.consume({ limit, windowSeconds: 86_400, cost: limit - 2 })).allowed).toBe(true);

    const source = await crawl(owner, { maxPages: 20, maxDepth: 3 });

    const found = await pages(owner, source.id);
    const crawled = found.filter((p) => p.status === 'ready');
    const stopped = found.filter((p) => p.status === 'failed');
    expect(crawled.length).toBe(2);
    expect(stopped.length).toBeGreaterThan(0);
    expect(stopped.every((p) => p.error?.includes('daily quota'))).toBe(true);
    // The stopped pages were never requested from the site.
    const counts = await hits();
    expect(stopped.every((p) => counts[new URL(p.url).pathname] === undefined)).toBe(true);
    expect(crawled.every((p) => counts[new URL(p.url).pathname] === 1)).toBe(true);
    expect(source.error).toMatch(/^Crawl stopped: the organization's daily quota of \d+ crawled pages is used up/);

    // Another org's crawl is not held back by this one's quota.
    const other = await register('crawl-quota-other');
    await site({ reset: true });
    const theirs = await crawl(other, { maxPages: 20, maxDepth: 3 });
    expect(theirs).toMatchObject({ status: 'ready', error: null });
  });

  it('records why a page could not be crawled', async () => {
    const owner = await register('crawl-fail');
    const res = await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'url', url: `${SITE}/missing-page` } });
    const failed = await waitForSource(owner.token, res.body.id);
    expect(failed.status).toBe('failed');
    expect(failed.error).toContain('HTTP 404');

    await site({ robots: 'User-agent: *\nDisallow: /\n' });
    const blocked = await crawl(owner, {});
    expect(blocked.status).toBe('failed');
    expect(blocked.error).toContain('robots.txt');
  });

  it('follows a redirect for a single URL source', async () => {
    const owner = await register('crawl-url');
    const res = await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'url', url: `${SITE}/old-install` } });
    const ready = await waitForSource(owner.token, res.body.id);
    expect(ready.status).toBe('ready');
    const [top] = await searchBot(owner.token, owner.botId, 'which port does the daemon use');
    expect(top!.text).toContain('7421');
  });
});
