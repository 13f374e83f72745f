/**
 * POST /api/v1/widget/{botId}/chat: a widget visitor's turn, with the visitor token from
 * POST /widget/{botId}/session. Behind `widgetOrigin` and `visitorAuth` (app.ts), which supply
 * the public bot and the visitor. The same pipeline, body and answer (JSON or SSE) as the member
 * route (routes.ts), on channel `widget`, as the visitor: the pipeline keeps a visitor to their
 * own conversations (or, verified, to their user's).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, jsonBody, jsonContent, errorResponses, IdParam } from '../../http/router';
import { serviceContext } from '../../http/context';
import { IdempotencyKeyHeaders } from '../../http/middleware/idempotency';
import { startTurn } from './pipeline';
import { clientTurn, refusalProblem, streamedReply, turnRequestKey } from './route-turn';
import { nativeTurnResponse } from './route-sse';
import { ChatPaused, ChatReply, NativeChatRequest, turnFailureResponses } from './schemas';

const WidgetChatRequest = NativeChatRequest.omit({ attachmentIds: true }).strict().openapi('WidgetChatRequest');

export function widgetChatRoutes() {
  const router = createRouter();
  router.openapi(
    createRoute({
      method: 'post',
      path: '/widget/{botId}/chat',
      tags: ['Widget'],
      security: [{ visitorToken: [] }],
      summary: 'Ask the bot as a widget visitor (JSON, or Server-Sent Events with `stream: true`)',
      description:
        'The native chat turn (see POST /bots/{botId}/chat) for the embeddable widget: `Authorization: Bearer <visitor token>` from the same Origin the token was issued to. ' +
        'A visitor continues only their own conversations (404 otherwise). Idempotency-Key makes a retry safe. Spends the org\'s `messages_per_month` quota.',
      request: {
        params: IdParam('botId', 'bot'),
        headers: IdempotencyKeyHeaders.extend({ origin: z.string().max(200).optional() }),
        body: jsonBody(WidgetChatRequest),
      },
      responses: {
        200: {
          description: 'The stored answer (JSON), or the event stream',
          content: { 'application/json': { schema: ChatReply }, 'text/event-stream': { schema: { type: 'string' } } },
        },
        202: jsonContent(ChatPaused, 'A team member has taken the conversation over: the message is stored, the bot stays silent'),
        400: errorResponses[400],
        401: { ...errorResponses[401], description: 'The visitor token is missing, invalid or expired' },
        403: { ...errorResponses[403], description: 'The Origin is not allowed, or not the one the token was issued to; or the token is for another bot' },
        404: { ...errorResponses[404], description: 'No public bot has this id, or the conversation is not this visitor\'s' },
        409: { ...errorResponses[409], description: 'The bot is paused, or the conversation is closed' },
        413: { ...errorResponses[413], description: 'The message is longer than the limit (`message_too_long`)' },
        422: { ...errorResponses[422], description: 'The message is empty, or the Idempotency-Key was used for another message' },
        429: { ...errorResponses[429], description: "A widget rate limit, or the org's message quota, is used up" },
        ...turnFailureResponses,
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const { bot } = c.get('widget');
      const visitor = c.get('visitor');
      const requestKey = turnRequestKey(c);
      const client = clientTurn(c);
      const start = await startTurn(serviceContext(c), {
        orgId: bot.orgId,
        botId: bot.id,
        channel: 'widget',
        caller: { kind: 'visitor', visitorId: visitor.visitorId, verifiedUserId: visitor.verifiedUserId },
        conversationId: body.conversationId,
        message: body.message,
        requestKey,
        signal: client.signal,
      });
      if (!start.ok) throw refusalProblem(start.refusal);
      return streamedReply(await nativeTurnResponse(c, start, client, body.stream));
    },
  );
  return router;
}
