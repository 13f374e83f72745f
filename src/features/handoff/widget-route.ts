/**
 * POST /api/v1/widget/{botId}/conversations/{conversationId}/handoff: the widget's "talk to a
 * human" button. Behind `widgetOrigin` and `visitorAuth` (app.ts): only the visitor's own
 * conversation (another's is a 404), only when the bot allows handoff.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, jsonBody, jsonContent, errorResponses, IdParam } from '../../http/router';
import { conflict, notFound } from '../../http/problem';
import { serviceContext } from '../../http/context';
import { getBot } from '../bots/service';
import { getVisitorConversation } from '../widget/visitors';
import { announceHandoff, requestHandoff } from './service';
import { handoffSettingsOf, HANDOFF_LANGS } from './settings';
import { handoffConflict, handoffReply, HandoffReply } from './routes';

const Body = z
  .object({ lang: z.enum(HANDOFF_LANGS).optional().openapi({ description: "The widget's language for the notice (default en)" }) })
  .strict()
  .openapi('WidgetHandoffRequest');

export function widgetHandoffRoutes() {
  const router = createRouter();
  router.openapi(
    createRoute({
      method: 'post',
      path: '/widget/{botId}/conversations/{conversationId}/handoff',
      tags: ['Widget'],
      security: [{ visitorToken: [] }],
      summary: '"Talk to a human": the visitor asks for a person in their own conversation',
      description:
        'Shown when the public config says `handoff.enabled`. The conversation moves to `handoff_requested`, a ticket opens and the answer carries the notice to show (outside business hours: when the team is back, and `askForEmail` to show the lead form). Pressed again, nothing changes (200).',
      request: { params: IdParam('botId', 'bot').merge(IdParam('conversationId', 'cnv')), headers: z.object({ origin: z.string().max(200).optional() }), body: jsonBody(Body) },
      responses: {
        201: jsonContent(HandoffReply, 'Requested'),
        200: jsonContent(HandoffReply, 'Already waiting for, or with, a person'),
        400: errorResponses[400],
        401: errorResponses[401],
        403: errorResponses[403],
        404: { ...errorResponses[404], description: "No public bot has this id, or the conversation is not this visitor's" },
        409: { ...errorResponses[409], description: 'The bot does not hand off (`handoff_disabled`), or the conversation is closed' },
        429: errorResponses[429],
      },
    }),
    async (c) => {
      const visitor = c.get('visitor');
      const ctx = serviceContext(c);
      const conversation = await getVisitorConversation(ctx.db, visitor, c.req.valid('param').conversationId);
      if (!conversation) throw notFound('Conversation', 'conversation_not_found');
      const bot = await getBot(ctx.db, visitor.orgId, visitor.botId);
      if (!bot) throw notFound('Bot', 'bot_not_found');
      if (!handoffSettingsOf(bot.handoff).enabled) throw conflict('This bot does not hand conversations over to people.', 'handoff_disabled');
      const result = await requestHandoff(ctx, {
        orgId: visitor.orgId,
        conversationId: conversation.id,
        source: 'button',
        lang: c.req.valid('json').lang ?? 'en',
        actor: { type: 'visitor', id: visitor.visitorId },
        auditActor: { kind: 'anonymous' },
      });
      if (result.status === 'not_found') throw notFound('Conversation', 'conversation_not_found');
      if (result.status === 'closed') throw handoffConflict();
      if (result.status === 'requested') await announceHandoff(ctx, result, true);
      return c.json(handoffReply(result, Date.now()), result.status === 'requested' ? 201 : 200);
    },
  );
  return router;
}
