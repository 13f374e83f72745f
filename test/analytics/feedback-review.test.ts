/**
 * Feedback review and answer correction through the Worker: the org-wide ratings list (filters,
 * cursor, question + answer + citations), improving a disliked answer into a Q&A source that
 * the bot then answers a paraphrase from (offline answerer, end to end), the unanswered-turn
 * list grouped by near-duplicate question and its improve route, bad input and other orgs.
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, expectProblem, register, type Account } from '../support/api';
import { addText, waitForSource } from '../support/knowledge';
import { joinAs } from '../support/accounts';
import { DEFAULT_FALLBACK_MESSAGE } from '../../src/limits';

const INSTALL = 'Run the installer with acme install --with-turbines. The daemon listens on port 7421. Logs are written to the acme journal.';
const COVERED = 'Which port does the daemon listen on?';
const UNCOVERED = 'What is the capital city of Mongolia?';

let owner: Account;
let outsider: Account;
let secondBotId: string;

const chat = async (who: Account, botId: string, message: string) => {
  const res = await call('POST', `/api/v1/bots/${botId}/chat`, { token: who.token, body: { message } });
  expect(res.status).toBe(200);
  return res.body as { conversationId: string; message: { id: string; content: string; unanswered: boolean; citations: unknown[] } };
};
const rate = async (who: Account, conversationId: string, messageId: string, rating: 'up' | 'down', comment?: string) => {
  const res = await call('POST', `/api/v1/conversations/${conversationId}/messages/${messageId}/feedback`, { token: who.token, body: { rating, comment } });
  expect(res.status).toBe(201);
  return res.body as { id: string };
};

beforeAll(async () => {
  owner = await register('review-owner');
  outsider = await register('review-outsider');
  const source = await addText(owner.token, owner.botId, 'Installation manual', INSTALL);
  await waitForSource(owner.token, source.id);
  const bot = await call('POST', '/api/v1/bots', { token: owner.token, body: { name: 'Second bot' } });
  expect(bot.status).toBe(201);
  secondBotId = bot.body.id;
});

describe('GET /feedback', () => {
  let liked: { feedbackId: string; messageId: string };
  let disliked: { feedbackId: string; messageId: string };
  let otherBot: { feedbackId: string };

  beforeAll(async () => {
    const a = await chat(owner, owner.botId, COVERED);
    liked = { feedbackId: (await rate(owner, a.conversationId, a.message.id, 'up')).id, messageId: a.message.id };
    const b = await chat(owner, owner.botId, UNCOVERED);
    disliked = { feedbackId: (await rate(owner, b.conversationId, b.message.id, 'down', 'Not helpful at all')).id, messageId: b.message.id };
    const c = await chat(owner, secondBotId, COVERED);
    otherBot = { feedbackId: (await rate(owner, c.conversationId, c.message.id, 'down')).id };
  });

  it('lists every rating of the org newest first, each with its question, answer and citations', async () => {
    const res = await call('GET', '/api/v1/feedback', { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.body.data.map((f: any) => f.id)).toEqual([otherBot.feedbackId, disliked.feedbackId, liked.feedbackId]);
    const up = res.body.data[2];
    expect(up).toMatchObject({ rating: 'up', messageId: liked.messageId, question: COVERED, unanswered: false, improvement: null, comment: null });
    expect(up.answer).toContain('7421');
    expect(up.citations.length).toBeGreaterThan(0);
    expect(up.citations[0]).toMatchObject({ title: 'Installation manual' });
    const down = res.body.data[1];
    expect(down).toMatchObject({ rating: 'down', question: UNCOVERED, answer: DEFAULT_FALLBACK_MESSAGE, unanswered: true, citations: [], comment: 'Not helpful at all' });
  });

  it('filters by bot, rating, comment and time, and pages with a cursor', async () => {
    const ids = async (query: string) => (await call('GET', `/api/v1/feedback?${query}`, { token: owner.token })).body.data.map((f: any) => f.id);
    expect(await ids(`botId=${owner.botId}`)).toEqual([disliked.feedbackId, liked.feedbackId]);
    expect(await ids('rating=down')).toEqual([otherBot.feedbackId, disliked.feedbackId]);
    expect(await ids('hasComment=true')).toEqual([disliked.feedbackId]);
    expect(await ids('hasComment=false')).toEqual([otherBot.feedbackId, liked.feedbackId]);
    expect(await ids(`from=${new Date(Date.now() + 60_000).toISOString()}`)).toEqual([]);
    expect(await ids(`to=${new Date(Date.now() + 60_000).toISOString()}&rating=up`)).toEqual([liked.feedbackId]);
    const first = await call('GET', '/api/v1/feedback?limit=2', { token: owner.token });
    expect(first.body.data).toHaveLength(2);
    const second = await call('GET', `/api/v1/feedback?limit=2&cursor=${first.body.nextCursor}`, { token: owner.token });
    expect(second.body.data.map((f: any) => f.id)).toEqual([liked.feedbackId]);
    expect(second.body.nextCursor).toBeNull();
  });

  it('lets a viewer read, refuses bad filters with 400, and answers 404 for another org\'s bot', async () => {
    const viewer = await joinAs(owner, owner.orgId, 'viewer');
    expect((await call('GET', '/api/v1/feedback', { token: viewer.token, orgId: owner.orgId })).status).toBe(200);
    expectProblem(await call('GET', '/api/v1/feedback?rating=meh', { token: owner.token }), 400, 'validation_failed');
    expectProblem(await call('GET', '/api/v1/feedback?from=yesterday', { token: owner.token }), 400, 'validation_failed');
    expectProblem(await call('GET', '/api/v1/feedback?cursor=nope', { token: owner.token }), 400, 'invalid_cursor');
    expectProblem(await call('GET', `/api/v1/feedback?botId=${owner.botId}`, { token: outsider.token }), 404, 'bot_not_found');
    expect((await call('GET', '/api/v1/feedback', { token: outsider.token })).body.data).toEqual([]);
  });
});

describe('improve answer', () => {
  it('turns a disliked answer into a Q&A source, and the next paraphrased question is answered from it', async () => {
    const asked = await chat(owner, owner.botId, 'How long is the warranty on the turbine pump?');
    expect(asked.message.unanswered).toBe(true);
    const feedback = await rate(owner, asked.conversationId, asked.message.id, 'down');
    const answer = 'The turbine pump has a warranty of five years from the date of purchase.';
    const res = await call('POST', `/api/v1/feedback/${feedback.id}/improve`, { token: owner.token, body: { answer } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ messageId: asked.message.id, feedbackId: feedback.id, question: 'How long is the warranty on the turbine pump?', answer, botId: owner.botId });
    const source = await waitForSource(owner.token, res.body.sourceId);
    expect(source).toMatchObject({ status: 'ready', type: 'qa', botId: owner.botId });

    const listed = await call('GET', '/api/v1/feedback?rating=down', { token: owner.token });
    expect(listed.body.data.find((f: any) => f.id === feedback.id).improvement).toMatchObject({ sourceId: res.body.sourceId });
    const event = await env.DB.prepare("SELECT data FROM outbox_events WHERE org_id = ? AND type = 'answer.improved'").bind(owner.orgId).first<{ data: string }>();
    expect(JSON.parse(event!.data)).toMatchObject({ messageId: asked.message.id, sourceId: res.body.sourceId, feedbackId: feedback.id });

    const again = await chat(owner, owner.botId, 'What warranty does the turbine pump come with?');
    expect(again.message.unanswered).toBe(false);
    expect(again.message.content).toContain('five years');

    expectProblem(await call('POST', `/api/v1/feedback/${feedback.id}/improve`, { token: owner.token, body: { answer: 'Something else.' } }), 409, 'already_improved');
  });

  it('refuses bad bodies, viewers, and another org\'s feedback', async () => {
    const asked = await chat(owner, owner.botId, UNCOVERED);
    const feedback = await rate(owner, asked.conversationId, asked.message.id, 'down');
    expectProblem(await call('POST', `/api/v1/feedback/${feedback.id}/improve`, { token: owner.token, body: { answer: '' } }), 400, 'validation_failed');
    expectProblem(await call('POST', `/api/v1/feedback/${feedback.id}/improve`, { token: owner.token, body: { answer: 'x', extra: 1 } }), 400, 'validation_failed');
    expectProblem(await call('POST', `/api/v1/feedback/${feedback.id}/improve`, { token: owner.token, body: { answer: 'x'.repeat(20_001) } }), 400, 'validation_failed');
    const viewer = await joinAs(owner, owner.orgId, 'viewer', 'viewer2');
    expectProblem(await call('POST', `/api/v1/feedback/${feedback.id}/improve`, { token: viewer.token, orgId: owner.orgId, body: { answer: 'x' } }), 403, 'forbidden');
    expectProblem(await call('POST', `/api/v1/feedback/${feedback.id}/improve`, { token: outsider.token, body: { answer: 'x' } }), 404, 'feedback_not_found');
    expectProblem(await call('POST', '/api/v1/feedback/fbk_01JD3X0000000000000000000/improve', { token: owner.token, body: { answer: 'x' } }), 404, 'feedback_not_found');
    expect(await env.DB.prepare('SELECT COUNT(*) AS n FROM answer_corrections WHERE message_id = ?').bind(asked.message.id).first('n')).toBe(0);
  });
});

describe('unanswered turns', () => {
  let account: Account;
  beforeAll(async () => {
    account = await register('unanswered');
    const source = await addText(account.token, account.botId, 'Installation manual', INSTALL);
    await waitForSource(account.token, source.id);
  });

  it('lists unanswered turns grouped by near-duplicate question, newest group first, with a cursor', async () => {
    const a1 = await chat(account, account.botId, 'How do I reset my password?');
    const b = await chat(account, account.botId, 'What is the capital city of Mongolia?');
    const a2 = await chat(account, account.botId, 'Password reset: how?');
    await chat(account, account.botId, COVERED);
    const res = await call('GET', '/api/v1/analytics/unanswered', { token: account.token });
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(2);
    const [passwords, mongolia] = res.body.data;
    expect(passwords).toMatchObject({ key: 'password reset', count: 2, question: 'Password reset: how?', botId: account.botId });
    expect(passwords.messages.map((m: any) => m.messageId)).toEqual([a2.message.id, a1.message.id]);
    expect(mongolia).toMatchObject({ count: 1, question: 'What is the capital city of Mongolia?' });
    expect(mongolia.messages[0]).toMatchObject({ messageId: b.message.id, answer: DEFAULT_FALLBACK_MESSAGE });

    const first = await call('GET', '/api/v1/analytics/unanswered?limit=1', { token: account.token });
    expect(first.body.data.map((g: any) => g.key)).toEqual(['password reset']);
    const second = await call('GET', `/api/v1/analytics/unanswered?limit=1&cursor=${first.body.nextCursor}`, { token: account.token });
    expect(second.body.data.map((g: any) => g.id)).toEqual([mongolia.id]);
    expect(second.body.nextCursor).toBeNull();
  });

  it('improves an unanswered turn: it leaves the list and the bot answers the question next time', async () => {
    const list = await call('GET', '/api/v1/analytics/unanswered', { token: account.token });
    const mongolia = list.body.data.find((g: any) => g.question.includes('Mongolia'));
    const res = await call('POST', `/api/v1/analytics/unanswered/${mongolia.messages[0].messageId}/improve`, {
      token: account.token,
      body: { answer: 'Ulaanbaatar is the capital city of Mongolia.' },
    });
    expect(res.status).toBe(201);
    expect(res.body.feedbackId).toBeNull();
    await waitForSource(account.token, res.body.sourceId);
    const after = await call('GET', '/api/v1/analytics/unanswered', { token: account.token });
    expect(after.body.data.map((g: any) => g.key)).toEqual(['password reset']);
    const again = await chat(account, account.botId, "Which city is Mongolia's capital?");
    expect(again.message.content).toContain('Ulaanbaatar');
  });

  it('refuses an answered message (422), a user message (422), another org\'s message (404) and another org\'s bot (404)', async () => {
    const answered = await chat(account, account.botId, COVERED);
    const url = (id: string) => `/api/v1/analytics/unanswered/${id}/improve`;
    expectProblem(await call('POST', url(answered.message.id), { token: account.token, body: { answer: 'x' } }), 422, 'not_unanswered');
    const userMessage = await env.DB.prepare("SELECT id FROM messages WHERE conversation_id = ? AND role = 'user'").bind(answered.conversationId).first<{ id: string }>();
    expectProblem(await call('POST', url(userMessage!.id), { token: account.token, body: { answer: 'x' } }), 422, 'not_an_answer');
    const list = await call('GET', '/api/v1/analytics/unanswered', { token: account.token });
    const theirs = list.body.data[0].messages[0].messageId;
    expectProblem(await call('POST', url(theirs), { token: outsider.token, body: { answer: 'x' } }), 404, 'message_not_found');
    expectProblem(await call('GET', `/api/v1/analytics/unanswered?botId=${account.botId}`, { token: outsider.token }), 404, 'bot_not_found');
    expect((await call('GET', '/api/v1/analytics/unanswered', { token: outsider.token })).body.data).toEqual([]);
    expectProblem(await call('GET', '/api/v1/analytics/unanswered?limit=500', { token: account.token }), 400, 'validation_failed');
  });
});
