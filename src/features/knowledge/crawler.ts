/**
 * Crawling url and website sources. `discoverWebsite` reads robots.txt and the sitemap and
 * seeds the first pages; each `crawlPage` job fetches one page, stores it, queues the
 * same-site links it finds (within maxDepth / maxPages, include / exclude and robots.txt), and
 * indexes the page. One page per job keeps every invocation far inside CPU and subrequest limits.
 */
import { and, eq, inArray, lt, sql } from 'drizzle-orm';
import { documents, sources } from '../../db/schema';
import type { ServiceContext } from '../../context';
import { sha256Hex } from '../../lib/crypto';
import { newId } from '../../lib/ids';
import { enqueueMany } from '../../jobs/messages';
import { indexDocumentSlice, markDocumentFailed } from './indexer';
import { markSourceProcessing, settleSource } from './settle';
import { purgeDocuments } from './purge';
import { originalKey } from './storage';
import { fetchPage, CRAWLER_USER_AGENT } from './web-fetch';
import { htmlToPage, isHtml } from './document-text';
import { parseRobotsTxt, robotsPolicyWithoutFile, type RobotsPolicy } from './web/robots';
import { decodeSitemapBody, parseSitemap } from './web/sitemap';
import { normalizeUrl, passesUrlFilter } from './web/urls';
import type { WebsiteConfig } from './sources';
import { takeCrawlPage } from './crawl-quota';

const MAX_SITEMAPS = 5;
const MAX_ROBOTS_BYTES = 64 * 1024;
const CRAWLABLE_TYPES = new Set(['text/html', 'application/xhtml+xml', 'text/plain', 'text/markdown', 'application/pdf']);

type SourceRow = typeof sources.$inferSelect;

/** Transient crawl failure: thrown so the queue retries with backoff. */
class TransientCrawlError extends Error {}

/** The robots.txt outcome saved by discovery: the file's text, or why there was none. */
interface SavedRobots {
  _robots?: string;
  _robotsState?: 'ok' | 'unavailable';
}

function robotsFor(source: SourceRow): RobotsPolicy {
  const saved = source.config as SavedRobots;
  return saved._robotsState === 'ok' && typeof saved._robots === 'string'
    ? parseRobotsTxt(saved._robots, CRAWLER_USER_AGENT)
    : robotsPolicyWithoutFile('unavailable');
}

function websiteConfig(source: SourceRow): WebsiteConfig {
  return source.config as unknown as WebsiteConfig;
}

/** Whether a discovered URL belongs in this crawl. */
function admissible(url: string, start: URL, config: WebsiteConfig, robots: RobotsPolicy): boolean {
  const u = new URL(url);
  if (u.origin !== start.origin) return false;
  if (!passesUrlFilter(u, { include: config.include, exclude: config.exclude })) return false;
  return robots.isAllowed(u.pathname + u.search);
}

/** Locators per IN (...) list, under D1's 100 bound parameters per statement. */
const LOCATORS_PER_STATEMENT = 90;

/**
 * Queues pages for this generation: unseen URLs become new documents (while the source has
 * fewer than maxPages), known ones from an older generation are marked pending again. A page
 * with hundreds of links costs a handful of round trips: lookups by chunks of locators, and
 * one batch of guarded inserts.
 */
