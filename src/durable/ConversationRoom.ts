/**
 * ConversationRoom: one object per conversation (named by its id), where the visitor's tabs,
 * the team members answering and the ones watching meet. Protocol: features/chat/live/room-protocol.ts
 * and the README's "Live conversations (WebSocket)".
 *
 * Trust: only this Worker can reach the object (a Durable Object has no public address, only
 * its namespace binding), and the Worker authenticates the caller, checks that the
 * conversation belongs to the caller's org and derives the role before upgrading. So the
 * identity header on the upgrade request (ROOM_IDENTITY_HEADER) is believed as is.
 *
 * Invariants:
 * - Every stored message and every streamed token reaches every socket in the room, the
 *   sender's included. D1 is the record; the room only relays.
 * - At most one WebSocket turn runs at a time; a visitor message arriving meanwhile is refused
 *   with an error frame (`turn_in_progress`, echoing its clientMessageId), never queued, so a
 *   message is either stored or visibly refused.
 * - Roles come from the socket's attachment (set at upgrade), never from a frame.
 * - Memory is bounded (LIVE_ROOM): frame size, sockets, per-socket frame rate, the in-flight
 *   text kept for catch-up, the frames held for a socket while it catches up.
 *
 * Survives hibernation: the sockets, their tags (role) and attachments (RoomIdentity). Lost on
 * hibernation, by design: the in-flight answers (a model call in progress keeps the object
 * awake, so there is none when it sleeps), frame-rate counters and typing throttles.
 *
 * Read receipts (`read`) store a member's read marker in D1 before they are relayed; typing
 * indicators are never stored.
 *
 * Widget visitors (a visitor token, features/chat/widget-socket-route.ts) are `visitor` sockets
 * without a key: receive-mostly (their messages go over the widget's HTTP chat, which mirrors
 * them in), and their catch-up shows only what the widget's history shows (no tool or system
 * messages). The one exception is `confirm`: deciding an action their own turn asked about.
 *
 * Action confirmations (issue #11): a paused turn's `confirmation` frame reaches every socket; a
 * `confirm` frame from a visitor or an agent decides it through the pipeline's resumeTurn (the
 * same call as the HTTP confirmation routes, so decided once) and the resumed turn streams here
 * like a visitor's turn (it counts as the room's one running turn). Catch-up repeats the pending ones.
 */
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';
import { loadConfig } from '../env';
import { createDb } from '../db/client';
import type { ServiceContext } from '../context';
import { systemClock } from '../lib/clock';
import { LIVE_ROOM } from '../limits';
import {
  parseClientFrame,
  RoomIdentity,
  ROOM_IDENTITY_HEADER,
  SUBPROTOCOL,
  type ClientFrame,
  type RoomRole,
  type ServerFrame,
} from '../features/chat/live/room-protocol';
import { handBack, loadMessage, messagesAfter, postAgentMessage, takeOver, type StatusChange } from '../features/chat/live/agent-messages';
import { resumeTurn, startTurn } from '../features/chat/pipeline';
import { TurnFrames } from '../features/chat/live/turn-frames';
import { pendingConfirmationFrames } from '../features/chat/live/pending-confirmations';
import { markRead } from '../features/handoff/inbox';
import type { MessageDto, TurnCaller, TurnStart } from '../features/chat/turn';
import { WIDGET_VISIBLE_ROLES } from '../features/widget/visitors';

interface InflightAnswer {
  assistantMessageId: string;
  replyTo: string;
  text: string;
}

const REFUSED = {
  observer: 'Observers may only watch this conversation.',
  visitor: 'Only team members may take over or hand back a conversation.',
} as const;

