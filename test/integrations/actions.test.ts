/**
 * Actions (issue #11) through the real Worker: the actions API and its validation, the tool-call
 * loop in chat with the test site's fake tool-calling model (test/fixtures/site/worker.js,
 * `tool-call:*`, `tool-parallel:*`, `tool-loop:*`) and its fake endpoints (`/__action/*`),
 * confirmations from members and widget visitors, redacted runs, and cross-org isolation.
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, expectProblem, register, type Account, type CallResult } from '../support/api';
import { joinAs, mailsTo, type Member } from '../support/accounts';
import { useFakeModel } from '../support/chat';
import { ACTIONS } from '../../src/limits';

const SECRET = 'sk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const SHOP = 'https://shop.example';

let owner: Account;
let member: Member;
let outsider: Account;

beforeAll(async () => {
  owner = await register('actions-owner');
  outsider = await register('actions-outsider');
  member = await joinAs(owner, owner.orgId, 'member', 'actions-member');
  const settings = await call('PATCH', '/api/v1/settings', { token: owner.token, body: { secrets: { shop_key: SECRET } } });
  expect(settings.status, JSON.stringify(settings.body)).toBe(200);
});

let counter = 0;
const unique = (label: string) => `${label}_${Date.now().toString(36)}_${counter++}`;

/** A fresh bot of the owner's answering with the fake model `model`. */
async function botWith(model: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await call('POST', '/api/v1/bots', { token: owner.token, body: { name: `bot ${model}`, ...extra } });
  expect(res.status).toBe(201);
  await useFakeModel({ token: owner.token, botId: res.body.id }, model);
  return res.body.id;
}

const ORDER_PARAMS = { type: 'object', properties: { orderId: { type: 'string', pattern: '^[0-9]{1,8}$' } }, required: ['orderId'], additionalProperties: false };

function httpAction(name: string, botIds: string[], overrides: Record<string, unknown> = {}, path = `/__action/echo/${name}`) {
  return {
    name,
    description: 'Looks up an order by its id',
    type: 'http',
    parameters: ORDER_PARAMS,
    http: {
      method: 'POST',
      urlTemplate: `https://orders.example.com${path}?order={{args.orderId}}`,
      headers: { authorization: 'Bearer {{secrets.shop_key}}', 'x-order': '{{args.orderId}}' },
      bodyTemplate: { order: '{{args.orderId}}', note: 'order {{args.orderId}} for {{secrets.shop_key}}' },
    },
    botIds,
    ...overrides,
  };
}

