/**
 * Queue consumer: every message is a typed job, validated with zod and dispatched by `type`.
 * A handler's transient failure is recorded (so the reason survives) and retried with
 * exponential backoff; a permanent one (unreadable file, rejected API key) fails the work at
 * once. Messages that exhaust their retries arrive on the dead-letter queue, whose consumer
 * marks the work failed with the last recorded reason.
 */
import { eq } from 'drizzle-orm';
import type { Env } from '../env';
import { documents, sources } from '../db/schema';
import type { ServiceContext } from '../context';
import { EmbeddingError } from '../ai/embedder';
import { indexDocumentSlice, markDocumentFailed } from '../features/knowledge/indexer';
import { VectorIndexError } from '../vector/vector-limits';
import { crawlPage, discoverWebsite } from '../features/knowledge/crawler';
import { syncSource } from '../features/knowledge/sync';
import { purgeSourceBatch } from '../features/knowledge/purge';
import { settleSource } from '../features/knowledge/settle';
import { deliverQueuedMail, MailDeliveryError, markMailFailed } from '../adapters/mailer';
import { JobMessage, type JobType } from './messages';
import { jobContext } from './context';

type Handler<T extends JobType> = (ctx: ServiceContext, job: Extract<JobMessage, { type: T }>) => Promise<unknown>;

const handlers: { [T in JobType]: Handler<T> } = {
  'document.index': (ctx, job) => indexDocumentSlice(ctx, job),
  'page.crawl': (ctx, job) => crawlPage(ctx, job),
  'website.discover': (ctx, job) => discoverWebsite(ctx, job),
  'source.sync': (ctx, job) => syncSource(ctx, job),
  'source.purge': (ctx, job) => purgeSourceBatch(ctx, job.orgId, job.sourceId),
  'mail.send': (ctx, job) => deliverQueuedMail(ctx, job),
};

const MAX_BACKOFF_SECONDS = 300;
export const backoffSeconds = (attempts: number) => Math.min(MAX_BACKOFF_SECONDS, 5 * 2 ** Math.max(0, attempts - 1));

/** Failures that retrying cannot fix: a rejected provider key or request, a vector over the index's limits, a mail the provider refused. */
function isPermanent(err: unknown): boolean {
  if (err instanceof EmbeddingError) return !err.retryable;
  if (err instanceof MailDeliveryError) return !err.retryable;
  return err instanceof VectorIndexError;
}

function reasonOf(err: unknown): string {
  if (err instanceof EmbeddingError) return `Embedding failed (${err.reason}).`;
  if (err instanceof VectorIndexError) return `The vector index refused the write (${err.code}).`;
  if (err instanceof Error) return err.message.slice(0, 300);
  return 'Unknown error.';
}

const documentIdOf = (job: JobMessage) => ('documentId' in job ? job.documentId : null);
const sourceIdOf = (job: JobMessage) => ('sourceId' in job ? job.sourceId : null);

/** Keeps the reason with the work, so the dead-letter consumer (or a person) can see it. */
async function recordFailure(ctx: ServiceContext, job: JobMessage, reason: string, permanent: boolean) {
  const documentId = documentIdOf(job);
  if (documentId) {
    const doc = await ctx.db.select({ sourceId: documents.sourceId }).from(documents).where(eq(documents.id, documentId)).get();
    if (!doc) return;
    if (permanent) await markDocumentFailed(ctx, documentId, doc.sourceId, reason);
    else await ctx.db.update(documents).set({ error: reason, updatedAt: ctx.clock.now() }).where(eq(documents.id, documentId));
    return;
  }
  const sourceId = sourceIdOf(job);
  if (sourceId && job.type !== 'source.purge') {
    await ctx.db
      .update(sources)
      .set(permanent ? { status: 'failed', error: reason, updatedAt: ctx.clock.now() } : { error: reason, updatedAt: ctx.clock.now() })
      .where(eq(sources.id, sourceId));
  }
}

async function deadLetter(ctx: ServiceContext, job: JobMessage, attempts: number) {
  if (job.type === 'mail.send') {
    // The sealed text dies with this message: the person asks for a new mail.
    await markMailFailed(ctx, job.mailId, `Gave up after ${attempts} attempts.`);
    return;
  }
  const documentId = documentIdOf(job);
  if (documentId) {
    const doc = await ctx.db.select().from(documents).where(eq(documents.id, documentId)).get();
    if (doc && doc.status !== 'ready') {
      await markDocumentFailed(ctx, doc.id, doc.sourceId, `Gave up after ${attempts} attempts: ${doc.error ?? 'unknown error'}`);
    }
    return;
  }
  const sourceId = sourceIdOf(job);
  if (!sourceId || job.type === 'source.purge') {
    // A purge keeps its `deleting` source; the cron sweeper starts it again later.
    console.error(JSON.stringify({ level: 'error', msg: 'job dead-lettered', type: job.type, sourceId }));
    return;
  }
  const source = await ctx.db.select().from(sources).where(eq(sources.id, sourceId)).get();
  if (!source || source.status === 'deleting') return;
  await ctx.db
    .update(sources)
    .set({ status: 'failed', error: `Gave up after ${attempts} attempts: ${source.error ?? 'unknown error'}`, updatedAt: ctx.clock.now() })
    .where(eq(sources.id, sourceId));
  await settleSource(ctx, sourceId);
}

export async function handleQueueBatch(batch: MessageBatch<unknown>, env: Env, executionCtx: ExecutionContext) {
  const ctx = jobContext(env, executionCtx);
  const isDeadLetter = batch.queue.endsWith('-dlq');
  for (const message of batch.messages) {
    const parsed = JobMessage.safeParse(message.body);
    if (!parsed.success) {
      console.error(JSON.stringify({ level: 'error', msg: 'invalid job message dropped', queue: batch.queue, id: message.id, issues: parsed.error.issues.slice(0, 3) }));
      message.ack();
      continue;
    }
    const job = parsed.data;
    if (isDeadLetter) {
      await deadLetter(ctx, job, message.attempts);
      message.ack();
      continue;
    }
    const started = Date.now();
    try {
      const outcome = await (handlers[job.type] as Handler<typeof job.type>)(ctx, job as never);
      console.log(JSON.stringify({ level: 'info', msg: 'job', type: job.type, outcome, ms: Date.now() - started, attempts: message.attempts }));
      message.ack();
    } catch (err) {
      const permanent = isPermanent(err);
      const reason = reasonOf(err);
      console.error(JSON.stringify({ level: permanent ? 'error' : 'warn', msg: 'job failed', type: job.type, permanent, reason, attempts: message.attempts }));
      try {
        await recordFailure(ctx, job, reason, permanent);
      } catch (recordError) {
        console.error(JSON.stringify({ level: 'error', msg: 'could not record job failure', error: String(recordError) }));
      }
      if (permanent) message.ack();
      else message.retry({ delaySeconds: backoffSeconds(message.attempts) });
    }
  }
}
