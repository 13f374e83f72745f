/**
 * Outgoing mail (password reset, email verification, invitations). Every one of these mails
 * carries a bearer token, so where the full text rests matters:
 *
 * - `MAILER=outbox` (local development and tests): the `email_outbox` row is the delivery and
 *   keeps the full text, so developers and tests can read the token.
 * - `MAILER=http` (production): the row keeps a redacted copy (each token replaced by
 *   `[redacted]`) plus the delivery status, and the mail goes out through a `mail.send` job
 *   on the JOBS queue, retried with exponential backoff like every other job. The full text
 *   rides in the queue message, because the provider needs it and D1 must not keep it; the
 *   message body is at rest in the queue (and in the dead-letter queue) too, so the text is
 *   sealed there with AES-GCM under ENCRYPTION_KEY, bound to the mail's id. Only this Worker
 *   can open it, and it is gone once the job is acknowledged. A mail is small (MAIL limits),
 *   far below the 128 KB message cap.
 *
 * A mail is sent after the write that created its token has committed. A send failure must
 * not turn that committed request into an error: callers use `sendAfterCommit`, which logs
 * and records the failure instead of throwing.
 */
import { and, eq, inArray, lt } from 'drizzle-orm';
import { emailOutbox } from '../db/schema';
import type { ServiceContext } from '../context';
import type { Config, Env } from '../env';
import { newId } from '../lib/ids';
import { decryptSecret, encryptSecret, type SecretEnvelope } from '../lib/secrets';
import { MAIL } from '../limits';
import { enqueue, type JobMessage } from '../jobs/messages';
import { EgressError, egressFetch, fetcherFromBinding, type EgressPolicy } from '../egress';

/**
 * Kinds that carry no token: `webhook_disabled` (an endpoint turned off after repeated failures),
 * `escalation` (a ticket notification, issue #10), `action` (a mail an `email` action sends).
 */
export type MailKind = 'password_reset' | 'email_verify' | 'invitation' | 'webhook_disabled' | 'escalation' | 'action';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  kind: MailKind;
  /** The tokens the text carries: replaced by `[redacted]` in every copy kept in D1. */
  secrets: string[];
}

export interface Mailer {
  send(message: MailMessage): Promise<void>;
}

const REDACTED = '[redacted]';

function redactMail(text: string, secrets: readonly string[]): string {
  return secrets.filter((s) => s.length > 0).reduce((out, secret) => out.split(secret).join(REDACTED), text);
}

/** Local mode: the outbox row, full text included, is the delivery. */
class OutboxMailer implements Mailer {
  constructor(private readonly ctx: ServiceContext) {}
  async send({ secrets: _secrets, ...message }: MailMessage) {
    const now = this.ctx.clock.now();
    await this.ctx.db.insert(emailOutbox).values({ id: newId('mail', this.ctx.clock), ...message, status: 'sent', createdAt: now, sentAt: now });
  }
}

const mailAad = (mailId: string) => `mail:${mailId}`;

/** Production: a redacted row in D1, the sealed full text on the queue. */
class QueuedHttpMailer implements Mailer {
  constructor(private readonly ctx: ServiceContext) {}
  async send(message: MailMessage) {
    if (message.text.length > MAIL.maxTextChars || message.subject.length > MAIL.maxSubjectChars) {
      throw new Error(`mail ${message.kind} exceeds the mail size limits`);
    }
    const id = newId('mail', this.ctx.clock);
    await this.ctx.db.insert(emailOutbox).values({
      id,
      to: message.to,
      subject: redactMail(message.subject, message.secrets),
      text: redactMail(message.text, message.secrets),
      kind: message.kind,
      status: 'queued',
      createdAt: this.ctx.clock.now(),
    });
    try {
      const sealedText = await encryptSecret(this.ctx.config, message.text, mailAad(id));
      await enqueue(this.ctx.env, { type: 'mail.send', mailId: id, to: message.to, subject: message.subject, sealedText });
    } catch (err) {
      await markMailFailed(this.ctx, id, `could not queue the mail: ${errorText(err)}`);
      throw err;
    }
  }
}

export function createMailer(ctx: ServiceContext): Mailer {
  return ctx.config.mailer.kind === 'http' ? new QueuedHttpMailer(ctx) : new OutboxMailer(ctx);
}

/**
 * Sends a mail whose triggering write has already committed. Never throws: a failure is
 * logged (and, in http mode, recorded on the outbox row); the person can ask again.
 */
export async function sendAfterCommit(ctx: ServiceContext, message: MailMessage): Promise<void> {
  try {
    await createMailer(ctx).send(message);
  } catch (err) {
    console.error(JSON.stringify({ level: 'error', msg: 'mail not sent', kind: message.kind, error: errorText(err) }));
  }
}

// --- delivery (the mail.send job) ------------------------------------------------------------

