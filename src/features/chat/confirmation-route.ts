/**
 * Deciding a paused action (issue #11): a member of the org, or the widget visitor who owns the
 * conversation, approves or rejects the call a `confirmation` event announced. The turn then
 * resumes and is answered like a chat turn (JSON, or SSE with `stream: true`). Decided once.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, jsonBody, jsonContent, commonErrors, errorResponses, IdParam } from '../../http/router';
import { requirePermission, serviceContext } from '../../http/context';
import { resumeTurn } from './pipeline';
import { clientTurn, refusalProblem, streamedReply, turnCaller } from './route-turn';
import { nativeTurnResponse } from './route-sse';
import { ChatPaused, ChatReply, turnFailureResponses } from './schemas';
import { ConfirmationDecision } from '../actions/schemas';

const params = IdParam('conversationId', 'cnv').merge(IdParam('confirmationId', 'cfm'));
const answers = {
  200: {
    description: 'The resumed turn\'s stored answer (JSON), or its event stream',
    content: { 'application/json': { schema: ChatReply }, 'text/event-stream': { schema: { type: 'string' as const } } },
  },
  202: jsonContent(ChatPaused, 'The resumed turn paused again (another confirmation, or a team member took over)'),
  409: { ...errorResponses[409], description: 'Already decided (`confirmation_decided`) or expired (`confirmation_expired`): nothing ran' },
  ...turnFailureResponses,
};
const description =
  '`approve: true` runs the action and resumes the turn with its result; `approve: false` records the rejection, tells the model, and resumes. ' +
  'A confirmation is decided once and expires after a while; nothing runs without approval.';

/** Members and keys: mounted behind authenticate + resolveOrg. */
export function memberConfirmationRoutes() {
  const router = createRouter();
  router.openapi(
    createRoute({
      method: 'post',
      path: '/conversations/{conversationId}/confirmations/{confirmationId}',
      tags: ['Chat'],
      security: [{ bearer: [] }],
      summary: 'Approve or reject an action the bot wants to run',
      description,
      request: { params, body: jsonBody(ConfirmationDecision) },
      responses: { ...answers, ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'conversations.manage');
      const body = c.req.valid('json');
      const { conversationId, confirmationId } = c.req.valid('param');
      const client = clientTurn(c);
      const start = await resumeTurn(serviceContext(c), { orgId: org.orgId, conversationId, confirmationId, approve: body.approve, caller: turnCaller(c), channel: 'api', signal: client.signal });
      if (!start.ok) throw refusalProblem(start.refusal);
      return streamedReply(await nativeTurnResponse(c, start, client, body.stream));
    },
  );
  return router;
}

/** The widget visitor: mounted behind widgetOrigin + visitorAuth (app.ts). */
export function widgetConfirmationRoutes() {
  const router = createRouter();
  router.openapi(
    createRoute({
      method: 'post',
      path: '/widget/{botId}/conversations/{conversationId}/confirmations/{confirmationId}',
      tags: ['Widget'],
      security: [{ visitorToken: [] }],
      summary: 'Approve or reject an action, as the widget visitor who owns the conversation',
      description,
      request: { params: params.merge(IdParam('botId', 'bot')), headers: z.object({ origin: z.string().max(200).optional() }), body: jsonBody(ConfirmationDecision) },
      responses: {
        ...answers,
        400: errorResponses[400],
        401: { ...errorResponses[401], description: 'The visitor token is missing, invalid or expired' },
        403: { ...errorResponses[403], description: 'The Origin is not allowed, or the token is for another bot' },
        404: { ...errorResponses[404], description: 'No such confirmation in a conversation of this visitor' },
        429: errorResponses[429],
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const { bot } = c.get('widget');
      const visitor = c.get('visitor');
      const { conversationId, confirmationId } = c.req.valid('param');
      const client = clientTurn(c);
      const start = await resumeTurn(serviceContext(c), {
        orgId: bot.orgId,
        botId: bot.id,
        conversationId,
        confirmationId,
        approve: body.approve,
        caller: { kind: 'visitor', visitorId: visitor.visitorId, verifiedUserId: visitor.verifiedUserId },
        channel: 'widget',
        signal: client.signal,
      });
      if (!start.ok) throw refusalProblem(start.refusal);
      return streamedReply(await nativeTurnResponse(c, start, client, body.stream));
    },
  );
  return router;
}
