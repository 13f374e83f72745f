/**
 * Escalation tickets through the real Worker: the state machine table (every state × action),
 * creation with SLA from business hours, validation, filters and pagination, If-Match,
 * Idempotency-Key, comments, watchers, mails to the assignee and watchers, the outbox events,
 * the audit history, roles, and another org's ticket answering 404 on every route.
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, expectProblem, register, type Account } from '../support/api';
import { joinAs, mailsTo, type Member } from '../support/accounts';
import { seedConversation } from '../support/chat';
import { localTime } from '../../src/features/handoff/business-hours';

let owner: Account;
let member: Member;
let viewer: Member;
let stranger: Account;

beforeAll(async () => {
  owner = await register('esc-owner');
  member = await joinAs(owner, owner.orgId, 'member', 'esc-agent');
  viewer = await joinAs(owner, owner.orgId, 'viewer', 'esc-viewer');
  stranger = await register('esc-stranger');
});

const asOwner = { get token() { return owner.token; } };
const create = (body: Record<string, unknown>, who: { token: string } = owner, headers: Record<string, string> = {}) =>
  call('POST', '/api/v1/escalations', { token: who.token, body, headers });
const patch = (id: string, body: Record<string, unknown>, who: { token: string; orgId?: string } = owner, headers: Record<string, string> = {}) =>
  call('PATCH', `/api/v1/escalations/${id}`, { token: who.token, body, headers: { ...headers, ...(who === member || who === viewer ? { 'x-org-id': owner.orgId } : {}) } });

async function ticketIn(state: 'open' | 'assigned' | 'resolved' | 'closed'): Promise<string> {
  const res = await create({ title: `A ticket to be ${state}` });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const id = res.body.id as string;
  if (state === 'assigned') expect((await patch(id, { action: 'assign', assigneeId: member.userId })).status).toBe(200);
  if (state === 'resolved') expect((await patch(id, { action: 'resolve' })).status).toBe(200);
  if (state === 'closed') expect((await patch(id, { action: 'close' })).status).toBe(200);
  return id;
}

async function outboxTypes(escalationId: string): Promise<string[]> {
  const { results } = await env.DB.prepare("SELECT type FROM outbox_events WHERE json_extract(data, '$.escalationId') = ? ORDER BY seq").bind(escalationId).all<{ type: string }>();
  return results.map((r) => r.type);
}

/** The table: from each state, every action either moves the ticket to the named state or is a 409 naming the allowed ones. */
const TABLE = {
  open: { assign: 'assigned', unassign: null, resolve: 'resolved', close: 'closed', reopen: null },
  assigned: { assign: 'assigned', unassign: 'open', resolve: 'resolved', close: 'closed', reopen: null },
  resolved: { assign: null, unassign: null, resolve: null, close: 'closed', reopen: 'open' },
  closed: { assign: null, unassign: null, resolve: null, close: null, reopen: 'open' },
} as const;

