/**
 * Human handoff and the inbox through the real Worker: the bot's handoff settings and the public
 * config, the three triggers (a trigger phrase with no model call, N fallbacks in a row, the
 * widget's button), business hours, the round trip over two WebSockets (takeover, bot silent,
 * live replies, typing, read receipts, hand-back), the inbox's filters and unread counts, the
 * outbox events, bad input and another org's ids answering 404.
 */
import { env, SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { BASE, call, createKey, expectProblem, register, type Account } from '../support/api';
import { joinAs, mailsTo, type Member } from '../support/accounts';
import { addText, waitForSource } from '../support/knowledge';
import { useFakeModel, seedConversation } from '../support/chat';
import { DEFAULT_NOTICES } from '../../src/features/handoff/settings';
import { formatOpening } from '../../src/features/handoff/business-hours';

const SHOP = 'https://shop.example';
let owner: Account;
let member: Member;
let stranger: Account;
let visitorKey: string;

const setHandoff = async (account: Account, handoff: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
  const res = await call('PATCH', `/api/v1/bots/${account.botId}`, { token: account.token, body: { handoff, ...extra } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};

beforeAll(async () => {
  owner = await register('handoff-owner');
  member = await joinAs(owner, owner.orgId, 'member', 'handoff-agent');
  stranger = await register('handoff-stranger');
  visitorKey = await createKey(owner, ['chat'], 'widget backend');
  // The bot knows something about people on the phone (so a trigger phrase would retrieve it) and its
  // model always fails: a turn that reached the model would fail, so a notice proves it did not.
  const source = await addText(owner.token, owner.botId, 'Support', 'You can talk to a human agent on the phone at 555-0100 on weekdays.');
  expect((await waitForSource(owner.token, source.id)).status).toBe('ready');
  await useFakeModel(owner, 'fail-500');
  await setHandoff(owner, { enabled: true }, { visibility: 'public', allowedOrigins: [SHOP] });
});

const chat = (token: string, body: Record<string, unknown>, orgId?: string) => call('POST', `/api/v1/bots/${orgId ? stranger.botId : owner.botId}/chat`, { token, body });
const conversationOf = (id: string) => env.DB.prepare('SELECT status, handoff_requested_at, human_user_id FROM conversations WHERE id = ?').bind(id).first<{ status: string; handoff_requested_at: number | null; human_user_id: string | null }>();
/** The conversation's handoff and ticket events (its message events are the webhooks tests' business). */
const eventsOf = async (conversationId: string) =>
  (
    await env.DB.prepare(
      "SELECT type, data FROM outbox_events WHERE conversation_id = ? AND (type LIKE 'escalation.%' OR type IN ('conversation.handoff_requested', 'conversation.handed_back')) ORDER BY seq",
    )
      .bind(conversationId)
      .all<{ type: string; data: string }>()
  ).results;
const ticketOf = (conversationId: string) => env.DB.prepare('SELECT * FROM escalations WHERE conversation_id = ?').bind(conversationId).first<Record<string, any>>();

describe('handoff settings', () => {
  it('the bot shows its handoff settings with defaults; the public config says whether the button shows', async () => {
    const bot = await call('GET', `/api/v1/bots/${owner.botId}`, { token: owner.token });
    expect(bot.body.handoff).toEqual({ enabled: true, triggerPhrases: null, fallbackTurns: 2, businessHours: null, messages: { requested: null, outsideHours: null } });
    const config = await call('GET', `/api/v1/widget/${owner.botId}/config`, { headers: { origin: SHOP } });
    expect(config.body.handoff).toEqual({ enabled: true });
  });

  it('bad settings are a 400 and change nothing: an unknown timezone, from after to, an unknown field', async () => {
    const bad = [
      { businessHours: { timezone: 'Mars/Olympus', intervals: [{ day: 0, from: '09:00', to: '17:00' }] } },
      { businessHours: { timezone: 'UTC', intervals: [{ day: 0, from: '17:00', to: '09:00' }] } },
      { businessHours: { timezone: 'UTC', intervals: [{ day: 7, from: '09:00', to: '10:00' }] } },
      { fallbackTurns: -1 },
      { messages: { requested: 'x'.repeat(501) } },
      { color: 'red' },
    ];
    for (const handoff of bad) expectProblem(await call('PATCH', `/api/v1/bots/${owner.botId}`, { token: owner.token, body: { handoff } }), 400, 'validation_failed');
    expect((await call('GET', `/api/v1/bots/${owner.botId}`, { token: owner.token })).body.handoff.businessHours).toBeNull();
  });
});

describe('triggers', () => {
  it('a trigger phrase (German, any case and accents) asks for a person with no retrieval or model call: the notice is the stored answer', async () => {
    const res = await chat(owner.token, { message: 'Ich möchte bitte mit einem MENSCHEN sprechen!' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.message).toMatchObject({ role: 'assistant', content: DEFAULT_NOTICES.de.requested, model: null, error: null, unanswered: false });
    expect(res.body.handoff).toMatchObject({ conversationStatus: 'handoff_requested', outsideBusinessHours: false, askForEmail: false });
    const conversationId = res.body.conversationId;
    expect((await conversationOf(conversationId))!.status).toBe('handoff_requested');
    const ticket = await ticketOf(conversationId);
    expect(ticket).toMatchObject({ id: res.body.handoff.escalationId, status: 'open', source: 'phrase', bot_id: owner.botId });
    expect((await eventsOf(conversationId)).map((e) => e.type)).toEqual(['conversation.handoff_requested', 'escalation.created']);
    // The notice is announced like any stored answer (message.created), the question too.
    const created = await env.DB.prepare("SELECT data FROM outbox_events WHERE conversation_id = ? AND type = 'message.created'").bind(conversationId).all<{ data: string }>();
    expect(created.results.map((r) => JSON.parse(r.data).role)).toEqual(['user', 'assistant']);
    expect(JSON.parse(created.results[1]!.data).id).toBe(res.body.message.id);
    // Nobody watches a visitor's ticket yet: the owner is mailed.
    expect((await mailsTo(owner.email, 'escalation')).some((m) => m.text.includes(ticket!.id))).toBe(true);

    // Said again while waiting: told someone is asked already; no second ticket. The bot keeps answering other questions.
    const again = await chat(owner.token, { message: 'talk to a human please', conversationId });
    expect(again.body.message.content).toBe(DEFAULT_NOTICES.en.alreadyRequested);
    expect(again.body.handoff).toBeUndefined();
    expect((await env.DB.prepare('SELECT count(*) AS n FROM escalations WHERE conversation_id = ?').bind(conversationId).first<{ n: number }>())!.n).toBe(1);
  });

  it("a bot's own phrase list replaces the built-in one; a disabled bot never hands off", async () => {
    const org = await register('handoff-phrases');
    await setHandoff(org, { enabled: true, triggerPhrases: ['operator please'] });
    const own = await call('POST', `/api/v1/bots/${org.botId}/chat`, { token: org.token, body: { message: 'OPERATOR, please!' } });
    expect(own.body.handoff?.conversationStatus).toBe('handoff_requested');
    const builtIn = await call('POST', `/api/v1/bots/${org.botId}/chat`, { token: org.token, body: { message: 'talk to a human' } });
    expect(builtIn.body.handoff).toBeUndefined();
    await setHandoff(org, { enabled: false });
    const off = await call('POST', `/api/v1/bots/${org.botId}/chat`, { token: org.token, body: { message: 'operator please' } });
    expect(off.body.handoff).toBeUndefined();
    expect((await conversationOf(off.body.conversationId))!.status).toBe('open');
  });

  it('N fallbacks in a row (N = 2) ask for a person: the second fallback answer carries the notice', async () => {
    const org = await register('handoff-fallbacks');
    await setHandoff(org, { enabled: true, fallbackTurns: 2 });
    const first = await call('POST', `/api/v1/bots/${org.botId}/chat`, { token: org.token, body: { message: 'What is the airspeed of a swallow?' } });
    expect(first.body.message.unanswered).toBe(true);
    expect(first.body.handoff).toBeUndefined();
    const conversationId = first.body.conversationId;
    expect((await conversationOf(conversationId))!.status).toBe('open');
    const second = await call('POST', `/api/v1/bots/${org.botId}/chat`, { token: org.token, body: { message: 'And the colour of the moon?', conversationId } });
    expect(second.body.message.unanswered).toBe(true);
    expect(second.body.message.content).toContain(first.body.message.content);
    expect(second.body.message.content).toContain(DEFAULT_NOTICES.en.requested);
    expect(second.body.handoff.conversationStatus).toBe('handoff_requested');
    expect((await ticketOf(conversationId))!.source).toBe('fallbacks');
  });

  it("the widget button: the visitor's own conversation moves to handoff_requested; pressed again nothing changes; another visitor gets 404", async () => {
    const session = async () => (await call('POST', `/api/v1/widget/${owner.botId}/session`, { body: {}, headers: { origin: SHOP } })).body.token as string;
    const token = await session();
    const started = await call('POST', `/api/v1/widget/${owner.botId}/chat`, { token, body: { message: 'Hello there' }, headers: { origin: SHOP } });
    const conversationId = started.body.conversationId;
    const press = (t: string, body: Record<string, unknown> = { lang: 'fr' }) =>
      call('POST', `/api/v1/widget/${owner.botId}/conversations/${conversationId}/handoff`, { token: t, body, headers: { origin: SHOP } });
    const res = await press(token);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ conversationId, conversationStatus: 'handoff_requested', notice: { content: DEFAULT_NOTICES.fr.requested }, escalation: { source: 'button', status: 'open' } });
    const again = await press(token);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ conversationStatus: 'handoff_requested', notice: null, escalation: { id: res.body.escalation.id } });
    expectProblem(await press(await session()), 404, 'conversation_not_found');
    expectProblem(await press(token, { lang: 'klingon' }), 400, 'validation_failed');
    // The visitor sees the notice in their transcript.
    const transcript = await call('GET', `/api/v1/widget/${owner.botId}/conversations/${conversationId}/messages`, { token, headers: { origin: SHOP } });
    expect(transcript.body.data.map((m: { content: string }) => m.content)).toContain(DEFAULT_NOTICES.fr.requested);
  });

  it('the button on a bot without handoff is a 409', async () => {
    const org = await register('handoff-off');
    await call('PATCH', `/api/v1/bots/${org.botId}`, { token: org.token, body: { visibility: 'public', allowedOrigins: [SHOP] } });
    const token = (await call('POST', `/api/v1/widget/${org.botId}/session`, { body: {}, headers: { origin: SHOP } })).body.token;
    const started = await call('POST', `/api/v1/widget/${org.botId}/chat`, { token, body: { message: 'hi' }, headers: { origin: SHOP } });
    const res = await call('POST', `/api/v1/widget/${org.botId}/conversations/${started.body.conversationId}/handoff`, { token, body: {}, headers: { origin: SHOP } });
    expectProblem(res, 409, 'handoff_disabled');
    expect((await conversationOf(started.body.conversationId))!.status).toBe('open');
  });

  it('outside business hours the visitor is told the next opening in their language and asked for an email', async () => {
    const org = await register('handoff-hours');
    // Open only two days from now (UTC), 09:00–10:00: closed now whatever the time.
    const now = new Date();
    const mondayBased = (now.getUTCDay() + 6) % 7;
    const day = (mondayBased + 2) % 7;
    await setHandoff(org, { enabled: true, businessHours: { timezone: 'UTC', intervals: [{ day, from: '09:00', to: '10:00' }] } });
    const expected = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 2, 9, 0);
    const conversation = await seedConversation({ orgId: org.orgId, botId: org.botId }, ['Hallo']);
    const res = await call('POST', `/api/v1/conversations/${conversation.id}/handoff`, { token: org.token, body: { lang: 'de' } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.handoff).toEqual({ conversationStatus: 'handoff_requested', escalationId: res.body.escalation.id, outsideBusinessHours: true, nextOpeningAt: new Date(expected).toISOString(), askForEmail: true });
    expect(res.body.notice.content).toBe(DEFAULT_NOTICES.de.outsideHours.replace('{time}', formatOpening(expected, 'UTC', 'de')));
    expect(res.body.notice.content).toContain(new Intl.DateTimeFormat('de', { weekday: 'long', timeZone: 'UTC' }).format(new Date(expected)));
    // The ticket's SLA starts at the opening.
    expect(Date.parse(res.body.escalation.slaDueAt)).toBeGreaterThan(expected);
  });
});