async function admitPages(ctx: ServiceContext, source: SourceRow, pages: { url: string; depth: number }[], maxPages: number) {
  const depthOf = new Map<string, number>();
  for (const p of pages) if (!depthOf.has(p.url)) depthOf.set(p.url, p.depth);
  if (depthOf.size === 0) return;
  const now = ctx.clock.now();
  const locators = [...depthOf.keys()];
  const known = new Set<string>();
  const queued: { id: string }[] = [];
  for (let i = 0; i < locators.length; i += LOCATORS_PER_STATEMENT) {
    const slice = locators.slice(i, i + LOCATORS_PER_STATEMENT);
    const existing = await ctx.db
      .select({ id: documents.id, locator: documents.locator, seenGeneration: documents.seenGeneration })
      .from(documents)
      .where(and(eq(documents.sourceId, source.id), inArray(documents.locator, slice)));
    for (const row of existing) known.add(row.locator);
    const stale = existing.filter((row) => row.seenGeneration < source.generation).map((row) => row.id);
    if (stale.length > 0) {
      queued.push(
        ...(await ctx.db
          .update(documents)
          .set({ status: 'pending', seenGeneration: source.generation, updatedAt: now })
          .where(and(inArray(documents.id, stale), lt(documents.seenGeneration, source.generation)))
          .returning({ id: documents.id })),
      );
    }
  }

  const fresh = locators.filter((url) => !known.has(url));
  if (fresh.length > 0) {
    const count = await ctx.db.select({ n: sql<number>`count(*)` }).from(documents).where(eq(documents.sourceId, source.id)).get();
    const room = Math.max(0, maxPages - (count?.n ?? 0));
    // The count guard stays in each insert: concurrent crawl jobs of the same site share maxPages.
    const inserts = fresh.slice(0, room).map((url) =>
      ctx.env.DB.prepare(
        `INSERT OR IGNORE INTO documents (id, org_id, bot_id, source_id, title, locator, depth, mime, status, seen_generation, created_at, updated_at)
         SELECT ?, ?, ?, ?, ?, ?, ?, 'text/html', 'pending', ?, ?, ?
         WHERE (SELECT count(*) FROM documents WHERE source_id = ?) < ?
         RETURNING id`,
      ).bind(newId('doc', ctx.clock), source.orgId, source.botId, source.id, url, url, depthOf.get(url)!, source.generation, now, now, source.id, maxPages),
    );
    if (inserts.length > 0) {
      for (const result of await ctx.env.DB.batch<{ id: string }>(inserts)) queued.push(...result.results);
    }
  }
  await enqueueMany(
    ctx.env,
    queued.map((d) => ({ type: 'page.crawl' as const, orgId: source.orgId, documentId: d.id, generation: source.generation })),
  );
}

export async function discoverWebsite(ctx: ServiceContext, job: { orgId: string; sourceId: string; generation: number }) {
  const source = await ctx.db.select().from(sources).where(and(eq(sources.id, job.sourceId), eq(sources.orgId, job.orgId))).get();
  if (!source || source.status === 'deleting') return 'gone';
  if (source.generation !== job.generation) return 'stale';
  await markSourceProcessing(ctx, source.id);
  const config = websiteConfig(source);
  const start = new URL(normalizeUrl(config.url) ?? config.url);

  // RFC 9309: a 4xx robots.txt means no rules; a 5xx or network error means "try later".
  const robotsUrl = `${start.origin}/robots.txt`;
  const robotsResponse = await fetchPage(ctx.env, robotsUrl);
  if (!robotsResponse.ok && robotsResponse.transient) throw new TransientCrawlError(`robots.txt: ${robotsResponse.reason}`);
  const robotsText = robotsResponse.ok ? new TextDecoder().decode(robotsResponse.bytes.slice(0, MAX_ROBOTS_BYTES)) : '';
  const saved: SavedRobots = robotsResponse.ok ? { _robots: robotsText, _robotsState: 'ok' } : { _robotsState: 'unavailable' };
  const robots = robotsResponse.ok ? parseRobotsTxt(robotsText, CRAWLER_USER_AGENT, robotsUrl) : robotsPolicyWithoutFile('unavailable');
  await ctx.db
    .update(sources)
    .set({ config: { ...source.config, ...saved }, updatedAt: ctx.clock.now() })
    .where(eq(sources.id, source.id));

  if (!robots.isAllowed(start.pathname + start.search)) {
    await ctx.db
      .update(sources)
      .set({ status: 'failed', error: `robots.txt does not allow crawling ${start.pathname}.`, updatedAt: ctx.clock.now() })
      .where(eq(sources.id, source.id));
    return 'disallowed';
  }

  // Sitemaps named in robots.txt, else the conventional location; sitemap indexes one level deep.
  const maxPages = Math.min(config.maxPages, ctx.config.crawlMaxPages);
  // Sitemap pages count as one step from the start page: maxDepth 0 means that page only.
  const sitemapQueue = config.maxDepth === 0 ? [] : robots.sitemaps.length > 0 ? [...robots.sitemaps] : [`${start.origin}/sitemap.xml`];
  const fromSitemaps = new Set<string>();
  for (let i = 0; i < sitemapQueue.length && i < MAX_SITEMAPS && fromSitemaps.size < maxPages; i++) {
    const res = await fetchPage(ctx.env, sitemapQueue[i]!, { sameOriginAs: start.origin });
    if (!res.ok) continue;
    const sitemap = parseSitemap(decodeSitemapBody(res.bytes), res.url);
    if (sitemap.kind === 'invalid') continue;
    for (const entry of sitemap.entries) {
      if (sitemap.kind === 'sitemapindex') sitemapQueue.push(entry.url);
      else if (admissible(entry.url, start, config, robots)) fromSitemaps.add(entry.url);
    }
  }

  const seeds = [{ url: start.toString(), depth: 0 }, ...[...fromSitemaps].filter((u) => u !== start.toString()).map((url) => ({ url, depth: 1 }))];
  await admitPages(ctx, source, seeds.slice(0, maxPages), maxPages);
  return `seeded ${Math.min(seeds.length, maxPages)}`;
}

