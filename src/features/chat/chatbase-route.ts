/**
 * `POST /api/v1/chat`, Chatbase's chat API shape, so Chatbase integrations switch by changing the
 * base URL and key. The org comes from the key (or X-Org-Id for people); `chatbotId` is one of
 * its bots (another org's answers 404). Chatbase's `temperature` and `model` are accepted and
 * ignored: the bot's own settings apply.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, errorResponses, jsonBody, commonErrors } from '../../http/router';
import { ApiError } from '../../http/problem';
import { requirePermission, serviceContext } from '../../http/context';
import { CHAT_PROTOCOLS } from '../../limits';
import { startTurn } from './pipeline';
import { CitationSchema, turnFailureResponses } from './schemas';
import { chatbaseReply, chatbaseTextStream, CHATBASE_STREAM_HEADERS } from './protocols/chatbase';
import { collectTurn, failedBeforeStreaming, peekTurn } from './protocols/turn-events';
import { clientTurn, refusalProblem, turnCaller, turnFailureProblem, turnRequestKey, streamedReply } from './route-turn';

const ChatbaseMessage = z.object({
  role: z.enum(['user', 'assistant']),
  content: z.string().max(CHAT_PROTOCOLS.maxClientMessageChars),
});

export const ChatbaseRequest = z
  .object({
    chatbotId: z.string().min(1).max(64).openapi({ description: 'The bot id (`bot_…`)' }),
    messages: z
      .array(ChatbaseMessage)
      .min(1)
      .max(CHAT_PROTOCOLS.maxClientMessages)
      .openapi({ description: 'The conversation so far; the last one is the new user message, earlier ones are history for a new conversation.' }),
    conversationId: z.string().min(1).max(64).optional().openapi({ description: 'Continue this conversation (from an earlier reply)' }),
    stream: z.boolean().optional().default(false),
    temperature: z.number().optional().openapi({ description: 'Accepted for compatibility and ignored: the bot settings apply' }),
    model: z.string().max(200).optional().openapi({ description: 'Accepted for compatibility and ignored: the bot settings apply' }),
  })
  .openapi('ChatbaseChatRequest');

const ChatbaseReply = z
  .object({
    text: z.string(),
    conversationId: z.string().nullable(),
    sources: z.array(CitationSchema),
    unanswered: z.boolean().openapi({ description: 'The bot found nothing relevant and answered with its fallback message' }),
    paused: z.boolean().openapi({ description: 'A team member owns the conversation: the bot stayed silent' }),
  })
  .openapi('ChatbaseChatReply');

/** The last message must be the user's: it is the turn. */
export function lastUserMessage<M extends { role: string }>(messages: M[], field = 'messages'): M {
  const last = messages[messages.length - 1];
  if (!last || last.role !== 'user') {
    throw new ApiError({
      status: 422,
      code: 'last_message_not_user',
      title: 'Nothing to answer',
      detail: 'The last message must be the user\'s: it is the question to answer.',
      errors: [{ path: `${field}.${messages.length - 1}.role`, message: 'Expected "user"' }],
    });
  }
  return last;
}

export function chatbaseRoutes() {
  const router = createRouter();
  router.openapi(
    createRoute({
      method: 'post',
      path: '/chat',
      tags: ['Chat'],
      security: [{ bearer: [] }],
      summary: 'Chat, Chatbase-compatible',
      description:
        'With `stream: true` the reply is the answer as plain text, streamed (the conversation id is in the `X-Conversation-Id` header); a failure after the text started breaks the transfer. Otherwise `{ text, conversationId, sources }`. Needs an API key with the `chat` scope, or a person in the org.',
      request: { body: jsonBody(ChatbaseRequest) },
      responses: {
        200: {
          description: 'The answer',
          content: { 'application/json': { schema: ChatbaseReply }, 'text/plain': { schema: z.string() } },
        },
        ...commonErrors,
        413: errorResponses[413],
        422: errorResponses[422],
        ...turnFailureResponses,
      },
    }),
    async (c) => {
      const org = requirePermission(c, 'chat');
      const body = c.req.valid('json');
      const question = lastUserMessage(body.messages);
      const client = clientTurn(c);
      const start = await startTurn(serviceContext(c), {
        orgId: org.orgId,
        botId: body.chatbotId,
        channel: 'chatbase',
        caller: turnCaller(c),
        conversationId: body.conversationId,
        message: question.content,
        clientHistory: body.messages.slice(0, -1),
        requestKey: turnRequestKey(c),
        signal: client.signal,
      });
      if (!start.ok) throw refusalProblem(start.refusal);

      if (body.stream) {
        const peeked = await peekTurn(client.events(start.events));
        const failed = failedBeforeStreaming(peeked, start.conversationId);
        if (failed) throw turnFailureProblem(failed);
        return streamedReply(
          new Response(chatbaseTextStream(peeked.events, client.abort), {
          status: 200,
          headers: { ...CHATBASE_STREAM_HEADERS, 'x-conversation-id': start.conversationId },
        }),
        );
      }
      const turn = await collectTurn(client.events(start.events));
      if (turn.status === 'failed') throw turnFailureProblem(turn);
      return c.json(chatbaseReply(turn), 200);
    },
  );
  return router;
}