/** A failed delivery; `retryable` failures go back on the queue with backoff. */
export class MailDeliveryError extends Error {
  override readonly name = 'MailDeliveryError';
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

type MailJob = Extract<JobMessage, { type: 'mail.send' }>;
type HttpMailSettings = Extract<Config['mailer'], { kind: 'http' }>;

/**
 * The one place mail leaves the Worker: through the egress guard like every outbound request
 * (an operator's internal mail relay needs EGRESS_ALLOW_HOSTS), behind MAIL_FETCHER when bound
 * (an egress proxy, or the fake provider in tests).
 */
async function postToMailProvider(env: Env, policy: EgressPolicy, settings: HttpMailSettings, mail: { id: string; to: string; subject: string; text: string }) {
  const send = egressFetch({ policy, fetcher: fetcherFromBinding(env.MAIL_FETCHER), timeoutMs: MAIL.providerTimeoutMs });
  const res = await send(settings.url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${settings.apiKey}`,
      'content-type': 'application/json',
      // Providers (Resend, Postmark, SES via proxies) drop a repeat of the same key: a retry after
      // a lost acknowledgement does not send the mail twice.
      'idempotency-key': mail.id,
    },
    body: JSON.stringify({ from: settings.from, to: mail.to, subject: mail.subject, text: mail.text }),
  });
  await res.body?.cancel();
  return res.status;
}

/** Handles one `mail.send` job: idempotent (a sent mail is not sent again), throws to retry. */
export async function deliverQueuedMail(ctx: ServiceContext, job: MailJob) {
  const row = await ctx.db.select({ status: emailOutbox.status, attempts: emailOutbox.attempts }).from(emailOutbox).where(eq(emailOutbox.id, job.mailId)).get();
  if (!row) return 'unknown mail';
  if (row.status === 'sent') return 'already sent';
  if (ctx.config.mailer.kind !== 'http') {
    await markMailFailed(ctx, job.mailId, 'MAILER is not http: nothing can deliver this mail');
    throw new MailDeliveryError('MAILER is not http', false);
  }
  let text: string;
  try {
    text = await decryptSecret(ctx.config, job.sealedText as SecretEnvelope, mailAad(job.mailId));
  } catch {
    // Tampered, sealed for another mail, or under a key no longer configured: retrying cannot help.
    await markMailFailed(ctx, job.mailId, 'the queued mail text could not be opened');
    throw new MailDeliveryError('sealed mail text could not be opened', false);
  }
  const attempts = row.attempts + 1;
  let status: number;
  try {
    status = await postToMailProvider(ctx.env, ctx.config.egress, ctx.config.mailer, { id: job.mailId, to: job.to, subject: job.subject, text });
  } catch (err) {
    if (err instanceof EgressError && err.permanent) {
      // MAIL_API_URL is refused by the egress policy: no retry changes that, the operator must.
      await markMailFailed(ctx, job.mailId, `mail provider refused by the egress policy: ${err.message}`, attempts);
      throw new MailDeliveryError('mail provider refused by the egress policy', false);
    }
    await recordAttempt(ctx, job.mailId, attempts, `provider unreachable: ${errorText(err)}`);
    throw new MailDeliveryError('mail provider unreachable', true);
  }
  if (status >= 200 && status < 300) {
    await ctx.db.update(emailOutbox).set({ status: 'sent', sentAt: ctx.clock.now(), attempts, error: null }).where(eq(emailOutbox.id, job.mailId));
    return 'sent';
  }
  // 429 and 5xx are the provider's trouble and pass; any other answer will not change on retry.
  const retryable = status === 429 || status >= 500;
  const error = `provider answered ${status}`;
  if (retryable) await recordAttempt(ctx, job.mailId, attempts, error);
  else await markMailFailed(ctx, job.mailId, error, attempts);
  throw new MailDeliveryError(error, retryable);
}

async function recordAttempt(ctx: ServiceContext, mailId: string, attempts: number, error: string) {
  await ctx.db.update(emailOutbox).set({ attempts, error }).where(eq(emailOutbox.id, mailId));
}

/**
 * Marks mails whose queue message was lost (still `queued` long after they were written) as
 * failed, so the status tells the truth; D1 holds only the redacted text, so they cannot be
 * sent again. Returns how many were marked.
 */
export async function failLostMails(ctx: ServiceContext, now: number, limit: number): Promise<number> {
  // One guarded statement: a mail the job delivers meanwhile is no longer `queued` and stays sent.
  const lost = ctx.db
    .select({ id: emailOutbox.id })
    .from(emailOutbox)
    .where(and(eq(emailOutbox.status, 'queued'), lt(emailOutbox.createdAt, now - MAIL.lostAfterMs)))
    .limit(limit);
  const failed = await ctx.db
    .update(emailOutbox)
    .set({ status: 'failed', error: 'Delivery lost: the queued mail job never completed. Ask for the mail again.' })
    .where(and(eq(emailOutbox.status, 'queued'), inArray(emailOutbox.id, lost)))
    .returning({ id: emailOutbox.id });
  return failed.length;
}

export async function markMailFailed(ctx: ServiceContext, mailId: string, error: string, attempts?: number) {
  await ctx.db
    .update(emailOutbox)
    .set({ status: 'failed', error: error.slice(0, 300), ...(attempts === undefined ? {} : { attempts }) })
    .where(eq(emailOutbox.id, mailId));
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 200);