async function createAction(body: Record<string, unknown>, who: { token: string } = owner): Promise<any> {
  const res = await call('POST', '/api/v1/actions', { token: who.token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

const chat = (botId: string, body: Record<string, unknown>, who: { token: string } = owner) => call('POST', `/api/v1/bots/${botId}/chat`, { token: who.token, body });

function parseSse(text: string): { event: string; data: any }[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim())
    .map((block) => ({ event: /^event: (.*)$/m.exec(block)![1]!, data: JSON.parse(/^data: (.*)$/m.exec(block)![1]!) }));
}

const toolMessages = (conversationId: string) =>
  env.DB.prepare("SELECT id, content FROM messages WHERE conversation_id = ? AND role = 'tool' ORDER BY seq")
    .bind(conversationId)
    .all<{ id: string; content: string }>()
    .then((r) => r.results.map((m) => ({ id: m.id, ...JSON.parse(m.content) })));

const runsOf = async (actionId: string, who: { token: string } = owner) => {
  const res = await call('GET', `/api/v1/actions/${actionId}/runs`, { token: who.token });
  expect(res.status).toBe(200);
  return res.body.data as any[];
};

const hitsOf = async (path: string): Promise<number> => {
  const res = await env.WEB_FETCHER!.fetch('https://site.test/__hits');
  const hits = (await res.json()) as Record<string, number>;
  return hits[path] ?? 0;
};

describe('the actions API', () => {
  it('creates, reads, lists, updates with If-Match and deletes an http action, auditing each write', async () => {
    const created = await call('POST', '/api/v1/actions', { token: owner.token, body: httpAction(unique('crud'), [owner.botId]) });
    expect(created.status).toBe(201);
    expect(created.headers.get('etag')).toBe('"1"');
    expect(created.body).toMatchObject({ type: 'http', botIds: [owner.botId], needsConfirmation: false, enabled: true, email: null });
    const id = created.body.id;

    const got = await call('GET', `/api/v1/actions/${id}`, { token: member.token, orgId: owner.orgId });
    expect(got.status).toBe(200);
    expect(got.body.http.headers.authorization).toBe('Bearer {{secrets.shop_key}}');
    const listed = await call('GET', '/api/v1/actions?limit=100', { token: member.token, orgId: owner.orgId });
    expect(listed.body.data.map((a: any) => a.id)).toContain(id);

    const stale = await call('PATCH', `/api/v1/actions/${id}`, { token: owner.token, body: { enabled: false }, headers: { 'if-match': '"7"' } });
    expectProblem(stale, 412, 'precondition_failed');
    const patched = await call('PATCH', `/api/v1/actions/${id}`, { token: owner.token, body: { enabled: false, description: 'Order lookup' }, headers: { 'if-match': '"1"' } });
    expect(patched.status).toBe(200);
    expect(patched.headers.get('etag')).toBe('"2"');
    expect(patched.body).toMatchObject({ enabled: false, description: 'Order lookup', name: created.body.name });

    expect((await call('DELETE', `/api/v1/actions/${id}`, { token: owner.token })).status).toBe(204);
    expectProblem(await call('GET', `/api/v1/actions/${id}`, { token: owner.token }), 404, 'action_not_found');
    expectProblem(await call('DELETE', `/api/v1/actions/${id}`, { token: owner.token }), 404, 'action_not_found');
    const audit = await env.DB.prepare('SELECT action FROM audit_events WHERE target_id = ? ORDER BY id').bind(id).all<{ action: string }>();
    expect(audit.results.map((r) => r.action)).toEqual(['action.create', 'action.update', 'action.delete']);
  });

  it('replays a create with the same Idempotency-Key and refuses a second action with the same name (409)', async () => {
    const body = httpAction(unique('idem'), []);
    const headers = { 'idempotency-key': unique('key') };
    const first = await call('POST', '/api/v1/actions', { token: owner.token, body, headers });
    const again = await call('POST', '/api/v1/actions', { token: owner.token, body, headers });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    expectProblem(await call('POST', '/api/v1/actions', { token: owner.token, body }), 409, 'action_name_taken');
  });

  it('refuses invalid definitions with field errors and stores nothing', async () => {
    const name = unique('bad');
    const cases: [Record<string, unknown>, string, string][] = [
      [{ ...httpAction(name, []), name: 'has spaces!' }, 'name', 'invalid_format'],
      [{ ...httpAction(name, []), parameters: { type: 'string' } }, 'parameters.type', 'invalid_schema'],
      [{ ...httpAction(name, []), parameters: { type: 'object', properties: { a: { type: 'banana' } } } }, 'parameters.properties.a.type', 'invalid_schema'],
      [{ ...httpAction(name, []), parameters: { type: 'object', properties: { a: { type: 'string', pattern: '([a-z' } } } }, 'parameters.properties.a.pattern', 'invalid_schema'],
      [{ ...httpAction(name, []), parameters: { type: 'object', $ref: 'https://evil.example/schema.json' } }, 'parameters.$ref', 'invalid_schema'],
      [httpAction(name, [], { http: { method: 'GET', urlTemplate: 'https://api.example.com/x', headers: { authorization: `Bearer ${SECRET}` } } }), 'http.headers.authorization', 'inline_secret'],
      [httpAction(name, [], { http: { method: 'GET', urlTemplate: 'https://api.example.com/x?api_key=abc123', headers: {} } }), 'http.urlTemplate', 'inline_secret'],
      [httpAction(name, [], { http: { method: 'GET', urlTemplate: 'https://api.example.com/x', headers: { 'x-note': 'ghp_abcdefghijklmnopqrstuvwxyz0123456789' } } }), 'http.headers.x-note', 'inline_secret'],
      [httpAction(name, [], { http: { method: 'GET', urlTemplate: 'https://{{args.orderId}}.example.com/x', headers: {} } }), 'http.urlTemplate', 'invalid_template'],
      [httpAction(name, [], { http: { method: 'GET', urlTemplate: 'https://api.example.com/{{args.nope}}', headers: {} } }), 'http.urlTemplate', 'unknown_argument'],
      [httpAction(name, [], { http: { method: 'GET', urlTemplate: 'https://api.example.com/{{ process.env }}', headers: {} } }), 'http.urlTemplate', 'invalid_template'],
      [httpAction(name, [], { http: { method: 'GET', urlTemplate: 'http://192.168.1.10/orders', headers: {} } }), 'http.urlTemplate', 'url_refused'],
      [httpAction(name, ['bot_01JD3X0000000000000000000']), 'botIds', 'unknown_bot'],
      [httpAction(name, [outsider.botId]), 'botIds', 'unknown_bot'],
      [{ name, description: 'x', type: 'email', parameters: ORDER_PARAMS, email: { to: 'not-an-address', subject: 's', bodyTemplate: 'b' } }, 'email.to', 'invalid'],
      [{ name, description: 'x', type: 'email', parameters: ORDER_PARAMS, email: { to: 'ops@example.com', subject: 's', bodyTemplate: 'key {{secrets.shop_key}}' } }, 'email.bodyTemplate', 'invalid_template'],
      [{ name, description: 'x', type: 'collect_lead', parameters: ORDER_PARAMS }, 'parameters', 'invalid'],
    ];
    for (const [body, path, code] of cases) {
      const res = await call('POST', '/api/v1/actions', { token: owner.token, body });
      const problem = expectProblem(res, 400);
      expect(problem.errors, `${path}: ${JSON.stringify(problem)}`).toEqual(expect.arrayContaining([expect.objectContaining({ path, code })]));
    }
    const stored = await env.DB.prepare('SELECT count(*) AS n FROM actions WHERE name = ?').bind(name).first<{ n: number }>();
    expect(stored!.n).toBe(0);
  });

  it('a PATCH that would leave a template naming an undeclared argument is refused and changes nothing', async () => {
    const action = await createAction(httpAction(unique('patch'), []));
    const res = await call('PATCH', `/api/v1/actions/${action.id}`, { token: owner.token, body: { parameters: { type: 'object', properties: { other: { type: 'string' } } } } });
    expect(expectProblem(res, 400).errors).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'unknown_argument' })]));
    const after = await call('GET', `/api/v1/actions/${action.id}`, { token: owner.token });
    expect(after.body.parameters).toEqual(ORDER_PARAMS);
    expect(after.headers.get('etag')).toBe('"1"');
  });

  it('members read actions but only admins write or test them; viewers read nothing', async () => {
    const action = await createAction(httpAction(unique('roles'), []));
    const viewer = await joinAs(owner, owner.orgId, 'viewer', 'actions-viewer');
    expectProblem(await call('GET', '/api/v1/actions', { token: viewer.token, orgId: owner.orgId }), 403);
    expectProblem(await call('POST', '/api/v1/actions', { token: member.token, orgId: owner.orgId, body: httpAction(unique('m'), []) }), 403);
    expectProblem(await call('PATCH', `/api/v1/actions/${action.id}`, { token: member.token, orgId: owner.orgId, body: { enabled: false } }), 403);
    expectProblem(await call('POST', `/api/v1/actions/${action.id}/test`, { token: member.token, orgId: owner.orgId, body: { arguments: { orderId: '1' } } }), 403);
    expect((await call('GET', `/api/v1/actions/${action.id}/runs`, { token: member.token, orgId: owner.orgId })).status).toBe(200);
  });

  it("answers 404 for another org's action on every route", async () => {
    const action = await createAction(httpAction(unique('xorg'), [owner.botId]));
    const as = { token: outsider.token };
    const results: CallResult[] = [
      await call('GET', `/api/v1/actions/${action.id}`, as),
      await call('PATCH', `/api/v1/actions/${action.id}`, { ...as, body: { enabled: false } }),
      await call('DELETE', `/api/v1/actions/${action.id}`, as),
      await call('POST', `/api/v1/actions/${action.id}/test`, { ...as, body: { arguments: { orderId: '1' } } }),
      await call('GET', `/api/v1/actions/${action.id}/runs`, as),
    ];
    for (const res of results) expectProblem(res, 404, 'action_not_found');
    expect((await call('GET', '/api/v1/actions', as)).body.data.map((a: any) => a.id)).not.toContain(action.id);
    expect((await call('GET', `/api/v1/actions/${action.id}`, { token: owner.token })).body.enabled).toBe(true);
  });
});

