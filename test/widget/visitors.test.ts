/**
 * The public widget's server side for visitors: per-bot origins and CORS on /api/v1/widget/*,
 * visitor sessions and their tokens, identity verification (HMAC, rotation with a grace period),
 * widget chat through the answer pipeline (JSON and SSE), the visitor's own conversations, and the
 * per-visitor rate limit. Everything goes through the real Worker; small limits are set per
 * request by calling the Worker with an overriding env.
 */
import { env, createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { createHmac } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { parseConfig, type Env } from '../../src/env';
import { fixedClock } from '../../src/lib/clock';
import { signVisitorToken } from '../../src/features/widget/visitor-token';
import { normalizeOrigin, originAllowed } from '../../src/features/widget/origins';
import { WIDGET } from '../../src/limits';
import { BASE, call, expectProblem, register, type Account, type CallResult } from '../support/api';
import { joinAs, type Member } from '../support/accounts';
import { addText, countRows, waitForSource } from '../support/knowledge';

const SHOP = 'https://shop.example';
const BLOG = 'https://blog.example.org';
const EVIL = 'https://evil.example';
const INSTALL = 'Run the installer with acme install --with-turbines. The daemon listens on port 7421. Logs are written to the acme journal.';
const COVERED = 'Which port does the daemon listen on?';

let owner: Account;
let member: Member;
let outsider: Account;
let privateBotId: string;

const widget = (botId: string, rest: string) => `/api/v1/widget/${botId}/${rest}`;

async function session(botId: string, origin: string | null, body: Record<string, unknown> = {}): Promise<CallResult> {
  return call('POST', widget(botId, 'session'), { body, headers: origin === null ? {} : { origin } });
}

async function visitor(botId = owner.botId, origin = SHOP, body: Record<string, unknown> = {}) {
  const res = await session(botId, origin, body);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { token: string; visitorId: string; verified: boolean; expiresAt: string };
}

const widgetChat = (token: string, body: Record<string, unknown>, opts: { origin?: string; botId?: string; headers?: Record<string, string> } = {}) =>
  call('POST', widget(opts.botId ?? owner.botId, 'chat'), { token, body, headers: { origin: opts.origin ?? SHOP, ...opts.headers } });

const widgetGet = (token: string, rest: string, origin = SHOP, botId = owner.botId) => call('GET', widget(botId, rest), { token, headers: { origin } });

function parseSse(text: string): { event: string; data: any }[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim())
    .map((block) => ({ event: /^event: (.*)$/m.exec(block)![1]!, data: JSON.parse(/^data: (.*)$/m.exec(block)![1]!) }));
}

const sign = (secret: string, userId: string) => createHmac('sha256', secret).update(userId).digest('hex');

async function rotate(who: { token: string }, botId = owner.botId) {
  const res = await call('POST', `/api/v1/bots/${botId}/identity-secret/rotate`, { token: who.token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { secret: string; rotatedAt: string; previousValidUntil: string | null };
}

async function callWith(overrides: Partial<Env>, method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}): Promise<CallResult> {
  const request = new Request(BASE + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  }) as Parameters<typeof worker.fetch>[0];
  const ctx = createExecutionContext();
  const res = await worker.fetch(request, { ...env, ...overrides } as Env, ctx);
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, headers: res.headers, body: text && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text };
}

beforeAll(async () => {
  owner = await register('widget-owner');
  outsider = await register('widget-outsider');
  member = await joinAs(owner, owner.orgId, 'member', 'widget-member');
  const made = await call('PATCH', `/api/v1/bots/${owner.botId}`, {
    token: owner.token,
    body: { visibility: 'public', allowedOrigins: [SHOP, 'https://*.example.org'] },
  });
  expect(made.status, JSON.stringify(made.body)).toBe(200);
  const theirs = await call('PATCH', `/api/v1/bots/${outsider.botId}`, { token: outsider.token, body: { visibility: 'public', allowedOrigins: [SHOP] } });
  expect(theirs.status).toBe(200);
  const hidden = await call('POST', '/api/v1/bots', { token: owner.token, body: { name: 'internal', allowedOrigins: [SHOP] } });
  expect(hidden.status).toBe(201);
  privateBotId = hidden.body.id;
  const source = await addText(owner.token, owner.botId, 'Installation manual', INSTALL);
  await waitForSource(owner.token, source.id);
});

