/**
 * `GET /api/v1/conversations/{conversationId}/ws`: the WebSocket into a conversation's
 * ConversationRoom. The Worker does everything the room must be able to trust: it
 * authenticates (Authorization header, or for browsers the `kyrochat.bearer.<token>`
 * subprotocol), resolves the org, checks the conversation is that org's (another org's is a
 * 404 and no upgrade) and derives the room role from the principal. A query string never
 * carries a token or a role.
 */
import { createRoute } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import type { AppBindings } from '../../http/types';
import type { OrgContext, Actor } from '../../context';
import { createRouter, errorResponses, IdParam } from '../../http/router';
import { ApiError, notFound } from '../../http/problem';
import { requirePermission } from '../../http/context';
import { clientIp } from '../../http/middleware/rate-limit';
import { ROLE_RANK } from '../orgs/policy';
import { conversationForRoom, markConversationLive } from './live/agent-messages';
import { readSubprotocols, ROOM_IDENTITY_HEADER, type RoomIdentity, type RoomRole } from './live/room-protocol';

/** The upgrade path, for app.ts to mount the subprotocol bearer before authentication. */
export const CONVERSATION_SOCKET_PATH = '/api/v1/conversations/:conversationId/ws';

export const isUpgrade = (request: Request) => request.headers.get('upgrade')?.toLowerCase() === 'websocket';

/**
 * Browsers cannot set headers on a WebSocket, so they offer the token (and, for people in
 * several orgs, the org) as subprotocols: `Sec-WebSocket-Protocol: kyrochat,
 * kyrochat.bearer.<token>[, kyrochat.org.<orgId>]`. They become the Authorization and X-Org-Id
 * headers the normal authentication reads; real headers win.
 */
export const bearerFromSubprotocol = (): MiddlewareHandler<AppBindings> =>
  async function bearerFromSubprotocol(c, next) {
    if (!isUpgrade(c.req.raw)) return next();
    const { token, orgId } = readSubprotocols(c.req.header('sec-websocket-protocol') ?? null);
    const headers = new Headers(c.req.raw.headers);
    let changed = false;
    if (token && !headers.has('authorization')) {
      headers.set('authorization', `Bearer ${token}`);
      changed = true;
    }
    if (orgId && !headers.has('x-org-id')) {
      headers.set('x-org-id', orgId);
      changed = true;
    }
    if (changed) c.req.raw = new Request(c.req.raw, { headers });
    return next();
  };

/** Team members who may edit bots answer visitors; viewers watch; API keys speak as the end user. */
export function roomRoleFor(actor: Actor, org: OrgContext): RoomRole {
  if (actor.kind === 'api_key') return 'visitor';
  return ROLE_RANK[org.role] >= ROLE_RANK.member ? 'agent' : 'observer';
}

export const upgradeRequired = () =>
  new ApiError({
    status: 426,
    code: 'upgrade_required',
    title: 'Upgrade required',
    detail: 'This endpoint is a WebSocket: send Upgrade: websocket.',
    headers: { upgrade: 'websocket' },
  });

export function conversationSocketRoutes() {
  const router = createRouter();
  router.openapi(
    createRoute({
      method: 'get',
      path: '/conversations/{conversationId}/ws',
      tags: ['Conversations'],
      security: [{ bearer: [] }],
      summary: 'Join the conversation live (WebSocket)',
      description:
        'Upgrades to a WebSocket into the conversation\'s room. Authenticate with `Authorization: Bearer …` or, from a browser, ' +
        'offer the subprotocols `kyrochat` and `kyrochat.bearer.<token>`. The role comes from the principal: members and above are ' +
        'agents (may take over), viewers observe, API keys with the `chat` scope are the visitor. Frames: see the README.',
      request: { params: IdParam('conversationId', 'cnv') },
      responses: {
        101: { description: 'Switching protocols: the WebSocket is open' },
        400: errorResponses[400],
        401: errorResponses[401],
        403: errorResponses[403],
        404: errorResponses[404],
        426: { description: 'Not a WebSocket upgrade request' },
        429: errorResponses[429],
        503: errorResponses[503],
      },
    }),
    async (c) => {
      const org = requirePermission(c, 'chat');
      const { conversationId } = c.req.valid('param');
      const conversation = await conversationForRoom(c.get('db'), org.orgId, conversationId);
      if (!conversation) throw notFound('Conversation', 'conversation_not_found');
      if (!isUpgrade(c.req.raw)) throw upgradeRequired();

      const actor = c.get('actor');
      const identity: RoomIdentity = {
        orgId: org.orgId,
        conversationId,
        botId: conversation.botId,
        role: roomRoleFor(actor, org),
        userId: actor.kind === 'user' ? actor.userId : null,
        keyId: actor.kind === 'api_key' ? actor.keyId : null,
        subprotocol: readSubprotocols(c.req.header('sec-websocket-protocol') ?? null).offersKyrochat,
        ip: clientIp(c),
      };
      return upgradeIntoRoom(c, identity);
    },
  );
  return router;
}

/**
 * Hands a verified upgrade to the conversation's room. A fresh request: only the upgrade
 * handshake and the verified identity reach the room (not the caller's token, nor any identity
 * header the caller made up). The conversation is marked live first, so turns over HTTP mirror
 * into the room from now on.
 */
export async function upgradeIntoRoom(c: Context<AppBindings>, identity: RoomIdentity): Promise<Response> {
  const headers = new Headers({ upgrade: 'websocket', [ROOM_IDENTITY_HEADER]: JSON.stringify(identity) });
  for (const name of ['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions']) {
    const value = c.req.header(name);
    if (value) headers.set(name, value);
  }
  await markConversationLive(c.get('db'), identity.orgId, identity.conversationId, Date.now());
  const room = c.env.CONVERSATION_ROOM.get(c.env.CONVERSATION_ROOM.idFromName(identity.conversationId));
  const res = await room.fetch(new Request(c.req.url, { headers }));
  // Re-wrapped: the room's response has immutable headers, and the middleware after this (secure
  // headers, CORS, rate-limit headers) writes to whatever response comes back.
  if (res.status === 101) return new Response(null, { status: 101, webSocket: res.webSocket, headers: res.headers });
  await res.body?.cancel();
  throw new ApiError({ status: 503, code: 'room_unavailable', title: 'Service unavailable', detail: 'The conversation room is full or unavailable; try again shortly.', headers: { 'retry-after': '5' } });
}
