/**
 * Cron trigger: scheduled re-syncs, and recovery of work whose queue message was lost (a send
 * that failed after its D1 write, a message dropped after its last retry). Every state a lost
 * message can strand is visible in D1 (see the lifecycle in features/knowledge/lifecycle.ts):
 *
 * - a `queued` source (new, or with a sync requested) never picked up: its sync is sent again.
 *   A sync works for every case: it starts a new generation and re-queues discovery (websites)
 *   or every document (the rest), so a new website with no documents yet is covered too;
 * - a `processing` source with no pending or processing document: its discovery was lost
 *   (websites: discovery is sent again for the current generation), or its settle was
 *   (the rest: it settles now);
 * - a `pending` / `processing` document of a processing source: its page or index job is sent again;
 * - a `deleting` source: its purge is sent again.
 *
 * "Untouched for STUCK_AFTER_MS" tells lost work from work in progress; what is re-sent is
 * touched, so a slow queue gets one more message per period, not one per cron run. Every job
 * is idempotent, so a message that was only late does no harm.
 */
import { and, eq, inArray, isNotNull, lte, lt, notExists, sql } from 'drizzle-orm';
import type { Env } from '../env';
import type { ServiceContext } from '../context';
import { documents, sources } from '../db/schema';
import { splitForStatements } from '../db/bound-parameters';
import { CHAT, SWEEPER } from '../limits';
import { requestSync } from '../features/knowledge/sources';
import { settleSource } from '../features/knowledge/settle';
import { enqueueMany } from './messages';
import { jobContext } from './context';
import { deleteExpiredIdempotencyKeys } from '../features/idempotency/service';
import { failLostMails } from '../adapters/mailer';
import { deleteExpiredAnswers } from '../features/chat/answer-cache';
import { sweepUnclaimedAttachments } from '../features/chat/attachments';
import { sweepInboundEvents } from '../features/integrations/process';
import { sweepWebhooks } from '../features/webhooks/sweeper';
import { enqueueRecentRollups } from '../features/analytics/rollup';

export async function runScheduled(controller: ScheduledController, env: Env, executionCtx: ExecutionContext) {
  const ctx = jobContext(env, executionCtx);
  const now = controller.scheduledTime || Date.now();
  const stuckBefore = now - SWEEPER.stuckAfterMs;
  const limit = SWEEPER.maxPerKindPerRun;

  const due = await ctx.db
    .select()
    .from(sources)
    .where(and(isNotNull(sources.nextSyncAt), lte(sources.nextSyncAt, now), inArray(sources.status, ['ready', 'failed'])))
    .limit(limit);
  for (const source of due) await requestSync(ctx, { kind: 'system' }, source);

  const stale = (status: 'queued' | 'processing' | 'deleting') => and(eq(sources.status, status), lt(sources.updatedAt, stuckBefore));
  const queued = await ctx.db.select({ id: sources.id, orgId: sources.orgId }).from(sources).where(stale('queued')).limit(limit);
  const purges = await ctx.db.select({ id: sources.id, orgId: sources.orgId }).from(sources).where(stale('deleting')).limit(limit);
  const idle = await ctx.db
    .select({ id: sources.id, orgId: sources.orgId, type: sources.type, generation: sources.generation })
    .from(sources)
    .where(
      and(
        stale('processing'),
        notExists(
          ctx.db
            .select({ one: sql`1` })
            .from(documents)
            .where(and(eq(documents.sourceId, sources.id), inArray(documents.status, ['pending', 'processing']))),
        ),
      ),
    )
    .limit(limit);
  const stuckDocs = await ctx.db
    .select({ id: documents.id, orgId: documents.orgId, sourceType: sources.type, generation: sources.generation })
    .from(documents)
    .innerJoin(sources, eq(sources.id, documents.sourceId))
    .where(and(inArray(documents.status, ['pending', 'processing']), lt(documents.updatedAt, stuckBefore), eq(sources.status, 'processing')))
    .limit(limit);

  const lostDiscoveries = idle.filter((s) => s.type === 'website');
  for (const source of idle) if (source.type !== 'website') await settleSource(ctx, source.id);

  await touch(ctx, 'sources', [...queued, ...purges, ...lostDiscoveries].map((s) => s.id), now);
  await touch(ctx, 'documents', stuckDocs.map((d) => d.id), now);
  await enqueueMany(env, [
    ...queued.map((s) => ({ type: 'source.sync' as const, orgId: s.orgId, sourceId: s.id })),
    ...purges.map((s) => ({ type: 'source.purge' as const, orgId: s.orgId, sourceId: s.id })),
    ...lostDiscoveries.map((s) => ({ type: 'website.discover' as const, orgId: s.orgId, sourceId: s.id, generation: s.generation })),
    ...stuckDocs.map((d) =>
      d.sourceType === 'url' || d.sourceType === 'website'
        ? { type: 'page.crawl' as const, orgId: d.orgId, documentId: d.id, generation: d.generation }
        : { type: 'document.index' as const, orgId: d.orgId, documentId: d.id },
    ),
  ]);
  // Expired keys also go when reused; this keeps keys that never come back from piling up.
  const idempotencyKeysExpired = await deleteExpiredIdempotencyKeys(ctx.db, now, SWEEPER.maxExpiredIdempotencyKeysPerRun);
  const mailsLost = await failLostMails(ctx, now, limit);
  // Expired cached answers are never served; this only reclaims their rows.
  const cachedAnswersExpired = await deleteExpiredAnswers(ctx, now, CHAT.answerCacheSweepPerRun);
  // Chat uploads nobody sent within a day: rows and their R2 objects.
  const attachmentsExpired = await sweepUnclaimedAttachments(ctx, now);
  // Inbound webhook events whose queue message was lost, and the receive log past its retention.
  const inboundEvents = await sweepInboundEvents(ctx, now, stuckBefore);
  // Outbox events whose publish job was lost, and deliveries whose queue message was.
  const webhooks = await sweepWebhooks(ctx, now);
  // Analytics: rebuild the last few closed days of active orgs (late events merge; see rollup.ts).
  const rollupsQueued = await enqueueRecentRollups(ctx, now);
  console.log(
    JSON.stringify({
      level: 'info',
      msg: 'scheduled',
      syncs: due.length,
      queuedResent: queued.length,
      purgesResumed: purges.length,
      discoveriesResent: lostDiscoveries.length,
      settled: idle.length - lostDiscoveries.length,
      documentsRequeued: stuckDocs.length,
      idempotencyKeysExpired,
      mailsLost,
      cachedAnswersExpired,
      attachmentsExpired,
      inboundEvents,
      webhooks,
      rollupsQueued,
    }),
  );
}

/** Marks re-sent work as just touched (not a status change), so the next run gives it time. */
async function touch(ctx: ServiceContext, table: 'sources' | 'documents', ids: string[], now: number) {
  const target = table === 'sources' ? sources : documents;
  for (const group of splitForStatements(ids, 1, 1)) {
    await ctx.db.update(target).set({ updatedAt: now }).where(inArray(target.id, group));
  }
}
