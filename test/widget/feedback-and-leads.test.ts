/**
 * Widget server side, feedback slice (issue #9): members rate assistant messages through
 * POST/GET /conversations/{id}/messages/{messageId}/feedback; visitors through recordFeedback
 * (their route is the widget's, mounted on the same service). Leads are stored by createLead
 * (the widget's form posts to it) and listed or exported as CSV through GET /leads.
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, createKey, expectProblem, register, type Account } from '../support/api';
import { joinAs, type Member } from '../support/accounts';
import { seedConversation } from '../support/chat';
import { createDb } from '../../src/db/client';
import { parseConfig } from '../../src/env';
import type { ServiceContext } from '../../src/context';
import { listFeedback, recordFeedback } from '../../src/features/feedback/service';
import { createLead, type CreateLeadInput } from '../../src/features/leads/service';
import { FEEDBACK } from '../../src/limits';

function serviceContext(now?: number): ServiceContext {
  const parsed = parseConfig(env);
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return {
    db: createDb(env.DB),
    config: parsed.config,
    env,
    clock: { now: () => now ?? Date.now() },
    meta: { ip: null, userAgent: null },
    waitUntil: () => undefined,
  };
}

let owner: Account;
let other: Account;
let member: Member;
let viewer: Member;
const as = (who: { token: string; orgId: string }) => ({ token: who.token, orgId: who.orgId });

beforeAll(async () => {
  owner = await register('fb-owner');
  other = await register('fb-other');
  member = await joinAs(owner, owner.orgId, 'member', 'fb-member');
  viewer = await joinAs(owner, owner.orgId, 'viewer', 'fb-viewer');
});

/** A conversation in the owner's org: [user question, assistant answer]. */
async function conversation(seed: { channel?: 'api' | 'widget'; visitorId?: string | null; userId?: string | null; botId?: string; orgId?: string } = {}) {
  const { id, messageIds } = await seedConversation(
    { orgId: seed.orgId ?? owner.orgId, botId: seed.botId ?? owner.botId, channel: seed.channel, visitorId: seed.visitorId, userId: seed.userId },
    ['How long do refunds take?', 'Refunds arrive within five working days.'],
  );
  return { id, question: messageIds[0]!, answer: messageIds[1]! };
}

const feedbackPath = (conversationId: string, messageId: string) => `/api/v1/conversations/${conversationId}/messages/${messageId}/feedback`;

async function feedbackRows(messageId: string) {
  const { results } = await env.DB.prepare('SELECT * FROM message_feedback WHERE message_id = ?').bind(messageId).all<Record<string, unknown>>();
  return results;
}

