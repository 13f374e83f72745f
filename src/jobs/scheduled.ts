/**
 * Cron trigger: scheduled re-syncs, and recovery of work whose queue message was lost
 * (a crash between the D1 write and the enqueue).
 */
import { and, eq, inArray, isNotNull, lte, lt } from 'drizzle-orm';
import type { Env } from '../env';
import { documents, sources } from '../db/schema';
import { requestSync } from '../features/knowledge/sources';
import { enqueueMany } from './messages';
import { jobContext } from './context';
import { deleteExpiredIdempotencyKeys } from '../features/idempotency/service';

/** Work untouched this long is considered lost and queued again. */
const STUCK_AFTER_MS = 30 * 60 * 1000;
const MAX_PER_RUN = 100;
const MAX_EXPIRED_KEYS_PER_RUN = 1000;

export async function runScheduled(controller: ScheduledController, env: Env, executionCtx: ExecutionContext) {
  const ctx = jobContext(env, executionCtx);
  const now = controller.scheduledTime || Date.now();

  const due = await ctx.db
    .select()
    .from(sources)
    .where(and(isNotNull(sources.nextSyncAt), lte(sources.nextSyncAt, now), inArray(sources.status, ['ready', 'failed'])))
    .limit(MAX_PER_RUN);
  for (const source of due) await requestSync(ctx, { kind: 'system' }, source);

  const purges = await ctx.db
    .select({ id: sources.id, orgId: sources.orgId })
    .from(sources)
    .where(and(eq(sources.status, 'deleting'), lt(sources.updatedAt, now - STUCK_AFTER_MS)))
    .limit(MAX_PER_RUN);
  const stuckDocs = await ctx.db
    .select({ id: documents.id, orgId: documents.orgId, locator: documents.locator, sourceType: sources.type, generation: sources.generation })
    .from(documents)
    .innerJoin(sources, eq(sources.id, documents.sourceId))
    .where(and(inArray(documents.status, ['pending', 'processing']), lt(documents.updatedAt, now - STUCK_AFTER_MS), inArray(sources.status, ['queued', 'processing'])))
    .limit(MAX_PER_RUN);
  await enqueueMany(env, [
    ...purges.map((p) => ({ type: 'source.purge' as const, orgId: p.orgId, sourceId: p.id })),
    ...stuckDocs.map((d) =>
      d.sourceType === 'url' || d.sourceType === 'website'
        ? { type: 'page.crawl' as const, orgId: d.orgId, documentId: d.id, generation: d.generation }
        : { type: 'document.index' as const, orgId: d.orgId, documentId: d.id },
    ),
  ]);
  // Expired keys also go when reused; this keeps keys that never come back from piling up.
  const idempotencyKeysExpired = await deleteExpiredIdempotencyKeys(ctx.db, now, MAX_EXPIRED_KEYS_PER_RUN);
  console.log(JSON.stringify({ level: 'info', msg: 'scheduled', syncs: due.length, purgesResumed: purges.length, documentsRequeued: stuckDocs.length, idempotencyKeysExpired }));
}
