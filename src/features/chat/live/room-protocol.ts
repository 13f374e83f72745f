/**
 * The live conversation protocol: JSON text frames between a WebSocket client and its
 * ConversationRoom. Client frames are validated here (strictly: an unknown field is an error,
 * so nobody can smuggle a `role`); server frames are only ever built by the room.
 */
import { z } from 'zod';
import type { ConversationStatus } from '../../../db/schema';
import type { MessageDto } from '../turn';
import { LIVE_ROOM, WIDGET } from '../../../limits';

/** Who a socket speaks as. Derived from the authenticated principal by the Worker, never chosen by the client. */
export const ROOM_ROLES = ['visitor', 'agent', 'observer'] as const;
export type RoomRole = (typeof ROOM_ROLES)[number];

/** The subprotocol a browser offers (next to `kyrochat.bearer.<token>`) and the server answers with. */
export const SUBPROTOCOL = 'kyrochat';
export const BEARER_SUBPROTOCOL_PREFIX = 'kyrochat.bearer.';
/** A person in several orgs names the org the way X-Org-Id would (browsers cannot set that header either). */
export const ORG_SUBPROTOCOL_PREFIX = 'kyrochat.org.';

/** A client's own id for a message: echoed in errors, and the idempotency key of the turn it starts. */
const ClientMessageId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - (at most 64)');

export const ClientFrame = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('message'),
      // The length limit is the operator's (CHAT_MAX_MESSAGE_CHARS), checked in parseClientFrame.
      text: z.string().trim().min(1, 'empty message'),
      clientMessageId: ClientMessageId.optional(),
    })
    .strict(),
  z.object({ type: z.literal('resume'), lastMessageId: z.string().min(1).max(64).nullable() }).strict(),
  z.object({ type: z.literal('takeover') }).strict(),
  z.object({ type: z.literal('handback') }).strict(),
  z.object({ type: z.literal('typing') }).strict(),
  /** A read receipt (issue #10): a member's read marker moves to this message; everyone else sees the receipt. */
  z.object({ type: z.literal('read'), messageId: z.string().min(1).max(64) }).strict(),
  z.object({ type: z.literal('ping') }).strict(),
  /**
   * Approve or reject the action a `confirmation` frame announced (issue #11), as the HTTP
   * confirmation routes do. From the conversation's end user (`visitor` sockets, widget visitors
   * included) and `agent`s; observers may not.
   */
  z.object({ type: z.literal('confirm'), confirmationId: z.string().regex(/^cfm_[0-9A-Za-z]{1,60}$/, 'a confirmation id (cfm_…)'), approve: z.boolean() }).strict(),
]);
export type ClientFrame = z.infer<typeof ClientFrame>;

export type ServerFrame =
  | { type: 'message'; message: MessageDto }
  /** An answer starts streaming (or, in a catch-up, is streaming): the client (re)starts its text for that id. */
  | { type: 'turn'; phase: 'start'; assistantMessageId: string; replyTo: string }
  | { type: 'token'; assistantMessageId: string; text: string }
  | { type: 'status'; status: ConversationStatus; humanUserId: string | null }
  | { type: 'typing'; role: RoomRole }
  /** Someone read up to `messageId` (a member's `userId`; null for the visitor). */
  | { type: 'read'; role: RoomRole; userId: string | null; messageId: string }
  /**
   * An action the bot called in the turn replying to `replyTo` has run (or was rejected); its result
   * is stored as a `tool` message (`messageId`). Progress only: the result is not in the frame.
   */
  | { type: 'tool'; replyTo: string | null; callId: string; name: string; status: 'ok' | 'error' | 'rejected' | 'timeout'; messageId: string }
  /**
   * The turn replying to `replyTo` paused: the bot wants to run `action` with `arguments` (model
   * output, checked against the action's schema, at most ACTIONS.maxArgumentsBytes) and nothing
   * runs until someone decides with a `confirm` frame (or the HTTP confirmation routes) before
   * `expiresAt`.
   */
  | { type: 'confirmation'; replyTo: string | null; confirmationId: string; action: string; arguments: Record<string, unknown>; expiresAt: string }
  /** The end of a catch-up; `hasMore`: resume again from the last message received. */
  | { type: 'resumed'; hasMore: boolean }
  /**
   * `assistantMessageId`: the answer that will not complete (a broken turn); its streamed text is void.
   * `confirmationId`: the `confirm` frame this error answers (nothing ran).
   */
  | { type: 'error'; code: string; detail: string; clientMessageId?: string; assistantMessageId?: string; confirmationId?: string }
  | { type: 'pong' };

