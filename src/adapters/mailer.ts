/**
 * Outgoing mail. Every message is written to the outbox table first (so nothing is lost and
 * local developers and tests can read it); the HTTP mailer then posts it to a provider.
 */
import { eq } from 'drizzle-orm';
import { emailOutbox } from '../db/schema';
import type { Db } from '../db/client';
import type { Config } from '../env';
import { newId } from '../lib/ids';
import type { Clock } from '../lib/clock';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  kind: 'password_reset' | 'email_verify' | 'invitation';
}

export interface Mailer {
  send(message: MailMessage): Promise<void>;
}

/** Local mode: the outbox row is the delivery. */
export class OutboxMailer implements Mailer {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}
  async send(message: MailMessage) {
    await this.db.insert(emailOutbox).values({ id: newId('mail', this.clock), ...message, createdAt: this.clock.now() });
  }
}

/** Production: a JSON POST to an HTTP mail API (Resend/Postmark-style `{from,to,subject,text}`). */
export class HttpMailer implements Mailer {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly settings: { url: string; apiKey: string; from: string },
    private readonly fetcher: typeof fetch = fetch,
  ) {}
  async send(message: MailMessage) {
    const id = newId('mail', this.clock);
    await this.db.insert(emailOutbox).values({ id, ...message, createdAt: this.clock.now() });
    const res = await this.fetcher(this.settings.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.settings.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ from: this.settings.from, to: message.to, subject: message.subject, text: message.text }),
    });
    const error = res.ok ? null : `provider answered ${res.status}`;
    await res.body?.cancel();
    await this.db.update(emailOutbox).set(error ? { error } : { sentAt: this.clock.now() }).where(eq(emailOutbox.id, id));
    if (error) console.error(JSON.stringify({ level: 'error', msg: 'mail delivery failed', id, error }));
  }
}

export function createMailer(config: Config, db: Db, clock: Clock): Mailer {
  return config.mailer.kind === 'http' ? new HttpMailer(db, clock, config.mailer) : new OutboxMailer(db, clock);
}
