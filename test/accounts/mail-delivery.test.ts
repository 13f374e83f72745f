/**
 * Mail in production mode (MAILER=http): D1 keeps only a redacted copy with the delivery
 * status, the sealed text travels on the JOBS queue, and the mail.send job posts it to the
 * provider (here a fake one behind the MAIL_FETCHER service binding), retrying with backoff.
 * A mail or queue failure never turns the committed request that triggered it into an error.
 *
 * These tests run the real Worker with an http-mode env. The env's JOBS producer records
 * messages (or fails, to play a queue outage) so each test hands them to the real consumer
 * itself, instead of the local consumer (which runs in outbox mode) picking them up.
 */
import { createExecutionContext, createMessageBatch, createScheduledController, env, getQueueResult, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import worker from '../../src/index';
import type { Env } from '../../src/env';
import { MAIL } from '../../src/limits';
import { call, expectProblem, uniqueEmail, PASSWORD } from '../support/api';
import { login } from '../support/accounts';

const MAIL_API_KEY = 'test-mail-api-key';

class RecordingQueue {
  readonly messages: unknown[] = [];
  async send(body: unknown) {
    this.messages.push(body);
  }
  async sendBatch(batch: { body: unknown }[]) {
    for (const m of batch) this.messages.push(m.body);
  }
}

class BrokenQueue {
  async send(): Promise<void> {
    throw new Error('queue unavailable');
  }
  async sendBatch(): Promise<void> {
    throw new Error('queue unavailable');
  }
}

function httpEnv(jobs: RecordingQueue | BrokenQueue): Env {
  return { ...env, MAILER: 'http', MAIL_API_URL: 'https://mail.test/send', MAIL_API_KEY, JOBS: jobs as unknown as Queue<unknown> };
}

async function fetchAs(workerEnv: Env, method: string, path: string, opts: { token?: string; body?: unknown } = {}) {
  const ctx = createExecutionContext();
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const request = new Request(`https://kc.test${path}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  }) as Request<unknown, IncomingRequestCfProperties>;
  const res = await worker.fetch(request, workerEnv, ctx);
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

/** Hands queued bodies to the real consumer, as delivery attempt `attempts`. */
async function consume(workerEnv: Env, bodies: unknown[], attempts = 1, queue = 'kyrochat-jobs') {
  const batch = createMessageBatch(
    queue,
    bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts, body })),
  );
  // Watch (not replace) each message's retry() to see the backoff the consumer asked for.
  const retries = batch.messages.map((m) => vi.spyOn(m, 'retry'));
  const ctx = createExecutionContext();
  await worker.queue(batch, workerEnv, ctx);
  const result = await getQueueResult(batch, ctx);
  const delays = retries.flatMap((spy, i) => spy.mock.calls.map(([options]) => ({ msgId: `m${i}`, delaySeconds: options?.delaySeconds })));
  return { ...result, delays };
}

interface Delivered {
  authorization: string;
  idempotencyKey: string;
  body: { from: string; to: string; subject: string; text: string };
}

const provider = (path: string, init?: RequestInit) => env.MAIL_FETCHER!.fetch(`https://mail.test${path}`, init);
async function deliveredTo(to: string): Promise<Delivered[]> {
  return (await provider(`/__sent?to=${encodeURIComponent(to)}`)).json();
}
async function providerFails(times: number, status: number) {
  await (await provider('/__control', { method: 'POST', body: JSON.stringify({ fail: times, status }) })).text();
}

interface OutboxRow {
  id: string;
  subject: string;
  text: string;
  status: string;
  attempts: number;
  error: string | null;
  sent_at: number | null;
}
async function outbox(to: string, kind: string): Promise<OutboxRow[]> {
  const { results } = await env.DB.prepare('SELECT * FROM email_outbox WHERE to_address = ? AND kind = ? ORDER BY id').bind(to, kind).all<OutboxRow>();
  return results;
}

const tokenIn = (text: string) => /(?:token=|\/invitations\/)([A-Za-z0-9_-]{20,})/.exec(text)?.[1];

async function registerWith(workerEnv: Env, label: string) {
  const email = uniqueEmail(label);
  const res = await fetchAs(workerEnv, 'POST', '/api/v1/auth/register', { body: { email, password: PASSWORD, name: label } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { email, token: res.body.accessToken as string, userId: res.body.user.id as string, orgId: res.body.organization.id as string };
}

afterEach(async () => {
  vi.restoreAllMocks();
  await providerFails(0, 503);
});

describe('MAILER=http: redacted at rest, delivered through the queue', () => {
  it('keeps no token in email_outbox or in the queue message; the provider gets the token, and it works', async () => {
    const queue = new RecordingQueue();
    const workerEnv = httpEnv(queue);
    const person = await registerWith(workerEnv, 'mail-http');

    const [row] = await outbox(person.email, 'email_verify');
    expect(row).toMatchObject({ status: 'queued', attempts: 0, sent_at: null });
    expect(row!.text).toContain('[redacted]');
    expect(tokenIn(row!.text)).toBeUndefined();
    expect(queue.messages).toHaveLength(1);
    expect(queue.messages[0]).toMatchObject({ type: 'mail.send', mailId: row!.id, to: person.email });

    const result = await consume(workerEnv, queue.messages);
    expect(result.explicitAcks).toEqual(['m0']);
    const [mail] = await deliveredTo(person.email);
    expect(mail).toMatchObject({ authorization: `Bearer ${MAIL_API_KEY}`, idempotencyKey: row!.id, body: { to: person.email, subject: row!.subject } });
    const token = tokenIn(mail!.body.text);
    expect(token).toBeDefined();

    // Neither copy at rest holds the token: not the D1 row, not the queued message body.
    const [after] = await outbox(person.email, 'email_verify');
    expect(after).toMatchObject({ status: 'sent', attempts: 1, error: null });
    expect(after!.sent_at).not.toBeNull();
    expect(JSON.stringify(after)).not.toContain(token);
    expect(JSON.stringify(queue.messages)).not.toContain(token);
    // The mailed token is the real one.
    expect((await call('POST', '/api/v1/auth/email/verify', { body: { token } })).status).toBe(204);

    // Delivered once, even if the message comes back (at-least-once queues).
    expect((await consume(workerEnv, queue.messages, 2)).explicitAcks).toEqual(['m0']);
    expect(await deliveredTo(person.email)).toHaveLength(1);
  });

  it('redacts password-reset and invitation mails the same way, and their mailed tokens work', async () => {
    const queue = new RecordingQueue();
    const workerEnv = httpEnv(queue);
    const owner = await registerWith(workerEnv, 'mail-http-owner');
    const invitee = await registerWith(workerEnv, 'mail-http-invitee');
    queue.messages.length = 0;

    expect((await fetchAs(workerEnv, 'POST', '/api/v1/auth/password/forgot', { body: { email: owner.email } })).status).toBe(202);
    const invited = await fetchAs(workerEnv, 'POST', `/api/v1/orgs/${owner.orgId}/invitations`, { token: owner.token, body: { email: invitee.email, role: 'member' } });
    expect(invited.status).toBe(201);
    for (const [to, kind] of [[owner.email, 'password_reset'], [invitee.email, 'invitation']] as const) {
      const rows = await outbox(to, kind);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.text).toContain('[redacted]');
      expect(tokenIn(rows[0]!.text), kind).toBeUndefined();
    }
    expect((await consume(workerEnv, queue.messages)).explicitAcks.sort()).toEqual(['m0', 'm1']);

    const resetMail = (await deliveredTo(owner.email)).find((m) => m.body.subject.includes('Reset'))!;
    const resetToken = tokenIn(resetMail.body.text)!;
    expect((await call('POST', '/api/v1/auth/password/reset', { body: { token: resetToken, password: 'a-password-from-the-provider' } })).status).toBe(204);
    expect((await login(owner.email, 'a-password-from-the-provider')).status).toBe(200);

    const [invitation] = await deliveredTo(invitee.email).then((mails) => mails.filter((m) => m.body.subject.includes('invited')));
    const accepted = await call('POST', `/api/v1/invitations/${tokenIn(invitation!.body.text)}/accept`, { token: invitee.token });
    expect(accepted.body).toEqual({ orgId: owner.orgId, role: 'member' });
    for (const [to, kind] of [[owner.email, 'password_reset'], [invitee.email, 'invitation']] as const) {
      expect((await outbox(to, kind))[0]!.status).toBe('sent');
    }
  });

  it('a provider outage never reaches the request, and the job retries with backoff until the mail goes out', async () => {
    await providerFails(2, 503);
    const queue = new RecordingQueue();
    const workerEnv = httpEnv(queue);
    const person = await registerWith(workerEnv, 'mail-retry');

    const first = await consume(workerEnv, queue.messages, 1);
    expect(first.explicitAcks).toEqual([]);
    expect(first.retryMessages.map((m) => m.msgId)).toEqual(['m0']);
    expect(first.delays).toEqual([{ msgId: 'm0', delaySeconds: 5 }]);
    expect((await outbox(person.email, 'email_verify'))[0]).toMatchObject({ status: 'queued', attempts: 1, error: 'provider answered 503' });

    const second = await consume(workerEnv, queue.messages, 2);
    expect(second.delays).toEqual([{ msgId: 'm0', delaySeconds: 10 }]);
    expect(await deliveredTo(person.email)).toEqual([]);

    const third = await consume(workerEnv, queue.messages, 3);
    expect(third.explicitAcks).toEqual(['m0']);
    expect(await deliveredTo(person.email)).toHaveLength(1);
    expect((await outbox(person.email, 'email_verify'))[0]).toMatchObject({ status: 'sent', attempts: 3, error: null });
  });

  it('a refusal the provider will repeat (400) fails the mail at once; a dead-lettered mail is marked failed', async () => {
    const queue = new RecordingQueue();
    const workerEnv = httpEnv(queue);
    const refused = await registerWith(workerEnv, 'mail-refused');
    await providerFails(1, 400);
    const result = await consume(workerEnv, queue.messages.splice(0), 1);
    expect(result.explicitAcks).toEqual(['m0']);
    expect((await outbox(refused.email, 'email_verify'))[0]).toMatchObject({ status: 'failed', error: 'provider answered 400' });

    const abandoned = await registerWith(workerEnv, 'mail-abandoned');
    const dead = await consume(workerEnv, queue.messages.splice(0), 6, 'kyrochat-jobs-dlq');
    expect(dead.explicitAcks).toEqual(['m0']);
    expect((await outbox(abandoned.email, 'email_verify'))[0]).toMatchObject({ status: 'failed', error: 'Gave up after 6 attempts.' });
    expect(await deliveredTo(abandoned.email)).toEqual([]);
  });

  it('a MAIL_API_URL the egress policy refuses fails the mail for good, and nothing is sent', async () => {
    const queue = new RecordingQueue();
    const workerEnv = { ...httpEnv(queue), MAIL_API_URL: 'http://169.254.169.254/send' };
    const account = await registerWith(workerEnv, 'mail-egress');
    const result = await consume(workerEnv, queue.messages.splice(0), 1);
    expect(result.explicitAcks).toEqual(['m0']);
    expect(result.delays).toEqual([]);
    const [row] = await outbox(account.email, 'email_verify');
    expect(row).toMatchObject({ status: 'failed' });
    expect(row!.error).toContain('egress policy');
    expect(await deliveredTo(account.email)).toEqual([]);
  });

  it('the cron marks a mail whose queue message was lost as failed, once it is past MAIL.lostAfterMs', async () => {
    const queue = new RecordingQueue();
    const workerEnv = httpEnv(queue);
    const account = await registerWith(workerEnv, 'mail-lost');
    queue.messages.splice(0); // the message is lost: nobody ever consumes it
    const cron = async (at: number) => {
      const ctx = createExecutionContext();
      await worker.scheduled(createScheduledController({ scheduledTime: at, cron: '*/15 * * * *' }), workerEnv, ctx);
      await waitOnExecutionContext(ctx);
    };
    await cron(Date.now());
    expect((await outbox(account.email, 'email_verify'))[0]).toMatchObject({ status: 'queued' });
    await cron(Date.now() + MAIL.lostAfterMs + 60_000);
    const [row] = await outbox(account.email, 'email_verify');
    expect(row).toMatchObject({ status: 'failed' });
    expect(row!.error).toContain('Delivery lost');
    expect(await deliveredTo(account.email)).toEqual([]);
  });

  it('a tampered or foreign sealed text fails the mail for good and is never sent', async () => {
    const queue = new RecordingQueue();
    const workerEnv = httpEnv(queue);
    const a = await registerWith(workerEnv, 'mail-seal-a');
    const b = await registerWith(workerEnv, 'mail-seal-b');
    const [forA, forB] = queue.messages as { mailId: string; sealedText: unknown }[];
    // B's sealed text under A's mail id: the ciphertext is bound to its mail.
    const swapped = { ...forA, sealedText: forB!.sealedText };
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const result = await consume(workerEnv, [swapped], 1);
    // Permanent: acknowledged, not retried, and the mail is marked failed with the reason.
    expect(result.explicitAcks).toEqual(['m0']);
    expect(result.retryMessages).toEqual([]);
    expect((await outbox(a.email, 'email_verify'))[0]).toMatchObject({ status: 'failed', error: 'the queued mail text could not be opened' });
    expect(await deliveredTo(a.email)).toEqual([]);
    expect(await deliveredTo(b.email)).toEqual([]);
  });
});

describe('mail and queue sends after a committed write cannot fail the request', () => {
  it('with the queue down: register 201, forgot-password 202, invite 201 and resend 202, all committed; the mail rows say why nothing went out', async () => {
    const workerEnv = httpEnv(new BrokenQueue());
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);

    const person = await registerWith(workerEnv, 'mail-queue-down');
    const me = await call('GET', '/api/v1/users/me', { token: person.token });
    expect(me.body).toMatchObject({ id: person.userId, email: person.email });

    expect((await fetchAs(workerEnv, 'POST', '/api/v1/auth/password/forgot', { body: { email: person.email } })).status).toBe(202);
    const resetTokens = await env.DB.prepare("SELECT count(*) AS n FROM user_tokens WHERE user_id = ? AND purpose = 'password_reset'").bind(person.userId).first<{ n: number }>();
    expect(resetTokens!.n).toBe(1);

    const inviteeEmail = uniqueEmail('mail-queue-down-invitee');
    const invited = await fetchAs(workerEnv, 'POST', `/api/v1/orgs/${person.orgId}/invitations`, { token: person.token, body: { email: inviteeEmail, role: 'viewer' } });
    expect(invited.status).toBe(201);
    const pending = await call('GET', `/api/v1/orgs/${person.orgId}/invitations`, { token: person.token });
    expect(pending.body.data.map((i: { id: string }) => i.id)).toEqual([invited.body.id]);

    const resent = await fetchAs(workerEnv, 'POST', '/api/v1/auth/email/verify/resend', { token: person.token });
    expect(resent).toMatchObject({ status: 202, body: { status: 'sent' } });

    for (const [to, kind, count] of [[person.email, 'email_verify', 2], [person.email, 'password_reset', 1], [inviteeEmail, 'invitation', 1]] as const) {
      const rows = await outbox(to, kind);
      expect(rows, kind).toHaveLength(count);
      for (const row of rows) expect(row).toMatchObject({ status: 'failed', error: 'could not queue the mail: queue unavailable' });
    }
    expect(errors.mock.calls.some(([line]) => String(line).includes('mail not sent'))).toBe(true);
  });

  it('answers bad input before any mail is attempted', async () => {
    const queue = new RecordingQueue();
    const workerEnv = httpEnv(queue);
    expectProblem(await fetchAs(workerEnv, 'POST', '/api/v1/auth/password/forgot', { body: { email: 'not-an-email' } }), 400, 'validation_failed');
    expectProblem(await fetchAs(workerEnv, 'POST', '/api/v1/auth/register', { body: { email: uniqueEmail('mail-weak'), password: 'short', name: 'x' } }), 400, 'weak_password');
    expect(queue.messages).toEqual([]);
  });
});
