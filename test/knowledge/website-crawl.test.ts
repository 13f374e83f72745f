import { env, createExecutionContext, createMessageBatch, createScheduledController, getQueueResult, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import worker from '../../src/index';
import { SWEEPER, WILDCARD_MAX_PER_PATTERN } from '../../src/limits';
import { newId } from '../../src/lib/ids';
import { call, expectProblem, register, type Account } from '../support/api';
import { countRows, searchBot, waitForPurge, waitForSource } from '../support/knowledge';
import { gzipBomb } from '../fixtures/documents';
import { parseConfig } from '../../src/env';

const SITE = 'https://docs.acme.test';

async function site(body: Record<string, unknown>) {
  const res = await env.WEB_FETCHER!.fetch(`${SITE}/__control`, { method: 'POST', body: JSON.stringify(body) });
  await res.json();
}
async function hits(): Promise<Record<string, number>> {
  return (await env.WEB_FETCHER!.fetch(`${SITE}/__hits`)).json();
}

async function crawl(owner: Account, body: Record<string, unknown>, timeout?: number) {
  const res = await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'website', url: `${SITE}/`, ...body } });
  expect(res.status).toBe(202);
  return waitForSource(owner.token, res.body.id, ['ready', 'failed'], timeout);
}

async function pages(owner: Account, sourceId: string) {
  const res = await call('GET', `/api/v1/sources/${sourceId}/documents?limit=100`, { token: owner.token });
  return res.body.data as { id: string; url: string; status: string; title: string; chunks: number; error: string | null }[];
}

async function runCronPastStuckThreshold() {
  const ctx = createExecutionContext();
  const at = Date.now() + SWEEPER.stuckAfterMs + 60_000;
  await worker.scheduled(createScheduledController({ scheduledTime: at, cron: '*/15 * * * *' }), env, ctx);
  await waitOnExecutionContext(ctx);
}

/** Messages of this job type are lost: the send succeeds, nothing is ever delivered. */
function loseJobs(type: string) {
  const send = env.JOBS.send.bind(env.JOBS);
  const sendBatch = env.JOBS.sendBatch.bind(env.JOBS);
  // What a dropped send "returns" does not matter to the code under test, which ignores it.
  const accepted = { metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } } as never;
  vi.spyOn(env.JOBS, 'send').mockImplementation(async (body, options) =>
    (body as { type?: string }).type === type ? accepted : send(body, options),
  );
  vi.spyOn(env.JOBS, 'sendBatch').mockImplementation(async (messages, options) => {
    const kept = [...messages].filter((m) => (m.body as { type?: string }).type !== type);
    return kept.length > 0 ? sendBatch(kept, options) : accepted;
  });
}

const paths = async (owner: Account, sourceId: string) => (await pages(owner, sourceId)).map((p) => new URL(p.url).pathname).sort();

