/**
 * The widget's client for /api/v1/widget/{botId}/*: the public config, the visitor session
 * (its token kept in memory and renewed shortly before it expires, or when the server says it
 * has), chat as an event stream with an Idempotency-Key per send (a retry of that send reuses
 * it), action decisions (streamed like a turn), history, feedback and leads. Every failure becomes a WidgetError with the problem's code.
 */
import { WIDGET_CLIENT } from '../../src/limits';
import { SseParser } from './sse';
import { readConfirmation, type Confirmation } from './confirm';
import type { VisitorStore } from './storage';

export interface WidgetConfig {
  botId: string;
  name: string;
  appearance: { theme: 'light' | 'dark' | 'auto'; brandColor: string; position: 'left' | 'right'; avatarUrl: string | null; title: string };
  messages: { initial: string[]; suggestedQuestions: string[]; placeholder: string };
  leadForm: { enabled: boolean; fields: { field: 'name' | 'email' | 'phone'; required: boolean }[]; when: 'before_chat' | 'after_first_answer' | 'on_handoff' };
  features: { feedback: boolean; copy: boolean; history: boolean };
  lang: string;
  branding: { poweredBy: boolean };
  /** Show "Talk to a human" (issue #10); absent from older servers. */
  handoff?: { enabled: boolean };
}

export interface HandoffReply {
  conversationStatus: string;
  /** The stored notice to show (null when nothing changed). */
  notice: Message | null;
  handoff: { askForEmail: boolean } | null;
}

export interface Citation {
  n: number;
  title: string;
  url: string | null;
}

export interface Message {
  id: string;
  conversationId: string;
  role: string;
  content: string;
  citations: Citation[];
  /** The visitor's own thumbs on an answer, when history brings it back. */
  myRating?: 'up' | 'down' | null;
}

export interface Identity {
  userId: string;
  hash: string;
}

export interface ChatHandlers {
  meta(meta: { conversationId: string; userMessageId: string; assistantMessageId: string | null }): void;
  token(text: string): void;
  citations(citations: Citation[]): void;
  done(message: Message): void;
  /** An action waits for the visitor's decision (issue #11); `paused` follows. */
  confirmation(confirmation: Confirmation): void;
  /** The turn stopped without an answer: `confirmation` (an action waits) or a person takes over. */
  paused(reason: string): void;
}

export interface FieldError {
  path: string;
  message: string;
}

export class WidgetError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly errors: FieldError[] = [],
  ) {
    super(detail);
  }
}

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

const newKey = () =>
  typeof crypto !== 'undefined' && 'randomUUID' in crypto ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;

async function failure(res: Response): Promise<WidgetError> {
  let body: { code?: unknown; detail?: unknown; errors?: unknown } = {};
  try {
    body = await res.json();
  } catch {
    // Not a problem body (a proxy's page): the status says enough.
  }
  const errors = Array.isArray(body.errors) ? (body.errors as FieldError[]).filter((e) => e && typeof e.path === 'string' && typeof e.message === 'string') : [];
  return new WidgetError(res.status, typeof body.code === 'string' ? body.code : `http_${res.status}`, typeof body.detail === 'string' ? body.detail : res.statusText, errors);
}

export class WidgetApi {
  private token: string | null = null;
  private expiresAt = 0;
  private identity: Identity | undefined;
  private pending: Promise<void> | null = null;
  private readonly fetch: Fetch;

  constructor(
    private readonly base: string,
    private readonly botId: string,
    private readonly store: VisitorStore,
    fetchImpl?: Fetch,
    private readonly now: () => number = Date.now,
  ) {
    this.fetch = fetchImpl ?? ((input, init) => fetch(input, init));
  }

  private url(path: string): string {
    return `${this.base}/api/v1/widget/${encodeURIComponent(this.botId)}/${path}`;
  }

  private async request(path: string, init: RequestInit): Promise<Response> {
    try {
      // Cross-origin fetch sends no cookies by default: the visitor token is the only credential.
      return await this.fetch(this.url(path), init);
    } catch {
      throw new WidgetError(0, 'network', 'The chat service cannot be reached.');
    }
  }

  async config(): Promise<WidgetConfig> {
    const res = await this.request('config', { method: 'GET' });
    if (!res.ok) throw await failure(res);
    return (await res.json()) as WidgetConfig;
  }

  get verified(): boolean {
    return this.identity !== undefined;
  }