describe('test runs and their records', () => {
  it('runs an http action now: the secret is sent, and no run, audit row or answer keeps it', async () => {
    const action = await createAction(httpAction(unique('secret'), [owner.botId]));
    const res = await call('POST', `/api/v1/actions/${action.id}/test`, { token: owner.token, body: { arguments: { orderId: '42' } } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.run).toMatchObject({ status: 'ok', source: 'test', actionId: action.id });
    // The endpoint echoes what it got: the URL-encoded argument and the body template rendered.
    expect(res.body.run.response.body).toMatchObject({ method: 'POST', query: { order: '42' }, body: { order: '42' } });
    // It received the real secret (the response records it only as [secret]).
    expect(res.body.run.response.body.headers.authorization).toBe('[redacted]');
    expect(res.body.run.response.body.body.note).toBe('order 42 for [secret]');
    expect(res.body.run.request.headers.authorization).toBe('[redacted]');
    expect(JSON.stringify(res.body)).not.toContain(SECRET);

    const runs = await runsOf(action.id);
    expect(runs[0].id).toBe(res.body.run.id);
    expect(JSON.stringify(runs)).not.toContain(SECRET);
    const rows = await env.DB.prepare('SELECT request, response, error FROM action_runs WHERE action_id = ?').bind(action.id).all();
    expect(JSON.stringify(rows.results)).not.toContain(SECRET);
    const audit = await env.DB.prepare("SELECT metadata FROM audit_events WHERE action = 'action.run' AND target_id = ?").bind(action.id).all<{ metadata: string }>();
    expect(audit.results).toHaveLength(1);
    expect(JSON.stringify(audit.results)).not.toContain(SECRET);
  });

  it('redacts emails and phone numbers from recorded runs', async () => {
    const params = { type: 'object', properties: { email: { type: 'string' }, phone: { type: 'string' } } };
    const action = await createAction({
      name: unique('pii'),
      description: 'Registers a callback',
      type: 'http',
      parameters: params,
      http: { method: 'POST', urlTemplate: 'https://crm.example.com/__action/echo/pii', headers: {}, bodyTemplate: { email: '{{args.email}}', phone: '{{args.phone}}' } },
      botIds: [],
    });
    const res = await call('POST', `/api/v1/actions/${action.id}/test`, { token: owner.token, body: { arguments: { email: 'jane.doe@example.net', phone: '+44 20 7946 0958' } } });
    expect(res.body.run.status).toBe('ok');
    const recorded = JSON.stringify(await runsOf(action.id));
    expect(recorded).not.toContain('jane.doe@example.net');
    expect(recorded).not.toContain('7946 0958');
    expect(recorded).toContain('[email]');
  });

  it('arguments failing the schema never reach the endpoint: an error run, nothing sent', async () => {
    const name = unique('schema');
    const path = `/__action/echo/${name}`;
    const action = await createAction(httpAction(name, [owner.botId], {}, path));
    for (const args of [{ orderId: 'DROP TABLE' }, {}, { orderId: '1', extra: true }]) {
      const res = await call('POST', `/api/v1/actions/${action.id}/test`, { token: owner.token, body: { arguments: args } });
      expect(res.status).toBe(200);
      expect(res.body.run.status).toBe('error');
      expect(res.body.run.error).toMatch(/parameters schema/);
    }
    expect(await hitsOf(path)).toBe(0);
  });

  it('the egress guard refuses a redirect to a private address, and a timeout-free failure is an error run', async () => {
    const redirecting = await createAction(httpAction(unique('redir'), [], { http: { method: 'GET', urlTemplate: 'https://hooks.example.com/__action/redirect-private', headers: {} }, parameters: { type: 'object', properties: {} } }));
    const refused = await call('POST', `/api/v1/actions/${redirecting.id}/test`, { token: owner.token, body: { arguments: {} } });
    expect(refused.body.run).toMatchObject({ status: 'error' });
    expect(refused.body.run.error).toMatch(/refused/i);
    expect(refused.body.result).toMatch(/refused/i);

    const failing = await createAction(httpAction(unique('fail'), [], {}, '/__action/fail/test'));
    const failed = await call('POST', `/api/v1/actions/${failing.id}/test`, { token: owner.token, body: { arguments: { orderId: '7' } } });
    expect(failed.body.run).toMatchObject({ status: 'error', error: 'HTTP 500' });
    expect(JSON.parse(failed.body.result)).toMatchObject({ status: 500, body: { message: 'order service down' } });
  });

  it('a referenced secret that is not set fails the run with a clear error and sends nothing', async () => {
    const name = unique('nosecret');
    const path = `/__action/echo/${name}`;
    const action = await createAction(httpAction(name, [], { http: { method: 'GET', urlTemplate: `https://orders.example.com${path}`, headers: { 'x-api-key': '{{secrets.missing_key}}' } } }));
    const res = await call('POST', `/api/v1/actions/${action.id}/test`, { token: owner.token, body: { arguments: { orderId: '1' } } });
    expect(res.body.run.status).toBe('error');
    expect(res.body.run.error).toContain('"missing_key"');
    expect(await hitsOf(path)).toBe(0);
  });

  it('an email action sends through the mailer to the templated recipient', async () => {
    const action = await createAction({
      name: unique('mail'),
      description: 'Mails a quote',
      type: 'email',
      parameters: { type: 'object', properties: { email: { type: 'string' }, item: { type: 'string' } }, required: ['email'] },
      email: { to: '{{args.email}}', subject: 'Your quote for {{args.item}}', bodyTemplate: 'Hello, here is the quote for {{args.item}}.' },
      botIds: [],
    });
    const to = `${unique('buyer')}@example.com`.toLowerCase();
    const res = await call('POST', `/api/v1/actions/${action.id}/test`, { token: owner.token, body: { arguments: { email: to, item: 'turbines' } } });
    expect(res.body.run.status).toBe('ok');
    const mails = await mailsTo(to, 'action');
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ subject: 'Your quote for turbines', text: 'Hello, here is the quote for turbines.' });
  });

  it('built-ins: collect_lead stores a lead for the bot, invalid details are an error run', async () => {
    const action = await createAction({ name: unique('lead'), description: 'Saves contact details', type: 'collect_lead', botIds: [owner.botId] });
    expect(action.parameters.properties).toHaveProperty('email');
    const ok = await call('POST', `/api/v1/actions/${action.id}/test`, { token: owner.token, body: { arguments: { name: 'Ada', email: 'ada@example.org' } } });
    expect(ok.body.run.status).toBe('ok');
    const lead = await env.DB.prepare('SELECT bot_id, email FROM leads WHERE id = ?').bind(ok.body.run.response.leadId).first();
    expect(lead).toMatchObject({ bot_id: owner.botId, email: 'ada@example.org' });
    const bad = await call('POST', `/api/v1/actions/${action.id}/test`, { token: owner.token, body: { arguments: { email: 'nope' } } });
    expect(bad.body.run.status).toBe('error');
    expectProblem(await call('POST', `/api/v1/actions/${action.id}/test`, { token: owner.token, body: { arguments: {}, botId: outsider.botId } }), 404, 'bot_not_found');
  });
});