export class ConversationRoom extends DurableObject<Env> {
  /** The WebSocket turn in progress (at most one). */
  private turnRunning = false;
  /** Answers streaming right now, by assistant message id, oldest first (for catch-up). */
  private readonly inflight = new Map<string, InflightAnswer>();
  /** Sockets reading their catch-up from D1, with the live frames held for them meanwhile. */
  private readonly catchingUp = new Map<WebSocket, ServerFrame[]>();
  private readonly frameWindows = new WeakMap<WebSocket, { startedAt: number; count: number }>();
  private readonly lastTypingAt = new WeakMap<WebSocket, number>();

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
      return new Response('Expected a WebSocket upgrade', { status: 426 });
    }
    const identity = readIdentity(request.headers.get(ROOM_IDENTITY_HEADER));
    if (!identity) return new Response('Missing room identity', { status: 400 });
    if (this.ctx.getWebSockets().length >= LIVE_ROOM.maxSockets) {
      return new Response('Room is full', { status: 503 });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [identity.role]);
    server.serializeAttachment(identity satisfies RoomIdentity);
    const headers = identity.subprotocol ? { 'sec-websocket-protocol': SUBPROTOCOL } : undefined;
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  /**
   * Broadcasts frames from a turn run elsewhere (REST, SSE, useChat, Chatbase, the OpenAI API;
   * see features/chat/live/room-mirror.ts) on this conversation, in order, so open sockets see
   * it live. Same bookkeeping as the room's own turns: `turn` / `token` / an answer's `message`
   * keep the in-flight text for catch-up. Answers how many sockets are connected, so a publisher
   * with nobody listening can slow down.
   */
  async publish(...frames: ServerFrame[]): Promise<number> {
    for (const frame of frames) this.broadcast(frame);
    return this.ctx.getWebSockets().length;
  }

  /** How many sockets of each role are connected (the team's presence indicator). */
  async presence(): Promise<Record<RoomRole, number>> {
    return {
      visitor: this.ctx.getWebSockets('visitor').length,
      agent: this.ctx.getWebSockets('agent').length,
      observer: this.ctx.getWebSockets('observer').length,
    };
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const attached = RoomIdentity.safeParse(ws.deserializeAttachment());
    if (!attached.success) {
      // A socket accepted by an older version of this object: its role cannot be trusted to mean the same.
      safeClose(ws, 1008, 'Reconnect to rejoin the conversation.');
      return;
    }
    const identity = attached.data;
    const admission = this.admitFrame(ws);
    if (admission !== 'admit') {
      // One error per window: a flood must not turn into a flood of error frames.
      if (admission === 'refuse') send(ws, { type: 'error', code: 'rate_limited', detail: `At most ${LIVE_ROOM.framesPerMinute} frames a minute.` });
      return;
    }
    const config = loadConfig(this.env);
    if (!config.ok) {
      send(ws, { type: 'error', code: 'misconfigured', detail: 'The service is not configured correctly; try again later.' });
      return;
    }
    const parsed = parseClientFrame(raw, config.config.chat.maxMessageChars);
    if (!parsed.ok) {
      send(ws, { type: 'error', code: parsed.code, detail: parsed.detail, ...(parsed.clientMessageId ? { clientMessageId: parsed.clientMessageId } : {}) });
      return;
    }
    try {
      await this.handle(ws, identity, parsed.frame);
    } catch (err) {
      console.error(
        JSON.stringify({
          level: 'error',
          msg: 'conversation room frame failed',
          frame: parsed.frame.type,
          conversationId: identity.conversationId,
          error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
        }),
      );
      send(ws, { type: 'error', code: 'internal_error', detail: 'Something went wrong on our side; try again.' });
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.catchingUp.delete(ws);
    // 1005 (no status) and 1006 (abnormal) describe a close but may not be sent in one.
    safeClose(ws, code === 1005 || code === 1006 ? 1000 : code, reason);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.catchingUp.delete(ws);
  }

  private async handle(ws: WebSocket, identity: RoomIdentity, frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case 'ping':
        send(ws, { type: 'pong' });
        return;
      case 'resume':
        return this.resume(ws, identity, frame.lastMessageId);
      case 'typing':
        if (identity.role === 'observer') return refuse(ws, REFUSED.observer);
        if (this.typingThrottled(ws)) return;
        this.broadcast({ type: 'typing', role: identity.role }, ws);
        return;
      case 'read':
        return this.readReceipt(ws, identity, frame.messageId);
      case 'takeover':
      case 'handback': {
        if (identity.role !== 'agent') return refuse(ws, REFUSED[identity.role]);
        const ctx = this.serviceContext(identity);
        const change =
          frame.type === 'takeover'
            ? await takeOver(ctx, identity.orgId, identity.conversationId, identity.userId!)
            : await handBack(ctx, identity.orgId, identity.conversationId, { userId: identity.userId, botId: identity.botId });
        return this.afterStatusChange(ws, frame.type, change);
      }
      case 'confirm':
        // Widget visitors are receive-mostly, but deciding their own conversation's action is theirs: allowed here too.
        if (identity.role === 'observer') {
          send(ws, { type: 'error', code: 'forbidden', detail: REFUSED.observer, confirmationId: frame.confirmationId });
          return;
        }
        return this.confirm(ws, identity, frame.confirmationId, frame.approve);
      case 'message':
        if (identity.role === 'observer') return refuse(ws, REFUSED.observer, frame.clientMessageId);
        if (isWidgetVisitor(identity)) {
          // Receive-mostly (features/chat/widget-socket-route.ts): the HTTP route applies the widget's limits and mirrors the turn in.
          send(ws, { type: 'error', code: 'send_over_http', detail: 'Widget visitors send messages with POST /api/v1/widget/{botId}/chat; this socket shows them live.', ...withId(frame.clientMessageId) });
          return;
        }
        if (identity.role === 'agent') return this.agentMessage(ws, identity, frame.text, frame.clientMessageId);
        return this.visitorTurn(ws, identity, frame.text, frame.clientMessageId);
    }
  }

  private afterStatusChange(ws: WebSocket, action: 'takeover' | 'handback', change: StatusChange): void {
    if (change.status === 'conversation_not_found') {
      send(ws, { type: 'error', code: 'conversation_not_found', detail: 'The conversation was deleted.' });
      return;
    }
    const { status, humanUserId } = change.conversation;
    if (change.status === 'conflict') {
      const detail =
        action === 'handback'
          ? 'Nobody has taken this conversation over.'
          : status === 'human'
            ? 'Another team member has taken this conversation over.'
            : `A ${status} conversation cannot be taken over.`;
      send(ws, { type: 'error', code: action === 'handback' ? 'not_taken_over' : 'takeover_conflict', detail });
      send(ws, { type: 'status', status, humanUserId });
      return;
    }
    this.broadcast({ type: 'status', status, humanUserId });
  }

  /**
   * A read receipt: a member's marker is stored (the inbox's unread counts); the visitor has no
   * marker, their receipt is only relayed. The others see it; the sender already knows.
   */
  private async readReceipt(ws: WebSocket, identity: RoomIdentity, messageId: string): Promise<void> {
    if (isWidgetVisitor(identity)) {
      // No marker to store, but only a message the visitor can see is worth relaying to the team.
      const message = await loadMessage(createDb(this.env.DB), identity.orgId, identity.conversationId, messageId);
      if (!message || !visibleToWidgetVisitor(message)) {
        send(ws, { type: 'error', code: 'unknown_message', detail: 'No message with that id in this conversation.' });
        return;
      }
    } else if (identity.userId) {
      const result = await markRead(this.serviceContext(identity), identity.orgId, identity.conversationId, identity.userId, messageId);
      if (result.status !== 'ok') {
        send(ws, { type: 'error', code: 'unknown_message', detail: 'No message with that id in this conversation.' });
        return;
      }
    }
    this.broadcast({ type: 'read', role: identity.role, userId: identity.userId, messageId }, ws);
  }

  private async agentMessage(ws: WebSocket, identity: RoomIdentity, text: string, clientMessageId?: string): Promise<void> {
    const ctx = this.serviceContext(identity);
    const result = await postAgentMessage(ctx, identity, identity.userId!, text);
    if (result.status === 'takeover_required') {
      send(ws, { type: 'error', code: 'takeover_required', detail: 'Take the conversation over before writing to the visitor.', ...withId(clientMessageId) });
      return;
    }
    this.broadcast({ type: 'message', message: result.message });
  }

  private async visitorTurn(ws: WebSocket, identity: RoomIdentity, text: string, clientMessageId?: string): Promise<void> {
    await this.roomTurn(ws, identity, withId(clientMessageId), true, (ctx) =>
      startTurn(ctx, {
        orgId: identity.orgId,
        botId: identity.botId,
        channel: 'ws',
        caller: { kind: 'api_key', keyId: identity.keyId! },
        conversationId: identity.conversationId,
        message: text,
        // A client that resends after a reconnect (unsure whether it arrived) does not duplicate it.
        requestKey: clientMessageId ? `ws:${clientMessageId}` : undefined,
      }),
    );
  }

  /**
   * A `confirm` frame (issue #11): decides the confirmation through the same pipeline call as the
   * HTTP confirmation routes (decided once, expiring, only in this conversation; a widget visitor
   * only in their own), then streams the resumed turn to the room like any turn. The user message
   * was shown when the turn first ran, so it is not sent again.
   */
  private async confirm(ws: WebSocket, identity: RoomIdentity, confirmationId: string, approve: boolean): Promise<void> {
    await this.roomTurn(ws, identity, { confirmationId }, false, (ctx) =>
      resumeTurn(ctx, {
        orgId: identity.orgId,
        // A widget visitor's token is for one bot: the conversation must be that bot's (as over HTTP).
        botId: isWidgetVisitor(identity) ? identity.botId : undefined,
        conversationId: identity.conversationId,
        confirmationId,
        approve,
        caller: deciderOf(identity),
        // 'ws': the room broadcasts the turn itself, so the pipeline does not mirror it in again.
        channel: 'ws',
      }),
    );
  }

  /**
   * Runs one turn the room started (at most one at a time) and broadcasts its frames. A refusal
   * (nothing stored, nothing ran) goes to the sender only, tagged with what it answers.
   */
  private async roomTurn(
    ws: WebSocket,
    identity: RoomIdentity,
    tag: { clientMessageId?: string; confirmationId?: string },
    showUserMessage: boolean,
    begin: (ctx: ServiceContext) => Promise<TurnStart>,
  ): Promise<void> {
    if (this.turnRunning) {
      send(ws, { type: 'error', code: 'turn_in_progress', detail: 'An answer is still streaming; try again when it is done.', ...tag });
      return;
    }
    this.turnRunning = true;
    const turn = new TurnFrames();
    try {
      const ctx = this.serviceContext(identity);
      const start = await begin(ctx);
      if (!start.ok) {
        send(ws, { type: 'error', code: start.refusal.code, detail: start.refusal.detail, ...tag });
        return;
      }
      try {
        for await (const event of start.events) {
          const userMessage = showUserMessage && event.type === 'meta' ? await loadMessage(ctx.db, identity.orgId, identity.conversationId, event.userMessageId) : null;
          for (const frame of turn.framesFor(event, userMessage)) this.broadcast(frame);
        }
      } catch (err) {
        // Everyone saw the turn start: everyone learns it ended (the pipeline stored what it could),
        // and the frame drops the answer's in-flight text, so a later catch-up does not offer it.
        this.broadcast(turn.failedFrame());
        throw err;
      }
    } finally {
      this.turnRunning = false;
    }
  }

  /**
   * Catch-up: the status, every stored message after `lastMessageId` (D1, by seq), then each
   * answer streaming right now as a `turn` start plus one `token` with its text so far. Live
   * frames broadcast while D1 is read are held and sent afterwards, minus what the catch-up
   * already covered, so nothing is lost or doubled.
   */
  private async resume(ws: WebSocket, identity: RoomIdentity, lastMessageId: string | null): Promise<void> {
    if (this.catchingUp.has(ws)) {
      send(ws, { type: 'error', code: 'resume_in_progress', detail: 'Wait for `resumed` before resuming again.' });
      return;
    }
    this.catchingUp.set(ws, []);
    try {
      const result = await messagesAfter(createDb(this.env.DB), identity.orgId, identity.conversationId, lastMessageId, LIVE_ROOM.catchUpMaxMessages);
      if (!this.catchingUp.has(ws)) return; // closed (or dropped for falling behind) meanwhile
      if (result.status !== 'ok') {
        send(ws, {
          type: 'error',
          code: result.status,
          detail: result.status === 'unknown_message' ? 'No message with that id in this conversation; resume with null for everything.' : 'The conversation was deleted.',
        });
      } else {
        send(ws, { type: 'status', status: result.conversation.status, humanUserId: result.conversation.humanUserId });
        // A widget visitor's transcript shows the two sides and the team, never tool or system messages (as over HTTP).
        const shown = isWidgetVisitor(identity) ? result.messages.filter(visibleToWidgetVisitor) : result.messages;
        for (const message of shown) send(ws, { type: 'message', message });
      }
      // What still waits for a decision (issue #11), after the messages it follows.
      const pending = result.status === 'ok' ? await pendingConfirmationFrames(createDb(this.env.DB), identity.orgId, identity.conversationId, Date.now()) : [];
      if (!this.catchingUp.has(ws)) return;
      for (const frame of pending) send(ws, frame);
      const offered = new Set(pending.map((f) => f.confirmationId));
      const delivered = new Set(result.status === 'ok' ? result.messages.map((m) => m.id) : []);
      const snapshotted = new Set<string>();
      for (const answer of this.inflight.values()) {
        if (delivered.has(answer.assistantMessageId)) continue;
        send(ws, { type: 'turn', phase: 'start', assistantMessageId: answer.assistantMessageId, replyTo: answer.replyTo });
        if (answer.text) send(ws, { type: 'token', assistantMessageId: answer.assistantMessageId, text: answer.text });
        snapshotted.add(answer.assistantMessageId);
      }
      for (const frame of this.catchingUp.get(ws) ?? []) {
        if (frame.type === 'message' && delivered.has(frame.message.id)) continue;
        if (frame.type === 'confirmation' && offered.has(frame.confirmationId)) continue;
        if ((frame.type === 'turn' || frame.type === 'token') && (delivered.has(frame.assistantMessageId) || snapshotted.has(frame.assistantMessageId))) continue;
        send(ws, frame);
      }
      send(ws, { type: 'resumed', hasMore: result.status === 'ok' && result.hasMore });
    } finally {
      this.catchingUp.delete(ws);
    }
  }

  /** Sends a frame to every socket (but `except`), keeping the in-flight answers current. */
  private broadcast(frame: ServerFrame, except?: WebSocket): void {
    this.track(frame);
    const data = JSON.stringify(frame);
    for (const socket of this.ctx.getWebSockets()) {
      if (socket === except) continue;
      const held = this.catchingUp.get(socket);
      if (held) {
        if (held.length < LIVE_ROOM.pendingFramesPerSocket) held.push(frame);
        else {
          this.catchingUp.delete(socket);
          safeClose(socket, 1013, 'Fell behind during catch-up; reconnect and resume.');
        }
        continue;
      }
      try {
        socket.send(data);
      } catch {
        // A socket closing right now: its close handler tidies up.
      }
    }
  }

  private track(frame: ServerFrame): void {
    if (frame.type === 'turn') {
      if (this.inflight.size >= LIVE_ROOM.maxInflightTurns) {
        const oldest = this.inflight.keys().next().value;
        if (oldest !== undefined) this.inflight.delete(oldest);
      }
      this.inflight.set(frame.assistantMessageId, { assistantMessageId: frame.assistantMessageId, replyTo: frame.replyTo, text: '' });
    } else if (frame.type === 'token') {
      const answer = this.inflight.get(frame.assistantMessageId);
      if (answer && answer.text.length + frame.text.length <= LIVE_ROOM.inflightMaxChars) answer.text += frame.text;
    } else if (frame.type === 'message') {
      this.inflight.delete(frame.message.id);
    } else if (frame.type === 'error' && frame.assistantMessageId) {
      this.inflight.delete(frame.assistantMessageId);
    }
  }

  private admitFrame(ws: WebSocket): 'admit' | 'refuse' | 'drop' {
    const now = Date.now();
    const window = this.frameWindows.get(ws);
    if (!window || now - window.startedAt >= 60_000) {
      this.frameWindows.set(ws, { startedAt: now, count: 1 });
      return 'admit';
    }
    window.count++;
    if (window.count <= LIVE_ROOM.framesPerMinute) return 'admit';
    return window.count === LIVE_ROOM.framesPerMinute + 1 ? 'refuse' : 'drop';
  }

  private typingThrottled(ws: WebSocket): boolean {
    const now = Date.now();
    const last = this.lastTypingAt.get(ws);
    if (last !== undefined && now - last < LIVE_ROOM.typingEveryMs) return true;
    this.lastTypingAt.set(ws, now);
    return false;
  }

  /** What a queue consumer builds too: the room runs outside any request. */
  private serviceContext(identity: RoomIdentity): ServiceContext {
    const config = loadConfig(this.env);
    if (!config.ok) throw new Error(`configuration invalid: ${config.problems.join('; ')}`);
    return {
      db: createDb(this.env.DB),
      config: config.config,
      env: this.env,
      clock: systemClock,
      meta: { ip: identity.ip, userAgent: 'kyrochat-room' },
      waitUntil: (p) => this.ctx.waitUntil(p),
    };
  }
}