  /** A new session now (as the given identity from here on, when one is given). */
  async openSession(identity?: Identity): Promise<void> {
    if (identity) this.identity = identity;
    const { visitorId } = this.store.get();
    const res = await this.request('session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...(visitorId ? { visitorId } : {}), ...(this.identity ? { identity: this.identity } : {}) }),
    });
    if (!res.ok) throw await failure(res);
    const session = (await res.json()) as { token: string; expiresAt: string; visitorId: string };
    this.token = session.token;
    this.expiresAt = Date.parse(session.expiresAt) || this.now() + 5 * 60_000;
    this.store.update({ visitorId: session.visitorId });
  }

  private async ensureSession(): Promise<string> {
    if (!this.token || this.now() >= this.expiresAt - WIDGET_CLIENT.tokenRenewBeforeMs) {
      // Concurrent callers share one session request.
      this.pending ??= this.openSession().finally(() => {
        this.pending = null;
      });
      await this.pending;
    }
    return this.token!;
  }

  /** A token-bearing request; a 401 (token expired or revoked) renews the session and retries once. */
  private async authed(path: string, init: RequestInit & { headers?: Record<string, string> }): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.ensureSession();
      const res = await this.request(path, { ...init, headers: { ...init.headers, authorization: `Bearer ${token}` } });
      if (res.status !== 401 || attempt > 0) return res;
      await res.body?.cancel();
      this.token = null;
    }
  }

  private async json<T>(path: string, init: RequestInit & { headers?: Record<string, string> }): Promise<T> {
    const res = await this.authed(path, init);
    if (!res.ok) throw await failure(res);
    return (await res.json()) as T;
  }

  /** The visitor's newest conversation (a verified user's from any device), if any. */
  async latestConversation(): Promise<string | null> {
    const page = await this.json<{ data: { id: string }[] }>('conversations?limit=1', { method: 'GET' });
    return page.data[0]?.id ?? null;
  }

  /** The newest messages of a conversation, in reading order. */
  async history(conversationId: string): Promise<Message[]> {
    const page = await this.json<{ data: Message[] }>(
      `conversations/${encodeURIComponent(conversationId)}/messages?order=desc&limit=${WIDGET_CLIENT.historyPageSize}`,
      { method: 'GET' },
    );
    return page.data.reverse();
  }

  async feedback(conversationId: string, messageId: string, rating: 'up' | 'down'): Promise<void> {
    await this.json(`conversations/${encodeURIComponent(conversationId)}/messages/${encodeURIComponent(messageId)}/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rating }),
    });
  }

  async lead(fields: { name?: string; email?: string; phone?: string }, conversationId: string | undefined): Promise<void> {
    await this.json('leads', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...fields, ...(conversationId ? { conversationId } : {}) }),
    });
  }

  /** "Talk to a human" in the visitor's conversation. */
  handoff(conversationId: string, lang: string): Promise<HandoffReply> {
    return this.json(`conversations/${encodeURIComponent(conversationId)}/handoff`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ lang }),
    });
  }

  /**
   * The visitor's live socket into the conversation. Browsers cannot set headers on a WebSocket:
   * the token rides as the `kyrochat.bearer.<token>` subprotocol (never in the URL), next to `kyrochat`.
   */
  async socket(conversationId: string): Promise<WebSocket> {
    const token = await this.ensureSession();
    const url = this.url(`conversations/${encodeURIComponent(conversationId)}/ws`).replace(/^http/, 'ws');
    return new WebSocket(url, ['kyrochat', `kyrochat.bearer.${token}`]);
  }

  /** One turn, streamed. Resolves when the stream ends; a failed turn rejects with its problem. */
  async chat(message: string, conversationId: string | undefined, on: ChatHandlers): Promise<void> {
    return this.stream('chat', { message, stream: true, ...(conversationId ? { conversationId } : {}) }, on);
  }

  /**
   * Approves or rejects the action a confirmation announced; the resumed turn streams like a chat
   * turn. A confirmation is decided once: a repeat is a 409 (`confirmation_decided`), so the key
   * only spares a retry the server's work.
   */
  async decide(conversationId: string, confirmationId: string, approve: boolean, on: ChatHandlers): Promise<void> {
    return this.stream(`conversations/${encodeURIComponent(conversationId)}/confirmations/${encodeURIComponent(confirmationId)}`, { approve, stream: true }, on);
  }

  /** POSTs `body` asking for an event stream, under a fresh idempotency key, and reads the answer. */
  private async stream(path: string, body: object, on: ChatHandlers): Promise<void> {
    const res = await this.authed(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'idempotency-key': newKey() },
      body: JSON.stringify(body),
    });
    return this.answer(res, on);
  }

  /** A turn's answer: a problem (rejects), a pause (202 JSON) or the native event stream. */
  private async answer(res: Response, on: ChatHandlers): Promise<void> {
    if (!res.ok) throw await failure(res);
    if (res.status === 202) {
      const paused = (await res.json()) as { conversationId: string; userMessageId: string; reason?: string; confirmation?: unknown };
      on.meta({ conversationId: paused.conversationId, userMessageId: paused.userMessageId, assistantMessageId: null });
      const confirmation = readConfirmation(paused.confirmation);
      if (confirmation) on.confirmation(confirmation);
      on.paused(String(paused.reason ?? ''));
      return;
    }
    if (!res.body) throw new WidgetError(0, 'network', 'The answer stream was empty.');
    const parser = new SseParser();
    const reader = res.body.getReader();
    let finished = false;
    const dispatch = (events: { event: string; data: string }[]) => {
      for (const { event, data } of events) {
        let value: any;
        try {
          value = JSON.parse(data);
        } catch {
          continue;
        }
        switch (event) {
          case 'meta':
            on.meta(value);
            break;
          case 'token':
            if (typeof value?.text === 'string') on.token(value.text);
            break;
          case 'citations':
            if (Array.isArray(value?.citations)) on.citations(value.citations);
            break;
          case 'done':
            finished = true;
            on.done(value as Message);
            break;
          case 'confirmation': {
            const confirmation = readConfirmation(value);
            if (confirmation) on.confirmation(confirmation);
            break;
          }
          case 'paused':
            finished = true;
            on.paused(String(value?.reason ?? ''));
            break;
          case 'error':
            finished = true;
            throw new WidgetError(typeof value?.status === 'number' ? value.status : 500, String(value?.code ?? 'error'), String(value?.detail ?? ''));
        }
      }
    };
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        dispatch(parser.push(value));
      }
      dispatch(parser.end());
    } catch (err) {
      if (err instanceof WidgetError) throw err;
      throw new WidgetError(0, 'network', 'The answer stream broke off.');
    }
    if (!finished) throw new WidgetError(0, 'network', 'The answer stream ended early.');
  }
}