describe('member feedback on answers', () => {
  it('rating up then down keeps one row: 201 for the first rating, 200 for the change', async () => {
    const c = await conversation();
    const first = await call('POST', feedbackPath(c.id, c.answer), { ...as(owner), body: { rating: 'up' } });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body).toMatchObject({ messageId: c.answer, conversationId: c.id, rating: 'up', comment: null, author: { kind: 'member', id: owner.userId }, mine: true });

    const changed = await call('POST', feedbackPath(c.id, c.answer), { ...as(owner), body: { rating: 'down', comment: '  Missed the question.  ' } });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(changed.body).toMatchObject({ id: first.body.id, rating: 'down', comment: 'Missed the question.' });

    const rows = await feedbackRows(c.answer);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: first.body.id, rating: 'down', author_kind: 'member', author_id: owner.userId, org_id: owner.orgId, bot_id: owner.botId });
  });

  it(`takes a comment of ${FEEDBACK.maxCommentChars} characters and refuses a longer one with a 400, storing nothing`, async () => {
    const c = await conversation();
    const tooLong = await call('POST', feedbackPath(c.id, c.answer), { ...as(owner), body: { rating: 'down', comment: 'x'.repeat(FEEDBACK.maxCommentChars + 1) } });
    const problem = expectProblem(tooLong, 400, 'validation_failed');
    expect(problem.errors.map((e: { path: string }) => e.path)).toEqual(['comment']);
    expect(await feedbackRows(c.answer)).toHaveLength(0);

    const atLimit = await call('POST', feedbackPath(c.id, c.answer), { ...as(owner), body: { rating: 'down', comment: 'x'.repeat(FEEDBACK.maxCommentChars) } });
    expect(atLimit.status).toBe(201);
    expect(atLimit.body.comment).toHaveLength(FEEDBACK.maxCommentChars);
  });

  it('refuses a rating other than up or down, and unknown fields, with a 400', async () => {
    const c = await conversation();
    expectProblem(await call('POST', feedbackPath(c.id, c.answer), { ...as(owner), body: { rating: 'meh' } }), 400, 'validation_failed');
    expectProblem(await call('POST', feedbackPath(c.id, c.answer), { ...as(owner), body: { rating: 'up', authorId: 'usr_x' } }), 400, 'validation_failed');
    expect(await feedbackRows(c.answer)).toHaveLength(0);
  });

  it('rating a user message is a 422 not_an_answer and stores nothing', async () => {
    const c = await conversation();
    expectProblem(await call('POST', feedbackPath(c.id, c.question), { ...as(owner), body: { rating: 'up' } }), 422, 'not_an_answer');
    expect(await feedbackRows(c.question)).toHaveLength(0);
  });

  it("another org's conversation and message answer 404 to POST and GET, and nothing is stored", async () => {
    const c = await conversation();
    expectProblem(await call('POST', feedbackPath(c.id, c.answer), { ...as(other), body: { rating: 'down' } }), 404, 'message_not_found');
    expectProblem(await call('GET', feedbackPath(c.id, c.answer), as(other)), 404, 'message_not_found');
    expect(await feedbackRows(c.answer)).toHaveLength(0);
  });

  it('a message of another conversation answers 404', async () => {
    const first = await conversation();
    const second = await conversation();
    expectProblem(await call('POST', feedbackPath(first.id, second.answer), { ...as(owner), body: { rating: 'up' } }), 404, 'message_not_found');
    expectProblem(await call('GET', feedbackPath(first.id, second.answer), as(owner)), 404, 'message_not_found');
    expect(await feedbackRows(second.answer)).toHaveLength(0);
  });

  it("a deleted conversation's answers answer 404", async () => {
    const c = await conversation();
    expect((await call('DELETE', `/api/v1/conversations/${c.id}`, as(owner))).status).toBe(204);
    expectProblem(await call('POST', feedbackPath(c.id, c.answer), { ...as(owner), body: { rating: 'up' } }), 404, 'message_not_found');
  });

  it('a viewer cannot rate (403) but can read the ratings', async () => {
    const c = await conversation();
    const refused = expectProblem(await call('POST', feedbackPath(c.id, c.answer), { ...as(viewer), body: { rating: 'up' } }), 403, 'forbidden');
    expect(refused.detail).toMatch(/\(viewer\)/);
    expect(await feedbackRows(c.answer)).toHaveLength(0);
    const read = await call('GET', feedbackPath(c.id, c.answer), as(viewer));
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ data: [] });
  });

  it("GET lists every member's rating of the message, marking the caller's own", async () => {
    const c = await conversation();
    expect((await call('POST', feedbackPath(c.id, c.answer), { ...as(owner), body: { rating: 'up' } })).status).toBe(201);
    expect((await call('POST', feedbackPath(c.id, c.answer), { ...as(member), body: { rating: 'down', comment: 'Too vague' } })).status).toBe(201);
    const listed = await call('GET', feedbackPath(c.id, c.answer), as(member));
    expect(listed.status).toBe(200);
    const byAuthor = Object.fromEntries(listed.body.data.map((f: { author: { id: string }; rating: string; mine: boolean }) => [f.author.id, { rating: f.rating, mine: f.mine }]));
    expect(byAuthor).toEqual({ [owner.userId]: { rating: 'up', mine: false }, [member.userId]: { rating: 'down', mine: true } });
  });

  it('an API key rates as itself with the chat scope, and is refused without it', async () => {
    const c = await conversation();
    const readOnly = await createKey(owner, ['bots:read']);
    expectProblem(await call('POST', feedbackPath(c.id, c.answer), { token: readOnly, body: { rating: 'up' } }), 403, 'forbidden');
    const chatKey = await createKey(owner, ['chat']);
    const rated = await call('POST', feedbackPath(c.id, c.answer), { token: chatKey, body: { rating: 'up' } });
    expect(rated.status, JSON.stringify(rated.body)).toBe(201);
    expect(rated.body.author.kind).toBe('member');
    expect(rated.body.author.id).toMatch(/^key_/);
  });
});

