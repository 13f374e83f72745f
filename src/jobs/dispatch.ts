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
import { indexDocumentSlice } from '../features/knowledge/indexer';
import { VectorIndexError } from '../vector/vector-limits';
import { SecretUndecryptableError } from '../lib/secrets';
import { crawlPage, discoverWebsite } from '../features/knowledge/crawler';
import { syncSource } from '../features/knowledge/sync';
import { purgeSourceBatch } from '../features/knowledge/purge';
import { moveSource, noteDocumentError, noteSourceError } from '../features/knowledge/lifecycle';
import { failDocument } from '../features/knowledge/settle';
import { deliverQueuedMail, MailDeliveryError, markMailFailed } from '../adapters/mailer';
import { failInboundEvent, noteInboundError, processInboundEvent } from '../features/integrations/process';
import { publishEvents } from '../features/webhooks/publisher';
import { deliverWebhook } from '../features/webhooks/delivery';
import { JobMessage, type JobType } from './messages';
import { buildRollupDay } from '../features/analytics/rollup';
import { jobContext } from './context';
import { JOB_MAX_BACKOFF_SECONDS as MAX_BACKOFF_SECONDS } from '../limits';

type Handler<T extends JobType> = (ctx: ServiceContext, job: Extract<JobMessage, { type: T }>) => Promise<unknown>;

const handlers: { [T in JobType]: Handler<T> } = {
  'document.index': (ctx, job) => indexDocumentSlice(ctx, job),
  'page.crawl': (ctx, job) => crawlPage(ctx, job),
  'website.discover': (ctx, job) => discoverWebsite(ctx, job),
  'source.sync': (ctx, job) => syncSource(ctx, job),
  'source.purge': (ctx, job) => purgeSourceBatch(ctx, job.orgId, job.sourceId),
  'mail.send': (ctx, job) => deliverQueuedMail(ctx, job),
  'inbound.process': (ctx, job) => processInboundEvent(ctx, job),
  'events.publish': (ctx, job) => publishEvents(ctx, { orgId: job.orgId }),
  'webhook.deliver': (ctx, job) => deliverWebhook(ctx, job),
  'analytics.rollup': (ctx, job) => buildRollupDay(ctx, job.orgId, job.day),
};

export const backoffSeconds = (attempts: number) => Math.min(MAX_BACKOFF_SECONDS, 5 * 2 ** Math.max(0, attempts - 1));

/**
 * Failures that retrying cannot fix: a rejected provider key or request, a provider URL the
 * egress policy refuses, a vector over the index's limits, a secret the keys cannot open, a
 * mail the provider refused.
 */
function isPermanent(err: unknown): boolean {
  if (err instanceof EmbeddingError) return !err.retryable;
  if (err instanceof MailDeliveryError) return !err.retryable;
  return err instanceof VectorIndexError || err instanceof SecretUndecryptableError;
}

function reasonOf(err: unknown): string {
  // The egress refusal describes the tenant's own URL; safe and useful to show.
  if (err instanceof EmbeddingError && err.reason === 'egress_refused') return `Embedding failed (egress_refused): ${err.message}`.slice(0, 300);
  if (err instanceof EmbeddingError) return `Embedding failed (${err.reason}).`;
  if (err instanceof SecretUndecryptableError) return `The stored secret "${err.secretName}" cannot be decrypted; enter it again in settings.`;
  if (err instanceof VectorIndexError) return `The vector index refused the write (${err.code}).`;
  if (err instanceof Error) return err.message.slice(0, 300);
  return 'Unknown error.';
}

const documentIdOf = (job: JobMessage) => ('documentId' in job ? job.documentId : null);
const sourceIdOf = (job: JobMessage) => ('sourceId' in job ? job.sourceId : null);

/** Keeps the reason with the work, so the dead-letter consumer (or a person) can see it. */
async function recordFailure(ctx: ServiceContext, job: JobMessage, reason: string, permanent: boolean) {
  if (job.type === 'inbound.process') {
    if (permanent) await failInboundEvent(ctx, job.orgId, job.eventId, reason);
    else await noteInboundError(ctx, job.orgId, job.eventId, reason);
    return;
  }
  const documentId = documentIdOf(job);
  if (documentId) {
    const doc = await ctx.db.select({ sourceId: documents.sourceId }).from(documents).where(eq(documents.id, documentId)).get();
    if (!doc) return;
    if (permanent) await failDocument(ctx, documentId, doc.sourceId, reason);
    else await noteDocumentError(ctx, documentId, reason);
    return;
  }
  const sourceId = sourceIdOf(job);
  if (sourceId && job.type !== 'source.purge') {
    if (permanent) await moveSource(ctx, sourceId, 'fail', { error: reason });
    else await noteSourceError(ctx, sourceId, reason);
  }
}

async function deadLetter(ctx: ServiceContext, job: JobMessage, attempts: number) {
  if (job.type === 'mail.send') {
    // The sealed text dies with this message: the person asks for a new mail.
    await markMailFailed(ctx, job.mailId, `Gave up after ${attempts} attempts.`);
    return;
  }
  if (job.type === 'inbound.process') {
    await failInboundEvent(ctx, job.orgId, job.eventId, `Gave up after ${attempts} attempts.`);
    return;
  }
  const documentId = documentIdOf(job);
  if (documentId) {
    const doc = await ctx.db.select().from(documents).where(eq(documents.id, documentId)).get();
    if (doc && doc.status !== 'ready') {
      await failDocument(ctx, doc.id, doc.sourceId, `Gave up after ${attempts} attempts: ${doc.error ?? 'unknown error'}`);
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
  if (!source) return;
  // No settle afterwards: settling would call the source ready from the previous crawl's pages
  // and remove every page this failed discovery never got to see again.
  await moveSource(ctx, sourceId, 'fail', { error: `Gave up after ${attempts} attempts: ${source.error ?? 'unknown error'}` });
}

/**
 * Jobs that mostly wait on the network and touch only their own row (one delivery, one mail) run
 * concurrently within a batch; the rest (indexing, crawling: CPU and memory heavy) run one after
 * another so a batch stays within the isolate's 128 MB.
 */
const CONCURRENT_JOBS: ReadonlySet<string> = new Set<JobType>(['webhook.deliver', 'mail.send']);

export async function handleQueueBatch(batch: MessageBatch<unknown>, env: Env, executionCtx: ExecutionContext) {
  const ctx = jobContext(env, executionCtx);
  const isDeadLetter = batch.queue.endsWith('-dlq');
  const concurrent = batch.messages.filter((m) => CONCURRENT_JOBS.has(typeOf(m.body)));
  const sequential = batch.messages.filter((m) => !CONCURRENT_JOBS.has(typeOf(m.body)));
  const running = Promise.all(concurrent.map((message) => handleMessage(ctx, batch.queue, isDeadLetter, message)));
  for (const message of sequential) await handleMessage(ctx, batch.queue, isDeadLetter, message);
  await running;
}

const typeOf = (body: unknown) => (typeof body === 'object' && body !== null && typeof (body as { type?: unknown }).type === 'string' ? (body as { type: string }).type : '');

async function handleMessage(ctx: ServiceContext, queue: string, isDeadLetter: boolean, message: Message<unknown>) {
  const parsed = JobMessage.safeParse(message.body);
  if (!parsed.success) {
    console.error(JSON.stringify({ level: 'error', msg: 'invalid job message dropped', queue, id: message.id, issues: parsed.error.issues.slice(0, 3) }));
    message.ack();
    return;
  }
  const job = parsed.data;
  if (isDeadLetter) {
    await deadLetter(ctx, job, message.attempts);
    message.ack();
    return;
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
