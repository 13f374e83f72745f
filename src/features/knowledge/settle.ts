/**
 * A source's status follows its documents. Called after every document finishes: when none
 * is pending or processing any more, the source settles to ready (or failed when nothing could
 * be indexed), and for web sources the pages this generation's crawl did not see are removed.
 * The transitions themselves are lifecycle.ts's guarded updates.
 */
import { and, eq, lt, sql } from 'drizzle-orm';
import { documents, sources } from '../../db/schema';
import type { ServiceContext } from '../../context';
import { moveDocument, moveSource } from './lifecycle';
import { purgeDocuments } from './purge';

async function statusCounts(ctx: ServiceContext, sourceId: string) {
  const counts = await ctx.db
    .select({ status: documents.status, n: sql<number>`count(*)`, error: sql<string | null>`max(${documents.error})` })
    .from(documents)
    .where(eq(documents.sourceId, sourceId))
    .groupBy(documents.status);
  return { count: (s: string) => counts.find((c) => c.status === s)?.n ?? 0, failedError: counts.find((c) => c.status === 'failed')?.error ?? null };
}

export async function settleSource(ctx: ServiceContext, sourceId: string): Promise<void> {
  const source = await ctx.db.select().from(sources).where(eq(sources.id, sourceId)).get();
  // Only a processing source settles: a deleting one stays deleting, and a queued one keeps
  // the sync that was just requested.
  if (!source || source.status !== 'processing') return;
  let { count, failedError } = await statusCounts(ctx, sourceId);
  if (count('pending') + count('processing') > 0) return;

  if (source.type === 'website' || source.type === 'url') {
    // Pages this generation's crawl did not reach again are gone from the site.
    const stale = await ctx.db
      .select({ id: documents.id, r2Key: documents.r2Key, chunkCount: documents.chunkCount })
      .from(documents)
      .where(and(eq(documents.sourceId, sourceId), lt(documents.seenGeneration, source.generation)));
    if (stale.length > 0) {
      await purgeDocuments(ctx, source.orgId, stale);
      ({ count, failedError } = await statusCounts(ctx, sourceId));
    }
  }

  const failed = count('failed');
  const good = count('ready') + count('skipped');
  const total = failed + good;
  let error: string | null = null;
  if (total === 0) {
    error = source.type === 'website' ? 'No page could be crawled (check the URL, robots.txt and include/exclude patterns).' : 'Nothing to index.';
  } else if (good === 0) {
    error = failedError ?? 'Every document failed.';
  } else if (failed > 0) {
    error = `${failed} of ${total} documents failed${failedError ? ` (e.g. ${failedError})` : ''}.`;
  }
  await moveSource(ctx, sourceId, good === 0 ? 'settleFailed' : 'settleReady', { error, lastSyncedAt: ctx.clock.now() });
}

/** A document failed for good: keep the reason, then let its source settle. */
export async function failDocument(ctx: ServiceContext, documentId: string, sourceId: string, reason: string) {
  await moveDocument(ctx, documentId, 'fail', { error: reason.slice(0, 500) });
  await settleSource(ctx, sourceId);
}
