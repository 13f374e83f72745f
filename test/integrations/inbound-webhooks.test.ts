/**
 * Inbound webhooks through the real Worker: the integrations registry (admins; secrets shown
 * once, masked after, rotated with a grace period; Idempotency-Key, ETag / If-Match, audit), the
 * public `/hooks/{slug}` (Standard Webhooks signatures, 5-minute timestamps, replay guard, body
 * cap, the receive log) and each action run through the queue: knowledge.upsert makes the bot
 * answer from the new text and replaces it, knowledge.delete removes it, source.sync syncs,
 * conversation.reply reaches the conversation and its live room. Requests are signed the way a
 * sender would: `new Webhook(secret).sign(id, date, body)`.
 */
import { env, SELF, createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { BASE, call, createKey, expectProblem, register, type Account, type CallResult } from '../support/api';
import { joinAs, type Member } from '../support/accounts';
import { addText, countRows, waitForPurge, waitForSource } from '../support/knowledge';
import { insertConversation } from '../support/chat';
import { INBOUND_WEBHOOKS, SWEEPER } from '../../src/limits';
import worker from '../../src/index';

let owner: Account;
let stranger: Account;
let member: Member;

beforeAll(async () => {
  owner = await register('hooks-owner');
  stranger = await register('hooks-stranger');
  member = await joinAs(owner, owner.orgId, 'member', 'hooks-member');
});

interface Created {
  id: string;
  url: string;
  signingSecret: string;
}

async function createIntegration(who: Account, body: Record<string, unknown>): Promise<Created> {
  const res = await call('POST', '/api/v1/integrations', { token: who.token, body: { name: 'test', ...body } });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

let sequence = 0;
const newWebhookId = () => `msg_${Date.now().toString(36)}_${sequence++}`;

interface SendOptions {
  secret?: string;
  id?: string;
  at?: Date;
  /** Sent as is instead of the JSON of the payload. */
  raw?: string;
  headers?: Record<string, string>;
}

/** POSTs `payload` to an integration's URL, signed with its secret as a Standard Webhooks sender does. */
async function send(hook: Created, payload: unknown, opts: SendOptions = {}): Promise<CallResult & { webhookId: string }> {
  const body = opts.raw ?? JSON.stringify(payload);
  const id = opts.id ?? newWebhookId();
  const at = opts.at ?? new Date();
  const headers = {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(opts.secret ?? hook.signingSecret).sign(id, at, body),
    ...opts.headers,
  };
  const res = await call('POST', hook.url, { body, headers });
  return { ...res, webhookId: id };
}

async function eventsOf(integrationId: string, who: Account = owner) {
  const res = await call('GET', `/api/v1/integrations/${integrationId}/events?limit=100`, { token: who.token });
  expect(res.status).toBe(200);
  return res.body.data as Record<string, any>[];
}

/** Waits until the queue processed (or failed) an accepted event; returns its log entry. */
async function processed(integrationId: string, eventId: string, who: Account = owner) {
  return vi.waitUntil(
    async () => {
      const event = (await eventsOf(integrationId, who)).find((e) => e.id === eventId);
      return event && ['processed', 'failed'].includes(event.status) ? event : null;
    },
    { timeout: 20_000, interval: 100 },
  );
}

const ask = async (botId: string, message: string) => {
  const res = await call('POST', `/api/v1/bots/${botId}/chat`, { token: owner.token, body: { message } });
  expect(res.status).toBe(200);
  return res.body.message.content as string;
};

describe('the integrations registry', () => {
  it('creates an integration with a /hooks URL of at least 128 random bits and a whsec_ secret shown once; reads mask it', async () => {
    const res = await call('POST', '/api/v1/integrations', { token: owner.token, body: { name: 'CMS', action: 'knowledge.upsert', botId: owner.botId } });
    expect(res.status).toBe(201);
    expect(res.headers.get('etag')).toBe('"1"');
    expect(res.headers.get('location')).toBe(`/api/v1/integrations/${res.body.id}`);
    expect(res.body).toMatchObject({ name: 'CMS', action: 'knowledge.upsert', botId: owner.botId, sourceId: null, enabled: true });
    const slug = /^\/hooks\/([A-Za-z0-9_-]+)$/.exec(res.body.url)![1]!;
    expect(slug.length * 6).toBeGreaterThanOrEqual(128);
    expect(res.body.signingSecret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);

    const read = await call('GET', `/api/v1/integrations/${res.body.id}`, { token: owner.token });
    expect(read.status).toBe(200);
    expect(read.body.signingSecret).toBeUndefined();
    expect(read.body.secret.masked).toBe(`whsec_…${res.body.signingSecret.slice(-4)}`);
    expect(JSON.stringify(read.body)).not.toContain(res.body.signingSecret);
    // Encrypted at rest: the stored row does not hold the secret's text.
    const stored = await env.DB.prepare('SELECT secret FROM integrations WHERE id = ?').bind(res.body.id).first<{ secret: string }>();
    expect(stored!.secret).not.toContain(res.body.signingSecret.slice(6));

    const list = await call('GET', '/api/v1/integrations', { token: owner.token });
    expect(list.body.data.map((i: { id: string }) => i.id)).toContain(res.body.id);
  });

  it('replays the first response for the same Idempotency-Key and body, and 422s it with another body', async () => {
    const headers = { 'idempotency-key': `int-${Date.now()}` };
    const body = { name: 'Helpdesk', action: 'conversation.reply' };
    const first = await call('POST', '/api/v1/integrations', { token: owner.token, body, headers });
    const again = await call('POST', '/api/v1/integrations', { token: owner.token, body, headers });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    expectProblem(await call('POST', '/api/v1/integrations', { token: owner.token, body: { ...body, name: 'other' }, headers }), 422);
    expect(await countRows('SELECT count(*) AS n FROM integrations WHERE name = ?', 'Helpdesk')).toBe(1);
  });

  it('refuses bad input with 400 problems and stores nothing', async () => {
    const before = await countRows('SELECT count(*) AS n FROM integrations WHERE org_id = ?', owner.orgId);
    const bad = [
      { name: 'x', action: 'knowledge.upsert' },
      { name: 'x', action: 'conversation.reply', sourceId: 'src_01JD3X0000000000000000000' },
      { name: 'x', action: 'shell.exec' },
      { name: '', action: 'source.sync' },
      { name: 'x', action: 'source.sync', secret: 'whsec_mine' },
    ];
    for (const body of bad) expectProblem(await call('POST', '/api/v1/integrations', { token: owner.token, body }), 400, 'validation_failed');
    expect(await countRows('SELECT count(*) AS n FROM integrations WHERE org_id = ?', owner.orgId)).toBe(before);
  });

  it("answers 404 for another org's bot or source named in a create or a change", async () => {
    const foreignSource = await addText(stranger.token, stranger.botId, 'Theirs', 'Another org text.');
    expectProblem(await call('POST', '/api/v1/integrations', { token: owner.token, body: { name: 'x', action: 'knowledge.upsert', botId: stranger.botId } }), 404, 'bot_not_found');
    expectProblem(await call('POST', '/api/v1/integrations', { token: owner.token, body: { name: 'x', action: 'source.sync', sourceId: foreignSource.id } }), 404, 'source_not_found');
    const mine = await createIntegration(owner, { action: 'source.sync' });
    expectProblem(await call('PATCH', `/api/v1/integrations/${mine.id}`, { token: owner.token, body: { sourceId: foreignSource.id } }), 404, 'source_not_found');
  });

  it('PATCH writes only the given fields and bumps the ETag; a stale If-Match is a 412 and changes nothing', async () => {
    const hook = await createIntegration(owner, { action: 'knowledge.upsert', botId: owner.botId, name: 'before' });
    const res = await call('PATCH', `/api/v1/integrations/${hook.id}`, { token: owner.token, body: { enabled: false }, headers: { 'if-match': '"1"' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe('"2"');
    expect(res.body).toMatchObject({ name: 'before', enabled: false, action: 'knowledge.upsert', botId: owner.botId });
    expectProblem(await call('PATCH', `/api/v1/integrations/${hook.id}`, { token: owner.token, body: { name: 'after' }, headers: { 'if-match': '"1"' } }), 412, 'precondition_failed');
    // Merged with what is stored: knowledge.* cannot lose its bot.
    expectProblem(await call('PATCH', `/api/v1/integrations/${hook.id}`, { token: owner.token, body: { botId: null } }), 400, 'validation_failed');
    expect((await call('GET', `/api/v1/integrations/${hook.id}`, { token: owner.token })).body.name).toBe('before');
  });

  it('is for admins: a member gets 403 on every route', async () => {
    const hook = await createIntegration(owner, { action: 'conversation.reply' });
    const as = { token: member.token, orgId: owner.orgId };
    expectProblem(await call('GET', '/api/v1/integrations', as), 403);
    expectProblem(await call('POST', '/api/v1/integrations', { ...as, body: { name: 'x', action: 'conversation.reply' } }), 403);
    expectProblem(await call('GET', `/api/v1/integrations/${hook.id}`, as), 403);
    expectProblem(await call('GET', `/api/v1/integrations/${hook.id}/events`, as), 403);
    expectProblem(await call('POST', `/api/v1/integrations/${hook.id}/secret/rotate`, as), 403);
  });

  it("answers 404 on every route for another org's integration, and changes nothing of it", async () => {
    const theirs = await createIntegration(stranger, { action: 'conversation.reply', name: 'theirs' });
    const as = { token: owner.token };
    const base = `/api/v1/integrations/${theirs.id}`;
    expectProblem(await call('GET', base, as), 404, 'integration_not_found');
    expectProblem(await call('PATCH', base, { ...as, body: { name: 'mine now' } }), 404, 'integration_not_found');
    expectProblem(await call('DELETE', base, as), 404, 'integration_not_found');
    expectProblem(await call('POST', `${base}/test`, { ...as, body: {} }), 404, 'integration_not_found');
    expectProblem(await call('GET', `${base}/events`, as), 404, 'integration_not_found');
    expectProblem(await call('POST', `${base}/secret/rotate`, as), 404, 'integration_not_found');
    const still = await call('GET', base, { token: stranger.token });
    expect(still.body).toMatchObject({ name: 'theirs', secret: { previousValidUntil: null } });
    expect((await call('GET', '/api/v1/integrations', as)).body.data.map((i: { id: string }) => i.id)).not.toContain(theirs.id);
  });

  it('DELETE removes the integration and its log; its URL then answers 404', async () => {
    const hook = await createIntegration(owner, { action: 'knowledge.delete', botId: owner.botId });
    expect((await send(hook, { externalId: 'nothing' })).status).toBe(202);
    expect((await call('DELETE', `/api/v1/integrations/${hook.id}`, { token: owner.token })).status).toBe(204);
    expectProblem(await call('GET', `/api/v1/integrations/${hook.id}`, { token: owner.token }), 404);
    expectProblem(await send(hook, { externalId: 'nothing' }), 404, 'integration_not_found');
    expect(await countRows('SELECT count(*) AS n FROM inbound_events WHERE integration_id = ?', hook.id)).toBe(0);
  });

  it('audits create, change, rotation and delete', async () => {
    const hook = await createIntegration(owner, { action: 'conversation.reply', name: 'audited' });
    await call('PATCH', `/api/v1/integrations/${hook.id}`, { token: owner.token, body: { name: 'renamed' } });
    await call('POST', `/api/v1/integrations/${hook.id}/secret/rotate`, { token: owner.token });
    await call('DELETE', `/api/v1/integrations/${hook.id}`, { token: owner.token });
    const rows = await env.DB.prepare('SELECT action, actor_id FROM audit_events WHERE target_id = ? ORDER BY id').bind(hook.id).all<{ action: string; actor_id: string }>();
    expect(rows.results.map((r) => r.action)).toEqual(['integration.create', 'integration.update', 'integration.secret.rotate', 'integration.delete']);
    expect(new Set(rows.results.map((r) => r.actor_id))).toEqual(new Set([owner.userId]));
  });

  it('rotates the secret: the new one verifies at once, the previous one until its grace period ends', async () => {
    const hook = await createIntegration(owner, { action: 'knowledge.delete', botId: owner.botId });
    const res = await call('POST', `/api/v1/integrations/${hook.id}/secret/rotate`, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body.signingSecret).not.toBe(hook.signingSecret);
    expect(Date.parse(res.body.previousValidUntil) - Date.parse(res.body.rotatedAt)).toBe(INBOUND_WEBHOOKS.secretGraceMs);
    expect((await send(hook, { externalId: 'a' }, { secret: res.body.signingSecret })).status).toBe(202);
    expect((await send(hook, { externalId: 'b' })).status).toBe(202);
    // Grace over (moved into the past): the previous secret no longer verifies.
    await env.DB.prepare('UPDATE integrations SET previous_valid_until = ? WHERE id = ?').bind(Date.now() - 1, hook.id).run();
    expectProblem(await send(hook, { externalId: 'c' }), 401, 'webhook_signature_invalid');
    expect((await send(hook, { externalId: 'd' }, { secret: res.body.signingSecret })).status).toBe(202);
  });

  it('test signs a sample, verifies and validates it like /hooks, dry-runs the action and stores nothing', async () => {
    const hook = await createIntegration(owner, { action: 'knowledge.upsert', botId: owner.botId });
    const before = await countRows('SELECT count(*) AS n FROM sources WHERE org_id = ?', owner.orgId);
    const sample = await call('POST', `/api/v1/integrations/${hook.id}/test`, { token: owner.token, body: {} });
    expect(sample.status).toBe(200);
    expect(sample.body).toMatchObject({ verification: 'verified', valid: true, errors: [], dryRun: { outcome: 'would_create', externalId: 'faq-42' } });
    // The headers are a real Standard Webhooks signature with the integration's secret.
    const { headers, body } = sample.body.request;
    expect(() => new Webhook(hook.signingSecret).verify(body, headers)).not.toThrow();

    const invalid = await call('POST', `/api/v1/integrations/${hook.id}/test`, { token: owner.token, body: { payload: { externalId: 'x', type: 'pdf' } } });
    expect(invalid.body).toMatchObject({ verification: 'verified', valid: false, dryRun: null });
    expect(invalid.body.errors.length).toBeGreaterThan(0);
    expect(await countRows('SELECT count(*) AS n FROM sources WHERE org_id = ?', owner.orgId)).toBe(before);
    expect(await countRows('SELECT count(*) AS n FROM inbound_events WHERE integration_id = ?', hook.id)).toBe(0);
  });
});

describe('receiving on /hooks/{slug}', () => {
  let hook: Created;
  beforeAll(async () => {
    hook = await createIntegration(owner, { action: 'knowledge.delete', botId: owner.botId, name: 'receiver' });
  });

  it('a good signature is a 202 with the event id, and the event is processed through the queue', async () => {
    const res = await send(hook, { externalId: 'never-existed' });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: expect.stringMatching(/^ihe_/), status: 'queued' });
    const event = await processed(hook.id, res.body.id);
    expect(event).toMatchObject({ webhookId: res.webhookId, verification: 'verified', status: 'processed', result: { outcome: 'not_found', externalId: 'never-existed' } });
    const row = await env.DB.prepare('SELECT payload FROM inbound_events WHERE id = ?').bind(res.body.id).first<{ payload: string | null }>();
    expect(row!.payload).toBeNull();
  });

  it('a bad signature is a 401 problem; only a log line without the body is stored', async () => {
    const res = await send(hook, { externalId: 'secret-text-never-kept' }, { secret: `whsec_${btoa('another secret of enough bytes!!')}` });
    expectProblem(res, 401, 'webhook_signature_invalid');
    const row = await env.DB.prepare('SELECT * FROM inbound_events WHERE webhook_id = ?').bind(res.webhookId).first<Record<string, unknown>>();
    expect(row).toMatchObject({ verification: 'bad_signature', status: 'rejected', accepted: 0, payload: null, result: null });
    expect(JSON.stringify(row)).not.toContain('secret-text-never-kept');
    // A tampered body under a valid signature of another body is just as bad.
    const id = newWebhookId();
    const at = new Date();
    const signature = new Webhook(hook.signingSecret).sign(id, at, '{"externalId":"a"}');
    expectProblem(await send(hook, null, { raw: '{"externalId":"b"}', headers: { 'webhook-id': id, 'webhook-signature': signature } }), 401, 'webhook_signature_invalid');
  });

  it('missing signature headers are a 401 problem', async () => {
    const res = await call('POST', hook.url, { body: { externalId: 'x' } });
    expectProblem(res, 401, 'webhook_headers_invalid');
    const last = (await eventsOf(hook.id))[0]!;
    expect(last).toMatchObject({ verification: 'invalid_headers', status: 'rejected', webhookId: null });
  });

  it('a timestamp more than 5 minutes old (or ahead) is a 401 problem, however well signed', async () => {
    const stale = await send(hook, { externalId: 'x' }, { at: new Date(Date.now() - 6 * 60_000) });
    expectProblem(stale, 401, 'webhook_timestamp_out_of_range');
    expectProblem(await send(hook, { externalId: 'x' }, { at: new Date(Date.now() + 6 * 60_000) }), 401, 'webhook_timestamp_out_of_range');
    const row = await env.DB.prepare('SELECT verification, status FROM inbound_events WHERE webhook_id = ?').bind(stale.webhookId).first();
    expect(row).toEqual({ verification: 'stale_timestamp', status: 'rejected' });
  });

  it('a replayed webhook-id is refused with 409 and processed once', async () => {
    const id = newWebhookId();
    const first = await send(hook, { externalId: 'replay' }, { id });
    expect(first.status).toBe(202);
    // The same signed request again, and the same id re-signed later (a replay with a fresh timestamp).
    expectProblem(await send(hook, { externalId: 'replay' }, { id }), 409, 'webhook_replayed');
    expectProblem(await send(hook, { externalId: 'other' }, { id, at: new Date(Date.now() + 1000) }), 409, 'webhook_replayed');
    expect(await countRows("SELECT count(*) AS n FROM inbound_events WHERE webhook_id = ? AND accepted = 1", id)).toBe(1);
    expect(await countRows("SELECT count(*) AS n FROM inbound_events WHERE webhook_id = ? AND status = 'replayed'", id)).toBe(2);
  });

  it('a body over the cap is a 413 problem, logged without reading it', async () => {
    const big = JSON.stringify({ externalId: 'x', pad: 'a'.repeat(INBOUND_WEBHOOKS.maxBodyBytes) });
    expectProblem(await send(hook, null, { raw: big }), 413, 'payload_too_large');
    // Without a declared length too: a streamed body is cut once it passes the cap.
    const id = newWebhookId();
    const chunk = new TextEncoder().encode('a'.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > INBOUND_WEBHOOKS.maxBodyBytes + chunk.byteLength) controller.close();
        else {
          sent += chunk.byteLength;
          controller.enqueue(chunk);
        }
      },
    });
    const at = new Date();
    const res = await SELF.fetch(BASE + hook.url, {
      method: 'POST',
      body: stream,
      headers: { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': 'v1,AAAA' },
      // @ts-expect-error workerd's fetch takes duplex for streamed bodies
      duplex: 'half',
    });
    expect(res.status).toBe(413);
    await res.text();
    const row = await env.DB.prepare('SELECT verification, status, payload FROM inbound_events WHERE webhook_id = ?').bind(id).first();
    expect(row).toEqual({ verification: 'not_checked', status: 'too_large', payload: null });
  });

  it('an unknown slug is a 404 problem; a disabled integration too (and its log shows the call)', async () => {
    expectProblem(await call('POST', '/hooks/not-a-real-slug', { body: {} }), 404, 'integration_not_found');
    const off = await createIntegration(owner, { action: 'knowledge.delete', botId: owner.botId, enabled: false });
    expectProblem(await send(off, { externalId: 'x' }), 404, 'integration_not_found');
    expect((await eventsOf(off.id)).map((e) => [e.verification, e.status])).toEqual([['integration_disabled', 'rejected']]);
  });

  it('a verified body that is not a valid payload is a 400 problem; the id stays usable for the fixed payload', async () => {
    const id = newWebhookId();
    const res = await send(hook, { externalId: '' }, { id });
    expect(expectProblem(res, 400, 'validation_failed').errors[0].path).toBe('externalId');
    expectProblem(await send(hook, null, { raw: '{not json', id: newWebhookId() }), 400, 'malformed_json');
    expect((await send(hook, { externalId: 'fixed' }, { id })).status).toBe(202);
  });

  it('the receive log pages with a cursor, newest first', async () => {
    const quiet = await createIntegration(owner, { action: 'knowledge.delete', botId: owner.botId });
    for (let i = 0; i < 3; i++) await send(quiet, { externalId: `page-${i}` });
    const first = await call('GET', `/api/v1/integrations/${quiet.id}/events?limit=2`, { token: owner.token });
    expect(first.body.data).toHaveLength(2);
    const second = await call('GET', `/api/v1/integrations/${quiet.id}/events?limit=2&cursor=${first.body.nextCursor}`, { token: owner.token });
    expect(second.body.data).toHaveLength(1);
    expect(second.body.nextCursor).toBeNull();
    const ids = [...first.body.data, ...second.body.data].map((e: { id: string }) => e.id);
    expect(ids).toEqual([...ids].sort().reverse());
    expectProblem(await call('GET', `/api/v1/integrations/${quiet.id}/events?cursor=garbage`, { token: owner.token }), 400, 'invalid_cursor');
  });
});

describe('actions', () => {
  const FERRY_OLD = 'The ferry to Nordholm island leaves from pier nine at 07:45 every morning.';
  const FERRY_NEW = 'The ferry to Nordholm island leaves from pier three at 10:15 every morning.';
  const QUESTION = 'When does the ferry to Nordholm island leave?';

  it('knowledge.upsert makes the bot answer from the new text; upserting again replaces it (the old text no longer answers); knowledge.delete removes it', async () => {
    const upsert = await createIntegration(owner, { action: 'knowledge.upsert', botId: owner.botId });
    const first = await send(upsert, { externalId: 'ferry', type: 'text', title: 'Ferry timetable', text: FERRY_OLD });
    expect(first.status).toBe(202);
    const created = await processed(upsert.id, first.body.id);
    expect(created.result).toMatchObject({ outcome: 'created', externalId: 'ferry' });
    await waitForSource(owner.token, created.result.sourceId, ['ready']);
    expect(await ask(owner.botId, QUESTION)).toContain('07:45');

    const second = await send(upsert, { externalId: 'ferry', type: 'text', title: 'Ferry timetable', text: FERRY_NEW });
    const replaced = await processed(upsert.id, second.body.id);
    expect(replaced.result).toMatchObject({ outcome: 'replaced', replacedSourceIds: [created.result.sourceId] });
    await waitForSource(owner.token, replaced.result.sourceId, ['ready']);
    await waitForPurge(created.result.sourceId);
    expect(await countRows('SELECT count(*) AS n FROM chunks WHERE source_id = ?', created.result.sourceId)).toBe(0);
    const answer = await ask(owner.botId, QUESTION);
    expect(answer).toContain('10:15');
    expect(answer).not.toContain('07:45');

    const remover = await createIntegration(owner, { action: 'knowledge.delete', botId: owner.botId });
    const gone = await processed(remover.id, (await send(remover, { externalId: 'ferry' })).body.id);
    expect(gone.result).toMatchObject({ outcome: 'deleted', sourceIds: [replaced.result.sourceId] });
    await waitForPurge(replaced.result.sourceId);
    expect(await ask(owner.botId, QUESTION)).not.toContain('10:15');
  });

  it('knowledge.upsert of a Q&A pair creates a Q&A source; the same content again is unchanged', async () => {
    const upsert = await createIntegration(owner, { action: 'knowledge.upsert', botId: owner.botId });
    const pair = { externalId: 'faq-parking', type: 'qa', question: 'Where can visitors park?', answer: 'Visitors park in the blue garage on Quay Street.' };
    const created = await processed(upsert.id, (await send(upsert, pair)).body.id);
    const source = await waitForSource(owner.token, created.result.sourceId, ['ready']);
    expect(source).toMatchObject({ type: 'qa', title: 'Where can visitors park?', externalId: 'faq-parking' });
    const again = await processed(upsert.id, (await send(upsert, pair)).body.id);
    expect(again.result).toEqual({ outcome: 'unchanged', externalId: 'faq-parking', sourceId: created.result.sourceId });
  });

  it("knowledge.* only touch the integration's own bot: the same external id in another bot or org is untouched", async () => {
    const theirs = await createIntegration(stranger, { action: 'knowledge.upsert', botId: stranger.botId });
    const made = await processed(theirs.id, (await send(theirs, { externalId: 'shared-id', type: 'text', text: 'Stranger knowledge about lighthouses.' })).body.id, stranger);
    const remover = await createIntegration(owner, { action: 'knowledge.delete', botId: owner.botId });
    const attempt = await processed(remover.id, (await send(remover, { externalId: 'shared-id' })).body.id);
    expect(attempt.result).toMatchObject({ outcome: 'not_found' });
    expect((await call('GET', `/api/v1/sources/${made.result.sourceId}`, { token: stranger.token })).status).toBe(200);
  });

  it('source.sync re-syncs the source (the integration\'s, or the one the event names)', async () => {
    const source = await addText(owner.token, owner.botId, 'Sync me', 'Tide tables are published every Sunday evening.');
    await waitForSource(owner.token, source.id, ['ready']);
    const generation = () => env.DB.prepare('SELECT generation FROM sources WHERE id = ?').bind(source.id).first<{ generation: number }>().then((r) => r!.generation);
    const before = await generation();
    const fixed = await createIntegration(owner, { action: 'source.sync', sourceId: source.id });
    const event = await processed(fixed.id, (await send(fixed, { entry: { id: 7, model: 'page' }, event: 'entry.publish' })).body.id);
    expect(event.result).toEqual({ outcome: 'sync_queued', sourceId: source.id });
    await vi.waitUntil(async () => (await generation()) > before, { timeout: 20_000, interval: 100 });
    await waitForSource(owner.token, source.id, ['ready']);

    const open = await createIntegration(owner, { action: 'source.sync' });
    expectProblem(await send(open, { event: 'publish' }), 400, 'validation_failed');
    const named = await processed(open.id, (await send(open, { sourceId: source.id })).body.id);
    expect(named.result).toEqual({ outcome: 'sync_queued', sourceId: source.id });
    // Another org's source is as absent as a wrong id: the event fails with the reason, nothing syncs there.
    const foreign = await addText(stranger.token, stranger.botId, 'Theirs', 'Foreign text about harbours.');
    const failed = await processed(open.id, (await send(open, { sourceId: foreign.id })).body.id);
    expect(failed).toMatchObject({ status: 'failed', error: expect.stringContaining('does not exist') });
  });

  it('conversation.reply posts an agent reply the visitor sees live in the room, and takes the conversation over', async () => {
    const visitorKey = await createKey(owner, ['chat'], 'widget backend');
    const conversationId = await insertConversation({ orgId: owner.orgId, botId: owner.botId, channel: 'api' });
    const response = await SELF.fetch(`${BASE}/api/v1/conversations/${conversationId}/ws`, { headers: { upgrade: 'websocket', authorization: `Bearer ${visitorKey}` } });
    expect(response.status).toBe(101);
    const ws = response.webSocket!;
    ws.accept();
    const frames: Record<string, any>[] = [];
    ws.addEventListener('message', (e) => frames.push(JSON.parse(e.data as string)));

    const helpdesk = await createIntegration(owner, { action: 'conversation.reply' });
    const res = await send(helpdesk, { conversationId, text: 'Hi, Ada from support here: your refund is on its way.', author: 'Ada' });
    const event = await processed(helpdesk.id, res.body.id);
    expect(event.result).toMatchObject({ outcome: 'replied', conversationId, author: 'Ada' });

    const messages = await call('GET', `/api/v1/conversations/${conversationId}/messages`, { token: owner.token });
    const reply = messages.body.data.find((m: { role: string }) => m.role === 'agent');
    expect(reply).toMatchObject({ id: event.result.messageId, content: 'Hi, Ada from support here: your refund is on its way.' });
    await expect.poll(() => frames.find((f) => f.type === 'message' && f.message.id === event.result.messageId), { timeout: 10_000 }).toBeDefined();
    expect(frames.find((f) => f.type === 'status')).toMatchObject({ status: 'human' });
    const conversation = await env.DB.prepare('SELECT status, message_count FROM conversations WHERE id = ?').bind(conversationId).first();
    expect(conversation).toEqual({ status: 'human', message_count: 1 });
    ws.close(1000, 'done');
  });

  it("conversation.reply fails the event for another org's conversation or a closed one, and stores nothing there", async () => {
    const helpdesk = await createIntegration(owner, { action: 'conversation.reply' });
    const foreign = await insertConversation({ orgId: stranger.orgId, botId: stranger.botId });
    const closed = await insertConversation({ orgId: owner.orgId, botId: owner.botId, status: 'closed' });
    const a = await processed(helpdesk.id, (await send(helpdesk, { conversationId: foreign, text: 'hello' })).body.id);
    const b = await processed(helpdesk.id, (await send(helpdesk, { conversationId: closed, text: 'hello' })).body.id);
    expect(a).toMatchObject({ status: 'failed', error: expect.stringContaining('does not exist') });
    expect(b).toMatchObject({ status: 'failed', error: 'The conversation is closed.' });
    expect(await countRows('SELECT count(*) AS n FROM messages WHERE conversation_id IN (?, ?)', foreign, closed)).toBe(0);
  });

  it('processing the same event twice changes nothing: a re-delivered message, and a re-run after a crash before the "processed" mark', async () => {
    const helpdesk = await createIntegration(owner, { action: 'conversation.reply' });
    const conversationId = await insertConversation({ orgId: owner.orgId, botId: owner.botId });
    const res = await send(helpdesk, { conversationId, text: 'Once only.' });
    await processed(helpdesk.id, res.body.id);
    // The queue delivers the message again: the processed event is left alone.
    await env.JOBS.send({ type: 'inbound.process', orgId: owner.orgId, eventId: res.body.id });
    // A worker died after replying but before marking it processed: the event is queued again with its payload.
    const payload = JSON.stringify({ conversationId, text: 'Once only.' });
    await env.DB.prepare("UPDATE inbound_events SET status = 'queued', payload = ? WHERE id = ?").bind(payload, res.body.id).run();
    await env.JOBS.send({ type: 'inbound.process', orgId: owner.orgId, eventId: res.body.id });
    const again = await processed(helpdesk.id, res.body.id);
    expect(again.attempts).toBe(2);
    expect(await countRows("SELECT count(*) AS n FROM messages WHERE conversation_id = ? AND role = 'agent'", conversationId)).toBe(1);
    expect(await countRows('SELECT message_count AS n FROM conversations WHERE id = ?', conversationId)).toBe(1);
  });
});

describe('recovery', () => {
  async function runCron(at: number) {
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: at, cron: '*/15 * * * *' }), env, ctx);
    await waitOnExecutionContext(ctx);
  }

  it('an accepted event whose queue message was lost is sent again by the cron sweeper; the log past its retention is deleted', async () => {
    const hook = await createIntegration(owner, { action: 'knowledge.delete', botId: owner.botId });
    const down = () => Promise.reject(new Error('Queue send failed: service unavailable'));
    vi.spyOn(env.JOBS, 'send').mockImplementation(down);
    vi.spyOn(env.JOBS, 'sendBatch').mockImplementation(down);
    let res;
    try {
      res = await send(hook, { externalId: 'lost-message' });
    } finally {
      vi.restoreAllMocks();
    }
    // Accepted and answered: the write committed, only the send failed.
    expect(res.status).toBe(202);
    expect((await eventsOf(hook.id)).find((e) => e.id === res.body.id)).toMatchObject({ status: 'queued' });
    const old = Date.now() - INBOUND_WEBHOOKS.logRetentionMs - 86_400_000;
    await env.DB.prepare(
      "INSERT INTO inbound_events (id, org_id, integration_id, webhook_id, verification, status, accepted, action, size_bytes, attempts, received_at) VALUES ('ihe_00000000000000000000000000', ?, ?, 'old', 'bad_signature', 'rejected', 0, 'knowledge.delete', 0, 0, ?)",
    )
      .bind(owner.orgId, hook.id, old)
      .run();

    await runCron(Date.now() + SWEEPER.stuckAfterMs + 60_000);
    expect(await processed(hook.id, res.body.id)).toMatchObject({ status: 'processed', result: { outcome: 'not_found' } });
    const left = (await eventsOf(hook.id)).map((e) => e.id);
    expect(left).toEqual([res.body.id]);
  });

  it('source.sync waits for a sync already running: the event is retried and processed once the source is idle', async () => {
    const source = await addText(owner.token, owner.botId, 'Busy source', 'Harbour dues are paid at the office on the quay.');
    await waitForSource(owner.token, source.id, ['ready']);
    await env.DB.prepare("UPDATE sources SET status = 'processing' WHERE id = ?").bind(source.id).run();
    const hook = await createIntegration(owner, { action: 'source.sync', sourceId: source.id });
    const res = await send(hook, { event: 'publish' });
    await vi.waitUntil(async () => (await eventsOf(hook.id)).find((e) => e.id === res.body.id && e.error?.includes('syncing')), { timeout: 10_000, interval: 100 });
    await env.DB.prepare("UPDATE sources SET status = 'ready' WHERE id = ?").bind(source.id).run();
    const event = await processed(hook.id, res.body.id);
    expect(event).toMatchObject({ status: 'processed', result: { outcome: 'sync_queued', sourceId: source.id } });
    expect(event.attempts).toBeGreaterThanOrEqual(2);
    await waitForSource(owner.token, source.id, ['ready']);
  });
});
