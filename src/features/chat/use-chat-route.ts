/**
 * The AI SDK `useChat` branch of `POST /api/v1/bots/{botId}/chat`: the body is
 * `{ id, messages: UIMessage[], trigger?, messageId? }` and the reply is the UI message stream
 * (protocols/ui-message-stream.ts). The native route calls `answerUseChat` when
 * `isUseChatBody(body)`; its JSON/SSE body stays its own.
 *
 * - The last message is the user's new turn (its text parts joined); other parts are ignored.
 * - `id` (the client's chat id) maps to one of our conversations (`client_ref`, per caller): the
 *   same id continues it, stored history wins; for a new one, earlier messages are its history.
 * - A turn's Idempotency-Key defaults to the UI message id, so `regenerate-message` (the same
 *   user message sent again) reuses the stored user message instead of adding a copy.
 */
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { ApiError } from '../../http/problem';
import { requirePermission, serviceContext } from '../../http/context';
import type { AppBindings } from '../../http/types';
import { CHAT_PROTOCOLS } from '../../limits';
import { startTurn } from './pipeline';
import { claimClientRef, findConversationByClientRef } from './protocols/client-ref';
import { failedBeforeStreaming, peekTurn } from './protocols/turn-events';
import { uiMessageStreamResponse } from './protocols/ui-message-stream';
import { clientTurn, refusalProblem, turnCaller, turnFailureProblem, turnRequestKey } from './route-turn';

const UiPart = z
  .object({ type: z.string().min(1).max(200), text: z.string().max(CHAT_PROTOCOLS.maxClientMessageChars).optional() })
  .passthrough();

const UiMessage = z
  .object({
    id: z.string().max(CHAT_PROTOCOLS.maxClientChatIdChars),
    role: z.enum(['system', 'user', 'assistant']),
    parts: z.array(UiPart).max(CHAT_PROTOCOLS.maxContentParts),
  })
  .passthrough();

export const UseChatRequest = z
  .object({
    id: z.string().min(1).max(CHAT_PROTOCOLS.maxClientChatIdChars).openapi({ description: "The client's chat id: the same id continues the same conversation" }),
    messages: z.array(UiMessage).min(1).max(CHAT_PROTOCOLS.maxClientMessages).openapi({ description: 'UIMessage[]; the last is the new user message' }),
    trigger: z.enum(['submit-message', 'regenerate-message']).optional(),
    messageId: z.string().max(CHAT_PROTOCOLS.maxClientChatIdChars).optional(),
  })
  .openapi('UseChatRequest', { description: 'The AI SDK `useChat` request body; the reply is the UI message stream protocol (v1).' });

export type UseChatBody = z.infer<typeof UseChatRequest>;

/** The useChat body has `messages` and no `message`; the native body the reverse. */
export function isUseChatBody(body: unknown): body is UseChatBody {
  return typeof body === 'object' && body !== null && Array.isArray((body as { messages?: unknown }).messages) && !('message' in body);
}

const uiText = (message: z.infer<typeof UiMessage>) =>
  message.parts
    .filter((p) => p.type === 'text' && typeof p.text === 'string')
    .map((p) => p.text)
    .join('');

/**
 * The turn's default Idempotency-Key: the client's chat id and UI message id together (message
 * ids are only unique within a chat), hashed to fit the key's length.
 */
async function uiMessageKey(chatId: string, messageId: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${chatId}\u0000${messageId}`));
  return `ui:${[...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** Answers one useChat request with the UI message stream. */
export async function answerUseChat(c: Context<AppBindings>, botId: string, body: UseChatBody): Promise<Response> {
  const org = requirePermission(c, 'chat');
  const last = body.messages[body.messages.length - 1]!;
  const question = uiText(last);
  if (last.role !== 'user' || question.trim() === '') {
    throw new ApiError({
      status: 422,
      code: 'last_message_not_user',
      title: 'Nothing to answer',
      detail: 'The last message must be the user\'s, with text: it is the question to answer.',
      errors: [{ path: `messages.${body.messages.length - 1}`, message: 'Expected a user message with a text part' }],
    });
  }
  const ctx = serviceContext(c);
  const caller = turnCaller(c);
  const scope = { orgId: org.orgId, botId, caller, clientRef: body.id };
  const existing = await findConversationByClientRef(ctx.db, scope);
  const requestKey = turnRequestKey(c) ?? (last.id ? await uiMessageKey(body.id, last.id) : undefined);
  const client = clientTurn(c);
  const start = await startTurn(ctx, {
    orgId: org.orgId,
    botId,
    channel: 'api',
    caller,
    conversationId: existing ?? undefined,
    message: question,
    clientHistory: existing
      ? undefined
      : body.messages.slice(0, -1).flatMap((m) => (m.role === 'user' || m.role === 'assistant' ? [{ role: m.role, content: uiText(m) }] : [])),
    requestKey,
    signal: client.signal,
  });
  if (!start.ok) throw refusalProblem(start.refusal);
  if (start.created) await claimClientRef(ctx.db, scope, start.conversationId);

  const peeked = await peekTurn(client.events(start.events));
  const failed = failedBeforeStreaming(peeked, start.conversationId);
  if (failed) throw turnFailureProblem(failed);
  return uiMessageStreamResponse(peeked.events, { headers: { 'x-conversation-id': start.conversationId }, onCancel: client.abort });
}
