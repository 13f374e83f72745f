/**
 * The widget's live connection: the visitor WebSocket into the conversation's room
 * (GET /api/v1/widget/{botId}/conversations/{id}/ws, the visitor token as a subprotocol).
 * Receive-mostly: it shows what the team does (messages, takeover, typing) and the actions that
 * wait for the visitor's decision, and sends `typing` and `read`; the visitor's messages and
 * decisions keep going over HTTP.
 *
 * - Reconnects with capped, jittered exponential backoff, and resumes from the last message it
 *   saw, so nothing is missed (the room replays what was stored meanwhile).
 * - Closes itself after WIDGET_CLIENT.liveIdleMs without a frame in or out; `start()` again
 *   (on the visitor's next action) reconnects and catches up.
 * - Every frame from the server is checked before use: it is data, not trusted markup.
 */
import { WIDGET_CLIENT } from '../../src/limits';
import type { Message } from './api';
import { readConfirmation, type Confirmation } from './confirm';

export interface LiveHandlers {
  message(message: Message): void;
  status(status: string): void;
  /** A team member is typing. */
  typing(): void;
  /** An action waits for a decision (live, or still pending in a catch-up after a reload); may repeat. */
  confirmation(confirmation: Confirmation): void;
}

const isMessage = (m: any): m is Message =>
  !!m && typeof m.id === 'string' && typeof m.role === 'string' && typeof m.content === 'string' && typeof m.conversationId === 'string';

export class LiveSocket {
  private ws: WebSocket | null = null;
  private running = false;
  private attempts = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private lastTypingAt = 0;
  private lastRead: string | null = null;
  /** The newest message shown (from any channel): where a resume continues. */
  lastMessageId: string | null = null;

  constructor(
    private readonly connectTo: () => Promise<WebSocket>,
    private readonly on: LiveHandlers,
  ) {}

  start(): void {
    if (!this.running) {
      this.running = true;
      this.attempts = 0;
      void this.connect();
    }
    this.touch();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.retryTimer);
    clearTimeout(this.idleTimer);
    const ws = this.ws;
    this.ws = null;
    try {
      ws?.close(1000, 'closed');
    } catch {
      // already closing
    }
  }

  /** The visitor types: at most one frame per WIDGET_CLIENT.liveTypingEveryMs. */
  typing(): void {
    const now = Date.now();
    if (now - this.lastTypingAt < WIDGET_CLIENT.liveTypingEveryMs) return;
    if (this.send({ type: 'typing' })) this.lastTypingAt = now;
  }

  /** The visitor has seen this message (once per message). */
  read(messageId: string): void {
    if (messageId !== this.lastRead && this.send({ type: 'read', messageId })) this.lastRead = messageId;
  }

  private send(frame: object): boolean {
    if (!this.ws || this.ws.readyState !== 1) return false;
    this.touch();
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  private touch(): void {
    clearTimeout(this.idleTimer);
    if (this.running) this.idleTimer = setTimeout(() => this.stop(), WIDGET_CLIENT.liveIdleMs);
  }

  private async connect(): Promise<void> {
    let ws: WebSocket;
    try {
      ws = await this.connectTo();
    } catch {
      this.retry();
      return;
    }
    if (!this.running) {
      ws.close(1000, 'closed');
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempts = 0;
      this.send({ type: 'resume', lastMessageId: this.lastMessageId });
    };
    ws.onmessage = (event) => this.frame(event.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.retry();
    };
  }

  private retry(): void {
    if (!this.running) return;
    const backoff = Math.min(WIDGET_CLIENT.liveReconnectMaxMs, WIDGET_CLIENT.liveReconnectBaseMs * 2 ** this.attempts++);
    this.retryTimer = setTimeout(() => void this.connect(), backoff / 2 + (Math.random() * backoff) / 2);
  }

  private frame(data: unknown): void {
    if (typeof data !== 'string') return;
    let frame: any;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    this.touch();
    switch (frame?.type) {
      case 'message':
        if (!isMessage(frame.message)) return;
        this.lastMessageId = frame.message.id;
        this.on.message(frame.message);
        return;
      case 'status':
        if (typeof frame.status === 'string') this.on.status(frame.status);
        return;
      case 'typing':
        if (frame.role === 'agent') this.on.typing();
        return;
      case 'confirmation': {
        const confirmation = readConfirmation(frame);
        if (confirmation) this.on.confirmation(confirmation);
        return;
      }
      case 'resumed':
        if (frame.hasMore === true) this.send({ type: 'resume', lastMessageId: this.lastMessageId });
        return;
      case 'error':
        // The message we resumed from is gone (or not ours to see): catch up from the start; the UI skips what it shows.
        if (frame.code === 'unknown_message' && this.lastMessageId !== null && this.lastRead !== this.lastMessageId) {
          this.lastMessageId = null;
          this.send({ type: 'resume', lastMessageId: null });
        }
        return;
    }
  }
}