type Frame = Record<string, any>;
async function connect(conversationId: string, token: string, orgId?: string) {
  const headers: Record<string, string> = { upgrade: 'websocket', authorization: `Bearer ${token}` };
  if (orgId) headers['x-org-id'] = orgId;
  const res = await SELF.fetch(`${BASE}/api/v1/conversations/${conversationId}/ws`, { headers });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const frames: Frame[] = [];
  ws.addEventListener('message', (e) => frames.push(JSON.parse(e.data as string)));
  return {
    frames,
    send: (f: unknown) => ws.send(JSON.stringify(f)),
    async next(match: (f: Frame) => boolean, from = 0) {
      let found: Frame | undefined;
      await expect.poll(() => (found = frames.slice(from).find(match)), { timeout: 10_000 }).toBeDefined();
      return found!;
    },
    close: () => ws.close(1000, 'done'),
  };
}

describe('the handoff round trip over two WebSockets', () => {
  it('visitor asks, member takes over from the inbox, the bot is silent, replies, typing and read receipts flow live, hand-back resumes the bot', async () => {
    const org = await register('handoff-live');
    const agentMember = await joinAs(org, org.orgId, 'member', 'live-agent');
    const key = await createKey(org, ['chat'], 'visitor');
    await setHandoff(org, { enabled: true });
    const conversation = await seedConversation({ orgId: org.orgId, botId: org.botId, channel: 'ws' }, []);
    const visitor = await connect(conversation.id, key);
    const agent = await connect(conversation.id, agentMember.token, org.orgId);

    visitor.send({ type: 'message', text: 'I want to talk to a human' });
    const notice = await agent.next((f) => f.type === 'message' && f.message.role === 'assistant');
    expect(notice.message.content).toBe(DEFAULT_NOTICES.en.requested);
    await visitor.next((f) => f.type === 'message' && f.message.id === notice.message.id);

    // The member finds it in the inbox and takes over.
    const inbox = await call('GET', '/api/v1/inbox?assignee=none', { token: agentMember.token, orgId: org.orgId });
    expect(inbox.body.data.map((c: { id: string }) => c.id)).toEqual([conversation.id]);
    expect(inbox.body.data[0]).toMatchObject({ status: 'handoff_requested', unread: 2 });
    agent.send({ type: 'takeover' });
    await visitor.next((f) => f.type === 'status' && f.status === 'human' && f.humanUserId === agentMember.userId);

    // The visitor writes: the agent sees it, no bot answer follows.
    const mark = agent.frames.length;
    visitor.send({ type: 'message', text: 'Are you a real person?' });
    const question = await agent.next((f) => f.type === 'message' && f.message.role === 'user' && f.message.content === 'Are you a real person?', mark);

    // Typing and the agent's reply reach the visitor live.
    agent.send({ type: 'typing' });
    await visitor.next((f) => f.type === 'typing' && f.role === 'agent');
    agent.send({ type: 'message', text: 'Yes, I am Sam from support.' });
    const reply = await visitor.next((f) => f.type === 'message' && f.message.role === 'agent');
    expect(reply.message.content).toBe('Yes, I am Sam from support.');

    // Read receipts both ways; the member's marker is stored.
    agent.send({ type: 'read', messageId: question.message.id });
    const receipt = await visitor.next((f) => f.type === 'read' && f.role === 'agent');
    expect(receipt).toEqual({ type: 'read', role: 'agent', userId: agentMember.userId, messageId: question.message.id });
    visitor.send({ type: 'read', messageId: reply.message.id });
    expect(await agent.next((f) => f.type === 'read' && f.role === 'visitor')).toEqual({ type: 'read', role: 'visitor', userId: null, messageId: reply.message.id });
    const marker = await env.DB.prepare('SELECT m.id FROM conversation_reads r JOIN messages m ON m.seq = r.last_read_seq WHERE r.conversation_id = ? AND r.user_id = ?').bind(conversation.id, agentMember.userId).first<{ id: string }>();
    expect(marker?.id).toBe(question.message.id);
    agent.send({ type: 'read', messageId: 'msg_nope' });
    await agent.next((f) => f.type === 'error' && f.code === 'unknown_message');

    const mine = await call('GET', '/api/v1/inbox?assignee=me', { token: agentMember.token, orgId: org.orgId });
    expect(mine.body.data).toHaveLength(1);
    expect(mine.body.data[0]).toMatchObject({ status: 'human', humanUserId: agentMember.userId, unread: 0 });
    const stored = await env.DB.prepare("SELECT count(*) AS n FROM messages WHERE conversation_id = ? AND role = 'assistant'").bind(conversation.id).first<{ n: number }>();
    expect(stored!.n).toBe(1); // only the notice: the bot stayed silent

    // Hand back: the bot answers again, and the event is recorded.
    agent.send({ type: 'handback' });
    await visitor.next((f) => f.type === 'status' && f.status === 'open');
    const before = visitor.frames.length;
    visitor.send({ type: 'message', text: 'Thanks, one more question for the bot' });
    const answer = await visitor.next((f) => f.type === 'message' && f.message.role === 'assistant', before);
    expect(answer.message.unanswered).toBe(true);
    const row = await conversationOf(conversation.id);
    expect(row).toMatchObject({ status: 'open', handoff_requested_at: null, human_user_id: null });
    const events = await eventsOf(conversation.id);
    expect(events.map((e) => e.type)).toEqual(['conversation.handoff_requested', 'escalation.created', 'conversation.handed_back']);
    expect(JSON.parse(events[2]!.data)).toMatchObject({ conversationId: conversation.id, byUserId: agentMember.userId });
    visitor.close();
    agent.close();
  });
});

