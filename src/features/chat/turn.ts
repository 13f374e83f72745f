/**
 * The contract between the answer pipeline and the channels (REST JSON and SSE, the AI SDK UI
 * message stream, the Chatbase shape, the OpenAI-compatible API, the WebSocket room). Every
 * channel calls `startTurn` and translates its events into its own wire format; none of them
 * stores messages or calls a model itself.
 */
import type { Channel, Citation, MessageRole, TokenUsage } from '../../db/schema';
import type { HandoffOutcome } from '../handoff/service';

export interface MessageDto {
  id: string;
  conversationId: string;
  role: MessageRole;
  content: string;
  citations: Citation[];
  unanswered: boolean;
  usage: TokenUsage | null;
  latencyMs: number | null;
  model: string | null;
  cached: boolean;
  error: { code: string; detail: string } | null;
  attachments: { id: string; name: string; mime: string; sizeBytes: number }[];
  createdAt: string;
}

/** Who speaks for the user side of a turn. Roles come from authentication, never from the body. */
export type TurnCaller =
  | { kind: 'user'; userId: string }
  | { kind: 'api_key'; keyId: string }
  /** A widget visitor (the widget issue), possibly with a verified user id. */
  | { kind: 'visitor'; visitorId: string; verifiedUserId: string | null };

export interface TurnInput {
  orgId: string;
  botId: string;
  channel: Channel;
  caller: TurnCaller;
  /** Continue this conversation (404 when it is not the caller's org's, or deleted); new when absent. */
  conversationId?: string;
  /** The user's new message. */
  message: string;
  /**
   * Earlier turns the client holds (OpenAI and Chatbase clients resend the whole history). Used as
   * the history of a new conversation instead of stored messages; stored ones win when continuing.
   */
  clientHistory?: { role: 'user' | 'assistant'; content: string }[];
  /** The request's Idempotency-Key: a retried turn reuses the stored user message instead of adding one. */
  requestKey?: string;
  /** Ids of attachments uploaded for this message (conversation_attachments). */
  attachmentIds?: string[];
  /** Aborts the model call when the client goes away (the answer is still stored as far as it got). */
  signal?: AbortSignal;
}

/** A problem the pipeline refuses a turn with, before anything is stored. */
export interface TurnRefusal {
  status: 400 | 404 | 409 | 413 | 422 | 429;
  code: string;
  title: string;
  detail: string;
  retryAfterSeconds?: number;
  extensions?: Record<string, unknown>;
}

export type TurnEvent =
  /** First event: the conversation and the stored user message (and whether the conversation is new). */
  | { type: 'meta'; conversationId: string; userMessageId: string; assistantMessageId: string; created: boolean }
  | { type: 'token'; text: string }
  /** Once the answer's citations are known (before `done`). */
  | { type: 'citations'; citations: Citation[] }
  /**
   * The stored assistant message. Last event of a successful turn. `handoff`: this turn asked for a
   * person (issue #10): the message is the notice, and the widget may show its lead form.
   */
  | { type: 'done'; message: MessageDto; handoff?: HandoffOutcome }
  /** An action the model called has run (issue #11); its result is stored as a `tool` message. */
  | { type: 'tool'; callId: string; name: string; status: 'ok' | 'error' | 'rejected' | 'timeout'; messageId: string }
  /**
   * An action that needs confirmation was called: nothing ran. Decide it with POST
   * …/conversations/{conversationId}/confirmations/{confirmationId}; followed by `paused`.
   */
  | { type: 'confirmation'; confirmationId: string; action: string; arguments: Record<string, unknown>; expiresAt: string }
  /**
   * The bot stays silent for now. Last event. `human`: a team member owns the conversation (status
   * `human`), the user message is stored. `confirmation`: an action waits for approval (the
   * `confirmation` event before this one says which).
   */
  | { type: 'paused'; reason: 'human' | 'confirmation' }
  /**
   * The model failed. The user message is stored, and so is an assistant message carrying the
   * error (`message`). Last event of a failed turn; channels answer 502 / an error event.
   */
  | { type: 'error'; status: 502 | 503 | 504; code: string; title: string; detail: string; message: MessageDto };

export type TurnStart =
  | { ok: false; refusal: TurnRefusal }
  | { ok: true; conversationId: string; created: boolean; events: AsyncIterable<TurnEvent> };