/** A widget visitor's socket (a visitor token, not an API key): receive-mostly, sees what the widget's history shows. */
const isWidgetVisitor = (identity: RoomIdentity) => identity.role === 'visitor' && identity.keyId === null && (identity.visitorId ?? null) !== null;

const visibleToWidgetVisitor = (message: MessageDto) => WIDGET_VISIBLE_ROLES.includes(message.role as (typeof WIDGET_VISIBLE_ROLES)[number]);

/** Who decides a confirmation from this socket: the person (agents), or the end user the socket speaks for. */
function deciderOf(identity: RoomIdentity): TurnCaller {
  if (identity.role === 'agent') return { kind: 'user', userId: identity.userId! };
  if (identity.keyId) return { kind: 'api_key', keyId: identity.keyId };
  return { kind: 'visitor', visitorId: identity.visitorId!, verifiedUserId: identity.verifiedUserId ?? null };
}

function readIdentity(header: string | null): RoomIdentity | null {
  if (!header) return null;
  try {
    const parsed = RoomIdentity.safeParse(JSON.parse(header));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

function send(ws: WebSocket, frame: ServerFrame): void {
  try {
    ws.send(JSON.stringify(frame));
  } catch {
    // The socket is closing; nothing to tell it.
  }
}

function refuse(ws: WebSocket, detail: string, clientMessageId?: string): void {
  send(ws, { type: 'error', code: 'forbidden', detail, ...withId(clientMessageId) });
}

const withId = (clientMessageId?: string) => (clientMessageId ? { clientMessageId } : {});

function safeClose(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // already closed
  }
}