describe('recordFeedback for widget visitors', () => {
  it('stores the rating of the visitor who owns the widget conversation, and replaces it on a second rating', async () => {
    const c = await conversation({ channel: 'widget', visitorId: 'vis_owner1' });
    const author = { kind: 'visitor' as const, id: 'vis_owner1', botId: owner.botId };
    const ctx = serviceContext();
    const first = await recordFeedback(ctx, { orgId: owner.orgId, conversationId: c.id, messageId: c.answer, rating: 'up', author });
    expect(first).toMatchObject({ status: 'stored', created: true, feedback: { authorKind: 'visitor', authorId: 'vis_owner1', rating: 'up' } });
    const second = await recordFeedback(ctx, { orgId: owner.orgId, conversationId: c.id, messageId: c.answer, rating: 'down', comment: 'wrong', author });
    expect(second).toMatchObject({ status: 'stored', created: false, feedback: { rating: 'down', comment: 'wrong' } });
    expect(await feedbackRows(c.answer)).toHaveLength(1);
  });

  it('is not_found for a visitor who does not own the conversation, for another bot, and on a non-widget conversation, storing nothing', async () => {
    const widget = await conversation({ channel: 'widget', visitorId: 'vis_owner2' });
    const api = await conversation({ channel: 'api', visitorId: 'vis_owner2' });
    const ctx = serviceContext();
    const base = { orgId: owner.orgId, rating: 'up' as const };
    const stranger = await recordFeedback(ctx, { ...base, conversationId: widget.id, messageId: widget.answer, author: { kind: 'visitor', id: 'vis_stranger', botId: owner.botId } });
    expect(stranger).toEqual({ status: 'not_found' });
    const otherBot = await recordFeedback(ctx, { ...base, conversationId: widget.id, messageId: widget.answer, author: { kind: 'visitor', id: 'vis_owner2', botId: 'bot_01JD3X0000000000000000000' } });
    expect(otherBot).toEqual({ status: 'not_found' });
    const notWidget = await recordFeedback(ctx, { ...base, conversationId: api.id, messageId: api.answer, author: { kind: 'visitor', id: 'vis_owner2', botId: owner.botId } });
    expect(notWidget).toEqual({ status: 'not_found' });
    // Not even "not an answer" leaks for someone else's conversation.
    const question = await recordFeedback(ctx, { ...base, conversationId: widget.id, messageId: widget.question, author: { kind: 'visitor', id: 'vis_stranger', botId: owner.botId } });
    expect(question).toEqual({ status: 'not_found' });
    expect(await feedbackRows(widget.answer)).toHaveLength(0);
    expect(await feedbackRows(api.answer)).toHaveLength(0);
  });

  it('lets a verified identity rate its conversation from another device, once per person', async () => {
    const c = await conversation({ channel: 'widget', visitorId: 'vis_laptop', userId: 'host-user-42' });
    const ctx = serviceContext();
    const input = { orgId: owner.orgId, conversationId: c.id, messageId: c.answer, rating: 'up' as const };
    const phone = await recordFeedback(ctx, { ...input, author: { kind: 'visitor', id: 'vis_phone', botId: owner.botId, verifiedUserId: 'host-user-42' } });
    expect(phone).toMatchObject({ status: 'stored', created: true, feedback: { authorId: 'host-user-42' } });
    const laptop = await recordFeedback(ctx, { ...input, rating: 'down', author: { kind: 'visitor', id: 'vis_laptop', botId: owner.botId, verifiedUserId: 'host-user-42' } });
    expect(laptop).toMatchObject({ status: 'stored', created: false });
    expect(await feedbackRows(c.answer)).toHaveLength(1);
  });

  it("a visitor rating a user message is not_assistant; a visitor's list holds only their own rating", async () => {
    const c = await conversation({ channel: 'widget', visitorId: 'vis_owner3' });
    const ctx = serviceContext();
    const author = { kind: 'visitor' as const, id: 'vis_owner3', botId: owner.botId };
    expect(await recordFeedback(ctx, { orgId: owner.orgId, conversationId: c.id, messageId: c.question, rating: 'up', author })).toEqual({ status: 'not_assistant' });
    await recordFeedback(ctx, { orgId: owner.orgId, conversationId: c.id, messageId: c.answer, rating: 'up', author });
    expect((await call('POST', feedbackPath(c.id, c.answer), { ...as(owner), body: { rating: 'down' } })).status).toBe(201);
    const mine = await listFeedback(ctx, { orgId: owner.orgId, conversationId: c.id, messageId: c.answer, viewer: author });
    expect(mine.status === 'ok' && mine.items.map((f) => ({ kind: f.authorKind, id: f.authorId, mine: f.mine }))).toEqual([{ kind: 'visitor', id: 'vis_owner3', mine: true }]);
    // The member route sees both.
    const all = await call('GET', feedbackPath(c.id, c.answer), as(owner));
    expect(all.body.data).toHaveLength(2);
  });

  it('a visitor in another org is not_found', async () => {
    const c = await conversation({ channel: 'widget', visitorId: 'vis_owner4' });
    const result = await recordFeedback(serviceContext(), {
      orgId: other.orgId,
      conversationId: c.id,
      messageId: c.answer,
      rating: 'up',
      author: { kind: 'visitor', id: 'vis_owner4', botId: owner.botId },
    });
    expect(result).toEqual({ status: 'not_found' });
  });
});