export async function crawlPage(ctx: ServiceContext, job: { orgId: string; documentId: string; generation: number }) {
  const row = await ctx.db
    .select({ doc: documents, source: sources })
    .from(documents)
    .innerJoin(sources, eq(sources.id, documents.sourceId))
    .where(and(eq(documents.id, job.documentId), eq(documents.orgId, job.orgId)))
    .get();
  if (!row || row.source.status === 'deleting') return 'gone';
  const { doc, source } = row;
  if (job.generation < source.generation) return 'stale';
  if (doc.status !== 'pending' && doc.status !== 'processing') return 'duplicate';
  await markSourceProcessing(ctx, source.id);

  const isWebsite = source.type === 'website';
  const config = isWebsite ? websiteConfig(source) : null;
  const robots = robotsFor(source);
  const pageUrl = new URL(doc.locator);
  if (isWebsite && !robots.isAllowed(pageUrl.pathname + pageUrl.search)) {
    await markDocumentFailed(ctx, doc.id, source.id, 'robots.txt does not allow this page.');
    return 'disallowed';
  }

  if (!(await takeCrawlPage(ctx, source, doc.id))) return 'quota_exceeded';
  const fetched = await fetchPage(ctx.env, doc.locator, isWebsite ? { sameOriginAs: doc.locator } : {});
  if (!fetched.ok) {
    if (fetched.transient) throw new TransientCrawlError(fetched.reason);
    if ((fetched.status === 404 || fetched.status === 410) && doc.chunkCount > 0) {
      // The page existed before and is gone now: remove what we knew from it.
      await purgeDocuments(ctx, source.orgId, [doc]);
      await settleSource(ctx, source.id);
      return 'removed';
    }
    await markDocumentFailed(ctx, doc.id, source.id, fetched.reason);
    return 'failed';
  }
  if (!CRAWLABLE_TYPES.has(fetched.contentType)) {
    await markDocumentFailed(ctx, doc.id, source.id, `Pages of type ${fetched.contentType} are not indexed.`);
    return 'failed';
  }

  const page = isHtml(fetched.contentType) ? await htmlToPage(fetched.bytes, fetched.url) : null;
  if (isWebsite && config && page && doc.depth < config.maxDepth) {
    const start = new URL(normalizeUrl(config.url) ?? config.url);
    const links = page.links.filter((u) => admissible(u, start, config, robots));
    await admitPages(ctx, source, links.map((url) => ({ url, depth: doc.depth + 1 })), Math.min(config.maxPages, ctx.config.crawlMaxPages));
  }
  if (page?.robots.noindex) {
    await ctx.db.update(documents).set({ status: 'skipped', error: 'The page asks not to be indexed (noindex).', updatedAt: ctx.clock.now() }).where(eq(documents.id, doc.id));
    await settleSource(ctx, source.id);
    return 'noindex';
  }

  const contentHash = await sha256Hex(page ? page.text : fetched.bytes);
  if (doc.contentHash === contentHash && doc.chunkCount > 0 && doc.indexKey) {
    await ctx.db.update(documents).set({ status: 'ready', error: null, seenGeneration: source.generation, updatedAt: ctx.clock.now() }).where(eq(documents.id, doc.id));
    await settleSource(ctx, source.id);
    return 'unchanged';
  }

  const r2Key = originalKey(doc);
  await ctx.env.FILES.put(r2Key, fetched.bytes, { httpMetadata: { contentType: fetched.contentType }, customMetadata: { url: fetched.url } });
  await ctx.db
    .update(documents)
    .set({
      r2Key,
      mime: fetched.contentType,
      sizeBytes: fetched.bytes.byteLength,
      contentHash,
      title: page?.title?.slice(0, 300) || doc.title,
      seenGeneration: source.generation,
      updatedAt: ctx.clock.now(),
    })
    .where(eq(documents.id, doc.id));
  return indexDocumentSlice(ctx, { orgId: source.orgId, documentId: doc.id, offset: 0, force: true });
}