describe('the tool-call loop in chat', () => {
  it('a tool succeeds: the answer carries its result and the call is stored as a tool message with its run', async () => {
    const name = unique('lookup');
    const botId = await botWith(`tool-call:${name}`);
    const action = await createAction(httpAction(name, [botId]));
    const res = await chat(botId, { message: 'Where is my order? {"orderId": "4711"}' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.message.content).toMatch(/^Tool results: /);
    expect(res.body.message.content).toContain('"order":"4711"');
    expect(res.body.message.content).not.toContain(SECRET);
    const tools = await toolMessages(res.body.conversationId);
    expect(tools).toHaveLength(1);
    expect(tools[0]).toMatchObject({ round: 0, name, status: 'ok', arguments: '{"orderId": "4711"}' });
    const runs = await runsOf(action.id);
    expect(runs[0]).toMatchObject({ source: 'chat', status: 'ok', conversationId: res.body.conversationId, messageId: tools[0].id, botId });
    const stored = await env.DB.prepare('SELECT content FROM messages WHERE conversation_id = ?').bind(res.body.conversationId).all();
    expect(JSON.stringify(stored.results)).not.toContain(SECRET);
  });

  it('streams tool progress as a native SSE `tool` event before the answer', async () => {
    const name = unique('sse');
    const botId = await botWith(`tool-call:${name}`);
    await createAction(httpAction(name, [botId]));
    const res = await chat(botId, { message: 'Status of {"orderId": "9"}', stream: true });
    const events = parseSse(res.body);
    const kinds = events.map((e) => e.event);
    expect(kinds.indexOf('tool')).toBeGreaterThan(kinds.indexOf('meta'));
    expect(kinds.indexOf('tool')).toBeLessThan(kinds.indexOf('token'));
    expect(events.find((e) => e.event === 'tool')!.data).toMatchObject({ name, status: 'ok' });
    expect(kinds.at(-1)).toBe('done');
  });

  it('a tool fails: the model gets an error result and the turn still answers', async () => {
    const name = unique('broken');
    const botId = await botWith(`tool-call:${name}`);
    await createAction(httpAction(name, [botId], {}, '/__action/fail/chat'));
    const res = await chat(botId, { message: 'Check {"orderId": "5"}' });
    expect(res.status).toBe(200);
    expect(res.body.message.error).toBeNull();
    expect(res.body.message.content).toContain('The endpoint answered HTTP 500');
    expect((await toolMessages(res.body.conversationId))[0]).toMatchObject({ status: 'error' });
  });

  it('arguments failing the schema in chat reach no endpoint; the model is told why', async () => {
    const name = unique('chatschema');
    const path = `/__action/echo/${name}`;
    const botId = await botWith(`tool-call:${name}`);
    await createAction(httpAction(name, [botId], {}, path));
    const res = await chat(botId, { message: 'Check {"orderId": "not a number"}' });
    expect(res.status).toBe(200);
    expect(res.body.message.content).toContain('do not match the parameters schema');
    expect(await hitsOf(path)).toBe(0);
  });

  it('runs two calls of one round in parallel and feeds both results back', async () => {
    const a = unique('pa');
    const b = unique('pb');
    const botId = await botWith(`tool-parallel:${a},${b}`);
    await createAction(httpAction(a, [botId]));
    await createAction({ name: b, description: 'Searches the docs', type: 'search_knowledge', botIds: [botId] });
    const res = await chat(botId, { message: 'Both please {"orderId": "12", "query": "x"}' });
    // The http action's schema forbids the extra `query`; search_knowledge's forbids `orderId`: two error results, one round.
    const tools = await toolMessages(res.body.conversationId);
    expect(tools.map((t) => [t.round, t.name])).toEqual([
      [0, a],
      [0, b],
    ]);
    expect(res.body.message.content.split(' | ')).toHaveLength(2);
  });

  it(`stops calling tools after ${ACTIONS.maxRoundsPerTurn} rounds and makes the model answer in text`, async () => {
    const name = unique('loop');
    const botId = await botWith(`tool-loop:${name}`);
    await createAction(httpAction(name, [botId]));
    const res = await chat(botId, { message: 'Again {"orderId": "1"}' });
    expect(res.status).toBe(200);
    expect(res.body.message.content).toBe(`Stopped after ${ACTIONS.maxRoundsPerTurn} tool results.`);
    expect((await toolMessages(res.body.conversationId)).map((t) => t.round)).toEqual([...Array(ACTIONS.maxRoundsPerTurn).keys()]);
  });

  it('a disabled action, or one not listed for the bot, is not offered: without tools the bot abstains as before', async () => {
    const name = unique('off');
    const botId = await botWith(`tool-call:${name}`);
    await createAction(httpAction(name, [botId], { enabled: false }));
    const other = unique('elsewhere');
    await createAction(httpAction(other, [owner.botId]));
    const res = await chat(botId, { message: 'Hi {"orderId": "1"}' });
    expect(res.status).toBe(200);
    // No knowledge and no tools: the fallback answer, the model never called.
    expect(res.body.message).toMatchObject({ unanswered: true, model: null });
    expect(await toolMessages(res.body.conversationId)).toHaveLength(0);
    // Enabling it offers it: the same question now reaches the tool.
    const enabled = await call('GET', '/api/v1/actions?limit=100', { token: owner.token });
    const id = enabled.body.data.find((a: any) => a.name === name).id;
    expect((await call('PATCH', `/api/v1/actions/${id}`, { token: owner.token, body: { enabled: true } })).status).toBe(200);
    const again = await chat(botId, { message: 'Hi {"orderId": "1"}' });
    expect(again.body.message.content).toMatch(/^Tool results: /);
  });

  it('the handoff_to_human built-in asks for a person: the conversation waits for the team with a ticket', async () => {
    const name = unique('human');
    const botId = await botWith(`tool-call:${name}`);
    const action = await createAction({ name, description: 'Hands the conversation to a person', type: 'handoff_to_human', botIds: [botId] });
    const res = await chat(botId, { message: 'I want a person {"reason": "billing dispute"}' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.message.content).toContain('"handedOff":true');
    const conversation = await env.DB.prepare('SELECT status FROM conversations WHERE id = ?').bind(res.body.conversationId).first();
    expect(conversation).toMatchObject({ status: 'handoff_requested' });
    const ticket = await env.DB.prepare('SELECT source FROM escalations WHERE conversation_id = ?').bind(res.body.conversationId).first();
    expect(ticket).toMatchObject({ source: 'action' });
    // Outside a conversation (a test run) there is nobody to hand over: an error run.
    const test = await call('POST', `/api/v1/actions/${action.id}/test`, { token: owner.token, body: { arguments: {} } });
    expect(test.body.run).toMatchObject({ status: 'error' });
  });

  it('with the offline answerer no tools are offered and the bot answers from knowledge (or abstains)', async () => {
    const name = unique('offline');
    const created = await call('POST', '/api/v1/bots', { token: owner.token, body: { name: 'offline bot' } });
    await createAction(httpAction(name, [created.body.id]));
    const res = await chat(created.body.id, { message: 'Where is my order {"orderId": "1"}?' });
    expect(res.status).toBe(200);
    expect(res.body.message.model).toBeNull();
    expect(res.body.message.unanswered).toBe(true);
    expect(await toolMessages(res.body.conversationId)).toHaveLength(0);
  });
});

describe('confirmations', () => {
  async function pausedTurn(label: string) {
    const name = unique(label);
    const path = `/__action/echo/${name}`;
    const botId = await botWith(`tool-call:${name}`, { visibility: 'public', allowedOrigins: [SHOP] });
    const action = await createAction(httpAction(name, [botId], { needsConfirmation: true }, path));
    const res = await chat(botId, { message: 'Cancel {"orderId": "77"}' });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return { botId, action, path, res };
  }

  it('pauses the turn with a confirmation and runs nothing until approved; approval runs it and resumes', async () => {
    const { action, path, res } = await pausedTurn('approve');
    expect(res.body).toMatchObject({ paused: true, reason: 'confirmation', confirmation: { action: action.name, arguments: { orderId: '77' } } });
    expect(await hitsOf(path)).toBe(0);
    expect(await runsOf(action.id)).toHaveLength(0);

    const decided = await call('POST', `/api/v1/conversations/${res.body.conversationId}/confirmations/${res.body.confirmation.confirmationId}`, {
      token: member.token,
      orgId: owner.orgId,
      body: { approve: true },
    });
    expect(decided.status, JSON.stringify(decided.body)).toBe(200);
    expect(decided.body.message.content).toContain('"order":"77"');
    expect(await hitsOf(path)).toBe(1);
    expect((await runsOf(action.id))[0]).toMatchObject({ status: 'ok', source: 'chat' });
    const reply = await env.DB.prepare("SELECT reply_to FROM messages WHERE id = ?").bind(decided.body.message.id).first();
    expect(reply).toMatchObject({ reply_to: res.body.userMessageId });

    const again = await call('POST', `/api/v1/conversations/${res.body.conversationId}/confirmations/${res.body.confirmation.confirmationId}`, {
      token: owner.token,
      body: { approve: false },
    });
    expectProblem(again, 409, 'confirmation_decided');
    expect(await hitsOf(path)).toBe(1);
  });

  it('streams the pause as `confirmation` then `paused` events', async () => {
    const name = unique('ssecf');
    const botId = await botWith(`tool-call:${name}`);
    await createAction(httpAction(name, [botId], { needsConfirmation: true }));
    const res = await chat(botId, { message: 'Cancel {"orderId": "1"}', stream: true });
    const events = parseSse(res.body);
    expect(events.map((e) => e.event).slice(-2)).toEqual(['confirmation', 'paused']);
    expect(events.at(-1)!.data).toEqual({ reason: 'confirmation' });
    expect(events.at(-2)!.data).toMatchObject({ action: name, arguments: { orderId: '1' } });
  });

  it('rejection runs nothing, records a rejected run, and the model is told', async () => {
    const { action, path, res } = await pausedTurn('reject');
    const decided = await call('POST', `/api/v1/conversations/${res.body.conversationId}/confirmations/${res.body.confirmation.confirmationId}`, {
      token: owner.token,
      body: { approve: false },
    });
    expect(decided.status).toBe(200);
    expect(decided.body.message.content).toContain('rejected');
    expect(await hitsOf(path)).toBe(0);
    expect((await runsOf(action.id))[0]).toMatchObject({ status: 'rejected' });
  });

  it('an expired confirmation is 409 and runs nothing', async () => {
    const { path, res } = await pausedTurn('expire');
    await env.DB.prepare('UPDATE action_confirmations SET expires_at = 1 WHERE id = ?').bind(res.body.confirmation.confirmationId).run();
    const decided = await call('POST', `/api/v1/conversations/${res.body.conversationId}/confirmations/${res.body.confirmation.confirmationId}`, {
      token: owner.token,
      body: { approve: true },
    });
    expectProblem(decided, 409, 'confirmation_expired');
    expect(await hitsOf(path)).toBe(0);
  });

  it("another org's member, an unknown id and a viewer cannot decide; the confirmation stays pending", async () => {
    const { res } = await pausedTurn('xorg');
    const url = `/api/v1/conversations/${res.body.conversationId}/confirmations/${res.body.confirmation.confirmationId}`;
    expectProblem(await call('POST', url, { token: outsider.token, body: { approve: true } }), 404);
    expectProblem(await call('POST', `/api/v1/conversations/${res.body.conversationId}/confirmations/cfm_01JD3X0000000000000000000`, { token: owner.token, body: { approve: true } }), 404, 'confirmation_not_found');
    const viewer = await joinAs(owner, owner.orgId, 'viewer', 'confirm-viewer');
    expectProblem(await call('POST', url, { token: viewer.token, orgId: owner.orgId, body: { approve: true } }), 403);
    expectProblem(await call('POST', url, { token: owner.token, body: { approve: 'yes' } }), 400);
    const row = await env.DB.prepare('SELECT status FROM action_confirmations WHERE id = ?').bind(res.body.confirmation.confirmationId).first();
    expect(row).toMatchObject({ status: 'pending' });
  });

  it('the widget visitor who owns the conversation approves it; another visitor gets 404', async () => {
    const name = unique('visitor');
    const path = `/__action/echo/${name}`;
    const botId = await botWith(`tool-call:${name}`, { visibility: 'public', allowedOrigins: [SHOP] });
    await createAction(httpAction(name, [botId], { needsConfirmation: true }, path));
    const session = async () => (await call('POST', `/api/v1/widget/${botId}/session`, { body: {}, headers: { origin: SHOP } })).body.token as string;
    const visitor = await session();
    const stranger = await session();
    const turn = await call('POST', `/api/v1/widget/${botId}/chat`, { token: visitor, body: { message: 'Cancel {"orderId": "3"}' }, headers: { origin: SHOP } });
    expect(turn.status, JSON.stringify(turn.body)).toBe(202);
    const url = `/api/v1/widget/${botId}/conversations/${turn.body.conversationId}/confirmations/${turn.body.confirmation.confirmationId}`;
    expectProblem(await call('POST', url, { token: stranger, body: { approve: true }, headers: { origin: SHOP } }), 404);
    expect(await hitsOf(path)).toBe(0);
    const approved = await call('POST', url, { token: visitor, body: { approve: true }, headers: { origin: SHOP } });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body.message.content).toContain('"order":"3"');
    expect(await hitsOf(path)).toBe(1);
  });

  // The widget client (widget/src/api.ts `decide`) reads exactly this stream; a repeat is a 409 problem it shows as "already decided".
  it('the widget visitor decides with stream: true: the resumed turn streams meta (the same user message), tool, tokens and done', async () => {
    const name = unique('wsse');
    const path = `/__action/echo/${name}`;
    const botId = await botWith(`tool-call:${name}`, { visibility: 'public', allowedOrigins: [SHOP] });
    await createAction(httpAction(name, [botId], { needsConfirmation: true }, path));
    const visitor = (await call('POST', `/api/v1/widget/${botId}/session`, { body: {}, headers: { origin: SHOP } })).body.token as string;
    const turn = await call('POST', `/api/v1/widget/${botId}/chat`, { token: visitor, body: { message: 'Cancel {"orderId": "5"}', stream: true }, headers: { origin: SHOP } });
    const paused = parseSse(turn.body);
    expect(paused.map((e) => e.event)).toEqual(['meta', 'confirmation', 'paused']);
    const { confirmationId } = paused[1]!.data;
    const url = `/api/v1/widget/${botId}/conversations/${paused[0]!.data.conversationId}/confirmations/${confirmationId}`;
    const decided = await call('POST', url, { token: visitor, body: { approve: true, stream: true }, headers: { origin: SHOP, 'idempotency-key': 'decide-1' } });
    expect(decided.status).toBe(200);
    expect(decided.headers.get('content-type')).toContain('text/event-stream');
    expect(decided.headers.get('access-control-allow-origin')).toBe(SHOP);
    const events = parseSse(decided.body);
    const names = events.map((e) => e.event);
    expect(names[0]).toBe('meta');
    expect(names).toContain('tool');
    expect(names).toContain('token');
    expect(names.at(-1)).toBe('done');
    expect(events[0]!.data).toMatchObject({ conversationId: paused[0]!.data.conversationId, userMessageId: paused[0]!.data.userMessageId });
    const done = events.at(-1)!.data;
    expect(done).toMatchObject({ id: events[0]!.data.assistantMessageId, role: 'assistant' });
    expect(done.content).toContain('"order":"5"');
    expect(events.filter((e) => e.event === 'token').map((e) => e.data.text).join('')).toBe(done.content);
    expect(await hitsOf(path)).toBe(1);
    const again = await call('POST', url, { token: visitor, body: { approve: false, stream: true }, headers: { origin: SHOP, 'idempotency-key': 'decide-2' } });
    expectProblem(again, 409, 'confirmation_decided');
  });
});