async function leadCount(botId: string) {
  return (await env.DB.prepare('SELECT count(*) AS n FROM leads WHERE bot_id = ?').bind(botId).first<{ n: number }>())!.n;
}

async function newBot(account: Account, name: string): Promise<string> {
  const res = await call('POST', '/api/v1/bots', { token: account.token, body: { name } });
  expect(res.status).toBe(201);
  return res.body.id;
}

describe('createLead', () => {
  it('refuses a bad email, a bad phone, and a lead with neither, naming the field and storing nothing', async () => {
    const botId = await newBot(owner, 'lead validation');
    const ctx = serviceContext();
    const base = { orgId: owner.orgId, botId };
    for (const email of ['not-an-email', 'a@b', 'a@@example.com', 'a b@example.com', '.a@example.com', 'a@exa_mple.com', 'a@-example.com', `a@${'x'.repeat(250)}.com`, 'a@example.com/x', 'a@127.0.0.1']) {
      const result = await createLead(ctx, { ...base, email });
      expect(result, email).toMatchObject({ status: 'invalid', errors: [{ path: 'email' }] });
    }
    for (const phone of ['12345678', '+12345', '+1234567890123456', '+49 30 abc', '+49.30.1234', '++4930123456']) {
      const result = await createLead(ctx, { ...base, phone });
      expect(result, phone).toMatchObject({ status: 'invalid', errors: [{ path: 'phone' }] });
    }
    expect(await createLead(ctx, { ...base, name: 'Ann' })).toEqual({ status: 'invalid', errors: [{ path: 'email', message: 'Give an email address or a phone number' }] });
    expect(await createLead(ctx, { ...base, name: 'x'.repeat(201), email: 'ann@example.com' })).toMatchObject({ status: 'invalid', errors: [{ path: 'name' }] });
    expect(await createLead(ctx, { ...base, email: 'ann@example.com', visitorId: 'vis/../../x' })).toMatchObject({ status: 'invalid', errors: [{ path: 'visitorId' }] });
    expect(await leadCount(botId)).toBe(0);
  });

  it('stores a normalized lead: domain lowercased, phone reduced to + and digits, name trimmed', async () => {
    const botId = await newBot(owner, 'lead normalize');
    const result = await createLead(serviceContext(), {
      orgId: owner.orgId,
      botId,
      name: '  Ann \u202Eeil\u202C  Lee ',
      email: ' Ann.Lee@Example.COM ',
      phone: '+49 (30) 123-4567',
      visitorId: 'vis_form1',
    });
    expect(result).toMatchObject({ status: 'created', lead: { name: 'Ann eil Lee', email: 'Ann.Lee@example.com', phone: '+49301234567', visitorId: 'vis_form1' } });
    expect(await leadCount(botId)).toBe(1);
  });

  it("is bot_not_found for another org's bot, and conversation_not_found for a conversation of another org, bot or visitor", async () => {
    const ctx = serviceContext();
    const email = 'lead@example.com';
    expect(await createLead(ctx, { orgId: other.orgId, botId: owner.botId, email })).toEqual({ status: 'bot_not_found' });
    const otherBot = await newBot(owner, 'lead other bot');
    const c = await conversation({ channel: 'widget', visitorId: 'vis_lead1' });
    const base: CreateLeadInput = { orgId: owner.orgId, botId: owner.botId, email };
    expect(await createLead(ctx, { ...base, botId: otherBot, conversationId: c.id })).toEqual({ status: 'conversation_not_found' });
    expect(await createLead(ctx, { ...base, conversationId: c.id, visitorId: 'vis_intruder' })).toEqual({ status: 'conversation_not_found' });
    expect(await createLead(ctx, { ...base, conversationId: 'cnv_not-an-id' })).toEqual({ status: 'conversation_not_found' });
    const foreign = await conversation({ orgId: other.orgId, botId: other.botId, channel: 'widget', visitorId: 'vis_lead1' });
    expect(await createLead(ctx, { ...base, conversationId: foreign.id, visitorId: 'vis_lead1' })).toEqual({ status: 'conversation_not_found' });
    expect(await leadCount(otherBot)).toBe(0);
    const own = await createLead(ctx, { ...base, conversationId: c.id, visitorId: 'vis_lead1' });
    expect(own).toMatchObject({ status: 'created', lead: { conversationId: c.id, visitorId: 'vis_lead1', botId: owner.botId } });
  });
});

