/**
 * Crawling url and website sources. `discoverWebsite` reads robots.txt and the sitemap and
 * seeds the first pages; each `crawlPage` job fetches one page, stores it, queues the
 * same-site links it finds (within maxDepth / maxPages, include / exclude and robots.txt), and
 * indexes the page. One page per job keeps every invocation far inside CPU and subrequest limits.
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
import { documents, sources } from '../../db/schema';
import type { ServiceContext } from '../../context';
import { sha256Hex } from '../../lib/crypto';
import { ROBOTS_TXT_MAX_BYTES } from '../../limits';
import { newId } from '../../lib/ids';
import { enqueueMany } from '../../jobs/messages';
import { indexDocumentSlice } from './indexer';
import { failDocument, settleSource } from './settle';
import { admitPageStatements, moveDocument, moveSource, type AdmittedPage } from './lifecycle';
import { splitForStatements } from '../../db/bound-parameters';
import { purgeDocuments } from './purge';
import { originalKey } from './storage';
import { fetchPage, CRAWLER_USER_AGENT } from './web-fetch';
import { htmlToPage, isHtml } from './document-text';
import { storeExtractedText } from './extracted-text';
import { parseRobotsTxt, robotsPolicyWithoutFile, type RobotsPolicy } from './web/robots';
import { decodeSitemapBody, parseSitemap } from './web/sitemap';
import { normalizeUrl, passesUrlFilter } from './web/urls';
import type { WebsiteConfig } from './sources';
import { takeCrawlPage } from './crawl-quota';

import { MAX_SITEMAPS } from '../../limits';
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

/**
 * Queues pages for this generation: unseen URLs become new documents and known ones from an
 * older generation are marked pending again, in link order, while fewer than maxPages pages
 * have been seen in this generation (lifecycle.ts's guarded statements; pages of the previous
 * crawl that were not seen again do not use the budget). A page with hundreds of links costs
 * a handful of round trips: lookups by chunks of locators, and one batch of guarded writes.
 * Returns how many pages were queued.
 */
async function admitPages(ctx: ServiceContext, source: SourceRow, pages: { url: string; depth: number }[], maxPages: number): Promise<number> {
  const depthOf = new Map<string, number>();
  for (const p of pages) if (!depthOf.has(p.url)) depthOf.set(p.url, p.depth);
  if (depthOf.size === 0) return 0;
  const locators = [...depthOf.keys()];
  const known = new Map<string, { id: string; seenGeneration: number }>();
  for (const group of splitForStatements(locators, 1, 1)) {
    const existing = await ctx.db
      .select({ id: documents.id, locator: documents.locator, seenGeneration: documents.seenGeneration })
      .from(documents)
      .where(and(eq(documents.sourceId, source.id), inArray(documents.locator, group)));
    for (const row of existing) known.set(row.locator, row);
  }
  const candidates: AdmittedPage[] = [];
  for (const url of locators) {
    const row = known.get(url);
    if (!row) candidates.push({ kind: 'create', id: newId('doc', ctx.clock), url, depth: depthOf.get(url)! });
    else if (row.seenGeneration < source.generation) candidates.push({ kind: 'revive', id: row.id });
  }
  if (candidates.length === 0) return 0;
  // Only a hint to keep the batch small: each statement re-checks the budget itself, since
  // concurrent crawl jobs of the same site share it.
  const seen = await ctx.db
    .select({ n: sql<number>`count(*)` })
    .from(documents)
    .where(and(eq(documents.sourceId, source.id), eq(documents.seenGeneration, source.generation)))
    .get();
  const room = Math.max(0, maxPages - (seen?.n ?? 0));
  const statements = admitPageStatements(ctx, source, maxPages, candidates.slice(0, room));
  const queued: { id: string }[] = [];
  if (statements.length > 0) {
    for (const result of await ctx.env.DB.batch<{ id: string }>(statements)) queued.push(...result.results);
  }
  await enqueueMany(
    ctx.env,
    queued.map((d) => ({ type: 'page.crawl' as const, orgId: source.orgId, documentId: d.id, generation: source.generation })),
  );
  return queued.length;
}

