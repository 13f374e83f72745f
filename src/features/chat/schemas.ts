/** Wire schemas of the native chat route (and the message DTO other chat routes reuse). */
import { z } from '@hono/zod-openapi';
import { ATTACHMENTS, CHAT } from '../../limits';
import { CONVERSATION_STATUSES, MESSAGE_ROLES } from '../../db/schema';
import { UseChatRequest } from './use-chat-route';
import { ProblemSchema } from '../../http/router';

export const CitationSchema = z
  .object({
    n: z.number().int().openapi({ description: 'The [n] marker in the answer' }),
    sourceId: z.string(),
    documentId: z.string(),
    chunkId: z.string(),
    title: z.string(),
    url: z.string().nullable().openapi({ description: "The document's URL when it came from the web" }),
    snippet: z.string(),
    score: z.number().openapi({ description: 'Calibrated relevance of the cited passage, 0..1' }),
  })
  .openapi('Citation');

export const MessageSchema = z
  .object({
    id: z.string(),
    conversationId: z.string(),
    role: z.enum(MESSAGE_ROLES),
    content: z.string(),
    citations: z.array(CitationSchema),
    unanswered: z.boolean().openapi({ description: 'The knowledge had nothing relevant: the content is the bot\'s fallback message' }),
    usage: z.object({ promptTokens: z.number().int(), completionTokens: z.number().int(), totalTokens: z.number().int() }).nullable(),
    latencyMs: z.number().int().nullable(),
    model: z.string().nullable(),
    cached: z.boolean(),
    error: z.object({ code: z.string(), detail: z.string() }).nullable(),
    attachments: z.array(z.object({ id: z.string(), name: z.string(), mime: z.string(), sizeBytes: z.number().int() })),
    createdAt: z.string().datetime(),
  })
  .openapi('Message');

/** The native body. The protocols slice adds the AI SDK's `{ id, messages }` here as a union member. */
export const NativeChatRequest = z
  .object({
    message: z.string().openapi({ description: `The user's message (at most ${CHAT.defaultMaxMessageChars} characters by default, CHAT_MAX_MESSAGE_CHARS): longer is a 413 \`message_too_long\`, empty a 422` }),
    conversationId: z.string().min(1).max(64).optional().openapi({ description: 'Continue this conversation; a new one starts when absent' }),
    stream: z.boolean().optional().default(false).openapi({ description: 'true: Server-Sent Events (meta, token, citations, done | error | paused)' }),
    attachmentIds: z.array(z.string().min(1).max(64)).max(ATTACHMENTS.maxPerMessage).optional().openapi({ description: 'Files uploaded for this message' }),
  })
  .strict()
  .openapi('ChatRequest');

// The AI SDK `useChat` body is the other member (use-chat-route.ts answers it).
export const ChatRequestBody = z.union([NativeChatRequest, UseChatRequest]);

/** Set when the turn asked for a person (issue #10); the SSE stream sends it as a `handoff` event before `done`. */
export const HandoffOutcomeSchema = z
  .object({
    conversationStatus: z.enum(CONVERSATION_STATUSES),
    escalationId: z.string().nullable(),
    outsideBusinessHours: z.boolean(),
    nextOpeningAt: z.string().datetime().nullable().openapi({ description: 'Outside business hours: when the team is back' }),
    askForEmail: z.boolean().openapi({ description: 'Show the lead form: nobody can answer right now' }),
  })
  .openapi('HandoffOutcome');

export const ChatReply = z
  .object({
    conversationId: z.string(),
    message: MessageSchema,
    handoff: HandoffOutcomeSchema.optional(),
  })
  .openapi('ChatReply');

export const ChatPaused = z
  .object({
    conversationId: z.string(),
    userMessageId: z.string(),
    paused: z.literal(true),
    reason: z.enum(['human', 'confirmation']).openapi({ description: '`human`: a team member owns the conversation; `confirmation`: an action waits for approval' }),
    confirmation: z
      .object({ confirmationId: z.string(), action: z.string(), arguments: z.record(z.string(), z.unknown()), expiresAt: z.string() })
      .optional()
      .openapi({ description: 'With reason `confirmation`: the call to approve or reject (POST …/conversations/{conversationId}/confirmations/{confirmationId})' }),
  })
  .openapi('ChatPaused');

/**
 * A failed turn's problem on every chat route (native JSON, the native SSE `error` event, the
 * Chatbase shape, the AI SDK route before its stream starts): the ids to find the stored messages
 * and to retry the same turn (route-turn.ts `turnFailureProblem`).
 */
export const TurnFailureProblem = ProblemSchema.extend({
  conversationId: z.string().nullable(),
  userMessageId: z.string().nullable().openapi({ description: 'The stored user message; retry with the same Idempotency-Key to reuse it' }),
  assistantMessageId: z.string().nullable().openapi({ description: 'The stored assistant message carrying the error (null when the turn broke before storing one)' }),
  message: MessageSchema.nullable().openapi({ description: 'That stored assistant message, with its `error`' }),
}).openapi('TurnFailureProblem');

/** OpenAPI entries for a failed turn's statuses. */
export const turnFailureResponses = {
  502: { description: 'The model failed; the user message is stored and the turn can be retried with the same Idempotency-Key', content: { 'application/problem+json': { schema: TurnFailureProblem } } },
  503: { description: 'Retrieval or the answer pipeline is unavailable; the user message is stored and the turn can be retried', content: { 'application/problem+json': { schema: TurnFailureProblem } } },
  504: { description: 'The model timed out; the user message is stored and the turn can be retried', content: { 'application/problem+json': { schema: TurnFailureProblem } } },
} as const;