describe('GET /leads', () => {
  let org: Account;
  let botA: string;
  let botB: string;
  const day = (d: number) => Date.parse(`2026-03-${String(d).padStart(2, '0')}T12:00:00Z`);

  beforeAll(async () => {
    org = await register('leads-owner');
    botA = org.botId;
    botB = await newBot(org, 'second bot');
    const add = (now: number, input: Omit<CreateLeadInput, 'orgId'>) => createLead(serviceContext(now), { orgId: org.orgId, ...input });
    await add(day(1), { botId: botA, name: 'Ann Lee', email: 'ann@alpha.example' });
    await add(day(2), { botId: botA, name: 'Bob Roe', phone: '+1 555 0100 200' });
    await add(day(3), { botId: botB, name: 'Cy 100%_off', email: 'cy@beta.example' });
    await add(day(4), { botId: botA, name: '=HYPERLINK("http://evil.example","click")', email: '=cmd@gamma.example' });
    await add(day(5), { botId: botB, name: 'Lee, "Dee"', email: 'dee@ALPHA.example', phone: '+44 20 7946 0000' });
  });

  const names = (res: { body: { data: { name: string }[] } }) => res.body.data.map((l) => l.name);

  it('pages newest first with a cursor that neither repeats nor skips', async () => {
    const first = await call('GET', '/api/v1/leads?limit=2', as(org));
    expect(first.status).toBe(200);
    expect(names(first)).toEqual(['Lee, "Dee"', '=HYPERLINK("http://evil.example","click")']);
    const second = await call('GET', `/api/v1/leads?limit=2&cursor=${first.body.nextCursor}`, as(org));
    expect(names(second)).toEqual(['Cy 100%_off', 'Bob Roe']);
    const third = await call('GET', `/api/v1/leads?limit=2&cursor=${second.body.nextCursor}`, as(org));
    expect(names(third)).toEqual(['Ann Lee']);
    expect(third.body.nextCursor).toBeNull();
    expect(first.body.data[0]).toEqual({
      id: expect.stringMatching(/^led_/),
      botId: botB,
      conversationId: null,
      visitorId: null,
      name: 'Lee, "Dee"',
      email: 'dee@alpha.example',
      phone: '+442079460000',
      createdAt: new Date(day(5)).toISOString(),
    });
  });

  it('filters by bot, by time range (inclusive) and by a literal substring of name, email or phone', async () => {
    expect(names(await call('GET', `/api/v1/leads?botId=${botB}`, as(org)))).toEqual(['Lee, "Dee"', 'Cy 100%_off']);
    const range = `from=${new Date(day(2)).toISOString()}&to=${new Date(day(4)).toISOString()}`;
    expect(names(await call('GET', `/api/v1/leads?${range}`, as(org)))).toEqual(['=HYPERLINK("http://evil.example","click")', 'Cy 100%_off', 'Bob Roe']);
    expect(names(await call('GET', `/api/v1/leads?${range}&botId=${botA}`, as(org)))).toEqual(['=HYPERLINK("http://evil.example","click")', 'Bob Roe']);
    expect(names(await call('GET', '/api/v1/leads?q=alpha.EXAMPLE', as(org)))).toEqual(['Lee, "Dee"', 'Ann Lee']);
    expect(names(await call('GET', '/api/v1/leads?q=15550100', as(org)))).toEqual(['Bob Roe']);
    // % and _ are matched as themselves, not as wildcards.
    expect(names(await call('GET', `/api/v1/leads?q=${encodeURIComponent('0%_')}`, as(org)))).toEqual(['Cy 100%_off']);
    expect(names(await call('GET', `/api/v1/leads?q=${encodeURIComponent('%')}`, as(org)))).toEqual(['Cy 100%_off']);
  });

  it('refuses a bad time range (422), a bad cursor (400) and an unknown format (400)', async () => {
    expectProblem(await call('GET', '/api/v1/leads?from=yesterday', as(org)), 422, 'invalid_time_range');
    expectProblem(await call('GET', '/api/v1/leads?from=2026-03-05T00:00:00Z&to=2026-03-01T00:00:00Z', as(org)), 422, 'invalid_time_range');
    expectProblem(await call('GET', '/api/v1/leads?cursor=bogus', as(org)), 400, 'invalid_cursor');
    expectProblem(await call('GET', '/api/v1/leads?format=xlsx', as(org)), 400, 'validation_failed');
    expectProblem(await call('GET', `/api/v1/leads?q=${'x'.repeat(201)}`, as(org)), 400, 'validation_failed');
  });

  it('exports CSV with a header row, RFC 4180 quoting and formula cells defused, as an attachment', async () => {
    const res = await call('GET', '/api/v1/leads?format=csv', as(org));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="leads-\d{4}-\d{2}-\d{2}\.csv"$/);
    const lines = (res.body as string).split('\r\n');
    expect(lines[0]).toBe('id,createdAt,botId,conversationId,visitorId,name,email,phone');
    expect(lines).toHaveLength(7); // header, five leads, and the empty string after the last CRLF
    expect(lines[6]).toBe('');
    const byName = (needle: string) => lines.find((line) => line.includes(needle))!;
    expect(byName('Dee')).toMatch(/,"Lee, ""Dee""",dee@alpha\.example,'\+442079460000$/);
    expect(byName('HYPERLINK')).toMatch(/,"'=HYPERLINK\(""http:\/\/evil\.example"",""click""\)",'=cmd@gamma\.example,$/);
    expect(byName('Ann Lee')).toContain(`,${new Date(day(1)).toISOString()},${botA},,,Ann Lee,ann@alpha.example,`);
  });

  it('applies the filters to the CSV export too', async () => {
    const res = await call('GET', `/api/v1/leads?format=csv&botId=${botA}&q=ann`, as(org));
    const lines = (res.body as string).split('\r\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('Ann Lee');
  });

  it("another org sees none of these leads, even when it names this org's bot", async () => {
    const list = await call('GET', `/api/v1/leads?botId=${botA}`, as(other));
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ data: [], nextCursor: null });
    const csv = await call('GET', '/api/v1/leads?format=csv', as(other));
    expect((csv.body as string).split('\r\n').filter(Boolean)).toHaveLength(1);
    // A cursor taken from this org's list walks nothing of it in another org.
    const own = await call('GET', '/api/v1/leads?limit=1', as(org));
    const viaCursor = await call('GET', `/api/v1/leads?cursor=${own.body.nextCursor}`, as(other));
    expect(viaCursor.status).toBe(200);
    expect(viaCursor.body).toEqual({ data: [], nextCursor: null });
  });

  it('needs leads.read: viewers are refused, members read; an API key needs the leads:read scope, chat is not enough', async () => {
    const orgViewer = await joinAs(org, org.orgId, 'viewer', 'leads-viewer');
    const orgMember = await joinAs(org, org.orgId, 'member', 'leads-member');
    const refused = expectProblem(await call('GET', '/api/v1/leads', as(orgViewer)), 403, 'forbidden');
    expect(refused.detail).toMatch(/\(viewer\)/);
    expectProblem(await call('GET', '/api/v1/leads?format=csv', as(orgViewer)), 403, 'forbidden');
    expect((await call('GET', '/api/v1/leads', as(orgMember))).body.data).toHaveLength(5);
    const chatKey = await createKey(org, ['chat']);
    const noScope = expectProblem(await call('GET', '/api/v1/leads', { token: chatKey }), 403, 'forbidden');
    expect(noScope.detail).toContain('leads:read');
    const leadsKey = await createKey(org, ['leads:read']);
    expect((await call('GET', '/api/v1/leads', { token: leadsKey })).body.data).toHaveLength(5);
    expectProblem(await call('GET', '/api/v1/leads'), 401);
  });
});
