/**
 * Typed job messages on the JOBS queue. Messages carry ids only (never document text: queue
 * messages are capped at 128 KB); handlers load what they need and are idempotent. The one
 * exception is a mail's own sealed text, which is small and must not be kept in D1.
 */
import { z } from 'zod';
import type { Env } from '../env';
import { MAIL, QUEUES } from '../limits';

const base = { orgId: z.string().min(1) };

export const JobMessage = z.discriminatedUnion('type', [
  /** Extract, chunk, embed and index chunk positions [offset, offset + slice) of one document. */
  z.object({ type: z.literal('document.index'), ...base, documentId: z.string(), offset: z.number().int().min(0).default(0), force: z.boolean().default(false) }),
  /** Fetch one web page of a url/website source, store it, follow links, then index it. */
  z.object({ type: z.literal('page.crawl'), ...base, documentId: z.string(), generation: z.number().int() }),
  /** Start (or restart, for a sync) a website crawl: robots.txt, sitemap, seed pages. */
  z.object({ type: z.literal('website.discover'), ...base, sourceId: z.string(), generation: z.number().int() }),
  /** Re-fetch or re-index every document of a source; unchanged content is skipped. */
  z.object({ type: z.literal('source.sync'), ...base, sourceId: z.string() }),
  /** Remove a deleted source's vectors, R2 objects and rows, a bounded batch at a time. */
  z.object({ type: z.literal('source.purge'), ...base, sourceId: z.string() }),
  /**
   * Deliver one mail through the HTTP provider. The text is sealed (AES-GCM, bound to the mail
   * id) because it carries a token and the message rests in the queue: see src/adapters/mailer.ts.
   */
  z.object({
    type: z.literal('mail.send'),
    mailId: z.string().min(1).max(64),
    to: z.string().min(3).max(320),
    subject: z.string().max(MAIL.maxSubjectChars),
    sealedText: z.object({ kid: z.string().max(32), iv: z.string().max(32), ct: z.string().max(Math.ceil((MAIL.maxTextChars * 4 + 16) / 3) * 4) }),
  }),
  /** Run an accepted inbound webhook event's action (features/integrations/process.ts); idempotent by event. */
  z.object({ type: z.literal('inbound.process'), ...base, eventId: z.string().min(1).max(64) }),
  // --- Outbound webhooks (src/features/webhooks) ---
  /** Fan the org's unpublished outbox events out into webhook deliveries (a bounded batch per job). */
  z.object({ type: z.literal('events.publish'), ...base }),
  /** Attempt one webhook delivery if it is due; its state (attempts, next attempt) lives in D1. */
  z.object({ type: z.literal('webhook.deliver'), ...base, deliveryId: z.string().min(1).max(64) }),
  /** Analytics (issue #10): rebuild one closed UTC day's rollups of an org (idempotent: the day is replaced). */
  z.object({ type: z.literal('analytics.rollup'), ...base, day: z.number().int().min(0) }),
]);
export type JobMessage = z.infer<typeof JobMessage>;
export type JobType = JobMessage['type'];

type SendableJob = z.input<typeof JobMessage>;

export async function enqueue(env: Env, job: SendableJob, delaySeconds?: number) {
  await env.JOBS.send(job, delaySeconds ? { delaySeconds: Math.min(delaySeconds, QUEUES.maxDelaySeconds) } : undefined);
}

export async function enqueueMany(env: Env, jobs: SendableJob[]) {
  for (let i = 0; i < jobs.length; i += QUEUES.maxSendBatchMessages) {
    await env.JOBS.sendBatch(jobs.slice(i, i + QUEUES.maxSendBatchMessages).map((body) => ({ body })));
  }
}

/**
 * Sends the jobs for rows that are already committed. A failed send must not turn a request
 * that did its work into a 500 (a retry would then create the work twice): it is logged, and
 * the cron sweeper (scheduled.ts) finds the stranded queued / deleting state and re-sends it.
 */
export async function enqueueAfterCommit(env: Env, jobs: SendableJob[]): Promise<boolean> {
  try {
    await enqueueMany(env, jobs);
    return true;
  } catch (err) {
    console.error(
      JSON.stringify({
        level: 'error',
        msg: 'enqueue after commit failed; the cron sweeper will recover the work',
        // Jobs carry only a type and ids, so the first few are logged whole.
        jobs: jobs.slice(0, 5),
        error: err instanceof Error ? err.message.slice(0, 300) : String(err),
      }),
    );
    return false;
  }
}
