/**
 * Conversation management and chat attachments, through the real Worker. Conversations and
 * messages are written straight into D1 (test/support/chat.ts) as the answer pipeline would.
 */
import { env, createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { BASE, call, createKey, expectProblem, register, type Account } from '../support/api';
import { joinAs, type Member } from '../support/accounts';
import { insertMessage, seedConversation, uploadAttachment } from '../support/chat';
import { countRows } from '../support/knowledge';
import { jobContext } from '../../src/jobs/context';
import { attachmentContext, claimAttachmentsStatement, resolveAttachments } from '../../src/features/chat/attachments';
import { ATTACHMENTS, QUOTA_DAY_SECONDS } from '../../src/limits';
import { appendAssistantMessage } from '../../src/features/chat/store';
import { postAgentMessage } from '../../src/features/chat/live/agent-messages';
import { foldForSearch } from '../../src/lib/text/text-fold';
import { newId } from '../../src/lib/ids';
import { buildPdf } from '../fixtures/documents';

let a: Account;
let b: Account;
let viewer: Member;
let member: Member;

beforeAll(async () => {
  a = await register('conv-a');
  b = await register('conv-b');
  viewer = await joinAs(a, a.orgId, 'viewer', 'conv-viewer');
  member = await joinAs(a, a.orgId, 'member', 'conv-member');
});

const asA = () => ({ token: a.token, orgId: a.orgId });

async function newBot(owner: Account, name = 'second') {
  const res = await call('POST', '/api/v1/bots', { token: owner.token, orgId: owner.orgId, body: { name } });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

const ids = (res: { body: { data: { id: string }[] } }) => res.body.data.map((c) => c.id);

describe('listing conversations', () => {
  let owner: Account;
  beforeAll(async () => {
    owner = await register('conv-list');
  });

  it('lists newest first, page by page with a cursor, without repeats or gaps, and leaves out other orgs', async () => {
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await seedConversation({ orgId: owner.orgId, botId: owner.botId, title: `c${i}` })).id);
    await seedConversation({ orgId: b.orgId, botId: b.botId, title: 'other org' });
    const first = await call('GET', '/api/v1/conversations?limit=2', { token: owner.token });
    expect(first.status).toBe(200);
    expect(ids(first)).toEqual([made[4], made[3]]);
    const second = await call('GET', `/api/v1/conversations?limit=2&cursor=${first.body.nextCursor}`, { token: owner.token });
    const third = await call('GET', `/api/v1/conversations?limit=2&cursor=${second.body.nextCursor}`, { token: owner.token });
    expect([...ids(second), ...ids(third)]).toEqual([made[2], made[1], made[0]]);
    expect(third.body.nextCursor).toBeNull();
    expect(first.body.data[0]).toMatchObject({ id: made[4], botId: owner.botId, channel: 'api', title: 'c4', status: 'open', archived: false, messageCount: 0 });
  });

  it('filters by bot, channel, status, archived and a created_at range', async () => {
    const org = await register('conv-filter');
    const bot2 = await newBot(org);
    const day = 24 * 60 * 60 * 1000;
    const t0 = Date.parse('2026-03-01T00:00:00Z');
    const widget = (await seedConversation({ orgId: org.orgId, botId: org.botId, channel: 'widget', createdAt: t0 })).id;
    const closed = (await seedConversation({ orgId: org.orgId, botId: org.botId, status: 'closed', createdAt: t0 + day })).id;
    const archived = (await seedConversation({ orgId: org.orgId, botId: org.botId, archived: true, createdAt: t0 + 2 * day })).id;
    const otherBot = (await seedConversation({ orgId: org.orgId, botId: bot2, createdAt: t0 + 3 * day })).id;
    const list = async (q: string) => {
      const res = await call('GET', `/api/v1/conversations?${q}`, { token: org.token });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return ids(res);
    };
    expect(await list(`botId=${bot2}`)).toEqual([otherBot]);
    expect(await list('channel=widget')).toEqual([widget]);
    expect(await list('status=closed')).toEqual([closed]);
    expect(await list('archived=true')).toEqual([archived]);
    expect(await list('archived=false')).toEqual([otherBot, closed, widget]);
    expect(await list(`from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z`)).toEqual([archived, closed]);
    expect(await list(`from=2026-03-04&botId=${org.botId}`)).toEqual([]);
  });

  it('answers 422 for from/to that are not ISO times or are reversed, and 400 for an unknown channel or status', async () => {
    for (const q of ['from=yesterday', 'to=1700000000', 'from=2026-13-45T00:00:00Z', 'from=2026-03-02&to=2026-03-01']) {
      expectProblem(await call('GET', `/api/v1/conversations?${q}`, { token: owner.token }), 422, 'invalid_time_range');
    }
    expectProblem(await call('GET', '/api/v1/conversations?channel=fax', { token: owner.token }), 400, 'validation_failed');
    expectProblem(await call('GET', '/api/v1/conversations?status=deleted', { token: owner.token }), 400, 'validation_failed');
    expectProblem(await call('GET', '/api/v1/conversations?archived=maybe', { token: owner.token }), 400, 'validation_failed');
    expectProblem(await call('GET', '/api/v1/conversations?cursor=not-ours', { token: owner.token }), 400, 'invalid_cursor');
  });
});

