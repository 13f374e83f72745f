/**
 * A source's status follows its documents. Called after every document finishes: when none
 * is pending or processing any more, the source becomes ready (or failed when nothing could be
 * indexed), and for web sources the pages a sync did not see again are removed.
 */
import { and, eq, inArray, lt, ne, sql } from 'drizzle-orm';
import { documents, sources } from '../../db/schema';
import type { ServiceContext } from '../../context';
import { purgeDocuments } from './purge';

export async function settleSource(ctx: ServiceContext, sourceId: string): Promise<void> {
  const source = await ctx.db.select().from(sources).where(eq(sources.id, sourceId)).get();
  if (!source || source.status === 'deleting') return;
  const counts = await ctx.db
    .select({ status: documents.status, n: sql<number>`count(*)`, error: sql<string | null>`max(${documents.error})` })
    .from(documents)
    .where(eq(documents.sourceId, sourceId))
    .groupBy(documents.status);
  const count = (s: string) => counts.find((c) => c.status === s)?.n ?? 0;
  if (count('pending') + count('processing') > 0) return;

  if (source.type === 'website' || source.type === 'url') {
    // Pages this generation's crawl did not reach again are gone from the site.
    const stale = await ctx.db
      .select()
      .from(documents)
      .where(and(eq(documents.sourceId, sourceId), lt(documents.seenGeneration, source.generation)));
    if (stale.length > 0) await purgeDocuments(ctx, source.orgId, stale);
  }

  const failed = count('failed');
  const good = count('ready') + count('skipped');
  const total = failed + good;
  const failedError = counts.find((c) => c.status === 'failed')?.error ?? null;
  let status: 'ready' | 'failed' = 'ready';
  let error: string | null = null;
  if (total === 0) {
    status = 'failed';
    error = source.type === 'website' ? 'No page could be crawled (check the URL, robots.txt and include/exclude patterns).' : 'Nothing to index.';
  } else if (good === 0) {
    status = 'failed';
    error = failedError ?? 'Every document failed.';
  } else if (failed > 0) {
    error = `${failed} of ${total} documents failed${failedError ? ` (e.g. ${failedError})` : ''}.`;
  }
  const now = ctx.clock.now();
  await ctx.db
    .update(sources)
    .set({ status, error, lastSyncedAt: now, updatedAt: now })
    .where(and(eq(sources.id, sourceId), ne(sources.status, 'deleting')));
}

/** First document starting: the source is now processing (unless it is being deleted). */
export async function markSourceProcessing(ctx: ServiceContext, sourceId: string) {
  await ctx.db
    .update(sources)
    .set({ status: 'processing', updatedAt: ctx.clock.now() })
    .where(and(eq(sources.id, sourceId), inArray(sources.status, ['queued', 'ready', 'failed'])));
}