describe('origins', () => {
  it('normalizes an Origin (case, default port) and refuses null, paths, credentials and other schemes', () => {
    expect(normalizeOrigin('HTTPS://Shop.Example:443')).toBe(SHOP);
    expect(normalizeOrigin('http://localhost:8080')).toBe('http://localhost:8080');
    for (const bad of [undefined, '', 'null', 'NULL', 'https://shop.example/path', 'https://u:p@shop.example', 'ftp://shop.example', 'shop.example', 'https://*.example.org', 'x'.repeat(WIDGET.maxOriginChars + 1)]) {
      expect(normalizeOrigin(bad), String(bad)).toBeNull();
    }
  });

  it('matches exact entries, and a *. entry only for subdomains with the same scheme and port', () => {
    const allowed = [SHOP, 'https://*.example.org'];
    expect(originAllowed(SHOP, allowed)).toBe(true);
    expect(originAllowed(BLOG, allowed)).toBe(true);
    expect(originAllowed('https://a.b.example.org', allowed)).toBe(true);
    expect(originAllowed('https://example.org', allowed)).toBe(false);
    expect(originAllowed('http://blog.example.org', allowed)).toBe(false);
    expect(originAllowed('https://blog.example.org:8443', allowed)).toBe(false);
    expect(originAllowed('https://evilexample.org', allowed)).toBe(false);
    expect(originAllowed('https://shop.example.evil', allowed)).toBe(false);
  });

  it('answers the preflight per bot: that origin, Vary: Origin, the widget methods and headers, no credentials', async () => {
    for (const origin of [SHOP, BLOG]) {
      const res = await call('OPTIONS', widget(owner.botId, 'chat'), {
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, idempotency-key' },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
      expect(res.headers.get('vary')).toMatch(/Origin/);
      expect(res.headers.get('access-control-allow-methods')).toContain('POST');
      const allowedHeaders = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase();
      for (const header of ['authorization', 'content-type', 'idempotency-key']) expect(allowedHeaders).toContain(header);
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    }
  });

  it("the dashboard's CORS does not answer on widget paths, and still answers on the rest of the API", async () => {
    const onWidget = await call('OPTIONS', widget(owner.botId, 'session'), { headers: { origin: 'https://dashboard.test', 'access-control-request-method': 'POST' } });
    expectProblem(onWidget, 403, 'origin_not_allowed');
    expect(onWidget.headers.get('access-control-allow-origin')).toBeNull();
    const onApi = await call('OPTIONS', '/api/v1/bots', { headers: { origin: 'https://dashboard.test', 'access-control-request-method': 'GET' } });
    expect(onApi.headers.get('access-control-allow-origin')).toBe('https://dashboard.test');
    expect(onApi.headers.get('access-control-allow-credentials')).toBe('true');
  });

  it('a disallowed, missing or null Origin gets a 403 origin_not_allowed problem, no CORS header and no data', async () => {
    const { token } = await visitor();
    for (const origin of [EVIL, null, 'null', 'https://example.org', 'not a url']) {
      const opened = await session(owner.botId, origin);
      const body = expectProblem(opened, 403, 'origin_not_allowed');
      expect(body.token).toBeUndefined();
      expect(opened.headers.get('access-control-allow-origin')).toBeNull();
      const listed = await call('GET', widget(owner.botId, 'conversations'), { token, headers: origin === null ? {} : { origin } });
      expectProblem(listed, 403, 'origin_not_allowed');
      expect(listed.body.data).toBeUndefined();
      const preflight = await call('OPTIONS', widget(owner.botId, 'chat'), { headers: origin === null ? {} : { origin, 'access-control-request-method': 'POST' } });
      expectProblem(preflight, 403, 'origin_not_allowed');
    }
  });

  it('a private or unknown bot is a 404 problem, even from an origin it lists', async () => {
    expectProblem(await session(privateBotId, SHOP), 404, 'bot_not_found');
    expectProblem(await session('bot_01JD3X0000000000000000000', SHOP), 404, 'bot_not_found');
    expectProblem(await call('OPTIONS', widget(privateBotId, 'chat'), { headers: { origin: SHOP } }), 404, 'bot_not_found');
  });

  it('errors from an allowed origin carry its CORS header, so the widget can read them', async () => {
    const { token } = await visitor();
    const res = await widgetChat(token, { message: 'hi', unknownField: true });
    expectProblem(res, 400, 'validation_failed');
    expect(res.headers.get('access-control-allow-origin')).toBe(SHOP);
    expect(res.headers.get('vary')).toMatch(/Origin/);
  });
});

describe('sessions', () => {
  it('issues a short-lived token for a new vis_ id, reuses a well-formed id and replaces a malformed one', async () => {
    const first = await session(owner.botId, SHOP);
    expect(first.status).toBe(200);
    expect(first.headers.get('access-control-allow-origin')).toBe(SHOP);
    expect(first.body.visitorId).toMatch(/^vis_[0-9A-Z]{26}$/);
    expect(first.body.verified).toBe(false);
    const ttl = Date.parse(first.body.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan((WIDGET.visitorTokenTtlSeconds - 60) * 1000);
    expect(ttl).toBeLessThanOrEqual(WIDGET.visitorTokenTtlSeconds * 1000);

    const again = await visitor(owner.botId, SHOP, { visitorId: first.body.visitorId });
    expect(again.visitorId).toBe(first.body.visitorId);
    for (const malformed of ['', 'vis_short', 'usr_01JD3X0000000000000000000', '<script>', 'vis_' + 'Z'.repeat(150)]) {
      const fresh = await visitor(owner.botId, SHOP, { visitorId: malformed });
      expect(fresh.visitorId).not.toBe(malformed);
      expect(fresh.visitorId).toMatch(/^vis_[0-9A-Z]{26}$/);
    }
  });

  it('refuses a malformed body with a 400 and no token', async () => {
    for (const body of [{ visitorId: 42 }, { identity: { userId: 'u1' } }, { identity: { userId: 'u1', hash: 'zz' } }, { identity: { userId: '', hash: 'a'.repeat(64) } }, { extra: 1 }]) {
      const res = await session(owner.botId, SHOP, body);
      expectProblem(res, 400, 'validation_failed');
      expect(res.body.token).toBeUndefined();
    }
    expectProblem(await session(owner.botId, SHOP, { identity: { userId: 'u'.repeat(WIDGET.maxUserIdChars + 1), hash: 'a'.repeat(64) } }), 400, 'validation_failed');
  });
});

describe('visitor tokens', () => {
  it('a token used from another origin than the one it was issued to is a 403 origin_mismatch', async () => {
    const { token } = await visitor(owner.botId, SHOP);
    const res = await widgetChat(token, { message: COVERED }, { origin: BLOG });
    expectProblem(res, 403, 'origin_mismatch');
    expectProblem(await widgetGet(token, 'conversations', BLOG), 403, 'origin_mismatch');
  });

  it("an access token is not a visitor token, and a visitor token is not an access token (401)", async () => {
    expectProblem(await widgetChat(owner.token, { message: COVERED }), 401, 'invalid_token');
    expectProblem(await widgetGet(owner.token, 'conversations'), 401, 'invalid_token');
    const { token } = await visitor();
    expectProblem(await call('GET', '/api/v1/bots', { token }), 401, 'invalid_token');
    expectProblem(await call('POST', `/api/v1/bots/${owner.botId}/chat`, { token, body: { message: COVERED } }), 401, 'invalid_token');
    expectProblem(await call('GET', '/api/v1/conversations', { token }), 401, 'invalid_token');
  });

  it('a missing, tampered or expired token is a 401, and nothing is stored', async () => {
    const before = await countRows("SELECT count(*) AS n FROM messages WHERE bot_id = ?", owner.botId);
    expectProblem(await call('POST', widget(owner.botId, 'chat'), { body: { message: COVERED }, headers: { origin: SHOP } }), 401, 'unauthorized');
    const { token } = await visitor();
    const [head, payload, signature] = token.split('.');
    const claims = JSON.parse(atob(payload!.replace(/-/g, '+').replace(/_/g, '/')));
    const forged = btoa(JSON.stringify({ ...claims, sub: 'vis_01JD3X0000000000000000000' })).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
    expectProblem(await widgetChat(`${head}.${forged}.${signature}`, { message: COVERED }), 401, 'invalid_token');
    const flipped = signature!.slice(0, -2) + (signature!.at(-2) === 'A' ? 'B' : 'A') + signature!.at(-1);
    expectProblem(await widgetChat(`${head}.${payload}.${flipped}`, { message: COVERED }), 401, 'invalid_token');

    const config = parseConfig(env as unknown as Env);
    if (!config.ok) throw new Error('test config invalid');
    const past = fixedClock(Date.now() - (WIDGET.visitorTokenTtlSeconds + 60) * 1000);
    const expired = await signVisitorToken(config.config, past, { orgId: owner.orgId, botId: owner.botId, origin: SHOP, visitorId: claims.sub, verifiedUserId: null });
    expectProblem(await widgetChat(expired.token, { message: COVERED }), 401, 'token_expired');
    expect(await countRows("SELECT count(*) AS n FROM messages WHERE bot_id = ?", owner.botId)).toBe(before);
  });

  it("cross-org: a token for one org's bot on another org's bot is a 403, and each org's identity secret is a 404 to the other", async () => {
    const { token } = await visitor(owner.botId, SHOP);
    expectProblem(await widgetChat(token, { message: COVERED }, { botId: outsider.botId }), 403, 'token_not_for_bot');
    expectProblem(await widgetGet(token, 'conversations', SHOP, outsider.botId), 403, 'token_not_for_bot');
    expectProblem(await call('GET', `/api/v1/bots/${owner.botId}/identity-secret`, { token: outsider.token }), 404, 'bot_not_found');
    expectProblem(await call('POST', `/api/v1/bots/${owner.botId}/identity-secret/rotate`, { token: outsider.token }), 404, 'bot_not_found');
  });
});

describe('widget chat', () => {
  it('answers in JSON with citations, as the native route does, in a widget conversation of this visitor', async () => {
    const me = await visitor();
    const res = await widgetChat(me.token, { message: COVERED });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(SHOP);
    expect(res.body.message).toMatchObject({ role: 'assistant', unanswered: false, error: null });
    expect(res.body.message.content).toContain('7421');
    expect(res.body.message.citations[0]).toMatchObject({ title: 'Installation manual' });
    const row = await env.DB.prepare('SELECT channel, visitor_id, user_id, org_id FROM conversations WHERE id = ?').bind(res.body.conversationId).first<any>();
    expect(row).toEqual({ channel: 'widget', visitor_id: me.visitorId, user_id: null, org_id: owner.orgId });

    const next = await widgetChat(me.token, { message: 'Where are logs written?', conversationId: res.body.conversationId });
    expect(next.status).toBe(200);
    expect(next.body.conversationId).toBe(res.body.conversationId);
  });

  it('streams meta, tokens, citations and done over SSE', async () => {
    const me = await visitor();
    const res = await widgetChat(me.token, { message: COVERED, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('access-control-allow-origin')).toBe(SHOP);
    const events = parseSse(res.body);
    expect(events[0]!.event).toBe('meta');
    expect(events.filter((e) => e.event === 'token').map((e) => e.data.text).join('')).toBe(events.at(-1)!.data.content);
    const citations = events.find((e) => e.event === 'citations')!;
    expect(citations.data.citations.length).toBeGreaterThan(0);
    expect(events.at(-1)!.event).toBe('done');
  });

  it('an Idempotency-Key makes a retry reuse the stored turn', async () => {
    const me = await visitor();
    const headers = { 'idempotency-key': 'widget-retry-1' };
    const first = await widgetChat(me.token, { message: COVERED }, { headers });
    const second = await widgetChat(me.token, { message: COVERED }, { headers });
    expect(first.status).toBe(200);
    expect(second.body.message.id).toBe(first.body.message.id);
    expect(await countRows("SELECT count(*) AS n FROM messages WHERE conversation_id = ? AND role = 'user'", first.body.conversationId)).toBe(1);
    expectProblem(await widgetChat(me.token, { message: 'another question' }, { headers }), 422, 'idempotency_key_reused');
  });

  it('refuses an empty message and attachments without storing anything', async () => {
    const me = await visitor();
    expectProblem(await widgetChat(me.token, { message: '   ' }), 422, 'message_empty');
    expectProblem(await widgetChat(me.token, { message: 'hi', attachmentIds: ['att_01JD3X0000000000000000000'] }), 400, 'validation_failed');
    expect(await countRows('SELECT count(*) AS n FROM conversations WHERE visitor_id = ?', me.visitorId)).toBe(0);
  });
});

describe("the visitor's conversations", () => {
  it('lists only their own, newest first with a cursor, and reads their messages', async () => {
    const me = await visitor();
    const other = await visitor();
    const ids: string[] = [];
    for (const q of [COVERED, 'Where are logs written?', 'How do I install it?']) {
      const res = await widgetChat(me.token, { message: q });
      ids.push(res.body.conversationId);
    }
    await widgetChat(other.token, { message: COVERED });

    const page1 = await widgetGet(me.token, 'conversations?limit=2');
    expect(page1.status).toBe(200);
    expect(page1.body.data.map((c: any) => c.id)).toEqual([ids[2], ids[1]]);
    expect(page1.body.data[0]).not.toHaveProperty('visitorId');
    const page2 = await widgetGet(me.token, `conversations?limit=2&cursor=${page1.body.nextCursor}`);
    expect(page2.body.data.map((c: any) => c.id)).toEqual([ids[0]]);
    expect(page2.body.nextCursor).toBeNull();

    const messages = await widgetGet(me.token, `conversations/${ids[0]}/messages`);
    expect(messages.status).toBe(200);
    expect(messages.body.data.map((m: any) => m.role)).toEqual(['user', 'assistant']);
    expect(messages.body.data[0].content).toBe(COVERED);
    expectProblem(await widgetGet(me.token, 'conversations?cursor=garbage'), 400, 'invalid_cursor');
  });

  it("a visitor can neither read nor continue another visitor's conversation, nor a member's (404)", async () => {
    const mine = await visitor();
    const theirs = await visitor();
    const started = await widgetChat(theirs.token, { message: COVERED });
    const memberChat = await call('POST', `/api/v1/bots/${owner.botId}/chat`, { token: owner.token, body: { message: COVERED } });
    for (const id of [started.body.conversationId, memberChat.body.conversationId]) {
      expectProblem(await widgetGet(mine.token, `conversations/${id}/messages`), 404, 'conversation_not_found');
      expectProblem(await widgetChat(mine.token, { message: 'and then?', conversationId: id }), 404, 'conversation_not_found');
    }
    expect(await countRows("SELECT count(*) AS n FROM messages WHERE conversation_id = ? AND role = 'user'", started.body.conversationId)).toBe(1);
    expect((await widgetGet(mine.token, 'conversations')).body.data).toEqual([]);
  });
});

describe('feedback and leads from the widget', () => {
  it("a visitor rates an answer of their own conversation (201, then 200 replacing it) and sees their own thumb in its history; another visitor's answer is a 404", async () => {
    const v = await visitor();
    const turn = await widgetChat(v.token, { message: COVERED });
    expect(turn.status).toBe(200);
    const path = `conversations/${turn.body.conversationId}/messages/${turn.body.message.id}/feedback`;
    const first = await call('POST', widget(owner.botId, path), { token: v.token, headers: { origin: SHOP }, body: { rating: 'up' } });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body).toMatchObject({ rating: 'up', author: { kind: 'visitor' } });
    const changed = await call('POST', widget(owner.botId, path), { token: v.token, headers: { origin: SHOP }, body: { rating: 'down', comment: 'Not what I asked' } });
    expect(changed.status).toBe(200);
    expect(await countRows('SELECT count(*) AS n FROM message_feedback WHERE message_id = ?', turn.body.message.id)).toBe(1);

    const stranger = await visitor();
    expectProblem(await call('POST', widget(owner.botId, path), { token: stranger.token, headers: { origin: SHOP }, body: { rating: 'up' } }), 404);
    expectProblem(await call('POST', widget(owner.botId, path), { headers: { origin: SHOP }, body: { rating: 'up' } }), 401);
    expect(await countRows('SELECT count(*) AS n FROM message_feedback WHERE message_id = ?', turn.body.message.id)).toBe(1);

    // The visitor's history brings their own thumb back (a member's rating of the same answer is not theirs).
    const member = await call('POST', `/api/v1/conversations/${turn.body.conversationId}/messages/${turn.body.message.id}/feedback`, { token: owner.token, body: { rating: 'up' } });
    expect(member.status).toBe(201);
    const history = await widgetGet(v.token, `conversations/${turn.body.conversationId}/messages`);
    expect(history.body.data.map((m: { role: string; myRating: string | null }) => [m.role, m.myRating])).toEqual([
      ['user', null],
      ['assistant', 'down'],
    ]);
  });

  it("the lead form stores a lead the org's members can list; a bad email is a 400 and another visitor's conversation a 404, storing nothing", async () => {
    const form = await call('PATCH', `/api/v1/bots/${owner.botId}`, { token: owner.token, body: { widget: { leadForm: { enabled: true, fields: [{ field: 'name', required: false }, { field: 'email', required: true }] } } } });
    expect(form.status, JSON.stringify(form.body)).toBe(200);
    const v = await visitor();
    const turn = await widgetChat(v.token, { message: COVERED });
    const lead = await call('POST', widget(owner.botId, 'leads'), {
      token: v.token,
      headers: { origin: SHOP },
      body: { conversationId: turn.body.conversationId, name: 'Ada Visitor', email: 'ada@Example.COM' },
    });
    expect(lead.status, JSON.stringify(lead.body)).toBe(201);
    expect(lead.body).toMatchObject({ botId: owner.botId, conversationId: turn.body.conversationId, visitorId: v.visitorId, email: 'ada@example.com' });
    const listed = await call('GET', `/api/v1/leads?botId=${owner.botId}`, { token: owner.token });
    expect(listed.body.data.map((l: { id: string }) => l.id)).toContain(lead.body.id);

    const before = await countRows('SELECT count(*) AS n FROM leads WHERE org_id = ?', owner.orgId);
    expectProblem(await call('POST', widget(owner.botId, 'leads'), { token: v.token, headers: { origin: SHOP }, body: { email: 'not-an-email' } }), 400);
    const stranger = await visitor();
    expectProblem(
      await call('POST', widget(owner.botId, 'leads'), { token: stranger.token, headers: { origin: SHOP }, body: { conversationId: turn.body.conversationId, email: 'eve@example.com' } }),
      404,
      'conversation_not_found',
    );
    expectProblem(await call('POST', widget(owner.botId, 'leads'), { token: v.token, headers: { origin: EVIL }, body: { email: 'ada@example.com' } }), 403);
    expect(await countRows('SELECT count(*) AS n FROM leads WHERE org_id = ?', owner.orgId)).toBe(before);
  });

  it("enforces the bot's lead form: a field it requires is a 400 naming it, and a bot without a lead form refuses with 409", async () => {
    const form = await call('PATCH', `/api/v1/bots/${owner.botId}`, { token: owner.token, body: { widget: { leadForm: { enabled: true, fields: [{ field: 'phone', required: true }] } } } });
    expect(form.status, JSON.stringify(form.body)).toBe(200);
    const v = await visitor();
    const before = await countRows('SELECT count(*) AS n FROM leads WHERE org_id = ?', owner.orgId);
    const missing = await call('POST', widget(owner.botId, 'leads'), { token: v.token, headers: { origin: SHOP }, body: { email: 'ada@example.com' } });
    expectProblem(missing, 400, 'validation_failed');
    expect(JSON.stringify(missing.body)).toContain('phone');

    expect((await call('PATCH', `/api/v1/bots/${owner.botId}`, { token: owner.token, body: { widget: { leadForm: { enabled: false } } } })).status).toBe(200);
    expectProblem(await call('POST', widget(owner.botId, 'leads'), { token: v.token, headers: { origin: SHOP }, body: { phone: '+4930123456' } }), 409, 'lead_form_disabled');
    expect(await countRows('SELECT count(*) AS n FROM leads WHERE org_id = ?', owner.orgId)).toBe(before);
  });
});

describe('identity verification', () => {
  it('a bot has no secret until the first rotation; only admins rotate or read it, and the read is masked', async () => {
    const before = await call('GET', `/api/v1/bots/${owner.botId}/identity-secret`, { token: owner.token });
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ configured: false, masked: null });
    expectProblem(await session(owner.botId, SHOP, { identity: { userId: 'user-1', hash: sign('kcid_guess', 'user-1') } }), 403, 'identity_invalid');
    expectProblem(await call('POST', `/api/v1/bots/${owner.botId}/identity-secret/rotate`, { token: member.token, orgId: owner.orgId }), 403, 'forbidden');
    expectProblem(await call('GET', `/api/v1/bots/${owner.botId}/identity-secret`, { token: member.token, orgId: owner.orgId }), 403, 'forbidden');

    const { secret, previousValidUntil } = await rotate(owner);
    expect(secret).toMatch(/^kcid_[A-Za-z0-9_-]{43}$/);
    expect(previousValidUntil).toBeNull();
    const info = await call('GET', `/api/v1/bots/${owner.botId}/identity-secret`, { token: owner.token });
    expect(info.body.configured).toBe(true);
    expect(info.body.masked).toBe(`kcid_…${secret.slice(-4)}`);
    expect(JSON.stringify(info.body)).not.toContain(secret);
    const stored = await env.DB.prepare('SELECT secret FROM bot_identity_secrets WHERE bot_id = ?').bind(owner.botId).first<{ secret: string }>();
    expect(stored!.secret).not.toContain(secret.slice(5));
  });

  it('a good hash gives a verified session; a bad hash gets a 403 identity_invalid and no token', async () => {
    const { secret } = await rotate(owner);
    const good = await visitor(owner.botId, SHOP, { identity: { userId: 'user-42', hash: sign(secret, 'user-42') } });
    expect(good.verified).toBe(true);
    const upper = await visitor(owner.botId, SHOP, { identity: { userId: 'user-42', hash: sign(secret, 'user-42').toUpperCase() } });
    expect(upper.verified).toBe(true);
    for (const hash of [sign(secret, 'user-43'), sign(secret + 'x', 'user-42'), '0'.repeat(64)]) {
      const bad = await session(owner.botId, SHOP, { identity: { userId: 'user-42', hash } });
      expectProblem(bad, 403, 'identity_invalid');
      expect(bad.body.token).toBeUndefined();
    }
  });

  it('after a rotation the new secret works and the old one only until the grace period ends', async () => {
    const old = await rotate(owner);
    const fresh = await rotate(owner);
    expect(Date.parse(fresh.previousValidUntil!) - Date.parse(fresh.rotatedAt)).toBe(WIDGET.identityGraceMs);
    const userId = 'rotating-user';
    expect((await visitor(owner.botId, SHOP, { identity: { userId, hash: sign(fresh.secret, userId) } })).verified).toBe(true);
    expect((await visitor(owner.botId, SHOP, { identity: { userId, hash: sign(old.secret, userId) } })).verified).toBe(true);

    // The grace period passes.
    await env.DB.prepare('UPDATE bot_identity_secrets SET previous_valid_until = ? WHERE bot_id = ?').bind(Date.now() - 1, owner.botId).run();
    expectProblem(await session(owner.botId, SHOP, { identity: { userId, hash: sign(old.secret, userId) } }), 403, 'identity_invalid');
    expect((await visitor(owner.botId, SHOP, { identity: { userId, hash: sign(fresh.secret, userId) } })).verified).toBe(true);
    const info = await call('GET', `/api/v1/bots/${owner.botId}/identity-secret`, { token: owner.token });
    expect(info.body.previousValidUntil).toBeNull();
  });

  it("a verified user's conversations follow them to another visitor id; anonymous visitors on that id do not see them", async () => {
    const { secret } = await rotate(owner);
    const identity = { userId: 'traveller', hash: sign(secret, 'traveller') };
    const laptop = await visitor(owner.botId, SHOP, { identity });
    const started = await widgetChat(laptop.token, { message: COVERED });
    expect(started.status).toBe(200);
    const row = await env.DB.prepare('SELECT user_id, visitor_id FROM conversations WHERE id = ?').bind(started.body.conversationId).first<any>();
    expect(row).toEqual({ user_id: 'traveller', visitor_id: laptop.visitorId });

    const phone = await visitor(owner.botId, BLOG, { identity });
    expect(phone.visitorId).not.toBe(laptop.visitorId);
    const listed = await widgetGet(phone.token, 'conversations', BLOG);
    expect(listed.body.data.map((c: any) => c.id)).toEqual([started.body.conversationId]);
    expect((await widgetGet(phone.token, `conversations/${started.body.conversationId}/messages`, BLOG)).status).toBe(200);
    const continued = await widgetChat(phone.token, { message: 'Where are logs written?', conversationId: started.body.conversationId }, { origin: BLOG });
    expect(continued.status).toBe(200);

    const signedOut = await visitor(owner.botId, SHOP, { visitorId: laptop.visitorId });
    expect((await widgetGet(signedOut.token, 'conversations')).body.data).toEqual([]);
    expectProblem(await widgetChat(signedOut.token, { message: 'hi', conversationId: started.body.conversationId }), 404, 'conversation_not_found');
    const someoneElse = await visitor(owner.botId, SHOP, { identity: { userId: 'other-user', hash: sign(secret, 'other-user') } });
    expect((await widgetGet(someoneElse.token, 'conversations')).body.data).toEqual([]);
  });
});

describe('limits', () => {
  it('a visitor over the per-visitor limit gets a 429 naming it, with Retry-After; another visitor is not affected', async () => {
    const overrides = { WIDGET_VISITOR_RATE_LIMIT: '3' } as Partial<Env>;
    const me = await visitor();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await callWith(overrides, 'GET', widget(owner.botId, 'conversations'), me.token, undefined, { origin: SHOP })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const refused = await callWith(overrides, 'POST', widget(owner.botId, 'chat'), me.token, { message: COVERED }, { origin: SHOP });
    expectProblem(refused, 429, 'rate_limited');
    expect(refused.body.quota).toBe('widget_requests_per_minute_per_visitor');
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(refused.headers.get('access-control-allow-origin')).toBe(SHOP);
    const other = await visitor();
    expect((await callWith(overrides, 'GET', widget(owner.botId, 'conversations'), other.token, undefined, { origin: SHOP })).status).toBe(200);
  });

  it('the per-IP limit covers sessions too, so new visitor ids do not escape it', async () => {
    const overrides = { WIDGET_IP_RATE_LIMIT: '2' } as Partial<Env>;
    const ip = '198.51.100.77';
    const opened: number[] = [];
    for (let i = 0; i < 3; i++) {
      opened.push((await callWith(overrides, 'POST', widget(owner.botId, 'session'), '', {}, { origin: SHOP, 'cf-connecting-ip': ip })).status);
    }
    expect(opened).toEqual([200, 200, 429]);
    const res = await callWith(overrides, 'POST', widget(owner.botId, 'session'), '', {}, { origin: SHOP, 'cf-connecting-ip': ip });
    expect(res.body.quota).toBe('widget_requests_per_minute_per_ip');
  });
});