describe('one conversation', () => {
  it('is returned with an ETag; PATCH renames (title_set_by_user), archives and closes, writing only the given fields', async () => {
    const { id } = await seedConversation({ orgId: a.orgId, botId: a.botId, title: 'Automatic title' });
    const got = await call('GET', `/api/v1/conversations/${id}`, asA());
    expect(got.status).toBe(200);
    expect(got.headers.get('etag')).toBe('"1"');
    expect(got.body).toMatchObject({ id, title: 'Automatic title', titleSetByUser: false, archived: false, status: 'open' });

    const renamed = await call('PATCH', `/api/v1/conversations/${id}`, { ...asA(), body: { title: '  Refund question  ' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ title: 'Refund question', titleSetByUser: true, archived: false, status: 'open' });
    expect(renamed.headers.get('etag')).toBe('"2"');

    const archived = await call('PATCH', `/api/v1/conversations/${id}`, { ...asA(), body: { archived: true, status: 'closed' } });
    expect(archived.body).toMatchObject({ title: 'Refund question', titleSetByUser: true, archived: true, status: 'closed' });
    const listed = await call('GET', '/api/v1/conversations?archived=true&status=closed', asA());
    expect(ids(listed)).toContain(id);
  });

  it('a stale If-Match gets 412 and changes nothing; the current ETag applies', async () => {
    const { id } = await seedConversation({ orgId: a.orgId, botId: a.botId, title: 'before' });
    const etag = (await call('GET', `/api/v1/conversations/${id}`, asA())).headers.get('etag')!;
    await call('PATCH', `/api/v1/conversations/${id}`, { ...asA(), body: { archived: true } });
    const stale = await call('PATCH', `/api/v1/conversations/${id}`, { ...asA(), headers: { 'if-match': etag }, body: { title: 'lost update' } });
    expectProblem(stale, 412, 'precondition_failed');
    const now = await call('GET', `/api/v1/conversations/${id}`, asA());
    expect(now.body.title).toBe('before');
    const fresh = await call('PATCH', `/api/v1/conversations/${id}`, { ...asA(), headers: { 'if-match': now.headers.get('etag')! }, body: { title: 'after' } });
    expect(fresh.status).toBe(200);
    expect(fresh.body.title).toBe('after');
  });

  it('will not reopen a conversation a team member has taken over (409), but may close it', async () => {
    const { id } = await seedConversation({ orgId: a.orgId, botId: a.botId, status: 'human' });
    expectProblem(await call('PATCH', `/api/v1/conversations/${id}`, { ...asA(), body: { status: 'open', title: 'not applied' } }), 409, 'conversation_with_human');
    const unchanged = await call('GET', `/api/v1/conversations/${id}`, asA());
    expect(unchanged.body).toMatchObject({ status: 'human', title: '' });
    const closed = await call('PATCH', `/api/v1/conversations/${id}`, { ...asA(), body: { status: 'closed' } });
    expect(closed.body.status).toBe('closed');
    const reopened = await call('PATCH', `/api/v1/conversations/${id}`, { ...asA(), body: { status: 'open' } });
    expect(reopened.body.status).toBe('open');
  });

  it('refuses an empty patch, unknown fields, a blank or over-long title and statuses other than open/closed with 400', async () => {
    const { id } = await seedConversation({ orgId: a.orgId, botId: a.botId });
    for (const body of [{}, { pinned: true }, { title: '   ' }, { title: 'x'.repeat(201) }, { status: 'human' }, { archived: 'yes' }]) {
      expectProblem(await call('PATCH', `/api/v1/conversations/${id}`, { ...asA(), body }), 400, 'validation_failed');
    }
    const unchanged = await call('GET', `/api/v1/conversations/${id}`, asA());
    expect(unchanged.headers.get('etag')).toBe('"1"');
  });

  it('soft delete answers 204, then 404 on get, patch, delete and messages, and hides it from list and search', async () => {
    const { id } = await seedConversation({ orgId: a.orgId, botId: a.botId }, ['zebrafinch deleted secret', 'reply']);
    const del = await call('DELETE', `/api/v1/conversations/${id}`, asA());
    expect(del.status).toBe(204);
    expectProblem(await call('GET', `/api/v1/conversations/${id}`, asA()), 404, 'conversation_not_found');
    expectProblem(await call('PATCH', `/api/v1/conversations/${id}`, { ...asA(), body: { title: 'x' } }), 404, 'conversation_not_found');
    expectProblem(await call('GET', `/api/v1/conversations/${id}/messages`, asA()), 404, 'conversation_not_found');
    expectProblem(await call('DELETE', `/api/v1/conversations/${id}`, asA()), 404, 'conversation_not_found');
    expect(ids(await call('GET', '/api/v1/conversations?limit=100', asA()))).not.toContain(id);
    const search = await call('GET', '/api/v1/conversations/search?q=zebrafinch', asA());
    expect(search.status).toBe(200);
    expect(search.body.data).toEqual([]);
    // Soft: the rows stay for retention.
    expect(await countRows('SELECT count(*) AS n FROM messages WHERE conversation_id = ?', id)).toBe(2);
  });
});

describe('messages of a conversation', () => {
  it('pages oldest-first and newest-first with a stable cursor that a message appended between pages does not shift', async () => {
    const seeded = await seedConversation({ orgId: a.orgId, botId: a.botId }, ['m0', 'm1', 'm2', 'm3', 'm4']);
    const path = `/api/v1/conversations/${seeded.id}/messages`;
    const asc1 = await call('GET', `${path}?limit=2`, asA());
    expect(asc1.status).toBe(200);
    expect(asc1.body.data.map((m: { content: string }) => m.content)).toEqual(['m0', 'm1']);
    expect(asc1.body.data[0]).toMatchObject({ id: seeded.messageIds[0], role: 'user', conversationId: seeded.id, citations: [], attachments: [], unanswered: false });
    const desc1 = await call('GET', `${path}?order=desc&limit=2`, asA());
    expect(desc1.body.data.map((m: { content: string }) => m.content)).toEqual(['m4', 'm3']);

    await insertMessage({ id: seeded.id, orgId: a.orgId, botId: a.botId }, { content: 'm5' });
    const asc2 = await call('GET', `${path}?limit=10&cursor=${asc1.body.nextCursor}`, asA());
    expect(asc2.body.data.map((m: { content: string }) => m.content)).toEqual(['m2', 'm3', 'm4', 'm5']);
    expect(asc2.body.nextCursor).toBeNull();
    const desc2 = await call('GET', `${path}?order=desc&limit=2&cursor=${desc1.body.nextCursor}`, asA());
    const desc3 = await call('GET', `${path}?order=desc&limit=2&cursor=${desc2.body.nextCursor}`, asA());
    expect([...desc2.body.data, ...desc3.body.data].map((m: { content: string }) => m.content)).toEqual(['m2', 'm1', 'm0']);
    expect(desc3.body.nextCursor).toBeNull();
  });

  it('refuses a cursor it did not issue and an unknown order with 400', async () => {
    const { id } = await seedConversation({ orgId: a.orgId, botId: a.botId }, ['hello']);
    expectProblem(await call('GET', `/api/v1/conversations/${id}/messages?cursor=%%%`, asA()), 400, 'invalid_cursor');
    expectProblem(await call('GET', `/api/v1/conversations/${id}/messages?order=random`, asA()), 400, 'validation_failed');
  });
});

describe('searching messages', () => {
  let org: Account;
  let bot2: string;
  let first: { id: string; messageIds: string[] };
  beforeAll(async () => {
    org = await register('conv-search');
    bot2 = await newBot(org);
    first = await seedConversation({ orgId: org.orgId, botId: org.botId }, [
      'How do I get a refund for my <b>order</b>? The parcel never arrived.',
      'Refunds take five working days once the parcel is back at the warehouse.',
    ]);
    await seedConversation({ orgId: org.orgId, botId: bot2 }, ['A refund question for the second bot.']);
    await seedConversation({ orgId: b.orgId, botId: b.botId }, ['Another org asks about a refund too.']);
  });

  it('finds messages by word (stemmed), newest first, with a plain-text snippet and the offsets of the matches', async () => {
    const res = await call('GET', `/api/v1/conversations/search?q=refunds&botId=${org.botId}`, { token: org.token });
    expect(res.status).toBe(200);
    expect(res.body.data.map((h: { messageId: string }) => h.messageId)).toEqual([first.messageIds[1], first.messageIds[0]]);
    const hit = res.body.data[1];
    expect(hit).toMatchObject({ conversationId: first.id, botId: org.botId, role: 'user' });
    // Plain text: the message's markup comes back as the characters it was, and no marker is added.
    expect(hit.snippet).toContain('<b>order</b>');
    expect(hit.snippet).not.toMatch(/[\uFDD0\uFDD1«»]|<mark>/);
    expect(hit.highlights).toHaveLength(1);
    const { start, end } = hit.highlights[0];
    expect(hit.snippet.slice(start, end)).toBe('refund');
  });

  it('is scoped to the bot when asked, and never returns another org\'s messages', async () => {
    const all = await call('GET', '/api/v1/conversations/search?q=refund', { token: org.token });
    expect(all.body.data).toHaveLength(3);
    expect(new Set(all.body.data.map((h: { botId: string }) => h.botId))).toEqual(new Set([org.botId, bot2]));
    const second = await call('GET', `/api/v1/conversations/search?q=refund&botId=${bot2}`, { token: org.token });
    expect(second.body.data.map((h: { snippet: string }) => h.snippet)).toEqual(['A refund question for the second bot.']);
    const other = await call('GET', '/api/v1/conversations/search?q=refund', { token: b.token });
    expect(other.body.data.map((h: { snippet: string }) => h.snippet)).toEqual(['Another org asks about a refund too.']);
  });

  it('finds a Korean message by a whole word of it', async () => {
    const account = await register('conv-search-korean');
    const korean = await seedConversation({ orgId: account.orgId, botId: account.botId }, ['부산까지 택배는 며칠 걸려요?']);
    const res = await call('GET', `/api/v1/conversations/search?q=${encodeURIComponent('택배는')}`, { token: account.token });
    expect(res.status).toBe(200);
    expect(res.body.data.map((h: { messageId: string }) => h.messageId)).toEqual([korean.messageIds[0]]);
  });

  it('pages results with a cursor', async () => {
    const p1 = await call('GET', '/api/v1/conversations/search?q=refund&limit=2', { token: org.token });
    expect(p1.body.data).toHaveLength(2);
    const p2 = await call('GET', `/api/v1/conversations/search?q=refund&limit=2&cursor=${p1.body.nextCursor}`, { token: org.token });
    expect(p2.body.data).toHaveLength(1);
    expect(p2.body.nextCursor).toBeNull();
    const seen = [...p1.body.data, ...p2.body.data].map((h: { messageId: string }) => h.messageId);
    expect(new Set(seen).size).toBe(3);
  });

  it('finds a message saying "Straße" by "strasse" and one saying "Strasse" by "straße", from the chat route, the assistant and an agent, quoting each as written', async () => {
    const account = await register('conv-search-fold');
    const turn = await call('POST', `/api/v1/bots/${account.botId}/chat`, { token: account.token, body: { message: 'Wo ist die Straße zum Bahnhof?' } });
    expect(turn.status).toBe(200);
    const conversationId = turn.body.conversationId as string;
    const ctx = serviceCtx();
    const answer = await appendAssistantMessage(ctx, {
      id: newId('msg'), orgId: account.orgId, botId: account.botId, conversationId, replyTo: turn.body.message.id,
      content: 'Die Strasse zum Bahnhof ist gesperrt.', citations: [], model: null, usage: null, latencyMs: 1, unanswered: false, cached: false, error: null,
    });
    const human = await seedConversation({ orgId: account.orgId, botId: account.botId, status: 'human' });
    const agent = await postAgentMessage(ctx, { orgId: account.orgId, botId: account.botId, conversationId: human.id }, account.userId, 'Nehmen Sie die Hauptstraße, Ecke Ærøgade.');
    expect(agent.status).toBe('ok');
    const userMessageId = (await env.DB.prepare("SELECT id FROM messages WHERE conversation_id = ? AND role = 'user'").bind(conversationId).first<{ id: string }>())!.id;

    const search = async (q: string) => {
      const res = await call('GET', `/api/v1/conversations/search?q=${encodeURIComponent(q)}`, { token: account.token });
      expect(res.status).toBe(200);
      return res.body.data as { messageId: string; snippet: string; highlights: { start: number; end: number }[] }[];
    };
    const marked = (hit: { snippet: string; highlights: { start: number; end: number }[] }) => hit.highlights.map(({ start, end }) => hit.snippet.slice(start, end));

    for (const q of ['strasse', 'Straße', 'STRASSE']) {
      const hits = await search(q);
      expect(hits.map((h) => h.messageId).sort(), q).toEqual([userMessageId, answer.id].sort());
      const user = hits.find((h) => h.messageId === userMessageId)!;
      expect(user.snippet).toBe('Wo ist die Straße zum Bahnhof?');
      expect(marked(user)).toEqual(['Straße']);
      expect(marked(hits.find((h) => h.messageId === answer.id)!)).toEqual(['Strasse']);
    }
    const [agentHit, ...others] = await search('hauptstrasse aerogade');
    expect(others).toEqual([]);
    expect(agentHit).toMatchObject({ messageId: agent.status === 'ok' ? agent.message.id : null, snippet: 'Nehmen Sie die Hauptstraße, Ecke Ærøgade.' });
    expect(marked(agentHit!)).toEqual(['Hauptstraße', 'Ærøgade']);
    // A long message: the snippet is a cut, its ellipses kept, its text the message's own.
    const long = `${'Der Weg führt über Brücken und Plätze. '.repeat(12)}Am Ende liegt die Großmarktstraße. ${'Danach kommt nichts mehr außer Wiesen. '.repeat(12)}`;
    const longAnswer = await appendAssistantMessage(ctx, {
      id: newId('msg'), orgId: account.orgId, botId: account.botId, conversationId, replyTo: turn.body.message.id,
      content: long, citations: [], model: null, usage: null, latencyMs: 1, unanswered: false, cached: false, error: null,
    });
    const [cut] = await search('grossmarktstrasse');
    expect(cut!.messageId).toBe(longAnswer.id);
    expect(cut!.snippet.startsWith('…') && cut!.snippet.endsWith('…')).toBe(true);
    expect(long).toContain(cut!.snippet.slice(1, -1));
    expect(marked(cut!)).toEqual(['Großmarktstraße']);
    // Only text that folding changes is stored twice.
    const stored = await env.DB.prepare('SELECT content, search_text FROM messages WHERE org_id = ? ORDER BY seq').bind(account.orgId).all<{ content: string; search_text: string | null }>();
    for (const row of stored.results) expect(row.search_text, row.content).toBe(/[ßæøÆØ]/.test(row.content) ? foldForSearch(row.content) : null);
  });

  it('treats hostile queries as literal words: quotes, NEAR, *, ^, column filters and unbalanced parentheses never fail', async () => {
    const hostile = ['"', '"refund', 'refund"', '(refund', 'refund)', '((', 'NEAR(refund parcel)', 'refund NEAR parcel', 're*', '*', '^refund', 'content: refund', 'refund AND OR NOT', '-refund', "'; DROP TABLE messages; --", '\u0000refund'];
    for (const q of hostile) {
      const res = await call('GET', `/api/v1/conversations/search?q=${encodeURIComponent(q)}`, { token: org.token });
      expect(res.status, `${q}: ${JSON.stringify(res.body)}`).toBe(200);
      for (const hit of res.body.data) expect(hit.snippet.toLowerCase()).toMatch(/refund|parcel|near|content/);
    }
    // NEAR is a word here, not an operator: "refund NEAR parcel" finds what "refund near parcel" does.
    const near = await call('GET', `/api/v1/conversations/search?q=${encodeURIComponent('refund NEAR parcel')}`, { token: org.token });
    const plain = await call('GET', '/api/v1/conversations/search?q=refund%20near%20parcel', { token: org.token });
    expect(near.body.data.length).toBeGreaterThan(0);
    expect(near.body.data).toEqual(plain.body.data);
    expect(await countRows('SELECT count(*) AS n FROM messages')).toBeGreaterThan(0);
    expectProblem(await call('GET', '/api/v1/conversations/search?q=', { token: org.token }), 400, 'validation_failed');
    expectProblem(await call('GET', `/api/v1/conversations/search?q=${'a'.repeat(1001)}`, { token: org.token }), 400, 'validation_failed');
  });
});

describe('another org\'s conversation', () => {
  it('answers 404 on get, patch, delete and messages, and changes nothing', async () => {
    const { id } = await seedConversation({ orgId: b.orgId, botId: b.botId, title: 'B private' }, ['hello']);
    const before = await call('GET', `/api/v1/conversations/${id}`, { token: b.token });
    expectProblem(await call('GET', `/api/v1/conversations/${id}`, asA()), 404, 'conversation_not_found');
    expectProblem(await call('PATCH', `/api/v1/conversations/${id}`, { ...asA(), body: { title: 'pwned' } }), 404, 'conversation_not_found');
    expectProblem(await call('DELETE', `/api/v1/conversations/${id}`, asA()), 404, 'conversation_not_found');
    expectProblem(await call('GET', `/api/v1/conversations/${id}/messages`, asA()), 404, 'conversation_not_found');
    const own = await call('GET', `/api/v1/conversations/${id}`, { token: b.token });
    expect(own.body).toEqual(before.body);
    expect(own.body).toMatchObject({ title: 'B private', titleSetByUser: false });
    expect(own.headers.get('etag')).toBe(before.headers.get('etag'));
  });

  it('answers 404 to an API key of another org', async () => {
    const { id } = await seedConversation({ orgId: b.orgId, botId: b.botId });
    const key = await createKey(a, ['chat']);
    expectProblem(await call('GET', `/api/v1/conversations/${id}`, { token: key }), 404, 'conversation_not_found');
  });
});

describe('permissions', () => {
  it('a viewer reads conversations and messages but may not rename or delete them', async () => {
    const { id } = await seedConversation({ orgId: a.orgId, botId: a.botId }, ['viewer visible']);
    const as = { token: viewer.token, orgId: a.orgId };
    expect((await call('GET', '/api/v1/conversations', as)).status).toBe(200);
    expect((await call('GET', `/api/v1/conversations/${id}`, as)).status).toBe(200);
    expect((await call('GET', `/api/v1/conversations/${id}/messages`, as)).status).toBe(200);
    expect((await call('GET', '/api/v1/conversations/search?q=visible', as)).status).toBe(200);
    expectProblem(await call('PATCH', `/api/v1/conversations/${id}`, { ...as, body: { title: 'no' } }), 403, 'forbidden');
    expectProblem(await call('DELETE', `/api/v1/conversations/${id}`, as), 403, 'forbidden');
  });

  it('a member renames and deletes', async () => {
    const { id } = await seedConversation({ orgId: a.orgId, botId: a.botId });
    const as = { token: member.token, orgId: a.orgId };
    expect((await call('PATCH', `/api/v1/conversations/${id}`, { ...as, body: { title: 'by member' } })).status).toBe(200);
    expect((await call('DELETE', `/api/v1/conversations/${id}`, as)).status).toBe(204);
  });

  it('an API key needs the chat scope to read or manage conversations', async () => {
    const { id } = await seedConversation({ orgId: a.orgId, botId: a.botId });
    const chatKey = await createKey(a, ['chat']);
    const botsKey = await createKey(a, ['bots:read']);
    expect((await call('GET', `/api/v1/conversations/${id}`, { token: chatKey })).status).toBe(200);
    expect((await call('PATCH', `/api/v1/conversations/${id}`, { token: chatKey, body: { archived: true } })).status).toBe(200);
    expectProblem(await call('GET', `/api/v1/conversations/${id}`, { token: botsKey }), 403, 'forbidden');
    expectProblem(await call('GET', '/api/v1/conversations', { token: botsKey }), 403, 'forbidden');
    expectProblem(await call('DELETE', `/api/v1/conversations/${id}`, { token: botsKey }), 403, 'forbidden');
  });
});

// --- Attachments --------------------------------------------------------------------------------

async function storedObjects(orgId: string) {
  return (await env.FILES.list({ prefix: `orgs/${orgId}/attachments/` })).objects.map((o) => o.key);
}

const attachmentRows = (orgId: string) => countRows('SELECT count(*) AS n FROM conversation_attachments WHERE org_id = ?', orgId);

const serviceCtx = () => jobContext(env, createExecutionContext());

describe('attachments', () => {
  it('uploads a file: type from the bytes, text extracted into R2 beside the original, an unclaimed row owned by the caller', async () => {
    const owner = await register('att-happy');
    const text = '# Order 4411\n\nThe customer wants a refund for the blue kettle.';
    const res = await uploadAttachment(owner.token, owner.botId, { name: '../../etc/notes\u0007.md', type: 'application/octet-stream', bytes: text });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toEqual({ id: expect.stringMatching(/^att_/), name: 'notes.md', mime: 'text/markdown', sizeBytes: new TextEncoder().encode(text).byteLength, textChars: text.length });
    const row = await env.DB.prepare('SELECT * FROM conversation_attachments WHERE id = ?').bind(res.body.id).first<Record<string, unknown>>();
    expect(row).toMatchObject({ org_id: owner.orgId, bot_id: owner.botId, conversation_id: null, message_id: null, uploaded_by: owner.userId });
    expect(await (await env.FILES.get(row!.r2_key as string))!.text()).toBe(text);
    expect(await (await env.FILES.get(row!.text_key as string))!.text()).toBe(text);

    const key = await createKey(owner, ['chat']);
    const byKey = await uploadAttachment(key, owner.botId, { name: 'a.txt', type: 'text/plain', bytes: 'from a key' });
    expect(byKey.status).toBe(201);
    const keyRow = await env.DB.prepare('SELECT uploaded_by FROM conversation_attachments WHERE id = ?').bind(byKey.body.id).first<{ uploaded_by: string }>();
    expect(keyRow!.uploaded_by).toMatch(/^key_/);
  });

  it('refuses an unsupported or disguised type with 415, an empty file with 400, and stores nothing', async () => {
    const owner = await register('att-415');
    expectProblem(await uploadAttachment(owner.token, owner.botId, { name: 'x.png', type: 'image/png', bytes: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]) }), 415, 'unsupported_media_type');
    expectProblem(await uploadAttachment(owner.token, owner.botId, { name: 'fake.pdf', type: 'application/pdf', bytes: 'not a pdf at all' }), 415, 'unsupported_media_type');
    expectProblem(await uploadAttachment(owner.token, owner.botId, { name: 'e.txt', type: 'text/plain', bytes: '' }), 400, 'empty_file');
    expect(await attachmentRows(owner.orgId)).toBe(0);
    expect(await storedObjects(owner.orgId)).toEqual([]);
  });

  it('refuses a file over the 10 MB attachment limit with 413 and stores nothing', async () => {
    const owner = await register('att-413');
    const big = new Uint8Array(ATTACHMENTS.maxBytes + 1).fill(0x61);
    const res = await uploadAttachment(owner.token, owner.botId, { name: 'big.txt', type: 'text/plain', bytes: big });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await attachmentRows(owner.orgId)).toBe(0);
    expect(await storedObjects(owner.orgId)).toEqual([]);
  });

  it('refuses a file whose text cannot be read with 422 and stores nothing', async () => {
    const owner = await register('att-422');
    const broken = new TextEncoder().encode('%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage without xref');
    const res = await uploadAttachment(owner.token, owner.botId, { name: 'broken.pdf', type: 'application/pdf', bytes: broken });
    expectProblem(res, 422, 'attachment_unreadable');
    expect(await attachmentRows(owner.orgId)).toBe(0);
    expect(await storedObjects(owner.orgId)).toEqual([]);
  });

  it('answers 404 for another org\'s bot, 403 without the chat scope, and stores nothing', async () => {
    const res = await uploadAttachment(a.token, b.botId, { name: 'n.txt', type: 'text/plain', bytes: 'hello' }, a.orgId);
    expectProblem(res, 404, 'bot_not_found');
    const botsKey = await createKey(b, ['bots:read']);
    expectProblem(await uploadAttachment(botsKey, b.botId, { name: 'n.txt', type: 'text/plain', bytes: 'hello' }), 403, 'forbidden');
    expect(await attachmentRows(b.orgId)).toBe(0);
  });

  it('spends the org\'s upload_bytes_per_day quota: when it is used up, a 429 names it and nothing is stored', async () => {
    const owner = await register('att-quota');
    const { config } = serviceCtx();
    const limiter = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`upload_bytes_per_day:${owner.orgId}`));
    const limit = config.quotas.uploadBytesPerDay;
    await limiter.consume({ limit, windowSeconds: QUOTA_DAY_SECONDS, cost: limit });
    const res = await uploadAttachment(owner.token, owner.botId, { name: 'n.txt', type: 'text/plain', bytes: 'over quota' });
    const problem = expectProblem(res, 429, 'quota_exceeded');
    expect(problem.quota).toBe('upload_bytes_per_day');
    expect(await attachmentRows(owner.orgId)).toBe(0);
    expect(await storedObjects(owner.orgId)).toEqual([]);
  });

  it('extracts a PDF\'s text at upload', async () => {
    const owner = await register('att-pdf');
    const res = await uploadAttachment(owner.token, owner.botId, { name: 'invoice.pdf', type: 'application/pdf', bytes: buildPdf([['Invoice 981 totals 42 euros']]) });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const row = await env.DB.prepare('SELECT text_key FROM conversation_attachments WHERE id = ?').bind(res.body.id).first<{ text_key: string }>();
    expect(await (await env.FILES.get(row!.text_key))!.text()).toContain('Invoice 981 totals 42 euros');
  });
});