describe('the inbox', () => {
  it('filters by status, bot, assignee and waiting time; unread counts follow the read marker; cursor pagination', async () => {
    const org = await register('inbox');
    const colleague = await joinAs(org, org.orgId, 'member', 'inbox-colleague');
    const seed = async (status: string, messages: string[], waitedMs: number | null, human: string | null = null) => {
      const c = await seedConversation({ orgId: org.orgId, botId: org.botId, status: status as any }, messages);
      await env.DB.prepare('UPDATE conversations SET handoff_requested_at = ?, human_user_id = ? WHERE id = ?').bind(waitedMs === null ? null : Date.now() - waitedMs, human, c.id).run();
      return c;
    };
    const waitingLong = await seed('handoff_requested', ['help', 'bot reply', 'still there?'], 3_600_000);
    const waitingShort = await seed('handoff_requested', ['hello'], 30_000);
    const withColleague = await seed('human', ['hi', 'hello from support'], 600_000, colleague.userId);
    await seed('open', ['just browsing'], null);
    const list = async (q = '') => (await call('GET', `/api/v1/inbox${q}`, { token: org.token })).body.data as { id: string; unread: number; waitingSeconds: number | null }[];
    expect((await list()).map((c) => c.id)).toEqual([waitingLong.id, waitingShort.id, withColleague.id]);
    expect((await list('?status=human')).map((c) => c.id)).toEqual([withColleague.id]);
    expect((await list(`?assignee=${colleague.userId}`)).map((c) => c.id)).toEqual([withColleague.id]);
    expect((await list('?assignee=none')).map((c) => c.id)).toEqual([waitingLong.id, waitingShort.id]);
    expect((await list('?waitingLongerThan=300')).map((c) => c.id)).toEqual([waitingLong.id, withColleague.id]);
    expect((await list(`?botId=${org.botId}&waitingLongerThan=3000`)).map((c) => c.id)).toEqual([waitingLong.id]);
    const first = (await list()).find((c) => c.id === waitingLong.id)!;
    expect(first.unread).toBe(3);
    expect(first.waitingSeconds).toBeGreaterThanOrEqual(3600);

    const read = await call('POST', `/api/v1/conversations/${waitingLong.id}/read`, { token: org.token, body: { messageId: waitingLong.messageIds[1] } });
    expect(read.body).toEqual({ conversationId: waitingLong.id, messageId: waitingLong.messageIds[1] });
    expect((await list()).find((c) => c.id === waitingLong.id)!.unread).toBe(1);
    // A marker never moves back.
    await call('POST', `/api/v1/conversations/${waitingLong.id}/read`, { token: org.token, body: { messageId: waitingLong.messageIds[0] } });
    expect((await list()).find((c) => c.id === waitingLong.id)!.unread).toBe(1);
    await call('POST', `/api/v1/conversations/${waitingLong.id}/read`, { token: org.token, body: {} });
    expect((await list()).find((c) => c.id === waitingLong.id)!.unread).toBe(0);
    // Per member: the colleague has read nothing.
    const theirs = await call('GET', '/api/v1/inbox', { token: colleague.token, orgId: org.orgId });
    expect(theirs.body.data.find((c: { id: string }) => c.id === waitingLong.id).unread).toBe(3);

    const page1 = await call('GET', '/api/v1/inbox?limit=2', { token: org.token });
    const page2 = await call('GET', `/api/v1/inbox?limit=2&cursor=${page1.body.nextCursor}`, { token: org.token });
    expect([...page1.body.data, ...page2.body.data].map((c: { id: string }) => c.id)).toEqual([waitingLong.id, waitingShort.id, withColleague.id]);
    expect(page2.body.nextCursor).toBeNull();

    expectProblem(await call('GET', '/api/v1/inbox?waitingLongerThan=-1', { token: org.token }), 400, 'validation_failed');
    expectProblem(await call('GET', '/api/v1/inbox?status=open', { token: org.token }), 400, 'validation_failed');
    expectProblem(await call('POST', `/api/v1/conversations/${waitingLong.id}/read`, { token: org.token, body: { messageId: 'msg_unknown' } }), 404, 'message_not_found');
    const key = await createKey(org, ['chat'], 'inbox key');
    expectProblem(await call('GET', '/api/v1/inbox?assignee=me', { token: key }), 400, 'me_requires_user');
    expectProblem(await call('POST', `/api/v1/conversations/${waitingLong.id}/read`, { token: key, body: {} }), 403, 'people_only');
  });

  it("another org's conversation is a 404 on handoff and read, and never in the inbox", async () => {
    const conversation = await seedConversation({ orgId: owner.orgId, botId: owner.botId }, ['hello']);
    expectProblem(await call('POST', `/api/v1/conversations/${conversation.id}/handoff`, { token: stranger.token, body: {} }), 404, 'conversation_not_found');
    expectProblem(await call('POST', `/api/v1/conversations/${conversation.id}/read`, { token: stranger.token, body: {} }), 404, 'conversation_not_found');
    expect((await conversationOf(conversation.id))!.status).toBe('open');
    await call('POST', `/api/v1/conversations/${conversation.id}/handoff`, { token: owner.token, body: {} });
    const theirs = await call('GET', '/api/v1/inbox', { token: stranger.token });
    expect(theirs.body.data.map((c: { id: string }) => c.id)).not.toContain(conversation.id);
    // Someone else's widget visitor cannot press the button on it either.
    const token = (await call('POST', `/api/v1/widget/${owner.botId}/session`, { body: {}, headers: { origin: SHOP } })).body.token;
    expectProblem(await call('POST', `/api/v1/widget/${owner.botId}/conversations/${conversation.id}/handoff`, { token, body: {}, headers: { origin: SHOP } }), 404, 'conversation_not_found');
  });

  it('the member route: a closed conversation is a 409; bad input is a 400; a viewer may not (403)', async () => {
    const closed = await seedConversation({ orgId: owner.orgId, botId: owner.botId, status: 'closed' }, ['bye']);
    expectProblem(await call('POST', `/api/v1/conversations/${closed.id}/handoff`, { token: owner.token, body: {} }), 409, 'conversation_closed');
    const open = await seedConversation({ orgId: owner.orgId, botId: owner.botId }, ['hi']);
    expectProblem(await call('POST', `/api/v1/conversations/${open.id}/handoff`, { token: owner.token, body: { priority: 'asap' } }), 400, 'validation_failed');
    const viewer = await joinAs(owner, owner.orgId, 'viewer', 'handoff-viewer');
    expectProblem(await call('POST', `/api/v1/conversations/${open.id}/handoff`, { token: viewer.token, orgId: owner.orgId, body: {} }), 403);
    const ok = await call('POST', `/api/v1/conversations/${open.id}/handoff`, { token: member.token, orgId: owner.orgId, body: { priority: 'urgent', note: 'VIP customer' } });
    expect(ok.status).toBe(201);
    expect(ok.body.escalation).toMatchObject({ priority: 'urgent', source: 'member', description: 'VIP customer', createdBy: member.userId });
  });
});