export async function discoverWebsite(ctx: ServiceContext, job: { orgId: string; sourceId: string; generation: number }) {
  const source = await ctx.db.select().from(sources).where(and(eq(sources.id, job.sourceId), eq(sources.orgId, job.orgId))).get();
  if (!source || source.status === 'deleting') return 'gone';
  if (source.generation !== job.generation) return 'stale';
  await moveSource(ctx, source.id, 'startWork');
  const config = websiteConfig(source);
  const start = new URL(normalizeUrl(config.url) ?? config.url);

  // RFC 9309: a 4xx robots.txt means no rules; a 5xx or network error means "try later".
  const robotsUrl = `${start.origin}/robots.txt`;
  const robotsResponse = await fetchPage(ctx.env, robotsUrl);
  if (!robotsResponse.ok && robotsResponse.transient) throw new TransientCrawlError(`robots.txt: ${robotsResponse.reason}`);
  const robotsText = robotsResponse.ok ? new TextDecoder().decode(robotsResponse.bytes.subarray(0, ROBOTS_TXT_MAX_BYTES)) : '';
  const saved: SavedRobots = robotsResponse.ok ? { _robots: robotsText, _robotsState: 'ok' } : { _robotsState: 'unavailable' };
  const robots = robotsResponse.ok ? parseRobotsTxt(robotsText, CRAWLER_USER_AGENT, robotsUrl) : robotsPolicyWithoutFile('unavailable');
  await ctx.db
    .update(sources)
    .set({ config: { ...source.config, ...saved }, updatedAt: ctx.clock.now() })
    .where(eq(sources.id, source.id));

  if (!robots.isAllowed(start.pathname + start.search)) {
    await moveSource(ctx, source.id, 'fail', { error: `robots.txt does not allow crawling ${start.pathname}.` });
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
    // An unreadable sitemap (broken, or a gzip bomb) is skipped for good: the crawl goes on from links.
    const body = decodeSitemapBody(res.bytes);
    if (!body.ok) continue;
    const sitemap = parseSitemap(body.text, res.url);
    if (sitemap.kind === 'invalid') continue;
    for (const entry of sitemap.entries) {
      if (sitemap.kind === 'sitemapindex') sitemapQueue.push(entry.url);
      else if (admissible(entry.url, start, config, robots)) fromSitemaps.add(entry.url);
    }
  }

  const seeds = [{ url: start.toString(), depth: 0 }, ...[...fromSitemaps].filter((u) => u !== start.toString()).map((url) => ({ url, depth: 1 }))];
  const queued = await admitPages(ctx, source, seeds.slice(0, maxPages), maxPages);
  // Nothing new to crawl (a re-run of this discovery, or every page already seen): no page job
  // will settle the source, so discovery does.
  if (queued === 0) await settleSource(ctx, source.id);
  return `seeded ${queued}`;
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
  await moveSource(ctx, source.id, 'startWork');

  const isWebsite = source.type === 'website';
  const config = isWebsite ? websiteConfig(source) : null;
  const robots = robotsFor(source);
  const pageUrl = new URL(doc.locator);
  if (isWebsite && !robots.isAllowed(pageUrl.pathname + pageUrl.search)) {
    await failDocument(ctx, doc.id, source.id, 'robots.txt does not allow this page.');
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
    await failDocument(ctx, doc.id, source.id, fetched.reason);
    return 'failed';
  }
  if (!CRAWLABLE_TYPES.has(fetched.contentType)) {
    await failDocument(ctx, doc.id, source.id, `Pages of type ${fetched.contentType} are not indexed.`);
    return 'failed';
  }

  const page = isHtml(fetched.contentType) ? await htmlToPage(fetched.bytes, fetched.url, fetched.contentTypeHeader) : null;
  if (isWebsite && config && page && doc.depth < config.maxDepth) {
    const start = new URL(normalizeUrl(config.url) ?? config.url);
    const links = page.links.filter((u) => admissible(u, start, config, robots));
    await admitPages(ctx, source, links.map((url) => ({ url, depth: doc.depth + 1 })), Math.min(config.maxPages, ctx.config.crawlMaxPages));
  }
  if (page?.robots.noindex) {
    await moveDocument(ctx, doc.id, 'skip', { error: 'The page asks not to be indexed (noindex).' });
    await settleSource(ctx, source.id);
    return 'noindex';
  }

  const contentHash = await sha256Hex(page ? page.text : fetched.bytes);
  if (doc.contentHash === contentHash && doc.chunkCount > 0 && doc.indexKey) {
    await moveDocument(ctx, doc.id, 'finish', { error: null, seenGeneration: source.generation });
    await settleSource(ctx, source.id);
    return 'unchanged';
  }

  const r2Key = originalKey(doc);
  // The full header is kept: its charset is how the indexer decodes this original.
  await ctx.env.FILES.put(r2Key, fetched.bytes, { httpMetadata: { contentType: fetched.contentTypeHeader ?? fetched.contentType }, customMetadata: { url: fetched.url } });
  // The page's main content is extracted already: store it, so indexing does not extract it again.
  if (page) await storeExtractedText(ctx, r2Key, contentHash, { ok: true, kind: 'html', text: page.text, title: page.title || undefined });
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