describe('attachments for the pipeline', () => {
  let owner: Account;
  let colleague: Member;
  beforeAll(async () => {
    owner = await register('att-resolve');
    colleague = await joinAs(owner, owner.orgId, 'member', 'att-colleague');
  });

  const upload = async (text: string, who: { token: string; orgId?: string } = owner, botId = owner.botId) => {
    const res = await uploadAttachment(who.token, botId, { name: 'note.txt', type: 'text/plain', bytes: text }, who.orgId);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id as string;
  };

  it('resolveAttachments returns the uploads in the order asked, and refuses unknown, other org, other caller and other bot ids with 404', async () => {
    const ctx = serviceCtx();
    const one = await upload('first');
    const two = await upload('second');
    const ok = await resolveAttachments(ctx, { orgId: owner.orgId, botId: owner.botId, callerId: owner.userId, ids: [two, one, two] });
    expect(ok).toEqual({ ok: true, attachments: [
      { id: two, name: 'note.txt', mime: 'text/plain', sizeBytes: 6 },
      { id: one, name: 'note.txt', mime: 'text/plain', sizeBytes: 5 },
    ] });
    const theirs = await upload('other org', b, b.botId);
    const colleagues = await upload('colleague', { token: colleague.token, orgId: owner.orgId });
    const bot2 = await newBot(owner, 'att-bot2');
    const otherBot = await upload('other bot', owner, bot2);
    for (const id of ['att_01JD3X0000000000000000000A', theirs, colleagues, otherBot]) {
      const refused = await resolveAttachments(ctx, { orgId: owner.orgId, botId: owner.botId, callerId: owner.userId, ids: [one, id] });
      expect(refused).toMatchObject({ ok: false, refusal: { status: 404, code: 'attachment_not_found' } });
    }
  });

  it('refuses more than five per message with 422 and an already claimed one with 409; a claim succeeds once', async () => {
    const ctx = serviceCtx();
    const many: string[] = [];
    for (let i = 0; i < ATTACHMENTS.maxPerMessage + 1; i++) many.push(await upload(`file ${i}`));
    expect(await resolveAttachments(ctx, { orgId: owner.orgId, botId: owner.botId, callerId: owner.userId, ids: many })).toMatchObject({
      ok: false,
      refusal: { status: 422, code: 'too_many_attachments' },
    });
    const { id: conversationId, messageIds } = await seedConversation({ orgId: owner.orgId, botId: owner.botId }, ['with a file']);
    const claim = () => claimAttachmentsStatement(ctx.db, { orgId: owner.orgId, ids: [many[0]!], conversationId, messageId: messageIds[0]! });
    const [first] = await ctx.db.batch([claim()]);
    expect(first.meta.changes).toBe(1);
    const [again] = await ctx.db.batch([claim()]);
    expect(again.meta.changes).toBe(0);
    expect(await resolveAttachments(ctx, { orgId: owner.orgId, botId: owner.botId, callerId: owner.userId, ids: [many[0]!] })).toMatchObject({
      ok: false,
      refusal: { status: 409, code: 'attachment_already_used' },
    });
  });

  it('attachmentContext reads the claimed files\' text, oldest first, cut at maxChars', async () => {
    const ctx = serviceCtx();
    const first = await upload('Alpha text of the first file.');
    const second = await upload('Beta text of the second file, longer than what is left.');
    await upload('Unclaimed: never context.');
    const { id: conversationId, messageIds } = await seedConversation({ orgId: owner.orgId, botId: owner.botId }, ['two files']);
    await ctx.db.batch([claimAttachmentsStatement(ctx.db, { orgId: owner.orgId, ids: [first, second], conversationId, messageId: messageIds[0]! })]);
    expect(await attachmentContext(ctx, owner.orgId, conversationId, 1000)).toEqual([
      { id: first, name: 'note.txt', text: 'Alpha text of the first file.' },
      { id: second, name: 'note.txt', text: 'Beta text of the second file, longer than what is left.' },
    ]);
    expect(await attachmentContext(ctx, owner.orgId, conversationId, 40)).toEqual([
      { id: first, name: 'note.txt', text: 'Alpha text of the first file.' },
      { id: second, name: 'note.txt', text: 'Beta text o' },
    ]);
    expect(await attachmentContext(ctx, b.orgId, conversationId, 1000)).toEqual([]);
  });

  it('the cron sweeper deletes unclaimed uploads older than a day with their R2 objects, and keeps fresh and claimed ones', async () => {
    const org = await register('att-sweep');
    const ctx = serviceCtx();
    const stale = await upload('stale', org, org.botId);
    const staleClaimed = await upload('stale but sent', org, org.botId);
    const fresh = await upload('fresh', org, org.botId);
    const { id: conversationId, messageIds } = await seedConversation({ orgId: org.orgId, botId: org.botId }, ['sent']);
    await ctx.db.batch([claimAttachmentsStatement(ctx.db, { orgId: org.orgId, ids: [staleClaimed], conversationId, messageId: messageIds[0]! })]);
    const twoDaysAgo = Date.now() - 2 * ATTACHMENTS.unclaimedTtlMs;
    await env.DB.prepare('UPDATE conversation_attachments SET created_at = ? WHERE id IN (?, ?)').bind(twoDaysAgo, stale, staleClaimed).run();
    expect(await storedObjects(org.orgId)).toHaveLength(6);

    const run = createExecutionContext();
    await worker.scheduled!(createScheduledController({ scheduledTime: Date.now(), cron: '*/15 * * * *' }), env, run);
    await waitOnExecutionContext(run);

    const left = (await env.DB.prepare('SELECT id FROM conversation_attachments WHERE org_id = ? ORDER BY id').bind(org.orgId).all<{ id: string }>()).results.map((r) => r.id);
    expect(left.sort()).toEqual([staleClaimed, fresh].sort());
    const objects = await storedObjects(org.orgId);
    expect(objects).toHaveLength(4);
    expect(objects.some((k) => k.includes(stale))).toBe(false);
    // An unclaimed upload past its lifetime cannot be sent either, even before a sweep.
    const late = await upload('late', org, org.botId);
    await env.DB.prepare('UPDATE conversation_attachments SET created_at = ? WHERE id = ?').bind(twoDaysAgo, late).run();
    expect(await resolveAttachments(ctx, { orgId: org.orgId, botId: org.botId, callerId: org.userId, ids: [late] })).toMatchObject({ ok: false, refusal: { status: 404 } });
  });
});