export type ParsedFrame = { ok: true; frame: ClientFrame } | { ok: false; code: string; detail: string; clientMessageId?: string };

/**
 * The largest frame worth parsing: a message at the length limit, every character escaped
 * (`\uXXXX`, 6 characters), plus the frame's other fields. Anything larger is refused unread.
 */
export const maxFrameChars = (maxMessageChars: number) => maxMessageChars * 6 + LIVE_ROOM.frameOverheadChars;

/** Reads one client frame; never throws (a bad frame gets an error frame, not a crash). */
export function parseClientFrame(raw: string | ArrayBuffer, maxMessageChars: number): ParsedFrame {
  if (typeof raw !== 'string') return { ok: false, code: 'binary_frame', detail: 'Send JSON text frames, not binary ones.' };
  const frameLimit = maxFrameChars(maxMessageChars);
  if (raw.length > frameLimit) {
    return { ok: false, code: 'frame_too_large', detail: `A frame may be at most ${frameLimit} characters.` };
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, code: 'malformed_frame', detail: 'The frame is not valid JSON.' };
  }
  const parsed = ClientFrame.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    return { ok: false, code: 'invalid_frame', detail: `${where}${issue?.message ?? 'invalid frame'}`.slice(0, 300), clientMessageId: clientMessageIdOf(json) };
  }
  const frame = parsed.data;
  if (frame.type === 'message' && frame.text.length > maxMessageChars) {
    return {
      ok: false,
      code: 'message_too_long',
      detail: `The message has ${frame.text.length} characters; the limit is ${maxMessageChars}.`,
      clientMessageId: frame.clientMessageId,
    };
  }
  return { ok: true, frame };
}

function clientMessageIdOf(json: unknown): string | undefined {
  const id = (json as { clientMessageId?: unknown } | null)?.clientMessageId;
  return ClientMessageId.safeParse(id).success ? (id as string) : undefined;
}

/**
 * The identity the Worker hands the room with an upgrade (header `x-kyrochat-room-identity`).
 * The room trusts it because a Durable Object is reachable only through its namespace binding,
 * i.e. only from this Worker, which authenticated the caller and checked the conversation's org.
 */
export const RoomIdentity = z.object({
  orgId: z.string().min(1).max(64),
  conversationId: z.string().min(1).max(64),
  botId: z.string().min(1).max(64),
  role: z.enum(ROOM_ROLES),
  /** A person's user id (agents and observers). */
  userId: z.string().min(1).max(64).nullable(),
  /** The API key a visitor speaks through. */
  keyId: z.string().min(1).max(64).nullable(),
  /**
   * A widget visitor (the visitor socket, features/chat/widget-socket-route.ts): their visitor id
   * and, when identity verification passed, the host's user id. Optional so that sockets accepted
   * before this field existed still parse. Such a socket is receive-mostly: it sends `typing`,
   * `read`, `resume`, `ping` and `confirm` (deciding its own conversation's action); messages go
   * over POST /widget/{botId}/chat, which mirrors them in.
   */
  visitorId: z.string().min(1).max(64).nullable().optional(),
  verifiedUserId: z.string().min(1).max(WIDGET.maxUserIdChars).nullable().optional(),
  /** Whether the client offered the `kyrochat` subprotocol (then the 101 must name it). */
  subprotocol: z.boolean(),
  ip: z.string().max(64).nullable(),
})
  // A visitor speaks through a key or a widget visitor token; agents and observers are people.
  .refine((id) => (id.role === 'visitor' ? id.keyId !== null || (id.visitorId ?? null) !== null : id.userId !== null), 'role does not match the principal');
export type RoomIdentity = z.infer<typeof RoomIdentity>;
export const ROOM_IDENTITY_HEADER = 'x-kyrochat-room-identity';

/** The bearer token and org a browser put in Sec-WebSocket-Protocol, and whether it offered `kyrochat`. */
export function readSubprotocols(header: string | null): { token: string | null; orgId: string | null; offersKyrochat: boolean } {
  const offered = (header ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  const valueOf = (prefix: string) => {
    const value = offered.find((p) => p.startsWith(prefix))?.slice(prefix.length) ?? '';
    return value.length > 0 ? value : null;
  };
  return { token: valueOf(BEARER_SUBPROTOCOL_PREFIX), orgId: valueOf(ORG_SUBPROTOCOL_PREFIX), offersKyrochat: offered.includes(SUBPROTOCOL) };
}