describe('website crawl', () => {
  beforeEach(() => site({ reset: true }));
  afterEach(() => vi.restoreAllMocks());

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
    // ~100 pages: on a loaded machine this takes longer than the default wait.
    const first = await crawl(owner, { maxPages: 200, maxDepth: 1 }, 60_000);
    expect(first.progress.total).toBeGreaterThanOrEqual(96);
    expect((await call('POST', `/api/v1/sources/${first.id}/sync`, { token: owner.token })).status).toBe(202);
    const synced = await waitForSource(owner.token, first.id, ['ready', 'failed'], 60_000);
    expect(synced.status).toBe('ready');
    expect(synced.progress.total).toBe(first.progress.total);
  }, 120_000);

  it("refuses a maxPages above the operator's CRAWL_MAX_PAGES (500 here) with a 400 naming the limit, instead of capping it silently", async () => {
    const owner = await register('crawl-ceiling');
    const path = `/api/v1/bots/${owner.botId}/sources`;
    const over = expectProblem(await call('POST', path, { token: owner.token, body: { type: 'website', url: `${SITE}/`, maxPages: 501 } }), 400, 'validation_failed');
    expect(over.errors).toEqual([expect.objectContaining({ path: 'maxPages' })]);
    expect(over.errors[0].message).toContain('CRAWL_MAX_PAGES');
    expect(over.errors[0].message).toContain('500');
    expect(await countRows('SELECT count(*) AS n FROM sources WHERE org_id = ?', owner.orgId)).toBe(0);

    // Another org's bot is not found, whatever maxPages says.
    const stranger = await register('crawl-ceiling-other');
    expectProblem(await call('POST', path, { token: stranger.token, body: { type: 'website', url: `${SITE}/`, maxPages: 10 } }), 404, 'bot_not_found');

    // The ceiling itself is allowed and stored as asked.
    const atCeiling = await crawl(owner, { maxPages: 500, maxDepth: 0 });
    expect(atCeiling.config.maxPages).toBe(500);
  });

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

  it('refuses a redirect to an internal address at every hop, without fetching it', async () => {
    const owner = await register('crawl-redirect-inward');
    await site({ redirects: { '/moved': 'http://localhost./admin', '/metadata': 'http://[::ffff:a9fe:a9fe]/latest/meta-data/' } });
    for (const [path, reason] of [
      ['/moved', 'Refused: redirected to a refused URL: "localhost" is a single-label name'],
      ['/metadata', 'Refused: redirected to a refused URL: [::ffff:a9fe:a9fe] is not a public address: IPv4-mapped 169.254.169.254 (link-local).'],
    ]) {
      const res = await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'url', url: `${SITE}${path}` } });
      expect(res.status).toBe(202);
      const failed = await waitForSource(owner.token, res.body.id);
      expect(failed.status).toBe('failed');
      expect(failed.error).toContain(reason);
    }
    const fetched = await hits();
    expect(fetched['/moved']).toBe(1);
    // The test site answers every host: a request that got past the guard would show here.
    expect(fetched['/admin']).toBeUndefined();
    expect(fetched['/latest/meta-data/']).toBeUndefined();
  });

  it('follows a redirect for a single URL source', async () => {
    const owner = await register('crawl-url');
    const res = await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'url', url: `${SITE}/old-install` } });
    const ready = await waitForSource(owner.token, res.body.id);
    expect(ready.status).toBe('ready');
    const [top] = await searchBot(owner.token, owner.botId, 'which port does the daemon use');
    expect(top!.text).toContain('7421');
  });

  it('a new website whose discovery message was lost is crawled once the sweeper finds it', async () => {
    const owner = await register('crawl-lost-new');
    loseJobs('website.discover');
    const res = await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'website', url: `${SITE}/`, maxPages: 20 } });
    vi.restoreAllMocks();
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('queued');
    expect(await countRows('SELECT count(*) AS n FROM documents WHERE source_id = ?', res.body.id)).toBe(0);

    await runCronPastStuckThreshold();
    const ready = await waitForSource(owner.token, res.body.id);
    expect(ready).toMatchObject({ status: 'ready', progress: { done: 5, total: 5, failed: 0 } });
  });

  it('a sync whose discovery message was lost is discovered again by the sweeper', async () => {
    const owner = await register('crawl-lost-discovery');
    const first = await crawl(owner, { maxPages: 20 });
    await site({ set: { '/docs/billing': { title: 'Billing', body: '<p>Invoices now arrive on the fifteenth of each month.</p>' } } });
    loseJobs('website.discover');
    expect((await call('POST', `/api/v1/sources/${first.id}/sync`, { token: owner.token })).status).toBe(202);
    // The sync job starts generation 2, then its discovery message is lost: processing, with nothing in flight.
    await vi.waitUntil(
      async () => (await env.DB.prepare(`SELECT 1 FROM sources WHERE id = ? AND generation = 2 AND status = 'processing'`).bind(first.id).first()) !== null,
      { timeout: 10_000, interval: 100 },
    );
    vi.restoreAllMocks();

    await runCronPastStuckThreshold();
    const synced = await waitForSource(owner.token, first.id);
    expect(synced).toMatchObject({ status: 'ready', progress: { done: 5, total: 5, failed: 0 } });
    expect(Date.parse(synced.lastSyncedAt)).toBeGreaterThan(Date.parse(first.lastSyncedAt));
    expect((await searchBot(owner.token, owner.botId, 'when do invoices arrive', { mode: 'keyword' }))[0]!.text).toContain('fifteenth');
  });

  it('a delete racing a discovery stays deleted: the discovery adds no pages afterwards', async () => {
    const owner = await register('crawl-delete-race');
    loseJobs('website.discover');
    const res = await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'website', url: `${SITE}/`, maxPages: 20 } });
    vi.restoreAllMocks();
    const sourceId = res.body.id as string;

    // The discovery runs and waits on robots.txt...
    await site({ hold: ['/robots.txt'] });
    const ctx = createExecutionContext();
    const batch = createMessageBatch('kyrochat-jobs', [
      { id: 'discover', timestamp: new Date(), attempts: 1, body: { type: 'website.discover', orgId: owner.orgId, sourceId, generation: 1 } },
    ]);
    const discovery = worker.queue(batch, env, ctx);
    await vi.waitUntil(async () => ((await hits())['/robots.txt'] ?? 0) >= 1, { timeout: 10_000, interval: 50 });
    // ...while the source is deleted (its purge not yet run, as when the queue is busy)...
    loseJobs('source.purge');
    expect((await call('DELETE', `/api/v1/sources/${sourceId}`, { token: owner.token })).status).toBe(204);
    vi.restoreAllMocks();
    // ...then the discovery finishes.
    await site({ release: true });
    await discovery;
    // It ran to the end (acked, not retried after an error or a timeout).
    expect(await getQueueResult(batch, ctx)).toMatchObject({ explicitAcks: ['discover'], retryMessages: [] });

    expectProblem(await call('GET', `/api/v1/sources/${sourceId}`, { token: owner.token }), 404, 'source_not_found');
    expect(await countRows(`SELECT count(*) AS n FROM sources WHERE id = ? AND status = 'deleting'`, sourceId)).toBe(1);
    expect(await countRows('SELECT count(*) AS n FROM documents WHERE source_id = ?', sourceId)).toBe(0);
    await runCronPastStuckThreshold();
    await waitForPurge(sourceId);
  });

  it('a re-sync at maxPages counts only the pages seen in this crawl', async () => {
    const owner = await register('crawl-budget');
    const page = (title: string, links: string[]) => ({ title, body: `<p>${title}. ${links.map((l) => `<a href="${l}">${l}</a>`).join(' ')}</p>` });
    await site({ set: { '/': page('Hub', ['/x/a', '/x/b']), '/x/a': page('Page A', []), '/x/b': page('Page B', []) }, sitemap: false });
    const first = await crawl(owner, { maxPages: 3, maxDepth: 1, include: ['/x/*'] });
    expect(await paths(owner, first.id)).toEqual(['/', '/x/a', '/x/b']);

    // The site moved on: two new pages, the old ones gone. The budget of 3 fits the new crawl.
    await site({ set: { '/': page('Hub', ['/x/c', '/x/d']), '/x/c': page('Page C', []), '/x/d': page('Page D', []) }, remove: ['/x/a', '/x/b'] });
    expect((await call('POST', `/api/v1/sources/${first.id}/sync`, { token: owner.token })).status).toBe(202);
    const synced = await waitForSource(owner.token, first.id);
    expect(synced.status).toBe('ready');
    expect(await paths(owner, first.id)).toEqual(['/', '/x/c', '/x/d']);
  });

  it('a re-sync removes 100 or more pages that disappeared (D1 binds at most 100 parameters per statement)', async () => {
    const owner = await register('crawl-vanished');
    const first = await crawl(owner, { maxDepth: 0 });
    // Pages an earlier crawl found that the site no longer has.
    const now = Date.now();
    await env.DB.batch(
      Array.from({ length: 120 }, (_, i) =>
        env.DB.prepare(
          `INSERT INTO documents (id, org_id, bot_id, source_id, title, locator, mime, status, seen_generation, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, 'text/html', 'ready', 1, ?, ?)`,
        ).bind(newId('doc'), owner.orgId, owner.botId, first.id, `Gone ${i}`, `${SITE}/gone/${i}`, now, now),
      ),
    );
    expect((await call('POST', `/api/v1/sources/${first.id}/sync`, { token: owner.token })).status).toBe(202);
    const synced = await waitForSource(owner.token, first.id);
    expect(synced).toMatchObject({ status: 'ready', progress: { done: 1, total: 1, failed: 0 } });
    expect(await countRows('SELECT count(*) AS n FROM documents WHERE source_id = ?', first.id)).toBe(1);
  });
  it('refuses an include or exclude pattern over the wildcard cap with a 422, storing nothing; another org\'s bot is a 404', async () => {
    const owner = await register('crawl-wild');
    const tooWild = `/${'a*'.repeat(WILDCARD_MAX_PER_PATTERN + 1)}b`;
    const res = await call('POST', `/api/v1/bots/${owner.botId}/sources`, {
      token: owner.token,
      body: { type: 'website', url: `${SITE}/`, include: ['/docs/*'], exclude: [tooWild] },
    });
    const problem = expectProblem(res, 422, 'pattern_too_complex');
    expect(problem.errors).toEqual([expect.objectContaining({ path: 'exclude.0', code: 'too_many_wildcards' })]);
    expect(await countRows('SELECT count(*) AS n FROM sources WHERE org_id = ?', owner.orgId)).toBe(0);

    // At the cap is fine (and matched in linear time).
    const atCap = `/${'a*'.repeat(WILDCARD_MAX_PER_PATTERN)}b`;
    const ok = await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'website', url: `${SITE}/`, maxDepth: 0, exclude: [atCap] } });
    expect(ok.status).toBe(202);
    await waitForSource(owner.token, ok.body.id);

    const stranger = await register('crawl-wild-other');
    const cross = await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: stranger.token, body: { type: 'website', url: `${SITE}/`, exclude: [atCap] } });
    expectProblem(cross, 404);
  });

  it('reads robots.txt up to 500 KiB: a rule after 64 KiB of comments is honoured', async () => {
    const owner = await register('crawl-robots-big');
    const padding = `# ${'x'.repeat(98)}\n`.repeat(700); // 70,000 bytes of comments
    await site({ robots: `User-agent: *\n${padding}Disallow: /docs/billing\n` });
    const source = await crawl(owner, { maxPages: 20 });
    expect(source.status).toBe('ready');
    const paths = (await pages(owner, source.id)).map((p) => new URL(p.url).pathname);
    expect(paths).toContain('/docs/install');
    expect(paths).not.toContain('/docs/billing');
    expect((await hits())['/docs/billing']).toBeUndefined();
  });

  it('keeps the crawler\'s robots.txt state out of a source\'s public config, and a client cannot set it', async () => {
    const owner = await register('crawl-internal');
    const res = await call('POST', `/api/v1/bots/${owner.botId}/sources`, {
      token: owner.token,
      body: { type: 'website', url: `${SITE}/`, maxDepth: 0, _robotsState: 'ok', _robots: 'User-agent: *\nAllow: /private/' },
    });
    expect(res.status).toBe(202);
    expect(Object.keys(res.body.config).filter((key) => key.startsWith('_'))).toEqual([]);
    const ready = await waitForSource(owner.token, res.body.id);
    expect(ready.config).toEqual({ url: `${SITE}/`, maxPages: 50, maxDepth: 0, include: [], exclude: [] });
    const listed = await call('GET', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token });
    expect(Object.keys(listed.body.data[0].config).filter((key: string) => key.startsWith('_'))).toEqual([]);
    // The crawler did save its state; what is stored is the site's robots.txt, not the client's.
    const row = await env.DB.prepare('SELECT config FROM sources WHERE id = ?').bind(res.body.id).first<{ config: string }>();
    const stored = JSON.parse(row!.config);
    expect(stored._robotsState).toBe('ok');
    expect(stored._robots).toContain('Disallow: /private/');
  });

  it('decodes a page in the charset its Content-Type header or its <meta> declares', async () => {
    const owner = await register('crawl-charset');
    const latin = await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'url', url: `${SITE}/latin1` } });
    const meta = await call('POST', `/api/v1/bots/${owner.botId}/sources`, { token: owner.token, body: { type: 'url', url: `${SITE}/meta-charset` } });
    for (const res of [latin, meta]) expect((await waitForSource(owner.token, res.body.id)).status).toBe('ready');
    const [latinDoc] = await pages(owner, latin.body.id);
    const [metaDoc] = await pages(owner, meta.body.id);
    const previews = await Promise.all(
      [latinDoc!, metaDoc!].map(async (doc) => (await call('GET', `/api/v1/documents/${doc.id}`, { token: owner.token })).body.preview as string),
    );
    expect(previews[0]).toContain('Our crème brûlée à la façon de Zoë is served warm.');
    expect(previews[1]).toContain('The naïve plan costs 12 € per month.');
    const hits = await searchBot(owner.token, owner.botId, 'crème brûlée', { mode: 'keyword' });
    expect(hits[0]!.text).toContain('crème brûlée');
  });

  it('skips a gzip-bomb sitemap (trailer claiming 4 GiB) as invalid for good: the crawl goes on from links and discovery is not retried', async () => {
    // End-to-end behaviour only: local workerd does not enforce the 128 MB isolate limit, so the
    // old whole-buffer inflate passes here too. The regression test is in web-sitemap.test.ts.
    const owner = await register('crawl-bomb');
    const bomb = await gzipBomb(200 * 1024 * 1024);
    // The trailer may claim any size up to 4 GiB; a decoder that trusts it allocates that much.
    bomb.fill(0xff, bomb.length - 4);
    let binary = '';
    for (const byte of bomb) binary += String.fromCharCode(byte);
    await site({ sitemapBase64: btoa(binary) });
    const source = await crawl(owner, { maxPages: 20, maxDepth: 1 });
    expect(source).toMatchObject({ status: 'ready', error: null });
    const paths = (await pages(owner, source.id)).map((p) => new URL(p.url).pathname).sort();
    expect(paths).toEqual(['/', '/docs/billing', '/docs/install', '/legal']);
    expect((await hits())['/sitemap.xml']).toBe(1);
    expect((await hits())['/robots.txt']).toBe(1);
  }, 60_000);
});
