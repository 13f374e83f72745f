/**
 * `GET /api/v1/widget/{botId}/conversations/{conversationId}/ws`: the widget visitor's WebSocket
 * into the conversation's ConversationRoom, so a team member who takes over is seen live.
 *
 * Behind the widget gate (app.ts): `widgetOrigin` (public bot, the page's Origin among the bot's
 * allowed origins: a WebSocket upgrade carries Origin too), the per-IP limit, the subprotocol
 * bearer (browsers cannot set headers: the visitor token rides as `kyrochat.bearer.<token>`,
 * never in the URL), `visitorAuth` (token for this bot and this very origin) and the per-visitor
 * limit. Only the visitor's own conversation (a verified user's from any device); another's is a
 * 404 and no upgrade.
 *
 * Receive-mostly by design: the socket carries the room's frames to the visitor (agent messages,
 * status, typing, read receipts, every turn mirrored in) and takes `typing`, `read`, `resume` and
 * `ping` from it. The visitor's messages keep going over POST /widget/{botId}/chat, where the
 * per-visitor rate limit, the org's quota and the Idempotency-Key apply exactly as without a
 * socket, and which mirrors the turn into the room.
 */
import { createRoute } from '@hono/zod-openapi';
import { createRouter, errorResponses, IdParam } from '../../http/router';
import { notFound } from '../../http/problem';
import { clientIp } from '../../http/middleware/rate-limit';
import { getVisitorConversation } from '../widget/visitors';
import { readSubprotocols, type RoomIdentity } from './live/room-protocol';
import { isUpgrade, upgradeIntoRoom, upgradeRequired } from './ws-route';

/** The upgrade path, for app.ts to mount the subprotocol bearer before `visitorAuth`. */
export const VISITOR_SOCKET_PATH = '/api/v1/widget/:botId/conversations/:conversationId/ws';

export function widgetSocketRoutes() {
  const router = createRouter();
  router.openapi(
    createRoute({
      method: 'get',
      path: '/widget/{botId}/conversations/{conversationId}/ws',
      tags: ['Widget'],
      security: [{ visitorToken: [] }],
      summary: "The visitor's live connection to their conversation (WebSocket)",
      description:
        'Upgrades to a WebSocket into the conversation\'s room as the `visitor`. From a browser, offer the subprotocols `kyrochat` and ' +
        '`kyrochat.bearer.<visitor token>`; the page\'s Origin must be allowed for the bot and be the one the token was issued to. ' +
        'Receive-mostly: team members\' messages, status changes, typing and read receipts arrive live, and every turn is mirrored in; ' +
        'the visitor sends `typing`, `read`, `resume` and `ping` (a `message` frame is refused with `send_over_http`: messages go through POST /widget/{botId}/chat).',
      request: { params: IdParam('botId', 'bot').merge(IdParam('conversationId', 'cnv')) },
      responses: {
        101: { description: 'Switching protocols: the WebSocket is open' },
        400: errorResponses[400],
        401: { ...errorResponses[401], description: 'The visitor token is missing, invalid or expired' },
        403: { ...errorResponses[403], description: 'The Origin is not allowed for this bot, or not the one the token was issued to; or the token is for another bot' },
        404: { ...errorResponses[404], description: "No public bot has this id, or the conversation is not this visitor's" },
        426: { description: 'Not a WebSocket upgrade request' },
        429: errorResponses[429],
        503: errorResponses[503],
      },
    }),
    async (c) => {
      const { conversationId } = c.req.valid('param');
      const visitor = c.get('visitor');
      const conversation = await getVisitorConversation(c.get('db'), visitor, conversationId);
      if (!conversation) throw notFound('Conversation', 'conversation_not_found');
      if (!isUpgrade(c.req.raw)) throw upgradeRequired();
      const identity: RoomIdentity = {
        orgId: visitor.orgId,
        conversationId: conversation.id,
        botId: conversation.botId,
        role: 'visitor',
        userId: null,
        keyId: null,
        visitorId: visitor.visitorId,
        verifiedUserId: visitor.verifiedUserId,
        subprotocol: readSubprotocols(c.req.header('sec-websocket-protocol') ?? null).offersKyrochat,
        ip: clientIp(c),
      };
      return upgradeIntoRoom(c, identity);
    },
  );
  return router;
}
