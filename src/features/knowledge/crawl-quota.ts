/**
 * The daily crawl quota, spent one unit per page fetch. A crawl that runs out stops: every
 * page still waiting in this source is marked failed with the reason (so their queued jobs
 * end without fetching), and the source records why it stopped instead of failing silently.
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
import { documents, sources } from '../../db/schema';
import type { ServiceContext } from '../../context';
import { consumeQuota } from '../usage/quotas';
import { settleSource } from './settle';

type SourceRow = typeof sources.$inferSelect;

/** True when this page may be fetched; otherwise the crawl has been stopped and recorded. */
export async function takeCrawlPage(ctx: ServiceContext, source: SourceRow, documentId: string): Promise<boolean> {
  const quota = await consumeQuota(ctx, source.orgId, 'crawl_pages_per_day', 1);
  if (quota.allowed) return true;
  const reason = `Not crawled: the organization's daily quota of ${quota.limit} crawled pages is used up.`;
  const now = ctx.clock.now();
  const stopped = await ctx.db
    .update(documents)
    .set({ status: 'failed', error: reason, updatedAt: now })
    .where(and(eq(documents.sourceId, source.id), inArray(documents.status, ['pending', 'processing']), sql`(${documents.id} = ${documentId} OR ${documents.status} = 'pending')`))
    .returning({ id: documents.id });
  await settleSource(ctx, source.id);
  // settleSource summarises failures generically; name the quota once the source has settled.
  await ctx.db
    .update(sources)
    .set({ error: `Crawl stopped: the organization's daily quota of ${quota.limit} crawled pages is used up; ${stopped.length} page(s) were not crawled. Sync again once it renews.`, updatedAt: now })
    .where(and(eq(sources.id, source.id), inArray(sources.status, ['ready', 'failed'])));
  return false;
}