describe('the ticket state machine', () => {
  for (const [from, row] of Object.entries(TABLE) as [keyof typeof TABLE, Record<string, string | null>][]) {
    const allowed = Object.entries(row).filter(([, to]) => to !== null).map(([a]) => a);
    it(`from ${from}: ${allowed.join(', ')} move the ticket; every other action is a 409 naming exactly ${allowed.join(', ')}`, async () => {
      for (const [action, to] of Object.entries(row)) {
        const id = await ticketIn(from);
        const body = action === 'assign' ? { action, assigneeId: owner.userId } : { action };
        const res = await patch(id, body);
        if (to === null) {
          const problem = expectProblem(res, 409, 'illegal_transition');
          // RFC 9457's `status` stays the HTTP status; the ticket's is `currentStatus`.
          expect(problem.status).toBe(409);
          expect(problem.currentStatus).toBe(from);
          expect(problem.allowedActions).toEqual(allowed);
          for (const a of allowed) expect(problem.detail).toContain(a);
          // Nothing moved.
          expect((await call('GET', `/api/v1/escalations/${id}`, asOwner)).body.status).toBe(from);
        } else {
          expect(res.status, `${from} × ${action}: ${JSON.stringify(res.body)}`).toBe(200);
          expect(res.body.status).toBe(to);
          expect(res.body.allowedActions).toEqual(Object.entries(TABLE[to as keyof typeof TABLE]).filter(([, t]) => t !== null).map(([a]) => a));
        }
      }
    });
  }

  it('assign sets the assignee, unassign and reopen clear it, resolve and close stamp their times', async () => {
    const id = await ticketIn('open');
    const assigned = await patch(id, { action: 'assign', assigneeId: member.userId });
    expect(assigned.body).toMatchObject({ status: 'assigned', assigneeId: member.userId });
    expect((await patch(id, { action: 'unassign' })).body).toMatchObject({ status: 'open', assigneeId: null });
    const resolved = await patch(id, { action: 'resolve' });
    expect(resolved.body.resolvedAt).not.toBeNull();
    const closed = await patch(id, { action: 'close' });
    expect(closed.body.closedAt).not.toBeNull();
    expect((await patch(id, { action: 'reopen' })).body).toMatchObject({ status: 'open', assigneeId: null, resolvedAt: null, closedAt: null });
  });

  it('two racing resolves: exactly one wins, the other is a 409', async () => {
    const id = await ticketIn('assigned');
    const results = await Promise.all([patch(id, { action: 'resolve' }), patch(id, { action: 'resolve' })]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    expect((await outboxTypes(id)).filter((t) => t === 'escalation.resolved')).toHaveLength(1);
  });
});

describe('creating and reading tickets', () => {
  it('a new ticket is open, normal, due 24 h later without business hours, with an ETag; the creator watches it', async () => {
    const res = await create({ title: 'Refund request', description: 'Customer wants a refund' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ title: 'Refund request', status: 'open', priority: 'normal', source: 'member', createdBy: owner.userId, assigneeId: null, overdue: false });
    expect(Date.parse(res.body.slaDueAt) - Date.parse(res.body.createdAt)).toBe(24 * 60 * 60 * 1000);
    expect(res.headers.get('etag')).toBe('"1"');
    const watchers = await env.DB.prepare('SELECT user_id FROM escalation_watchers WHERE escalation_id = ?').bind(res.body.id).all<{ user_id: string }>();
    expect(watchers.results.map((w) => w.user_id)).toEqual([owner.userId]);
    expect(await outboxTypes(res.body.id)).toEqual(['escalation.created']);
  });

  it("the SLA counts only the bot's business hours: urgent (60 min) with Mondays 09:00–10:00 Berlin is due on a Monday in that hour", async () => {
    const bot = await call('PATCH', `/api/v1/bots/${owner.botId}`, { token: owner.token, body: { handoff: { businessHours: { timezone: 'Europe/Berlin', intervals: [{ day: 0, from: '09:00', to: '10:00' }] } } } });
    expect(bot.status, JSON.stringify(bot.body)).toBe(200);
    const res = await create({ title: 'Urgent outage', priority: 'urgent', botId: owner.botId });
    expect(res.status).toBe(201);
    const due = localTime(Date.parse(res.body.slaDueAt), 'Europe/Berlin');
    expect(due.day).toBe(0);
    expect(due.minute).toBeGreaterThan(9 * 60);
    expect(due.minute).toBeLessThanOrEqual(10 * 60);
    await call('PATCH', `/api/v1/bots/${owner.botId}`, { token: owner.token, body: { handoff: { businessHours: null } } });
  });

  it('a conversation link takes the conversation\'s bot; an assignee at creation starts it assigned and mails them', async () => {
    const conversation = await seedConversation({ orgId: owner.orgId, botId: owner.botId, title: 'Where is my order' }, ['Where is my order?']);
    const res = await create({ title: 'Order lost', conversationId: conversation.id, assigneeId: member.userId, priority: 'high' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ conversationId: conversation.id, botId: owner.botId, status: 'assigned', assigneeId: member.userId, priority: 'high' });
    const mails = await mailsTo(member.email, 'escalation');
    expect(mails.some((m) => m.text.includes(res.body.id) && m.subject.includes('Order lost') && m.subject.includes('was opened'))).toBe(true);
  });

  it('bad input is a 400 and stores nothing: no title, unknown priority, an unknown field, an assignee outside the org', async () => {
    const before = (await env.DB.prepare('SELECT count(*) AS n FROM escalations WHERE org_id = ?').bind(owner.orgId).first<{ n: number }>())!.n;
    expectProblem(await create({}), 400, 'validation_failed');
    expectProblem(await create({ title: 'x', priority: 'critical' }), 400, 'validation_failed');
    expectProblem(await create({ title: 'x', status: 'closed' }), 400, 'validation_failed');
    expectProblem(await create({ title: 'bidi \u202e trick' }), 400, 'validation_failed');
    expectProblem(await create({ title: 'x', assigneeId: stranger.userId }), 400, 'invalid_assignee');
    expectProblem(await patch((await ticketIn('open')), { action: 'assign' }), 400, 'validation_failed');
    const after = (await env.DB.prepare('SELECT count(*) AS n FROM escalations WHERE org_id = ?').bind(owner.orgId).first<{ n: number }>())!.n;
    expect(after).toBe(before + 1); // only the ticket made for the PATCH case
  });

  it('Idempotency-Key: a retry with the same body returns the first ticket; another body is a 422', async () => {
    const key = `esc-${Date.now()}`;
    const first = await create({ title: 'Once only' }, owner, { 'idempotency-key': key });
    const again = await create({ title: 'Once only' }, owner, { 'idempotency-key': key });
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expectProblem(await create({ title: 'Something else' }, owner, { 'idempotency-key': key }), 422, 'idempotency_key_reused');
  });

  it('If-Match: a stale ETag is a 412 and changes nothing; the current one applies', async () => {
    const id = await ticketIn('open');
    const current = await call('GET', `/api/v1/escalations/${id}`, asOwner);
    expect((await patch(id, { priority: 'low' })).status).toBe(200);
    expectProblem(await patch(id, { action: 'resolve' }, owner, { 'if-match': current.headers.get('etag')! }), 412, 'precondition_failed');
    const fresh = await call('GET', `/api/v1/escalations/${id}`, asOwner);
    expect(fresh.body.status).toBe('open');
    const ok = await patch(id, { action: 'resolve' }, owner, { 'if-match': fresh.headers.get('etag')! });
    expect(ok.status).toBe(200);
  });

  it('a priority change recomputes the SLA and emits escalation.updated', async () => {
    const id = await ticketIn('open');
    const before = await call('GET', `/api/v1/escalations/${id}`, asOwner);
    const after = await patch(id, { priority: 'urgent' });
    expect(Date.parse(after.body.slaDueAt)).toBeLessThan(Date.parse(before.body.slaDueAt));
    expect(await outboxTypes(id)).toEqual(['escalation.created', 'escalation.updated']);
  });
});

describe('listing tickets', () => {
  it('filters by status, priority, assignee (me, none, an id), overdue and bot, with cursor pagination', async () => {
    const org = await register('esc-list');
    const helper = await joinAs(org, org.orgId, 'member', 'esc-list-agent');
    const make = async (body: Record<string, unknown>) => (await create(body, org)).body.id as string;
    const mine = await make({ title: 'mine', assigneeId: org.userId, priority: 'high' });
    const theirs = await make({ title: 'theirs', assigneeId: helper.userId });
    const nobodys = await make({ title: 'nobody', priority: 'low', botId: org.botId });
    const late = await make({ title: 'late' });
    await env.DB.prepare('UPDATE escalations SET sla_due_at = ? WHERE id = ?').bind(Date.now() - 1000, late).run();
    const list = async (q: string) => (await call('GET', `/api/v1/escalations?${q}`, { token: org.token })).body.data.map((t: { id: string }) => t.id);
    expect(await list('assignee=me')).toEqual([mine]);
    expect(await list(`assignee=${helper.userId}`)).toEqual([theirs]);
    expect(await list('assignee=none')).toEqual([late, nobodys]);
    expect(await list('status=assigned')).toEqual([theirs, mine]);
    expect(await list('priority=low')).toEqual([nobodys]);
    expect(await list('overdue=true')).toEqual([late]);
    expect(await list(`botId=${org.botId}`)).toEqual([nobodys]);
    const overdue = await call('GET', '/api/v1/escalations?overdue=true', { token: org.token });
    expect(overdue.body.data[0].overdue).toBe(true);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const pageRes: { body: { data: { id: string }[]; nextCursor: string | null } } = await call('GET', `/api/v1/escalations?limit=1${cursor ? `&cursor=${cursor}` : ''}`, { token: org.token });
      seen.push(...pageRes.body.data.map((t) => t.id));
      cursor = pageRes.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([late, nobodys, theirs, mine]);
    expectProblem(await call('GET', '/api/v1/escalations?status=pending', { token: org.token }), 400, 'validation_failed');
    expectProblem(await call('GET', '/api/v1/escalations?cursor=garbage', { token: org.token }), 400, 'invalid_cursor');
  });
});

describe('comments, watchers, notifications, history', () => {
  it('a comment is stored, listed oldest first, emits escalation.commented and mails the watchers but not its author', async () => {
    const id = await ticketIn('open');
    const mailsBefore = (await mailsTo(owner.email, 'escalation')).length;
    const first = await call('POST', `/api/v1/escalations/${id}/comments`, { token: member.token, orgId: owner.orgId, body: { body: 'Called the customer, waiting on them.' } });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ escalationId: id, authorId: member.userId, body: 'Called the customer, waiting on them.' });
    const second = await call('POST', `/api/v1/escalations/${id}/comments`, { token: owner.token, body: { body: 'Thanks!' } });
    const list = await call('GET', `/api/v1/escalations/${id}/comments`, asOwner);
    expect(list.body.data.map((c: { id: string }) => c.id)).toEqual([first.body.id, second.body.id]);
    expect((await outboxTypes(id)).filter((t) => t === 'escalation.commented')).toHaveLength(2);
    const ownerMails = await mailsTo(owner.email, 'escalation');
    expect(ownerMails.length).toBe(mailsBefore + 1); // the member's comment; not their own
    expect(ownerMails.at(-1)!.text).toContain('Called the customer, waiting on them.');
    // The member commented, so they watch: the owner's comment reached them.
    const memberMails = await mailsTo(member.email, 'escalation');
    expect(memberMails.at(-1)!.text).toContain('Thanks!');
    expectProblem(await call('POST', `/api/v1/escalations/${id}/comments`, { token: owner.token, body: { body: '' } }), 400, 'validation_failed');
  });

  it('every transition mails the assignee and watchers and writes its outbox event in order', async () => {
    const id = await ticketIn('open');
    await patch(id, { action: 'assign', assigneeId: member.userId });
    await patch(id, { action: 'resolve' }, member);
    await patch(id, { action: 'close' });
    await patch(id, { action: 'reopen' });
    expect(await outboxTypes(id)).toEqual(['escalation.created', 'escalation.assigned', 'escalation.resolved', 'escalation.closed', 'escalation.reopened']);
    const memberMails = (await mailsTo(member.email, 'escalation')).filter((m) => m.text.includes(id));
    // assigned, closed, reopened (resolve was their own action)
    expect(memberMails.map((m) => m.subject.replace(/.*" /, ''))).toEqual(['was assigned', 'was closed', 'was reopened']);
    const ownerMails = (await mailsTo(owner.email, 'escalation')).filter((m) => m.text.includes(id));
    expect(ownerMails.map((m) => m.subject.replace(/.*" /, ''))).toEqual(['was resolved']);
    const event = await env.DB.prepare("SELECT data FROM outbox_events WHERE type = 'escalation.resolved' AND json_extract(data, '$.escalationId') = ?").bind(id).first<{ data: string }>();
    expect(JSON.parse(event!.data)).toMatchObject({ escalationId: id, status: 'resolved', previousStatus: 'assigned', actor: { type: 'user', id: member.userId } });
  });

  it('the history lists every change from the audit trail, newest first', async () => {
    const id = await ticketIn('resolved');
    const res = await call('GET', `/api/v1/escalations/${id}/history`, asOwner);
    expect(res.body.data.map((e: { action: string }) => e.action)).toEqual(['escalation.resolve', 'escalation.create']);
    expect(res.body.data[0].metadata).toMatchObject({ from: 'open', to: 'resolved' });
  });

  it('watchers: add me or another member, remove; a non-member is a 400', async () => {
    const id = await ticketIn('open');
    const added = await call('POST', `/api/v1/escalations/${id}/watchers`, { token: member.token, orgId: owner.orgId, body: {} });
    expect(added.body.watchers).toEqual([owner.userId, member.userId]);
    expectProblem(await call('POST', `/api/v1/escalations/${id}/watchers`, { token: owner.token, body: { userId: stranger.userId } }), 400, 'invalid_assignee');
    const removed = await call('DELETE', `/api/v1/escalations/${id}/watchers/me`, { token: member.token, orgId: owner.orgId });
    expect(removed.body.watchers).toEqual([owner.userId]);
  });
});

describe('access', () => {
  it('a viewer reads tickets but cannot create, move or comment (403)', async () => {
    const id = await ticketIn('open');
    expect((await call('GET', `/api/v1/escalations/${id}`, { token: viewer.token, orgId: owner.orgId })).status).toBe(200);
    expectProblem(await create({ title: 'no' }, { token: viewer.token } as Account, { 'x-org-id': owner.orgId }), 403);
    expectProblem(await patch(id, { action: 'close' }, viewer), 403);
    expectProblem(await call('POST', `/api/v1/escalations/${id}/comments`, { token: viewer.token, orgId: owner.orgId, body: { body: 'hi' } }), 403);
  });

  it("another org's ticket is a 404 on every route, and its conversation cannot be linked", async () => {
    const id = await ticketIn('open');
    const as = { token: stranger.token };
    expectProblem(await call('GET', `/api/v1/escalations/${id}`, as), 404, 'escalation_not_found');
    expectProblem(await call('PATCH', `/api/v1/escalations/${id}`, { ...as, body: { action: 'close' } }), 404, 'escalation_not_found');
    expectProblem(await call('POST', `/api/v1/escalations/${id}/comments`, { ...as, body: { body: 'x' } }), 404, 'escalation_not_found');
    expectProblem(await call('GET', `/api/v1/escalations/${id}/comments`, as), 404, 'escalation_not_found');
    expectProblem(await call('GET', `/api/v1/escalations/${id}/history`, as), 404, 'escalation_not_found');
    expectProblem(await call('POST', `/api/v1/escalations/${id}/watchers`, { ...as, body: {} }), 404, 'escalation_not_found');
    expectProblem(await call('DELETE', `/api/v1/escalations/${id}/watchers/me`, as), 404, 'escalation_not_found');
    expect((await call('GET', '/api/v1/escalations', as)).body.data.map((t: { id: string }) => t.id)).not.toContain(id);
    const conversation = await seedConversation({ orgId: owner.orgId, botId: owner.botId }, ['hello']);
    expectProblem(await create({ title: 'x', conversationId: conversation.id }, stranger), 404, 'conversation_not_found');
    expectProblem(await create({ title: 'x', botId: owner.botId }, stranger), 404, 'bot_not_found');
    expect((await call('GET', `/api/v1/escalations/${id}`, asOwner)).body.status).toBe('open');
  });
});
