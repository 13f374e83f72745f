/**
 * The widget's live side through the real Worker: the visitor's WebSocket
 * (GET /api/v1/widget/{botId}/conversations/{id}/ws) with the visitor token as a subprotocol,
 * the per-bot Origin check, only the visitor's own conversation, and the round trip with a team
 * member on the member socket: takeover, the member's reply, typing both ways, read receipts,
 * hand-back, and a widget chat turn over HTTP mirrored to both sockets.
 */
import { env, SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { BASE, call, expectProblem, register, type Account } from '../support/api';
import { joinAs, type Member } from '../support/accounts';
import { insertMessage } from '../support/chat';
import { DEFAULT_NOTICES } from '../../src/features/handoff/settings';

const SHOP = 'https://shop.example';
const BLOG = 'https://blog.example.org';
const EVIL = 'https://evil.example';

let owner: Account;
let agent: Member;
let stranger: Account;

type Frame = Record<string, any>;

const widget = (botId: string, rest: string) => `/api/v1/widget/${botId}/${rest}`;

async function session(botId = owner.botId, origin = SHOP) {
  const res = await call('POST', widget(botId, 'session'), { body: {}, headers: { origin } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { token: string; visitorId: string };
}

/** A widget conversation of its own for a fresh visitor (one HTTP turn). */
async function visitorWithConversation(botId = owner.botId) {
  const visitor = await session(botId);
  const turn = await call('POST', widget(botId, 'chat'), { token: visitor.token, body: { message: 'Hello there' }, headers: { origin: SHOP } });
  expect(turn.status, JSON.stringify(turn.body)).toBe(200);
  return { ...visitor, conversationId: turn.body.conversationId as string, firstTurn: turn.body };
}

/** The visitor's upgrade as a browser sends it: Origin, and the token as a subprotocol (never a header or the URL). */
function visitorUpgrade(conversationId: string, token: string | null, opts: { origin?: string | null; botId?: string } = {}) {
  const headers: Record<string, string> = { upgrade: 'websocket' };
  if (opts.origin !== null) headers.origin = opts.origin ?? SHOP;
  headers['sec-websocket-protocol'] = token ? `kyrochat, kyrochat.bearer.${token}` : 'kyrochat';
  return SELF.fetch(`${BASE}${widget(opts.botId ?? owner.botId, `conversations/${conversationId}/ws`)}`, { headers });
}

function socket(res: Response) {
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

async function memberSocket(conversationId: string, who: Member) {
  const res = await SELF.fetch(`${BASE}/api/v1/conversations/${conversationId}/ws`, {
    headers: { upgrade: 'websocket', authorization: `Bearer ${who.token}`, 'x-org-id': who.orgId },
  });
  return socket(res);
}

async function expectRefused(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.webSocket).toBeNull();
  expect(res.headers.get('content-type')).toContain('application/problem+json');
  expect(((await res.json()) as { code: string }).code).toBe(code);
}

beforeAll(async () => {
  owner = await register('live-owner');
  agent = await joinAs(owner, owner.orgId, 'member', 'live-agent');
  stranger = await register('live-stranger');
  for (const org of [owner, stranger]) {
    const res = await call('PATCH', `/api/v1/bots/${org.botId}`, { token: org.token, body: { visibility: 'public', allowedOrigins: [SHOP, BLOG], handoff: { enabled: true } } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }
});

describe('the visitor socket refuses', () => {
  it('a page on an origin the bot does not allow, and a missing Origin: 403 origin_not_allowed, no upgrade', async () => {
    const visitor = await visitorWithConversation();
    await expectRefused(await visitorUpgrade(visitor.conversationId, visitor.token, { origin: EVIL }), 403, 'origin_not_allowed');
    await expectRefused(await visitorUpgrade(visitor.conversationId, visitor.token, { origin: null }), 403, 'origin_not_allowed');
  });

  it('a token issued to another allowed origin (403 origin_mismatch) or for another bot (403 token_not_for_bot)', async () => {
    const visitor = await visitorWithConversation();
    await expectRefused(await visitorUpgrade(visitor.conversationId, visitor.token, { origin: BLOG }), 403, 'origin_mismatch');
    const theirs = await session(stranger.botId);
    await expectRefused(await visitorUpgrade(visitor.conversationId, theirs.token), 403, 'token_not_for_bot');
  });

  it('a missing or wrong token: 401, no upgrade; a token in the query string is not read', async () => {
    const visitor = await visitorWithConversation();
    await expectRefused(await visitorUpgrade(visitor.conversationId, null), 401, 'unauthorized');
    await expectRefused(await visitorUpgrade(visitor.conversationId, `${visitor.token.slice(0, -4)}AAAA`), 401, 'invalid_token');
    const inQuery = await SELF.fetch(`${BASE}${widget(owner.botId, `conversations/${visitor.conversationId}/ws`)}?token=${visitor.token}`, {
      headers: { upgrade: 'websocket', origin: SHOP },
    });
    await expectRefused(inQuery, 401, 'unauthorized');
  });

  it("another visitor's conversation, a member's conversation of the same bot and another org's conversation: 404, no upgrade", async () => {
    const mine = await visitorWithConversation();
    const other = await visitorWithConversation();
    await expectRefused(await visitorUpgrade(other.conversationId, mine.token), 404, 'conversation_not_found');
    const members = await call('POST', `/api/v1/bots/${owner.botId}/chat`, { token: owner.token, body: { message: 'hi from the dashboard' } });
    await expectRefused(await visitorUpgrade(members.body.conversationId, mine.token), 404, 'conversation_not_found');
    const foreign = await visitorWithConversation(stranger.botId);
    await expectRefused(await visitorUpgrade(foreign.conversationId, mine.token), 404, 'conversation_not_found');
    // Nor through the other org's bot id with this org's token.
    await expectRefused(await visitorUpgrade(foreign.conversationId, mine.token, { botId: stranger.botId }), 403, 'token_not_for_bot');
  });

  it('a plain GET (no upgrade) with a valid token is a 426; an unknown bot a 404', async () => {
    const visitor = await visitorWithConversation();
    const plain = await call('GET', widget(owner.botId, `conversations/${visitor.conversationId}/ws`), { token: visitor.token, headers: { origin: SHOP } });
    expectProblem(plain, 426, 'upgrade_required');
    await expectRefused(await visitorUpgrade(visitor.conversationId, visitor.token, { botId: 'bot_01JD3X5Q8W2N4V6B8C0D2E4F6G' }), 404, 'bot_not_found');
  });
});

describe('the visitor socket', () => {
  it('answers with the kyrochat subprotocol; resume shows the status and what the widget history shows (no tool messages)', async () => {
    const visitor = await visitorWithConversation();
    const toolId = await insertMessage({ id: visitor.conversationId, orgId: owner.orgId, botId: owner.botId }, { role: 'tool', content: '{"secret":"internal"}' });
    const res = await visitorUpgrade(visitor.conversationId, visitor.token);
    expect(res.headers.get('sec-websocket-protocol')).toBe('kyrochat');
    const ws = socket(res);
    ws.send({ type: 'resume', lastMessageId: null });
    await ws.next((f) => f.type === 'resumed');
    expect(ws.frames[0]).toEqual({ type: 'status', status: 'open', humanUserId: null });
    const shown = ws.frames.filter((f) => f.type === 'message').map((f) => f.message);
    expect(shown.map((m) => [m.role, m.role === 'user' ? m.content : m.id])).toEqual([
      ['user', 'Hello there'],
      ['assistant', visitor.firstTurn.message.id],
    ]);
    expect(shown.map((m) => m.id)).not.toContain(toolId);
    // Resuming from the last message shown: nothing more.
    const mark = ws.frames.length;
    ws.send({ type: 'resume', lastMessageId: visitor.firstTurn.message.id });
    await ws.next((f) => f.type === 'resumed', mark);
    expect(ws.frames.slice(mark).filter((f) => f.type === 'message')).toEqual([]);
    ws.close();
  });

  it('is receive-mostly: a message frame is refused with send_over_http and stores nothing; takeover is forbidden; a read of an unknown message is refused', async () => {
    const visitor = await visitorWithConversation();
    const ws = socket(await visitorUpgrade(visitor.conversationId, visitor.token));
    const count = async () => (await env.DB.prepare('SELECT count(*) AS n FROM messages WHERE conversation_id = ?').bind(visitor.conversationId).first<{ n: number }>())!.n;
    const before = await count();
    ws.send({ type: 'message', text: 'over the socket', clientMessageId: 'c1' });
    expect(await ws.next((f) => f.type === 'error' && f.code === 'send_over_http')).toMatchObject({ clientMessageId: 'c1' });
    ws.send({ type: 'takeover' });
    await ws.next((f) => f.type === 'error' && f.code === 'forbidden');
    ws.send({ type: 'read', messageId: 'msg_nope' });
    await ws.next((f) => f.type === 'error' && f.code === 'unknown_message');
    ws.send({ type: 'role', role: 'agent' });
    await ws.next((f) => f.type === 'error' && f.code === 'invalid_frame');
    expect(await count()).toBe(before);
    ws.close();
  });
});

describe('the live round trip with a team member', () => {
  it("the visitor presses the button, a member takes over and replies, typing and read receipts flow both ways; after hand-back a widget turn is mirrored to both sockets", async () => {
    const visitor = await visitorWithConversation();
    const { conversationId } = visitor;
    const v = socket(await visitorUpgrade(conversationId, visitor.token));
    v.send({ type: 'resume', lastMessageId: visitor.firstTurn.message.id });
    await v.next((f) => f.type === 'resumed');

    // "Talk to a human": the status and the notice arrive live, with the ids the HTTP answer carries.
    const pressed = await call('POST', widget(owner.botId, `conversations/${conversationId}/handoff`), { token: visitor.token, body: { lang: 'de' }, headers: { origin: SHOP } });
    expect(pressed.status, JSON.stringify(pressed.body)).toBe(201);
    await v.next((f) => f.type === 'status' && f.status === 'handoff_requested');
    const notice = await v.next((f) => f.type === 'message' && f.message.id === pressed.body.notice.id);
    expect(notice.message.content).toBe(DEFAULT_NOTICES.de.requested);

    // The member joins and takes over: the visitor sees it.
    const a = await memberSocket(conversationId, agent);
    a.send({ type: 'takeover' });
    await v.next((f) => f.type === 'status' && f.status === 'human' && f.humanUserId === agent.userId);

    // Typing both ways (never to the sender).
    a.send({ type: 'typing' });
    await v.next((f) => f.type === 'typing' && f.role === 'agent');
    v.send({ type: 'typing' });
    await a.next((f) => f.type === 'typing' && f.role === 'visitor');
    expect(a.frames.some((f) => f.type === 'typing' && f.role === 'agent')).toBe(false);

    // The member's reply reaches the visitor's socket; the widget's history has it too.
    a.send({ type: 'message', text: 'Hallo, hier ist Sam vom Support.' });
    const reply = await v.next((f) => f.type === 'message' && f.message.role === 'agent');
    expect(reply.message.content).toBe('Hallo, hier ist Sam vom Support.');
    const history = await call('GET', widget(owner.botId, `conversations/${conversationId}/messages?order=desc&limit=1`), { token: visitor.token, headers: { origin: SHOP } });
    expect(history.body.data[0].id).toBe(reply.message.id);

    // The visitor's read receipt reaches the member.
    v.send({ type: 'read', messageId: reply.message.id });
    expect(await a.next((f) => f.type === 'read' && f.role === 'visitor')).toEqual({ type: 'read', role: 'visitor', userId: null, messageId: reply.message.id });

    // While the member owns it, a widget message over HTTP is stored (202, the bot silent) and both sockets see it.
    const paused = await call('POST', widget(owner.botId, 'chat'), { token: visitor.token, body: { message: 'Danke, Sam!', conversationId }, headers: { origin: SHOP } });
    expect(paused.status, JSON.stringify(paused.body)).toBe(202);
    for (const s of [v, a]) await s.next((f) => f.type === 'message' && f.message.id === paused.body.userMessageId);

    // Hand back: the bot answers again, and a widget turn over HTTP shows up on both sockets with its stored ids.
    a.send({ type: 'handback' });
    await v.next((f) => f.type === 'status' && f.status === 'open');
    const markV = v.frames.length;
    const markA = a.frames.length;
    const turn = await call('POST', widget(owner.botId, 'chat'), { token: visitor.token, body: { message: 'One more question for the bot', conversationId }, headers: { origin: SHOP } });
    expect(turn.status, JSON.stringify(turn.body)).toBe(200);
    for (const [s, mark] of [[v, markV], [a, markA]] as const) {
      const user = await s.next((f) => f.type === 'message' && f.message.role === 'user', mark);
      expect(user.message.content).toBe('One more question for the bot');
      const answer = await s.next((f) => f.type === 'message' && f.message.role === 'assistant', mark);
      expect(answer.message.id).toBe(turn.body.message.id);
    }
    v.close();
    a.close();
  });
});
