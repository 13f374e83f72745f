/**
 * Sync: a new generation of a source. Web sources are fetched again (pages whose text hash is
 * unchanged are not re-indexed, pages no longer reachable are removed when the generation
 * settles); stored sources are re-indexed, which skips any document whose content, chunking
 * and embedding model are all unchanged.
 */
import { sql } from 'drizzle-orm';
import { sources } from '../../db/schema';
import type { ServiceContext } from '../../context';
import { enqueue, enqueueMany } from '../../jobs/messages';
import { moveSource, requeueSourceDocuments } from './lifecycle';
import { settleSource } from './settle';

export async function syncSource(ctx: ServiceContext, job: { orgId: string; sourceId: string }) {
  // Only a queued source starts a sync: a re-delivered message, or one for a deleted source, is a no-op.
  const source = await moveSource(ctx, { id: job.sourceId, orgId: job.orgId }, 'startSync', { generation: sql`${sources.generation} + 1` });
  if (!source) return 'not queued';

  // If a send below fails, the job is retried but finds the sync already started; the cron
  // sweeper then recovers the lost discovery or the stuck documents.
  if (source.type === 'website') {
    await enqueue(ctx.env, { type: 'website.discover', orgId: source.orgId, sourceId: source.id, generation: source.generation });
    return 'discovering';
  }
  const docs = await requeueSourceDocuments(ctx, source);
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
