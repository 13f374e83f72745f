/**
 * Outbound webhooks (issue #11): the events services write to the outbox, the endpoints API, and
 * delivery through the queue to a receiver in the test runtime (the test site's /__receiver/<name>,
 * reached as http://localhost:11434, which EGRESS_ALLOW_HOSTS lets through), verified with the
 * `standardwebhooks` library like any integrator would.
 */
import { env, createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { Webhook } from 'standardwebhooks';
import worker from '../../src/index';
import { call, createKey, expectProblem, register, type Account } from '../support/api';
import { joinAs, mailsTo } from '../support/accounts';
import { seedConversation } from '../support/chat';
import { addText, waitForSource } from '../support/knowledge';
import { createDb } from '../../src/db/client';
import { parseConfig, type Env } from '../../src/env';
import type { ServiceContext } from '../../src/context';
import { createLead } from '../../src/features/leads/service';
import { postAgentMessage } from '../../src/features/chat/live/agent-messages';
import { publishEvents } from '../../src/features/webhooks/publisher';
import { sweepWebhooks } from '../../src/features/webhooks/sweeper';
import { MAX_ATTEMPTS } from '../../src/features/webhooks/delivery';
import { EVENT_TYPES } from '../../src/features/events/catalog';
import { WEBHOOKS } from '../../src/limits';

const RECEIVER = 'http://localhost:11434';
let receiverCount = 0;

/** A fresh receiver path, optionally scripted: answers `script` in order, then `fallback` (200). */
async function receiver(script: { status: number; retryAfter?: number; body?: string }[] = [], fallback?: { status: number; retryAfter?: number }) {
  const name = `r${Date.now().toString(36)}${receiverCount++}`;
  await (await env.WEB_FETCHER!.fetch(`${RECEIVER}/__receiver-control`, { method: 'POST', body: JSON.stringify({ name, script, fallback, reset: true }) })).text();
  return {
    url: `${RECEIVER}/__receiver/${name}`,
    script: async (steps: { status: number; retryAfter?: number }[], next?: { status: number; retryAfter?: number }) =>
      (await env.WEB_FETCHER!.fetch(`${RECEIVER}/__receiver-control`, { method: 'POST', body: JSON.stringify({ name, script: steps, fallback: next }) })).text(),
    received: async () =>
      (await (await env.WEB_FETCHER!.fetch(`${RECEIVER}/__received/${name}`)).json()) as { headers: Record<string, string>; body: string; at: number }[],
  };
}

const types = (requests: { body: string }[]) => requests.map((r) => JSON.parse(r.body).type as string);

function serviceContext(overrides: Partial<Pick<ServiceContext, 'env' | 'waitUntil'>> = {}): ServiceContext {
  const parsed = parseConfig(env);
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return { db: createDb(env.DB), config: parsed.config, env, clock: { now: () => Date.now() }, meta: { ip: null, userAgent: null }, waitUntil: () => undefined, ...overrides };
}

/** A context whose queue refuses every send: what a lost publish job looks like. */
function contextWithBrokenQueue() {
  const pending: Promise<unknown>[] = [];
  const fail = async () => {
    throw new Error('queue unavailable');
  };
  const brokenEnv = { ...env, JOBS: { send: fail, sendBatch: fail } } as unknown as Env;
  return { ctx: serviceContext({ env: brokenEnv, waitUntil: (p) => pending.push(p) }), settled: () => Promise.all(pending) };
}

async function runCron(at: number) {
  const ctx = createExecutionContext();
  await worker.scheduled!(createScheduledController({ scheduledTime: at, cron: '*/15 * * * *' }), env, ctx);
  await waitOnExecutionContext(ctx);
}

const as = (who: { token: string; orgId: string }) => ({ token: who.token, orgId: who.orgId });

async function events(orgId: string, type: string) {
  const { results } = await env.DB.prepare('SELECT * FROM outbox_events WHERE org_id = ? AND type = ? ORDER BY seq').bind(orgId, type).all<any>();
  return results.map((r) => ({ ...r, data: JSON.parse(r.data) }));
}

async function createWebhook(who: Account, body: Record<string, unknown>) {
  const res = await call('POST', '/api/v1/webhooks', { ...as(who), body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; secret: string };
}

const delivery = (who: Account, id: string) => call('GET', `/api/v1/deliveries/${id}`, as(who));

async function deliveriesOf(who: Account, webhookId: string, query = '') {
  const res = await call('GET', `/api/v1/webhooks/${webhookId}/deliveries?limit=100${query}`, as(who));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data as any[];
}

async function waitForDelivery(who: Account, webhookId: string, eventType: string, status: string, timeout = 15_000) {
  return vi.waitUntil(async () => (await deliveriesOf(who, webhookId, `&eventType=${eventType}`)).find((d) => d.status === status), { timeout, interval: 100 });
}

let owner: Account;
let other: Account;

beforeAll(async () => {
  owner = await register('wh-owner');
  other = await register('wh-other');
});

describe('domain events land in the outbox with the change that caused them', () => {
  let chat: { conversationId: string; userMessageId: string; answerId: string };
  beforeAll(async () => {
    // The bot has no knowledge: the offline answerer abstains, so the answer is unanswered.
    const res = await call('POST', `/api/v1/bots/${owner.botId}/chat`, { ...as(owner), body: { message: 'What is the refund window?' } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    chat = { conversationId: res.body.conversationId, userMessageId: res.body.message.replyTo ?? '', answerId: res.body.message.id };
  });

  it('a new conversation writes conversation.created', async () => {
    const [event] = (await events(owner.orgId, 'conversation.created')).filter((e) => e.conversation_id === chat.conversationId);
    expect(event).toMatchObject({ bot_id: owner.botId, data: { id: chat.conversationId, botId: owner.botId, channel: 'api' } });
    expect(event.id).toMatch(/^whe_/);
  });

  it('each stored user and assistant message writes message.created, in storage order', async () => {
    const mine = (await events(owner.orgId, 'message.created')).filter((e) => e.conversation_id === chat.conversationId);
    expect(mine.map((e) => e.data.role)).toEqual(['user', 'assistant']);
    expect(mine[0].data).toMatchObject({ content: 'What is the refund window?', conversationId: chat.conversationId });
    expect(mine[1].data).toMatchObject({ id: chat.answerId, unanswered: true });
  });

  it('an unanswered answer writes conversation.unanswered', async () => {
    const [event] = (await events(owner.orgId, 'conversation.unanswered')).filter((e) => e.conversation_id === chat.conversationId);
    expect(event.data).toMatchObject({ conversationId: chat.conversationId, messageId: chat.answerId });
  });

  it("a team member's message in a taken-over conversation writes message.created (role agent)", async () => {
    const { id } = await seedConversation({ orgId: owner.orgId, botId: owner.botId }, ['Hello?']);
    await env.DB.prepare("UPDATE conversations SET status = 'human', human_user_id = ? WHERE id = ?").bind(owner.userId, id).run();
    const posted = await postAgentMessage(serviceContext(), { orgId: owner.orgId, botId: owner.botId, conversationId: id }, owner.userId, 'A human here.');
    expect(posted.status).toBe('ok');
    const mine = (await events(owner.orgId, 'message.created')).filter((e) => e.conversation_id === id);
    expect(mine.map((e) => [e.data.role, e.data.content, e.data.authorId])).toEqual([['agent', 'A human here.', owner.userId]]);
  });

  it('a lead writes lead.created', async () => {
    const result = await createLead(serviceContext(), { orgId: owner.orgId, botId: owner.botId, name: 'Ada', email: 'ada@example.com' });
    expect(result.status).toBe('created');
    const [event] = (await events(owner.orgId, 'lead.created')).filter((e) => e.data.id === (result as any).lead.id);
    expect(event.data).toMatchObject({ botId: owner.botId, name: 'Ada', email: 'ada@example.com' });
  });

  it('a first rating writes feedback.created; changing it writes nothing more', async () => {
    const path = `/api/v1/conversations/${chat.conversationId}/messages/${chat.answerId}/feedback`;
    expect((await call('POST', path, { ...as(owner), body: { rating: 'down', comment: 'Missed it' } })).status).toBe(201);
    expect((await call('POST', path, { ...as(owner), body: { rating: 'up' } })).status).toBe(200);
    const mine = (await events(owner.orgId, 'feedback.created')).filter((e) => e.data.messageId === chat.answerId);
    expect(mine).toHaveLength(1);
    expect(mine[0].data).toMatchObject({ rating: 'down', comment: 'Missed it', authorKind: 'member', conversationId: chat.conversationId });
  });

  it('a source that finishes indexing writes source.ready once', async () => {
    const source = await addText(owner.token, owner.botId, 'Refunds', 'Refunds are accepted within 30 days of purchase.');
    expect((await waitForSource(owner.token, source.id)).status).toBe('ready');
    const mine = (await events(owner.orgId, 'source.ready')).filter((e) => e.data.id === source.id);
    expect(mine).toHaveLength(1);
    expect(mine[0].data).toMatchObject({ status: 'ready', title: 'Refunds', type: 'text', error: null });
    expect(mine[0].data.updatedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('a source that cannot be indexed writes source.failed with the reason', async () => {
    const res = await call('POST', `/api/v1/bots/${owner.botId}/sources`, { ...as(owner), body: { type: 'url', url: 'https://docs.acme.test/missing-page' } });
    expect(res.status).toBe(202);
    expect((await waitForSource(owner.token, res.body.id)).status).toBe('failed');
    const mine = (await events(owner.orgId, 'source.failed')).filter((e) => e.data.id === res.body.id);
    expect(mine).toHaveLength(1);
    expect(mine[0].data.error).toContain('HTTP 404');
  });

  it('joining, a role change and a removal write member.added, member.role_changed and member.removed', async () => {
    const joined = await joinAs(owner, owner.orgId, 'viewer', 'wh-joiner');
    const [added] = (await events(owner.orgId, 'member.added')).filter((e) => e.data.userId === joined.userId);
    expect(added.data).toMatchObject({ id: joined.memberId, email: joined.email, role: 'viewer' });

    expect((await call('PATCH', `/api/v1/orgs/${owner.orgId}/members/${joined.memberId}`, { token: owner.token, body: { role: 'member' } })).status).toBe(200);
    const [changed] = (await events(owner.orgId, 'member.role_changed')).filter((e) => e.data.userId === joined.userId);
    expect(changed.data).toMatchObject({ role: 'member', previousRole: 'viewer' });

    expect((await call('DELETE', `/api/v1/orgs/${owner.orgId}/members/${joined.memberId}`, { token: owner.token })).status).toBe(204);
    const [removed] = (await events(owner.orgId, 'member.removed')).filter((e) => e.data.userId === joined.userId);
    expect(removed.data).toMatchObject({ id: joined.memberId, role: 'member' });
  });
});

describe('webhook endpoints API', () => {
  it('creates an endpoint, shows its secret once and masked afterwards, and records the change in the audit trail', async () => {
    const r = await receiver();
    const created = await createWebhook(owner, { url: r.url, eventTypes: ['conversation.*', 'lead.created'], description: 'CRM' });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const got = await call('GET', `/api/v1/webhooks/${created.id}`, as(owner));
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ url: r.url, eventTypes: ['conversation.*', 'lead.created'], enabled: true, description: 'CRM' });
    expect(got.body.secret).not.toContain(created.secret.slice(6, 20));
    expect(got.body.secret).toBe(`whsec_…${created.secret.slice(-4)}`);
    const list = await call('GET', '/api/v1/webhooks', as(owner));
    expect(list.body.data.map((w: { id: string }) => w.id)).toContain(created.id);
    expect(JSON.stringify(list.body)).not.toContain(created.secret);
    const audit = await env.DB.prepare("SELECT action FROM audit_events WHERE target_id = ? ORDER BY id").bind(created.id).all<{ action: string }>();
    expect(audit.results.map((a) => a.action)).toEqual(['webhook.create']);
  });

  it('PATCH writes the given fields, honours If-Match (412 when stale) and is audited; DELETE removes it', async () => {
    const r = await receiver();
    const created = await createWebhook(owner, { url: r.url, eventTypes: ['lead.created'] });
    const first = await call('PATCH', `/api/v1/webhooks/${created.id}`, { ...as(owner), headers: { 'if-match': '"1"' }, body: { description: 'Leads to CRM' } });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ description: 'Leads to CRM', eventTypes: ['lead.created'] });
    expect(first.headers.get('etag')).toBe('"2"');
    expectProblem(await call('PATCH', `/api/v1/webhooks/${created.id}`, { ...as(owner), headers: { 'if-match': '"1"' }, body: { enabled: false } }), 412, 'precondition_failed');
    expect((await call('GET', `/api/v1/webhooks/${created.id}`, as(owner))).body.enabled).toBe(true);

    expect((await call('DELETE', `/api/v1/webhooks/${created.id}`, as(owner))).status).toBe(204);
    expectProblem(await call('GET', `/api/v1/webhooks/${created.id}`, as(owner)), 404, 'webhook_not_found');
    const audit = await env.DB.prepare('SELECT action FROM audit_events WHERE target_id = ? ORDER BY id').bind(created.id).all<{ action: string }>();
    expect(audit.results.map((a) => a.action)).toEqual(['webhook.create', 'webhook.update', 'webhook.delete']);
  });

  it('the same Idempotency-Key with the same body returns the first endpoint instead of a second one', async () => {
    const r = await receiver();
    const body = { url: r.url, eventTypes: ['lead.created'] };
    const first = await call('POST', '/api/v1/webhooks', { ...as(other), headers: { 'idempotency-key': 'wh-create-1' }, body });
    const again = await call('POST', '/api/v1/webhooks', { ...as(other), headers: { 'idempotency-key': 'wh-create-1' }, body });
    expect(first.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
  });

  it.each([
    ['a string that is not a URL', { url: 'not a url', eventTypes: ['lead.created'] }, 'url'],
    ['a private address', { url: 'http://10.0.0.7/hook', eventTypes: ['lead.created'] }, 'url'],
    ['the cloud metadata address', { url: 'http://169.254.169.254/latest', eventTypes: ['lead.created'] }, 'url'],
    ['an internal host name', { url: 'http://localhost:8080/hook', eventTypes: ['lead.created'] }, 'url'],
    ['a non-http scheme', { url: 'ftp://example.com/hook', eventTypes: ['lead.created'] }, 'url'],
    ['an unknown event type', { url: 'https://example.com/hook', eventTypes: ['lead.deleted'] }, 'eventTypes.0'],
    ['a wildcard over no namespace', { url: 'https://example.com/hook', eventTypes: ['nothing.*'] }, 'eventTypes.0'],
    ['no event types', { url: 'https://example.com/hook', eventTypes: [] }, 'eventTypes'],
    ['an unknown field', { url: 'https://example.com/hook', eventTypes: ['lead.created'], secret: 'mine' }, '(body)'],
  ])('refuses %s with a 400 naming the field, storing nothing', async (_label, body, path) => {
    const before = await env.DB.prepare('SELECT count(*) AS n FROM webhook_endpoints WHERE org_id = ?').bind(owner.orgId).first<{ n: number }>();
    const problem = expectProblem(await call('POST', '/api/v1/webhooks', { ...as(owner), body }), 400, 'validation_failed');
    expect(problem.errors.map((e: { path: string }) => e.path)).toContain(path);
    const after = await env.DB.prepare('SELECT count(*) AS n FROM webhook_endpoints WHERE org_id = ?').bind(owner.orgId).first<{ n: number }>();
    expect(after!.n).toBe(before!.n);
  });

  it("refuses another org's bot as the bot filter", async () => {
    const problem = expectProblem(await call('POST', '/api/v1/webhooks', { ...as(owner), body: { url: 'https://example.com/hook', eventTypes: ['*'], botId: other.botId } }), 400, 'validation_failed');
    expect(problem.errors.map((e: { path: string }) => e.path)).toEqual(['botId']);
  });

  it('only owners and admins manage webhooks; API keys need webhooks:read / webhooks:write', async () => {
    const member = await joinAs(owner, owner.orgId, 'member', 'wh-member');
    expectProblem(await call('GET', '/api/v1/webhooks', as(member)), 403, 'forbidden');
    expectProblem(await call('POST', '/api/v1/webhooks', { ...as(member), body: { url: 'https://example.com/h', eventTypes: ['*'] } }), 403, 'forbidden');
    const reader = await createKey(other, ['webhooks:read']);
    const writer = await createKey(other, ['webhooks:write']);
    expect((await call('GET', '/api/v1/webhooks', { token: reader })).status).toBe(200);
    expectProblem(await call('POST', '/api/v1/webhooks', { token: reader, body: { url: 'https://example.com/h', eventTypes: ['*'] } }), 403, 'forbidden');
    expect((await call('POST', '/api/v1/webhooks', { token: writer, body: { url: 'https://example.com/h', eventTypes: ['*'] } })).status).toBe(201);
  });

  it('GET /webhooks/event-types lists every catalog type with a JSON schema, and /openapi.json documents each as a webhook', async () => {
    const res = await call('GET', '/api/v1/webhooks/event-types', as(owner));
    expect(res.status).toBe(200);
    expect(res.body.data.map((t: { type: string }) => t.type)).toEqual(EVENT_TYPES);
    const lead = res.body.data.find((t: { type: string }) => t.type === 'lead.created');
    expect(lead.schema).toMatchObject({ type: 'object', properties: { email: expect.anything(), createdAt: expect.anything() } });
    const doc = await call('GET', '/openapi.json');
    expect(Object.keys(doc.body.webhooks).sort()).toEqual([...EVENT_TYPES].sort());
    expect(doc.body.webhooks['message.created'].post.requestBody.content['application/json'].schema).toBeTruthy();
  });

  it("answers 404 for another org's endpoint and delivery on every route, and changes nothing", async () => {
    const r = await receiver();
    const hook = await createWebhook(owner, { url: r.url, eventTypes: ['lead.created'] });
    const test = await call('POST', `/api/v1/webhooks/${hook.id}/test`, as(owner));
    const deliveryId = test.body.delivery.id;
    const them = as(other);
    expectProblem(await call('GET', `/api/v1/webhooks/${hook.id}`, them), 404, 'webhook_not_found');
    expectProblem(await call('PATCH', `/api/v1/webhooks/${hook.id}`, { ...them, body: { enabled: false } }), 404, 'webhook_not_found');
    expectProblem(await call('DELETE', `/api/v1/webhooks/${hook.id}`, them), 404, 'webhook_not_found');
    expectProblem(await call('POST', `/api/v1/webhooks/${hook.id}/test`, them), 404, 'webhook_not_found');
    expectProblem(await call('POST', `/api/v1/webhooks/${hook.id}/rotate-secret`, them), 404, 'webhook_not_found');
    expectProblem(await call('GET', `/api/v1/webhooks/${hook.id}/deliveries`, them), 404, 'webhook_not_found');
    expectProblem(await call('GET', `/api/v1/deliveries/${deliveryId}`, them), 404, 'delivery_not_found');
    expectProblem(await call('POST', `/api/v1/deliveries/${deliveryId}/redeliver`, them), 404, 'delivery_not_found');
    const still = await call('GET', `/api/v1/webhooks/${hook.id}`, as(owner));
    expect(still.body).toMatchObject({ enabled: true, secret: `whsec_…${hook.secret.slice(-4)}` });
    expect((await r.received()).length).toBe(1);
  });
});

describe('signed delivery', () => {
  it('a test event arrives signed per Standard Webhooks, and the receiver verifies it with the standardwebhooks library', async () => {
    const r = await receiver();
    const hook = await createWebhook(owner, { url: r.url, eventTypes: ['lead.created'] });
    const res = await call('POST', `/api/v1/webhooks/${hook.id}/test`, as(owner));
    expect(res.status).toBe(200);
    expect(res.body.delivery).toMatchObject({ status: 'succeeded', eventType: 'webhook.test', attempts: 1, lastStatusCode: 200 });
    expect(res.body.attempt).toMatchObject({ attempt: 1, statusCode: 200, responseBody: 'ok', error: null });
    const [request] = await r.received();
    expect(request!.headers['webhook-id']).toBe(res.body.delivery.eventId);
    const payload = new Webhook(hook.secret).verify(request!.body, request!.headers) as any;
    expect(payload).toMatchObject({ type: 'webhook.test', data: { webhookId: hook.id } });
    expect(Date.parse(payload.timestamp)).not.toBeNaN();
    expect(() => new Webhook(`whsec_${btoa('a'.repeat(32))}`).verify(request!.body, request!.headers)).toThrow();
  });

  it('a test event to a failing endpoint records the status and the truncated answer, without retries', async () => {
    const r = await receiver([{ status: 500, body: 'x'.repeat(5000) }]);
    const hook = await createWebhook(owner, { url: r.url, eventTypes: ['lead.created'] });
    const res = await call('POST', `/api/v1/webhooks/${hook.id}/test`, as(owner));
    expect(res.body.delivery).toMatchObject({ status: 'failed', lastStatusCode: 500 });
    expect(res.body.attempt.responseBody).toHaveLength(WEBHOOKS.maxStoredResponseBytes);
    expect((await call('GET', `/api/v1/webhooks/${hook.id}`, as(owner))).body.consecutiveFailures).toBe(0);
  });

  it('after a rotation both secrets sign during the grace period; after it only the new one does', async () => {
    const r = await receiver();
    const hook = await createWebhook(owner, { url: r.url, eventTypes: ['lead.created'] });
    const rotated = await call('POST', `/api/v1/webhooks/${hook.id}/rotate-secret`, as(owner));
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(hook.secret);
    expect(Date.parse(rotated.body.previousSecretValidUntil) - Date.now()).toBeGreaterThan(WEBHOOKS.previousSecretGraceMs - 60_000);
    await call('POST', `/api/v1/webhooks/${hook.id}/test`, as(owner));
    const [during] = await r.received();
    expect(during!.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(new Webhook(rotated.body.secret).verify(during!.body, during!.headers)).toBeTruthy();
    expect(new Webhook(hook.secret).verify(during!.body, during!.headers)).toBeTruthy();

    // The grace period ends (set in the past rather than waited for).
    await env.DB.prepare('UPDATE webhook_endpoints SET previous_valid_until = ? WHERE id = ?').bind(Date.now() - 1, hook.id).run();
    await call('POST', `/api/v1/webhooks/${hook.id}/test`, as(owner));
    const after = (await r.received())[1]!;
    expect(after.headers['webhook-signature']!.split(' ')).toHaveLength(1);
    expect(new Webhook(rotated.body.secret).verify(after.body, after.headers)).toBeTruthy();
    expect(() => new Webhook(hook.secret).verify(after.body, after.headers)).toThrow();
    const audit = await env.DB.prepare('SELECT action FROM audit_events WHERE target_id = ? ORDER BY id').bind(hook.id).all<{ action: string }>();
    expect(audit.results.map((a) => a.action)).toContain('webhook.rotate_secret');
  });
});

describe('delivery through the queue', () => {
  it('events go out through the queue in order per conversation, a later one waiting while an earlier one is retried (Retry-After honoured)', async () => {
    const account = await register('wh-order');
    // The first request is refused with Retry-After: 1; everything after succeeds.
    const r = await receiver([{ status: 429, retryAfter: 1 }]);
    const hook = await createWebhook(account, { url: r.url, eventTypes: ['conversation.*', 'message.created'] });
    await env.DB.prepare('UPDATE webhook_endpoints SET consecutive_failures = 2 WHERE id = ?').bind(hook.id).run();
    const turn = await call('POST', `/api/v1/bots/${account.botId}/chat`, { ...as(account), body: { message: 'Anything about shipping?' } });
    expect(turn.status).toBe(200);

    const expected = ['conversation.created', 'conversation.created', 'message.created', 'message.created', 'conversation.unanswered'];
    await vi.waitUntil(async () => (await r.received()).length >= expected.length, { timeout: 15_000, interval: 100 });
    const requests = await r.received();
    expect(types(requests)).toEqual(expected);
    // The retry came after the Retry-After second, and the later events only after it.
    expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(900);
    for (const request of requests) expect(new Webhook(hook.secret).verify(request.body, request.headers)).toBeTruthy();

    const created = await waitForDelivery(account, hook.id, 'conversation.created', 'succeeded');
    const detail = await delivery(account, created.id);
    expect(detail.body.attemptLog.map((a: { statusCode: number }) => a.statusCode)).toEqual([429, 200]);
    expect(detail.body.attemptLog[0].latencyMs).toBeGreaterThanOrEqual(0);
    // A 2xx resets the endpoint's failure count.
    expect((await call('GET', `/api/v1/webhooks/${hook.id}`, as(account))).body.consecutiveFailures).toBe(0);
  });

  it(`after ${WEBHOOKS.disableAfterFailedDeliveries} deliveries in a row exhaust their retries the endpoint is disabled and the owners are mailed; redeliver then starts a new chain`, async () => {
    const account = await register('wh-disable');
    // Always 500, asking for the retry a second later (so the test does not wait out the schedule).
    const r = await receiver([], { status: 500, retryAfter: 1 });
    const hook = await createWebhook(account, { url: r.url, eventTypes: ['lead.created'] });
    // Four deliveries already failed for good, and this one is down to its last attempt: a day of
    // retries is fast-forwarded by setting the counts instead of waited for.
    await env.DB.prepare('UPDATE webhook_endpoints SET consecutive_failures = ? WHERE id = ?').bind(WEBHOOKS.disableAfterFailedDeliveries - 1, hook.id).run();
    const { ctx, settled } = contextWithBrokenQueue();
    const lead = await createLead(ctx, { orgId: account.orgId, botId: account.botId, email: 'last@example.com' });
    await settled();
    expect(lead.status).toBe('created');
    const published = await publishEvents(serviceContext(), { orgId: account.orgId });
    expect(published.deliveries).toBe(1);
    const [pending] = await deliveriesOf(account, hook.id);
    await env.DB.prepare('UPDATE webhook_deliveries SET attempts = ? WHERE id = ?').bind(MAX_ATTEMPTS - 1, pending.id).run();

    const failed = await waitForDelivery(account, hook.id, 'lead.created', 'failed');
    expect(failed).toMatchObject({ attempts: MAX_ATTEMPTS, lastStatusCode: 500 });
    const endpoint = (await call('GET', `/api/v1/webhooks/${hook.id}`, as(account))).body;
    expect(endpoint).toMatchObject({ enabled: false, consecutiveFailures: WEBHOOKS.disableAfterFailedDeliveries });
    expect(endpoint.disabledReason).toContain('failed after every retry');
    const mails = await mailsTo(account.email, 'webhook_disabled');
    expect(mails).toHaveLength(1);
    expect(mails[0]!.text).toContain(hook.id);

    expectProblem(await call('POST', `/api/v1/deliveries/${failed.id}/redeliver`, as(account)), 409, 'webhook_disabled');
    await r.script([], { status: 200 });
    const enabled = await call('PATCH', `/api/v1/webhooks/${hook.id}`, { ...as(account), body: { enabled: true } });
    expect(enabled.body).toMatchObject({ enabled: true, consecutiveFailures: 0, disabledReason: null });
    const again = await call('POST', `/api/v1/deliveries/${failed.id}/redeliver`, as(account));
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ status: 'pending', attempts: 0 });
    expectProblem(await call('POST', `/api/v1/deliveries/${failed.id}/redeliver`, as(account)), 409, 'delivery_pending');
    await waitForDelivery(account, hook.id, 'lead.created', 'succeeded');
    const log = (await delivery(account, failed.id)).body.attemptLog as { attempt: number; statusCode: number }[];
    expect(log.at(-1)).toMatchObject({ attempt: 1, statusCode: 200 });
    expect(log.at(-2)).toMatchObject({ attempt: MAX_ATTEMPTS, statusCode: 500 });

    // A delivered event can be sent again too.
    expect((await call('POST', `/api/v1/deliveries/${failed.id}/redeliver`, as(account))).status).toBe(202);
    await vi.waitUntil(
      async () => ((await delivery(account, failed.id)).body.attemptLog as { statusCode: number }[]).filter((a) => a.statusCode === 200).length === 2,
      { timeout: 10_000, interval: 100 },
    );
    expect((await delivery(account, failed.id)).body).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('the outbox survives a send failure: the cron sweeper publishes what the lost job did not', async () => {
    const account = await register('wh-sweep');
    const r = await receiver();
    const hook = await createWebhook(account, { url: r.url, eventTypes: ['lead.*'] });
    const { ctx, settled } = contextWithBrokenQueue();
    const lead = await createLead(ctx, { orgId: account.orgId, botId: account.botId, email: 'lost@example.com' });
    await settled();
    expect(lead.status).toBe('created');
    const [event] = await events(account.orgId, 'lead.created');
    expect(event.published_at).toBeNull();
    expect(await deliveriesOf(account, hook.id)).toHaveLength(0);

    await runCron(Date.now() + WEBHOOKS.sweepAfterMs + 1000);
    await vi.waitUntil(async () => (await r.received()).length === 1, { timeout: 10_000, interval: 100 });
    const [request] = await r.received();
    expect(new Webhook(hook.secret).verify(request!.body, request!.headers)).toMatchObject({ type: 'lead.created', data: { email: 'lost@example.com' } });
    expect((await events(account.orgId, 'lead.created'))[0].published_at).not.toBeNull();
  });

  it('the cron sweeper re-sends a lost delivery, not one that only waits for an earlier delivery of its conversation', async () => {
    const account = await register('wh-sweep-order');
    const r = await receiver();
    const hook = await createWebhook(account, { url: r.url, eventTypes: ['lead.*'] });
    const now = Date.now();
    const insert = (id: string, seq: number, conversationId: string | null, nextAttemptAt: number) =>
      env.DB.prepare(
        "INSERT INTO webhook_deliveries (id, org_id, endpoint_id, event_id, event_seq, event_type, conversation_id, status, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'lead.created', ?, 'pending', ?, ?, ?)",
      )
        .bind(id, account.orgId, hook.id, `evt_${id}`, seq, conversationId, nextAttemptAt, now, now)
        .run();
    // The first of the conversation retries in an hour; the second waits for it (its due time long past).
    await insert('whd_sweep_first', 1, 'conv_sweep', now + 60 * 60 * 1000);
    await insert('whd_sweep_waiting', 2, 'conv_sweep', 1);
    // A lone overdue delivery: its message was lost.
    await insert('whd_sweep_lost', 3, null, 1);
    const sent: { deliveryId?: string }[] = [];
    const capture = async (messages: { body: { deliveryId?: string } }[]) => void sent.push(...messages.map((m) => m.body));
    const ctx = serviceContext({ env: { ...env, JOBS: { send: async (body: { deliveryId?: string }) => void sent.push(body), sendBatch: capture } } as unknown as Env });
    try {
      await sweepWebhooks(ctx, now);
      const resent = sent.map((m) => m.deliveryId);
      expect(resent).toContain('whd_sweep_lost');
      expect(resent).not.toContain('whd_sweep_waiting');
      expect(resent).not.toContain('whd_sweep_first');
    } finally {
      await env.DB.prepare('DELETE FROM webhook_deliveries WHERE endpoint_id = ?').bind(hook.id).run();
    }
  });

  it('an org without an enabled endpoint sends no publish job per event; once it has one, the next event publishes the waiting ones at once', async () => {
    const account = await register('wh-presence');
    const publishJobs: string[] = [];
    const pending: Promise<unknown>[] = [];
    const countingEnv = {
      ...env,
      JOBS: {
        send: (message: { type: string }, options?: QueueSendOptions) => env.JOBS.send(message as never, options),
        sendBatch: (messages: { body: { type: string; orgId?: string } }[], options?: QueueSendBatchOptions) => {
          for (const m of messages) if (m.body.type === 'events.publish' && m.body.orgId === account.orgId) publishJobs.push(m.body.type);
          return env.JOBS.sendBatch(messages as never, options);
        },
      },
    } as unknown as Env;
    let now = Date.now();
    const ctx = { ...serviceContext({ env: countingEnv, waitUntil: (p) => pending.push(p) }), clock: { now: () => now } };

    await createLead(ctx, { orgId: account.orgId, botId: account.botId, email: 'before@example.com' });
    await Promise.all(pending);
    expect(publishJobs).toEqual([]);
    expect((await events(account.orgId, 'lead.created'))[0].published_at).toBeNull();

    const r = await receiver();
    await createWebhook(account, { url: r.url, eventTypes: ['lead.*'] });
    // Another isolate may have remembered "no endpoint" for a while; past that, it reads again.
    now += WEBHOOKS.endpointPresenceTtlMs + 1;
    await createLead(ctx, { orgId: account.orgId, botId: account.botId, email: 'after@example.com' });
    await Promise.all(pending);
    expect(publishJobs).toEqual(['events.publish']);
    await vi.waitUntil(async () => (await r.received()).length === 2, { timeout: 10_000, interval: 100 });
    const emails = (await r.received()).map((request) => JSON.parse(request.body).data.email).sort();
    expect(emails).toEqual(['after@example.com', 'before@example.com']);
  });

  it('two concurrent publishers create one delivery per event and endpoint, and each event is delivered once', async () => {
    const account = await register('wh-race');
    const r = await receiver();
    const hook = await createWebhook(account, { url: r.url, eventTypes: ['lead.created'] });
    const { ctx, settled } = contextWithBrokenQueue();
    for (let i = 0; i < 5; i++) await createLead(ctx, { orgId: account.orgId, botId: account.botId, email: `race${i}@example.com` });
    await settled();

    const [a, b] = await Promise.all([publishEvents(serviceContext(), { orgId: account.orgId }), publishEvents(serviceContext(), { orgId: account.orgId })]);
    expect(a.deliveries + b.deliveries).toBe(5);
    const rows = await env.DB.prepare('SELECT event_id, count(*) AS n FROM webhook_deliveries WHERE endpoint_id = ? GROUP BY event_id').bind(hook.id).all<{ n: number }>();
    expect(rows.results).toHaveLength(5);
    expect(rows.results.every((row) => row.n === 1)).toBe(true);
    await vi.waitUntil(async () => (await deliveriesOf(account, hook.id, '&status=succeeded')).length === 5, { timeout: 10_000, interval: 100 });
    const ids = (await r.received()).map((q) => q.headers['webhook-id']);
    expect(new Set(ids).size).toBe(5);
    expect(ids).toHaveLength(5);
  });

  it('an endpoint receives only the event types and the bot it asked for', async () => {
    const account = await register('wh-filter');
    const bot2 = await call('POST', '/api/v1/bots', { ...as(account), body: { name: 'Second' } });
    const r = await receiver();
    await createWebhook(account, { url: r.url, eventTypes: ['lead.created', 'member.*'], botId: bot2.body.id });
    await createLead(serviceContext(), { orgId: account.orgId, botId: account.botId, email: 'first-bot@example.com' });
    await createLead(serviceContext(), { orgId: account.orgId, botId: bot2.body.id, email: 'second-bot@example.com' });
    await joinAs(account, account.orgId, 'viewer', 'wh-filter-join');
    await runCron(Date.now() + WEBHOOKS.sweepAfterMs + 1000);
    await vi.waitUntil(async () => (await r.received()).length >= 2, { timeout: 10_000, interval: 100 });
    const bodies = (await r.received()).map((q) => JSON.parse(q.body));
    expect(bodies.map((b) => b.type).sort()).toEqual(['lead.created', 'member.added']);
    expect(bodies.find((b) => b.type === 'lead.created').data.email).toBe('second-bot@example.com');
  });
});
