/**
 * POST /api/v1/bots/{botId}/chat: one turn, answered as JSON or as Server-Sent Events. The
 * handler parses, calls the pipeline (pipeline.ts) and translates its events; nothing else.
 *
 * Not behind the generic idempotency middleware: a failed turn must stay retryable with the same
 * Idempotency-Key, so the pipeline itself makes retries safe (it reuses the stored user message
 * and replays a stored answer).
 */
import { createRoute } from '@hono/zod-openapi';
import { createRouter, jsonBody, jsonContent, commonErrors, errorResponses, IdParam } from '../../http/router';
import { requirePermission, serviceContext } from '../../http/context';
import { IdempotencyKeyHeaders } from '../../http/middleware/idempotency';
import { startTurn } from './pipeline';
import { answerUseChat, isUseChatBody } from './use-chat-route';
import { clientTurn, refusalProblem, streamedReply, turnCaller, turnRequestKey } from './route-turn';
import { nativeTurnResponse } from './route-sse';
import { ChatPaused, ChatReply, ChatRequestBody, turnFailureResponses } from './schemas';

const tags = ['Chat'];
const security = [{ bearer: [] }];

export function chatRoutes() {
  const router = createRouter();
  router.openapi(
    createRoute({
      method: 'post',
      path: '/bots/{botId}/chat',
      tags,
      security,
      summary: 'Ask the bot (JSON, or Server-Sent Events with `stream: true`)',
      description:
        'Stores the message, retrieves from the bot\'s knowledge and answers with citations. Without relevant knowledge the bot answers its fallback message and the message is `unanswered`. ' +
        'Send `Idempotency-Key` to make a retry safe: the same key reuses the stored user message and replays a stored answer, and a turn whose model call failed is answered again. ' +
        'SSE events: `meta`, `token` {text}, `citations` {citations}, then `done` (the stored message), `paused` or `error` (a problem). ' +
        'Spends the org\'s `messages_per_month` quota (429 `quota_exceeded`).',
      request: { params: IdParam('botId', 'bot'), headers: IdempotencyKeyHeaders, body: jsonBody(ChatRequestBody) },
      responses: {
        200: {
          description: 'The stored answer (JSON), or the event stream',
          content: { 'application/json': { schema: ChatReply }, 'text/event-stream': { schema: { type: 'string' } } },
        },
        202: jsonContent(ChatPaused, 'A team member has taken the conversation over: the message is stored, the bot stays silent'),
        ...commonErrors,
        409: { ...errorResponses[409], description: 'The bot is paused, or the conversation is closed' },
        413: { ...errorResponses[413], description: 'The message is longer than the limit (`message_too_long`)' },
        422: { ...errorResponses[422], description: 'The message is empty, or the Idempotency-Key was used for another message' },
        ...turnFailureResponses,
      },
    }),
    async (c) => {
      const org = requirePermission(c, 'chat');
      const body = c.req.valid('json');
      if (isUseChatBody(body)) return streamedReply(await answerUseChat(c, c.req.valid('param').botId, body));
      const requestKey = turnRequestKey(c);
      const ctx = serviceContext(c);
      const client = clientTurn(c);
      const start = await startTurn(ctx, {
        orgId: org.orgId,
        botId: c.req.valid('param').botId,
        channel: 'api',
        caller: turnCaller(c),
        conversationId: body.conversationId,
        message: body.message,
        requestKey,
        attachmentIds: body.attachmentIds,
        signal: client.signal,
      });
      if (!start.ok) throw refusalProblem(start.refusal);
      return streamedReply(await nativeTurnResponse(c, start, client, body.stream));
    },
  );
  return router;
}
