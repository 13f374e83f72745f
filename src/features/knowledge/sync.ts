/**
 * Sync: a new generation of a source. Web sources are fetched again (pages whose text hash is
 * unchanged are not re-indexed, pages no longer reachable are removed when the generation
 * settles); stored sources are re-indexed, which skips any document whose content, chunking
 * and embedding model are all unchanged.
 */
import { and, eq, sql } from 'drizzle-orm';
import { documents, sources } from '../../db/schema';
import type { ServiceContext } from '../../context';
import { enqueue, enqueueMany } from '../../jobs/messages';
import { settleSource } from './settle';

export async function syncSource(ctx: ServiceContext, job: { orgId: string; sourceId: string }) {
  const [source] = await ctx.db
    .update(sources)
    .set({ generation: sql`${sources.generation} + 1`, status: 'processing', updatedAt: ctx.clock.now() })
    .where(and(eq(sources.id, job.sourceId), eq(sources.orgId, job.orgId), sql`${sources.status} != 'deleting'`))
    .returning();
  if (!source) return 'gone';

  if (source.type === 'website') {
    await enqueue(ctx.env, { type: 'website.discover', orgId: source.orgId, sourceId: source.id, generation: source.generation });
    return 'discovering';
  }
  const docs = await ctx.db
    .update(documents)
    .set({ status: 'pending', seenGeneration: source.type === 'url' ? sql`${documents.seenGeneration}` : source.generation, updatedAt: ctx.clock.now() })
    .where(eq(documents.sourceId, source.id))
    .returning({ id: documents.id });
  if (docs.length === 0) {
    await settleSource(ctx, source.id);
    return 'empty';
  }
  await enqueueMany(
    ctx.env,
    docs.map((d) =>
      source.type === 'url'
        ? { type: 'page.crawl' as const, orgId: source.orgId, documentId: d.id, generation: source.generation }
        : { type: 'document.index' as const, orgId: source.orgId, documentId: d.id },
    ),
  );
  return 'queued';
}
