/**
 * Live conversations: GET /api/v1/conversations/{id}/ws into the conversation's
 * ConversationRoom, through the real Worker. A visitor speaks through an API key with the
 * `chat` scope, team members (member and above) are agents, viewers observe.
 *
 * Joining a turn mid-answer needs an answer that streams slowly: that test runs in its own org
 * whose bot knows the answer (so the turn reaches the model instead of abstaining) and answers
 * through the test site's `trickle` OpenAI-compatible fake (one word every 150 ms).
 *
 * Confirmations over the socket (issue #11) use bots answering through the test site's
 * tool-calling fake (`tool-call:<name>`: calls <name> with the JSON in the user message, then
 * answers "Tool results: …") and an http action that needs confirmation, aimed at the site's
 * `/__action/echo/<name>` (its hits counted at `/__hits`).
 */
import { env, SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { BASE, call, createKey, expectProblem, register, type Account } from '../support/api';
import { joinAs, type Member } from '../support/accounts';
import { addText, waitForSource } from '../support/knowledge';
import { useFakeModel } from '../support/chat';
import type { ServiceContext } from '../../src/context';
import { mirrorTurnToRoom } from '../../src/features/chat/live/room-mirror';
import type { ServerFrame } from '../../src/features/chat/live/room-protocol';
import type { MessageDto, TurnEvent } from '../../src/features/chat/turn';
import { boundedArguments } from '../../src/features/chat/live/turn-frames';
import { ACTIONS } from '../../src/limits';

let owner: Account;
let visitorKey: string;
let member: Member;
let viewer: Member;
let stranger: Account;

beforeAll(async () => {
  owner = await register('room-owner');
  visitorKey = await createKey(owner, ['chat'], 'widget backend');
  member = await joinAs(owner, owner.orgId, 'member', 'room-agent');
  viewer = await joinAs(owner, owner.orgId, 'viewer', 'room-viewer');
  stranger = await register('room-stranger');
});

let sequence = 0;
/** A stored conversation of `account`'s org (the conversation routes that create them belong to other slices). */
async function newConversation(account: Account = owner): Promise<string> {
  const id = `cnv_ws${Date.now().toString(36)}${sequence++}`;
  const now = Date.now();
  await env.DB.prepare(
    "INSERT INTO conversations (id, org_id, bot_id, channel, created_at, updated_at) VALUES (?, ?, ?, 'ws', ?, ?)",
  )
    .bind(id, account.orgId, account.botId, now, now)
    .run();
  return id;
}

type Frame = Record<string, any>;

interface Client {
  ws: WebSocket;
  frames: Frame[];
  response: Response;
  send(frame: unknown): void;
  /** Waits for the first frame (from index `from`) matching `match`, and returns it. */
  next(match: (f: Frame) => boolean, from?: number): Promise<Frame>;
  close(): void;
}

interface ConnectOptions {
  token?: string | null;
  orgId?: string;
  protocols?: string[];
  query?: string;
  origin?: string;
}

async function open(conversationId: string, opts: ConnectOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { upgrade: 'websocket' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.orgId) headers['x-org-id'] = opts.orgId;
  if (opts.protocols) headers['sec-websocket-protocol'] = opts.protocols.join(', ');
  if (opts.origin) headers.origin = opts.origin;
  return SELF.fetch(`${BASE}/api/v1/conversations/${conversationId}/ws${opts.query ?? ''}`, { headers });
}

async function connect(conversationId: string, opts: ConnectOptions = {}): Promise<Client> {
  const response = await open(conversationId, opts);
  expect(response.status, await describeFailure(response)).toBe(101);
  const ws = response.webSocket!;
  ws.accept();
  const frames: Frame[] = [];
  ws.addEventListener('message', (e) => {
    frames.push(JSON.parse(e.data as string));
  });
  return {
    ws,
    frames,
    response,
    send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    async next(match, from = 0) {
      let found: Frame | undefined;
      await expect.poll(() => (found = frames.slice(from).find(match)), { timeout: 10_000 }).toBeDefined();
      return found!;
    },
    close: () => ws.close(1000, 'done'),
  };
}

async function describeFailure(res: Response): Promise<string> {
  return res.status === 101 ? '' : `${res.status} ${await res.text()}`;
}

const visitor = (conversationId: string) => connect(conversationId, { token: visitorKey });
const agent = (conversationId: string) => connect(conversationId, { token: member.token, orgId: owner.orgId });
const observer = (conversationId: string) => connect(conversationId, { token: viewer.token, orgId: owner.orgId });

const isMessage = (role: string) => (f: Frame) => f.type === 'message' && f.message.role === role;
const errorCoded = (code: string) => (f: Frame) => f.type === 'error' && f.code === code;

/** The answer a client assembled from `turn` + `token` frames, per assistant message id (a `turn` restarts it). */
function assembled(frames: Frame[]): Map<string, string> {
  const texts = new Map<string, string>();
  for (const f of frames) {
    if (f.type === 'turn') texts.set(f.assistantMessageId, '');
    if (f.type === 'token') texts.set(f.assistantMessageId, (texts.get(f.assistantMessageId) ?? '') + f.text);
  }
  return texts;
}

/**
 * An org whose bot knows about the ferry (so a turn reaches the model instead of abstaining) and
 * answers through the test site's fake model `model` (support/chat.ts `useFakeModel`).
 */
async function fakeModelOrg(model: string) {
  const account = await register(`room-${model}`);
  const key = await createKey(account, ['chat'], `${model} visitor`);
  const source = await addText(account.token, account.botId, 'Ferry timetable', FERRY_TEXT);
  expect((await waitForSource(account.token, source.id)).status).toBe('ready');
  await useFakeModel(account, model);
  return { account, key };
}

const FERRY_TEXT = [
  'The harbour ferry runs every day of the year.',
  'In winter, from November to March, the harbour ferry runs every hour from 7 am to 7 pm.',
  'In summer the ferry runs every thirty minutes until midnight, and bicycles travel free.',
].join(' ');

async function storedMessages(conversationId: string) {
  const { results } = await env.DB.prepare('SELECT id, role, content, author_id FROM messages WHERE conversation_id = ? ORDER BY seq')
    .bind(conversationId)
    .all<{ id: string; role: string; content: string; author_id: string | null }>();
  return results;
}

async function conversationRow(conversationId: string) {
  return env.DB.prepare('SELECT status, human_user_id FROM conversations WHERE id = ?')
    .bind(conversationId)
    .first<{ status: string; human_user_id: string | null }>();
}

describe('joining a conversation room', () => {
  it('an unauthenticated upgrade answers a 401 problem and no socket', async () => {
    const cnv = await newConversation();
    const res = await open(cnv);
    expect(res.webSocket).toBeNull();
    expectProblem({ status: res.status, headers: res.headers, body: await res.json() }, 401);

    const forged = await open(cnv, { token: 'kc_live_not-a-real-key' });
    expect(forged.webSocket).toBeNull();
    expectProblem({ status: forged.status, headers: forged.headers, body: await forged.json() }, 401, 'invalid_api_key');
  });

  it("another org's conversation answers 404 with no upgrade, and a missing one too", async () => {
    const theirs = await newConversation(stranger);
    for (const token of [visitorKey, member.token]) {
      const res = await open(theirs, { token, orgId: owner.orgId });
      expect(res.webSocket).toBeNull();
      expectProblem({ status: res.status, headers: res.headers, body: await res.json() }, 404, 'conversation_not_found');
    }
    const missing = await open('cnv_doesnotexist', { token: visitorKey });
    expectProblem({ status: missing.status, headers: missing.headers, body: await missing.json() }, 404, 'conversation_not_found');
  });

  it('an API key without the chat scope is refused with 403', async () => {
    const cnv = await newConversation();
    const readOnly = await createKey(owner, ['bots:read'], 'read only');
    const res = await open(cnv, { token: readOnly });
    expect(res.webSocket).toBeNull();
    expectProblem({ status: res.status, headers: res.headers, body: await res.json() }, 403, 'forbidden');
  });

  it('a request without Upgrade: websocket answers a 426 problem', async () => {
    const cnv = await newConversation();
    const res = await call('GET', `/api/v1/conversations/${cnv}/ws`, { token: visitorKey });
    expectProblem(res, 426, 'upgrade_required');
  });

  it('a browser authenticates with the kyrochat.bearer subprotocol (and names its org with kyrochat.org) and gets the kyrochat subprotocol back', async () => {
    const cnv = await newConversation();
    const browser = await connect(cnv, {
      protocols: ['kyrochat', `kyrochat.bearer.${member.token}`, `kyrochat.org.${owner.orgId}`],
      origin: 'https://dashboard.test',
    });
    expect(browser.response.headers.get('sec-websocket-protocol')).toBe('kyrochat');
    // The member became an agent: taking over works.
    browser.send({ type: 'takeover' });
    const status = await browser.next((f) => f.type === 'status');
    expect(status).toEqual({ type: 'status', status: 'human', humanUserId: member.userId });
    browser.close();
  });

  it('a widget on a customer site (a foreign Origin) connects with its token: the bearer, not the origin, authenticates', async () => {
    const cnv = await newConversation();
    const widget = await connect(cnv, { protocols: ['kyrochat', `kyrochat.bearer.${visitorKey}`], origin: 'https://shop.example' });
    expect(widget.response.headers.get('sec-websocket-protocol')).toBe('kyrochat');
    widget.send({ type: 'ping' });
    await widget.next((f) => f.type === 'pong');
    widget.close();
    const anonymous = await open(cnv, { protocols: ['kyrochat'], origin: 'https://dashboard.test' });
    expect(anonymous.webSocket).toBeNull();
    expectProblem({ status: anonymous.status, headers: anonymous.headers, body: await anonymous.json() }, 401);
  });

  it('the role cannot be chosen by query parameter', async () => {
    const cnv = await newConversation();
    const watcher = await connect(cnv, { token: viewer.token, orgId: owner.orgId, query: '?role=agent' });
    const key = await connect(cnv, { token: visitorKey, query: '?role=agent' });
    watcher.send({ type: 'takeover' });
    key.send({ type: 'takeover' });
    expect((await watcher.next(errorCoded('forbidden'))).detail).toMatch(/observers/i);
    expect((await key.next(errorCoded('forbidden'))).detail).toMatch(/team members/i);
    expect(await conversationRow(cnv)).toEqual({ status: 'open', human_user_id: null });
    watcher.close();
    key.close();
  });
});

describe('talking in a room', () => {
  it('two clients in one room both receive the streamed tokens and every stored message, the sender included', async () => {
    const cnv = await newConversation();
    const tab = await visitor(cnv);
    const team = await agent(cnv);
    tab.send({ type: 'message', text: 'What are your opening hours?', clientMessageId: 'c1' });

    for (const client of [tab, team]) {
      const user = await client.next(isMessage('user'));
      expect(user.message).toMatchObject({ conversationId: cnv, content: 'What are your opening hours?' });
      const answer = await client.next(isMessage('assistant'));
      const start = client.frames.find((f) => f.type === 'turn');
      expect(start).toEqual({ type: 'turn', phase: 'start', assistantMessageId: answer.message.id, replyTo: user.message.id });
      expect(client.frames.filter((f) => f.type === 'token').length).toBeGreaterThan(1);
      expect(assembled(client.frames).get(answer.message.id)).toBe(answer.message.content);
    }
    const stored = await storedMessages(cnv);
    expect(stored.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(stored[1]!.id).toBe((await tab.next(isMessage('assistant'))).message.id);
    tab.close();
    team.close();
  });

  it("a failing model: the visitor gets the stored user message, then the stored errored answer and an error frame, and nothing streams", async () => {
    const failing = await fakeModelOrg('fail-500');
    const cnv = await newConversation(failing.account);
    const tab = await connect(cnv, { token: failing.key });
    tab.send({ type: 'message', text: 'When is the harbour ferry running in winter?', clientMessageId: 'f1' });
    await tab.next(errorCoded('model_failed'));
    const rows = await env.DB.prepare('SELECT id, role, content, error FROM messages WHERE conversation_id = ? ORDER BY seq')
      .bind(cnv)
      .all<{ id: string; role: string; content: string; error: string | null }>();
    const [user, reply] = rows.results;
    expect(rows.results).toHaveLength(2);
    expect(user).toMatchObject({ role: 'user', content: 'When is the harbour ferry running in winter?', error: null });
    expect(reply).toMatchObject({ role: 'assistant', content: '' });
    expect(JSON.parse(reply!.error!)).toMatchObject({ code: 'model_failed' });
    expect(tab.frames).toEqual([
      { type: 'message', message: expect.objectContaining({ id: user!.id, role: 'user' }) },
      { type: 'message', message: expect.objectContaining({ id: reply!.id, role: 'assistant', content: '', error: { code: 'model_failed', detail: expect.any(String) } }) },
      { type: 'error', code: 'model_failed', detail: expect.any(String) },
    ]);
    tab.close();
  });

  it('a second message while an answer streams is refused with turn_in_progress, and is not stored', async () => {
    const cnv = await newConversation();
    const tab = await visitor(cnv);
    // Back to back: the second frame arrives while the first turn is still storing and retrieving.
    tab.send({ type: 'message', text: 'first question' });
    tab.send({ type: 'message', text: 'second question', clientMessageId: 'second' });
    expect(await tab.next(errorCoded('turn_in_progress'))).toMatchObject({ clientMessageId: 'second' });
    await tab.next(isMessage('assistant'));
    expect((await storedMessages(cnv)).map((m) => m.content)).not.toContain('second question');
    tab.close();
  });

  it('a socket sending more than 120 frames a minute gets one rate_limited error and the excess is dropped', async () => {
    const cnv = await newConversation();
    const tab = await visitor(cnv);
    const other = await visitor(cnv);
    for (let i = 0; i < 130; i++) tab.send({ type: 'ping' });
    await tab.next(errorCoded('rate_limited'));
    // Another socket's frames are counted apart, and its answer comes after the flood was handled.
    other.send({ type: 'ping' });
    await other.next((f) => f.type === 'pong');
    tab.send({ type: 'ping' });
    await expect.poll(() => tab.frames.length).toBe(121);
    expect(tab.frames.filter((f) => f.type === 'pong')).toHaveLength(120);
    expect(tab.frames.filter((f) => f.type === 'error')).toHaveLength(1);
    tab.close();
    other.close();
  });

  it('malformed frames get an error frame and the socket stays usable', async () => {
    const cnv = await newConversation();
    const tab = await visitor(cnv);
    tab.send('this is not json');
    await tab.next(errorCoded('malformed_frame'));
    tab.send({ type: 'shout', text: 'hi' });
    await tab.next(errorCoded('invalid_frame'));
    tab.send({ type: 'message', text: 'x'.repeat(4_001), clientMessageId: 'long' });
    expect(await tab.next(errorCoded('message_too_long'))).toMatchObject({ clientMessageId: 'long' });
    tab.send({ type: 'message', text: '   ' });
    await tab.next((f) => f.type === 'error' && /empty/.test(f.detail));
    tab.send(JSON.stringify({ type: 'ping', pad: 'y'.repeat(30_000) }));
    await tab.next(errorCoded('frame_too_large'));
    tab.ws.send(new TextEncoder().encode('{"type":"ping"}'));
    await tab.next(errorCoded('binary_frame'));
    tab.send({ type: 'ping' });
    await tab.next((f) => f.type === 'pong');
    expect(await storedMessages(cnv)).toEqual([]);
    tab.close();
  });
});

describe('reconnecting', () => {
  it('resume sends every stored message after the last one seen, in order, then the status and a resumed frame', async () => {
    const cnv = await newConversation();
    const tab = await visitor(cnv);
    tab.send({ type: 'message', text: 'first' });
    const firstAnswer = await tab.next(isMessage('assistant'));
    const mark = tab.frames.length;
    tab.send({ type: 'message', text: 'second' });
    await tab.next(isMessage('assistant'), mark);
    tab.close();

    const stored = await storedMessages(cnv);
    const back = await visitor(cnv);
    back.send({ type: 'resume', lastMessageId: firstAnswer.message.id });
    await back.next((f) => f.type === 'resumed');
    expect(back.frames[0]).toEqual({ type: 'status', status: 'open', humanUserId: null });
    expect(back.frames.filter((f) => f.type === 'message').map((f) => f.message.id)).toEqual(stored.slice(2).map((m) => m.id));
    expect(back.frames.at(-1)).toEqual({ type: 'resumed', hasMore: false });

    const fresh = await visitor(cnv);
    fresh.send({ type: 'resume', lastMessageId: null });
    await fresh.next((f) => f.type === 'resumed');
    expect(fresh.frames.filter((f) => f.type === 'message').map((f) => f.message.id)).toEqual(stored.map((m) => m.id));

    fresh.send({ type: 'resume', lastMessageId: 'msg_not_in_this_conversation' });
    await fresh.next(errorCoded('unknown_message'));
    back.close();
    fresh.close();
  });

  it('a reconnect while a turn runs catches up without gaps or repeats: the user message, one token with the text so far, then live tokens adding up to the stored answer', async () => {
    const trickle = await fakeModelOrg('trickle');
    const cnv = await newConversation(trickle.account);
    const tab = await connect(cnv, { token: trickle.key });
    tab.send({ type: 'message', text: 'When is the harbour ferry running in winter?' });
    const user = await tab.next(isMessage('user'));
    // A few words in: the answer is well under way and far from done (sixteen words, 150 ms apart).
    await expect.poll(() => tab.frames.filter((f) => f.type === 'token').length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);

    const back = await connect(cnv, { token: trickle.key });
    back.send({ type: 'resume', lastMessageId: null });
    const final = await back.next(isMessage('assistant'));
    const answerId = final.message.id;
    const stored = await storedMessages(cnv);
    expect(stored.map((m) => [m.id, m.role])).toEqual([
      [user.message.id, 'user'],
      [answerId, 'assistant'],
    ]);
    expect(final.message.content).toBe(stored[1]!.content);

    // The catch-up, frame by frame: status, the stored user message, the answer streaming so far
    // as one turn start and ONE token, then `resumed`.
    const resumedAt = back.frames.findIndex((f) => f.type === 'resumed');
    const catchUp = back.frames.slice(0, resumedAt + 1);
    expect(catchUp).toEqual([
      { type: 'status', status: 'open', humanUserId: null },
      { type: 'message', message: user.message },
      { type: 'turn', phase: 'start', assistantMessageId: answerId, replyTo: user.message.id },
      { type: 'token', assistantMessageId: answerId, text: expect.any(String) },
      { type: 'resumed', hasMore: false },
    ]);
    const soFar = catchUp[3]!.text as string;
    expect(soFar.trim().split(/\s+/).length).toBeGreaterThanOrEqual(3);
    expect(final.message.content.startsWith(soFar)).toBe(true);

    // Then live: only tokens of this answer (at least one), and the stored message last.
    const live = back.frames.slice(resumedAt + 1);
    expect(live.at(-1)).toEqual({ type: 'message', message: final.message });
    const liveTokens = live.slice(0, -1);
    expect(liveTokens.length).toBeGreaterThan(0);
    for (const f of liveTokens) expect(f).toMatchObject({ type: 'token', assistantMessageId: answerId });
    expect(soFar + liveTokens.map((f) => f.text).join('')).toBe(final.message.content);
    // The first socket, there from the start, assembled the same answer.
    expect(assembled(tab.frames).get(answerId)).toBe(final.message.content);
    tab.close();
    back.close();
  });

  it('publish() on the room broadcasts to every socket and a resume mid-stream catches up on the published answer', async () => {
    const cnv = await newConversation();
    const a = await observer(cnv);
    const room = env.CONVERSATION_ROOM.get(env.CONVERSATION_ROOM.idFromName(cnv));
    await room.publish({ type: 'turn', phase: 'start', assistantMessageId: 'msg_rest_answer', replyTo: 'msg_rest_question' });
    await room.publish({ type: 'token', assistantMessageId: 'msg_rest_answer', text: 'Answered over ' });
    await room.publish({ type: 'token', assistantMessageId: 'msg_rest_answer', text: 'REST' });
    await a.next((f) => f.type === 'token' && f.text === 'REST');
    expect(assembled(a.frames).get('msg_rest_answer')).toBe('Answered over REST');

    const b = await observer(cnv);
    b.send({ type: 'resume', lastMessageId: null });
    await b.next((f) => f.type === 'resumed');
    expect(b.frames.filter((f) => f.type === 'turn' || f.type === 'token')).toEqual([
      { type: 'turn', phase: 'start', assistantMessageId: 'msg_rest_answer', replyTo: 'msg_rest_question' },
      { type: 'token', assistantMessageId: 'msg_rest_answer', text: 'Answered over REST' },
    ]);
    expect(await room.presence()).toEqual({ visitor: 0, agent: 0, observer: 2 });
    a.close();
    b.close();
  });
});

describe('turns from the HTTP channels', () => {
  it('a socket in the room sees a REST (SSE) turn live: the stored user message, the turn start, tokens as they stream, the stored answer', async () => {
    const trickle = await fakeModelOrg('trickle');
    const cnv = await newConversation(trickle.account);
    const tab = await connect(cnv, { token: trickle.key });
    const rest = await call('POST', `/api/v1/bots/${trickle.account.botId}/chat`, {
      token: trickle.key,
      body: { message: 'When is the harbour ferry running in winter?', conversationId: cnv, stream: true },
    });
    expect(rest.status).toBe(200);
    const done = JSON.parse(/event: done\ndata: (.*)\n/.exec(rest.body as string)![1]!);

    const answer = await tab.next((f) => f.type === 'message' && f.message.id === done.id);
    expect(answer.message).toEqual(done);
    const stored = await storedMessages(cnv);
    expect(stored.map((m) => [m.role, m.id])).toEqual([
      ['user', expect.any(String)],
      ['assistant', done.id],
    ]);
    const [first, start, ...rest2] = tab.frames;
    expect(first).toMatchObject({ type: 'message', message: { id: stored[0]!.id, role: 'user', content: 'When is the harbour ferry running in winter?', conversationId: cnv } });
    expect(start).toEqual({ type: 'turn', phase: 'start', assistantMessageId: done.id, replyTo: stored[0]!.id });
    const tokens = rest2.slice(0, -1);
    // Live, not in one lump at the end: the trickling words arrive as several frames.
    expect(tokens.length).toBeGreaterThanOrEqual(3);
    for (const f of tokens) expect(f).toMatchObject({ type: 'token', assistantMessageId: done.id });
    expect(assembled(tab.frames).get(done.id)).toBe(done.content);
    tab.close();
  });

  it('turns over the JSON, Chatbase and OpenAI-compatible routes reach the room too, each stored message once', async () => {
    const cnv = await newConversation();
    const team = await agent(cnv);
    const json = await call('POST', `/api/v1/bots/${owner.botId}/chat`, { token: visitorKey, body: { message: 'Do you ship to Norway?', conversationId: cnv } });
    expect(json.status).toBe(200);
    const chatbase = await call('POST', '/api/v1/chat', {
      token: visitorKey,
      body: { chatbotId: owner.botId, conversationId: cnv, messages: [{ role: 'user', content: 'And to Iceland?' }] },
    });
    expect(chatbase.status).toBe(200);
    const openai = await call('POST', '/v1/chat/completions', {
      token: visitorKey,
      body: { model: owner.botId, conversation_id: cnv, stream: true, messages: [{ role: 'user', content: 'And to Greenland?' }] },
    });
    expect(openai.status).toBe(200);

    await expect.poll(async () => (await storedMessages(cnv)).length).toBe(6);
    const stored = await storedMessages(cnv);
    await team.next((f) => f.type === 'message' && f.message.id === stored[5]!.id);
    expect(team.frames.filter((f) => f.type === 'message').map((f) => f.message.id)).toEqual(stored.map((m) => m.id));
    const texts = assembled(team.frames);
    for (const answer of [stored[1]!, stored[3]!, stored[5]!]) expect(texts.get(answer.id)).toBe(answer.content);
    expect(json.body.message.id).toBe(stored[1]!.id);
    team.close();
  });

  it("a REST turn on another org's conversation id is refused with 404 and nothing reaches that room", async () => {
    const theirs = await newConversation(stranger);
    const watcher = await connect(theirs, { token: stranger.token });
    const res = await call('POST', `/api/v1/bots/${owner.botId}/chat`, { token: visitorKey, body: { message: 'Hello?', conversationId: theirs } });
    expectProblem(res, 404, 'conversation_not_found');
    watcher.send({ type: 'ping' });
    await watcher.next((f) => f.type === 'pong');
    expect(watcher.frames).toEqual([{ type: 'pong' }]);
    expect(await storedMessages(theirs)).toEqual([]);
    watcher.close();
  });
});

describe('mirroring a turn into its room (room-mirror.ts)', () => {
  const meta = { type: 'meta', conversationId: 'cnv_x', userMessageId: 'msg_q', assistantMessageId: 'msg_a', created: false } as const;
  const message = (id: string, role: 'user' | 'assistant', content: string): MessageDto => ({
    id, conversationId: 'cnv_x', role, content, citations: [], unanswered: false, usage: null, latencyMs: null, model: null, cached: false, error: null, attachments: [], createdAt: new Date(0).toISOString(),
  });
  const question = message('msg_q', 'user', 'q?');
  const answer = message('msg_a', 'assistant', 'one two three');
  async function* turnEvents(): AsyncGenerator<TurnEvent> {
    yield meta;
    for (const text of ['one ', 'two ', 'three']) yield { type: 'token', text };
    yield { type: 'citations', citations: [] };
    yield { type: 'done', message: answer };
  }
  /** A service context whose room is `room` (an RPC stand-in), and the background work it was handed. */
  function contextWith(room: { publish: (...frames: ServerFrame[]) => Promise<number> }) {
    const background: Promise<unknown>[] = [];
    const ctx = {
      clock: { now: () => 0 },
      env: { CONVERSATION_ROOM: { idFromName: (name: string) => name, get: () => room } },
      waitUntil: (p: Promise<unknown>) => background.push(p),
    } as unknown as ServiceContext;
    /** Settles everything handed to waitUntil, including what settling hands over next. */
    const settle = async () => {
      for (let seen = -1; seen !== background.length; ) {
        seen = background.length;
        await Promise.allSettled(background);
      }
    };
    return { ctx, settle };
  }
  const collect = async (events: AsyncIterable<TurnEvent>) => {
    const out: TurnEvent[] = [];
    for await (const e of events) out.push(e);
    return out;
  };

  it('an unreachable room never fails the turn: every event passes through unchanged, and publishing stops after the first failure', async () => {
    let calls = 0;
    const { ctx, settle } = contextWith({
      publish: async () => {
        calls++;
        throw new Error('room unreachable');
      },
    });
    expect(await collect(mirrorTurnToRoom(ctx, 'cnv_x', question, turnEvents()))).toEqual(await collect(turnEvents()));
    await settle();
    expect(calls).toBe(1);
  });

  it('while nobody is connected, streamed text waits and goes out merged with the messages: a few calls per turn, frames in order', async () => {
    const batches: ServerFrame[][] = [];
    const { ctx, settle } = contextWith({ publish: async (...frames) => (batches.push(frames), 0) });
    const events = mirrorTurnToRoom(ctx, 'cnv_x', question, turnEvents());
    for await (const _ of events) await Promise.resolve();
    await settle();
    expect(batches.flat()).toEqual([
      { type: 'message', message: question },
      { type: 'turn', phase: 'start', assistantMessageId: 'msg_a', replyTo: 'msg_q' },
      { type: 'token', assistantMessageId: 'msg_a', text: 'one two three' },
      { type: 'message', message: answer },
    ]);
    expect(batches.length).toBeLessThanOrEqual(3);
  });

  it('a turn that breaks mid-answer tells the room, naming the answer whose streamed text is void', async () => {
    const batches: ServerFrame[][] = [];
    const { ctx, settle } = contextWith({ publish: async (...frames) => (batches.push(frames), 1) });
    async function* broken(): AsyncGenerator<TurnEvent> {
      yield meta;
      yield { type: 'token', text: 'half an ' };
      throw new Error('pipeline broke');
    }
    await expect(collect(mirrorTurnToRoom(ctx, 'cnv_x', null, broken()))).rejects.toThrow('pipeline broke');
    await settle();
    expect(batches.flat()).toEqual([
      { type: 'turn', phase: 'start', assistantMessageId: 'msg_a', replyTo: 'msg_q' },
      { type: 'token', assistantMessageId: 'msg_a', text: 'half an ' },
      { type: 'error', code: 'turn_failed', detail: expect.any(String), assistantMessageId: 'msg_a' },
    ]);
  });
});

describe('takeover and hand-back', () => {
  it('takeover: the bot stays silent, the visitor reaches the agent, and the agent message reaches the visitor live', async () => {
    const cnv = await newConversation();
    const tab = await visitor(cnv);
    const team = await agent(cnv);
    team.send({ type: 'takeover' });
    for (const client of [tab, team]) {
      expect(await client.next((f) => f.type === 'status')).toEqual({ type: 'status', status: 'human', humanUserId: member.userId });
    }
    expect(await conversationRow(cnv)).toEqual({ status: 'human', human_user_id: member.userId });

    tab.send({ type: 'message', text: 'I need a person, please' });
    await team.next((f) => f.type === 'message' && f.message.content === 'I need a person, please');
    team.send({ type: 'message', text: 'Hi, I am here to help.' });
    const reply = await tab.next(isMessage('agent'));
    expect(reply.message.content).toBe('Hi, I am here to help.');
    // A second visitor message is accepted, so the first turn has ended: paused, with no answer.
    tab.send({ type: 'message', text: 'thanks' });
    await team.next((f) => f.type === 'message' && f.message.content === 'thanks');
    await expect.poll(async () => (await storedMessages(cnv)).length).toBe(3);

    for (const client of [tab, team]) {
      expect(client.frames.some((f) => f.type === 'turn' || f.type === 'token' || (f.type === 'message' && f.message.role === 'assistant'))).toBe(false);
    }
    const stored = await storedMessages(cnv);
    expect(stored.map((m) => [m.role, m.author_id])).toEqual([
      ['user', null],
      ['agent', member.userId],
      ['user', null],
    ]);
    tab.close();
    team.close();
  });

  it('hand-back: the status returns to open and the bot answers again', async () => {
    const cnv = await newConversation();
    const tab = await visitor(cnv);
    const team = await agent(cnv);
    team.send({ type: 'takeover' });
    await tab.next((f) => f.type === 'status' && f.status === 'human');
    const mark = tab.frames.length;
    team.send({ type: 'handback' });
    expect(await tab.next((f) => f.type === 'status', mark)).toEqual({ type: 'status', status: 'open', humanUserId: null });
    expect(await conversationRow(cnv)).toEqual({ status: 'open', human_user_id: null });

    tab.send({ type: 'message', text: 'Is the bot back?' });
    const answer = await team.next(isMessage('assistant'));
    expect(assembled(team.frames).get(answer.message.id)).toBe(answer.message.content);
    team.send({ type: 'handback' });
    await team.next(errorCoded('not_taken_over'));
    tab.close();
    team.close();
  });

  it('an agent message before takeover is refused and not stored; another member cannot take over a taken conversation', async () => {
    const cnv = await newConversation();
    const team = await agent(cnv);
    team.send({ type: 'message', text: 'hello from the team', clientMessageId: 'early' });
    expect(await team.next(errorCoded('takeover_required'))).toMatchObject({ clientMessageId: 'early' });
    expect(await storedMessages(cnv)).toEqual([]);

    const boss = await connect(cnv, { token: owner.token });
    boss.send({ type: 'takeover' });
    await team.next((f) => f.type === 'status' && f.humanUserId === owner.userId);
    team.send({ type: 'takeover' });
    await team.next(errorCoded('takeover_conflict'));
    expect(await conversationRow(cnv)).toEqual({ status: 'human', human_user_id: owner.userId });
    team.close();
    boss.close();
  });

  it('a viewer observes but cannot take over, hand back, write or type', async () => {
    const cnv = await newConversation();
    const tab = await visitor(cnv);
    const watcher = await observer(cnv);
    for (const frame of [{ type: 'takeover' }, { type: 'handback' }, { type: 'message', text: 'hello' }, { type: 'typing' }]) {
      const mark = watcher.frames.length;
      watcher.send(frame);
      await watcher.next(errorCoded('forbidden'), mark);
    }
    expect(await conversationRow(cnv)).toEqual({ status: 'open', human_user_id: null });
    expect(await storedMessages(cnv)).toEqual([]);
    // Yet it sees everything.
    tab.send({ type: 'message', text: 'visible to watchers' });
    await watcher.next(isMessage('assistant'));
    tab.close();
    watcher.close();
  });

  it('a visitor cannot take over or send an agent message: its messages are user messages', async () => {
    const cnv = await newConversation();
    const tab = await visitor(cnv);
    tab.send({ type: 'takeover' });
    await tab.next(errorCoded('forbidden'));
    tab.send({ type: 'message', text: 'I am the agent now', role: 'agent' });
    expect((await tab.next(errorCoded('invalid_frame'))).detail).toMatch(/role|unrecognized/i);
    tab.send({ type: 'message', text: 'just a question' });
    await tab.next(isMessage('assistant'));
    expect((await storedMessages(cnv)).map((m) => [m.role, m.content])).toEqual([
      ['user', 'just a question'],
      ['assistant', expect.any(String)],
    ]);
    expect(await conversationRow(cnv)).toEqual({ status: 'open', human_user_id: null });
    tab.close();
  });

  it('typing reaches the other sockets with the sender role, not the sender', async () => {
    const cnv = await newConversation();
    const tab = await visitor(cnv);
    const team = await agent(cnv);
    team.send({ type: 'typing' });
    expect(await tab.next((f) => f.type === 'typing')).toEqual({ type: 'typing', role: 'agent' });
    team.send({ type: 'ping' });
    await team.next((f) => f.type === 'pong');
    expect(team.frames.some((f) => f.type === 'typing')).toBe(false);
    tab.close();
    team.close();
  });
});

describe('confirmations over the socket (issue #11)', () => {
  const SHOP = 'https://shop.example';

  /** A bot of the owner's whose model calls `name`, an http action `name` that needs confirmation, and a conversation of that bot. */
  async function confirmingBot(label: string) {
    const name = `${label}_${Date.now().toString(36)}_${sequence++}`;
    const bot = await call('POST', '/api/v1/bots', { token: owner.token, body: { name: `confirm ${label}`, visibility: 'public', allowedOrigins: [SHOP] } });
    expect(bot.status, JSON.stringify(bot.body)).toBe(201);
    const botId = bot.body.id as string;
    await useFakeModel({ token: owner.token, botId }, `tool-call:${name}`);
    const path = `/__action/echo/${name}`;
    const action = await call('POST', '/api/v1/actions', {
      token: owner.token,
      body: {
        name,
        description: 'Cancels an order',
        type: 'http',
        parameters: { type: 'object', properties: { orderId: { type: 'string', pattern: '^[0-9]{1,8}$' } }, required: ['orderId'], additionalProperties: false },
        http: { method: 'POST', urlTemplate: `https://orders.example.com${path}?order={{args.orderId}}`, headers: {} },
        botIds: [botId],
        needsConfirmation: true,
      },
    });
    expect(action.status, JSON.stringify(action.body)).toBe(201);
    const conversation = async () => {
      const id = `cnv_cf${Date.now().toString(36)}${sequence++}`;
      await env.DB.prepare("INSERT INTO conversations (id, org_id, bot_id, channel, created_at, updated_at) VALUES (?, ?, ?, 'ws', ?, ?)")
        .bind(id, owner.orgId, botId, Date.now(), Date.now())
        .run();
      return id;
    };
    return { name, botId, path, conversation };
  }

  const hitsOf = async (path: string): Promise<number> => {
    const res = await env.WEB_FETCHER!.fetch('https://site.test/__hits');
    return ((await res.json()) as Record<string, number>)[path] ?? 0;
  };
  const confirmationRow = (id: string) =>
    env.DB.prepare('SELECT status, decided_by FROM action_confirmations WHERE id = ?').bind(id).first<{ status: string; decided_by: string | null }>();
  const isConfirmation = (f: Frame) => f.type === 'confirmation';

  /** A visitor socket's turn that pauses for confirmation, watched by an agent socket too. */
  async function pausedSocketTurn(label: string, orderId = '77') {
    const bot = await confirmingBot(label);
    const cnv = await bot.conversation();
    const tab = await visitor(cnv);
    const team = await agent(cnv);
    tab.send({ type: 'message', text: `Cancel {"orderId": "${orderId}"}` });
    const seen = await tab.next(isConfirmation);
    return { ...bot, cnv, tab, team, confirmationId: seen.confirmationId as string, seen };
  }

  it('a socket turn that calls an action needing confirmation pauses: every socket gets the confirmation frame, no answer starts and nothing runs', async () => {
    const { name, path, cnv, tab, team, seen } = await pausedSocketTurn('pause');
    const [user] = await storedMessages(cnv);
    expect(seen).toEqual({
      type: 'confirmation',
      replyTo: user!.id,
      confirmationId: expect.stringMatching(/^cfm_/),
      action: name,
      arguments: { orderId: '77' },
      expiresAt: expect.any(String),
    });
    expect(await team.next(isConfirmation)).toEqual(seen);
    expect(Date.parse(seen.expiresAt) - Date.now()).toBeGreaterThan(ACTIONS.confirmationTtlMs - 60_000);
    expect(tab.frames.map((f) => f.type)).toEqual(['message', 'confirmation']);
    expect((await storedMessages(cnv)).map((m) => m.role)).toEqual(['user']);
    expect(await hitsOf(path)).toBe(0);
    expect(await confirmationRow(seen.confirmationId)).toEqual({ status: 'pending', decided_by: null });
    tab.close();
    team.close();
  });

  it('an agent approving over the socket runs the action once and every socket gets the tool frame and the streamed, stored answer', async () => {
    const { name, path, cnv, tab, team, confirmationId } = await pausedSocketTurn('approve');
    const [tabMark, teamMark] = [tab.frames.length, team.frames.length];
    team.send({ type: 'confirm', confirmationId, approve: true });
    const answer = await tab.next(isMessage('assistant'), tabMark);
    expect(answer.message.content).toContain('"order":"77"');
    expect(await team.next(isMessage('assistant'), teamMark)).toEqual(answer);
    for (const [client, mark] of [[tab, tabMark], [team, teamMark]] as const) {
      const frames = client.frames.slice(mark);
      const user = (await storedMessages(cnv))[0]!;
      // No second user message: the resumed turn replies to the one shown before.
      expect(frames.map((f) => f.type).filter((t) => t !== 'token')).toEqual(['tool', 'turn', 'message']);
      expect(frames[0]).toEqual({ type: 'tool', replyTo: user.id, callId: expect.any(String), name, status: 'ok', messageId: expect.stringMatching(/^msg_/) });
      expect(frames[1]).toEqual({ type: 'turn', phase: 'start', assistantMessageId: answer.message.id, replyTo: user.id });
      expect(assembled(frames).get(answer.message.id)).toBe(answer.message.content);
    }
    expect(await hitsOf(path)).toBe(1);
    expect((await storedMessages(cnv)).map((m) => m.role)).toEqual(['user', 'tool', 'assistant']);
    expect(await confirmationRow(confirmationId)).toEqual({ status: 'approved', decided_by: `user:${member.userId}` });
    tab.close();
    team.close();
  });

  it('the visitor rejecting over the socket runs nothing: the tool frame says rejected and the answer tells so', async () => {
    const { path, tab, team, confirmationId } = await pausedSocketTurn('reject');
    const mark = tab.frames.length;
    tab.send({ type: 'confirm', confirmationId, approve: false });
    const answer = await team.next(isMessage('assistant'));
    expect(answer.message.content).toContain('rejected');
    expect(await tab.next((f) => f.type === 'tool', mark)).toMatchObject({ status: 'rejected' });
    expect(await hitsOf(path)).toBe(0);
    expect(await confirmationRow(confirmationId)).toMatchObject({ status: 'rejected', decided_by: expect.stringMatching(/^key:/) });
    tab.close();
    team.close();
  });

  it('a second decision gets an error frame confirmation_decided, an expired one confirmation_expired; neither runs anything', async () => {
    const first = await pausedSocketTurn('twice');
    first.team.send({ type: 'confirm', confirmationId: first.confirmationId, approve: true });
    await first.tab.next(isMessage('assistant'));
    const mark = first.tab.frames.length;
    first.tab.send({ type: 'confirm', confirmationId: first.confirmationId, approve: true });
    expect(await first.tab.next(errorCoded('confirmation_decided'), mark)).toMatchObject({ confirmationId: first.confirmationId });
    expect(await hitsOf(first.path)).toBe(1);
    first.team.send({ type: 'ping' });
    await first.team.next((f) => f.type === 'pong');
    // The error went to the sender only, and no new turn started.
    expect(first.team.frames.filter((f) => f.type === 'error')).toEqual([]);
    expect(first.tab.frames.slice(mark).filter((f) => f.type === 'turn')).toEqual([]);

    const late = await pausedSocketTurn('expired');
    await env.DB.prepare('UPDATE action_confirmations SET expires_at = 1 WHERE id = ?').bind(late.confirmationId).run();
    late.tab.send({ type: 'confirm', confirmationId: late.confirmationId, approve: true });
    expect(await late.tab.next(errorCoded('confirmation_expired'))).toMatchObject({ confirmationId: late.confirmationId });
    expect(await hitsOf(late.path)).toBe(0);
    expect(await confirmationRow(late.confirmationId)).toMatchObject({ status: 'pending' });
    for (const c of [first.tab, first.team, late.tab, late.team]) c.close();
  });

  it('an observer cannot decide: a forbidden error frame, and the confirmation stays pending', async () => {
    const { path, cnv, tab, team, confirmationId } = await pausedSocketTurn('observer');
    const watcher = await observer(cnv);
    watcher.send({ type: 'confirm', confirmationId, approve: true });
    expect(await watcher.next(errorCoded('forbidden'))).toMatchObject({ confirmationId });
    expect(await confirmationRow(confirmationId)).toEqual({ status: 'pending', decided_by: null });
    expect(await hitsOf(path)).toBe(0);
    for (const c of [tab, team, watcher]) c.close();
  });

  it("another conversation's confirmation id, or another org's socket, gets confirmation_not_found and nothing runs; a malformed frame is invalid_frame", async () => {
    const { path, conversation, tab, team, confirmationId } = await pausedSocketTurn('elsewhere');
    const other = await visitor(await conversation());
    other.send({ type: 'confirm', confirmationId, approve: true });
    expect(await other.next(errorCoded('confirmation_not_found'))).toMatchObject({ confirmationId });

    const theirs = await newConversation(stranger);
    const foreign = await connect(theirs, { token: stranger.token });
    foreign.send({ type: 'confirm', confirmationId, approve: true });
    await foreign.next(errorCoded('confirmation_not_found'));

    other.send({ type: 'confirm', confirmationId: 'msg_not_a_confirmation', approve: true });
    await other.next(errorCoded('invalid_frame'));
    other.send({ type: 'confirm', confirmationId, approve: 'yes' });
    expect((await other.next((f) => f.type === 'error' && f.code === 'invalid_frame' && /approve/.test(f.detail))).detail).toMatch(/approve/);

    expect(await confirmationRow(confirmationId)).toEqual({ status: 'pending', decided_by: null });
    expect(await hitsOf(path)).toBe(0);
    expect(tab.frames.filter((f) => f.type === 'tool' || f.type === 'error')).toEqual([]);
    for (const c of [tab, team, other, foreign]) c.close();
  });

  it('an HTTP turn on a live conversation that pauses reaches the room as a confirmation frame, and a socket decides it', async () => {
    const { path, botId, conversation } = await confirmingBot('mirrored');
    const cnv = await conversation();
    const team = await agent(cnv);
    const rest = await call('POST', `/api/v1/bots/${botId}/chat`, { token: visitorKey, body: { message: 'Cancel {"orderId": "5"}', conversationId: cnv } });
    expect(rest.status, JSON.stringify(rest.body)).toBe(202);
    const seen = await team.next(isConfirmation);
    expect(seen).toMatchObject({ confirmationId: rest.body.confirmation.confirmationId, replyTo: rest.body.userMessageId, arguments: { orderId: '5' } });
    team.send({ type: 'confirm', confirmationId: seen.confirmationId, approve: true });
    expect((await team.next(isMessage('assistant'))).message.content).toContain('"order":"5"');
    expect(await hitsOf(path)).toBe(1);
    team.close();
  });

  it("the widget visitor's own socket may decide (while its messages still go over HTTP): the resumed answer streams to it", async () => {
    const { path, botId } = await confirmingBot('widget');
    const session = await call('POST', `/api/v1/widget/${botId}/session`, { body: {}, headers: { origin: SHOP } });
    const token = session.body.token as string;
    const turn = await call('POST', `/api/v1/widget/${botId}/chat`, { token, body: { message: 'Cancel {"orderId": "9"}' }, headers: { origin: SHOP } });
    expect(turn.status, JSON.stringify(turn.body)).toBe(202);
    const res = await SELF.fetch(`${BASE}/api/v1/widget/${botId}/conversations/${turn.body.conversationId}/ws`, {
      headers: { upgrade: 'websocket', origin: SHOP, 'sec-websocket-protocol': `kyrochat, kyrochat.bearer.${token}` },
    });
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    ws.accept();
    const frames: Frame[] = [];
    ws.addEventListener('message', (e) => frames.push(JSON.parse(e.data as string)));
    ws.send(JSON.stringify({ type: 'message', text: 'still there?' }));
    await expect.poll(() => frames.find(errorCoded('send_over_http'))).toBeDefined();
    ws.send(JSON.stringify({ type: 'confirm', confirmationId: turn.body.confirmation.confirmationId, approve: true }));
    await expect.poll(() => frames.find(isMessage('assistant')), { timeout: 10_000 }).toBeDefined();
    expect(frames.find(isMessage('assistant'))!.message.content).toContain('"order":"9"');
    expect(frames.find((f) => f.type === 'tool')).toMatchObject({ status: 'ok' });
    expect(await confirmationRow(turn.body.confirmation.confirmationId)).toMatchObject({ status: 'approved', decided_by: `visitor:${session.body.visitorId}` });
    expect(await hitsOf(path)).toBe(1);
    ws.close(1000, 'done');
  });

  it('a socket that resumes after the pause gets the pending confirmation after the messages; an expired one is not offered again', async () => {
    const { cnv, tab, team, seen, confirmationId } = await pausedSocketTurn('catchup');
    const late = await agent(cnv);
    late.send({ type: 'resume', lastMessageId: null });
    await late.next((f) => f.type === 'resumed');
    expect(late.frames.map((f) => f.type)).toEqual(['status', 'message', 'confirmation', 'resumed']);
    expect(late.frames[2]).toEqual(seen);

    // An expired one is not offered: nothing could decide it any more.
    await env.DB.prepare('UPDATE action_confirmations SET expires_at = 1 WHERE id = ?').bind(confirmationId).run();
    const again = late.frames.length;
    late.send({ type: 'resume', lastMessageId: null });
    await late.next((f) => f.type === 'resumed', again);
    expect(late.frames.slice(again).map((f) => f.type)).toEqual(['status', 'message', 'resumed']);
    for (const c of [tab, team, late]) c.close();
  });

  it('a confirmation frame never carries more than ACTIONS.maxArgumentsBytes of model-written arguments', () => {
    const small = { orderId: '1' };
    expect(boundedArguments(small)).toBe(small);
    const huge = { note: 'x'.repeat(ACTIONS.maxArgumentsBytes) };
    const bounded = boundedArguments(huge);
    expect(bounded).toEqual({ omitted: expect.stringContaining(String(ACTIONS.maxArgumentsBytes)) });
  });
});
