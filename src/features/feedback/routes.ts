/**
 * Feedback on assistant messages, for team members (issue #9). The widget visitor's route is the
 * widget's; both go through recordFeedback. Another org's conversation or message, a deleted
 * conversation, and a message of another conversation all answer 404.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { createRouter, jsonBody, jsonContent, commonErrors, errorResponses } from '../../http/router';
import { ApiError, notFound, validationFailed } from '../../http/problem';
import { requirePermission, serviceContext } from '../../http/context';
import type { AppBindings } from '../../http/types';
import { FeedbackBody, FeedbackSchema } from './schemas';
import { listFeedback, recordFeedback, toFeedbackDto, type FeedbackAuthor } from './service';

const tags = ['Conversations'];
const security = [{ bearer: [] }];

const idParam = (name: string, prefix: string) =>
  z.string().min(1).max(64).openapi({ param: { name, in: 'path' }, example: `${prefix}_01JD3X0000000000000000000` });
const MessageParams = z.object({ conversationId: idParam('conversationId', 'cnv'), messageId: idParam('messageId', 'msg') });

/** A person rates as their user id; an API key (an integrator's backend) as its key id. */
function memberAuthor(c: Context<AppBindings>): FeedbackAuthor {
  const actor = c.get('actor');
  return { kind: 'member', id: actor.kind === 'user' ? actor.userId : actor.keyId };
}

const messageNotFound = () => notFound('Message', 'message_not_found');

/** Mounted under /api/v1 behind authenticate + resolveOrg. */
export function feedbackRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'post',
      path: '/conversations/{conversationId}/messages/{messageId}/feedback',
      tags,
      security,
      summary: 'Rate an answer up or down (one rating per person per message; rating again replaces it)',
      request: { params: MessageParams, body: jsonBody(FeedbackBody) },
      responses: {
        201: jsonContent(FeedbackSchema, 'Your first rating of this message'),
        200: jsonContent(FeedbackSchema, 'Your earlier rating, replaced'),
        ...commonErrors,
        422: { ...errorResponses[422], description: 'Only the bot\'s answers can be rated (`not_an_answer`)' },
      },
    }),
    async (c) => {
      const org = requirePermission(c, 'feedback.write');
      const { conversationId, messageId } = c.req.valid('param');
      const body = c.req.valid('json');
      const result = await recordFeedback(serviceContext(c), {
        orgId: org.orgId,
        conversationId,
        messageId,
        rating: body.rating,
        comment: body.comment,
        author: memberAuthor(c),
      });
      switch (result.status) {
        case 'not_found':
          throw messageNotFound();
        case 'not_assistant':
          throw new ApiError({ status: 422, code: 'not_an_answer', title: 'Not an answer', detail: 'Only the bot\'s answers (assistant messages) can be rated.' });
        case 'invalid':
          throw validationFailed(result.errors);
        case 'stored':
          return c.json(toFeedbackDto({ ...result.feedback, mine: true }), result.created ? 201 : 200);
      }
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/conversations/{conversationId}/messages/{messageId}/feedback',
      tags,
      security,
      summary: 'The ratings of one message, newest first (your own marked `mine`)',
      request: { params: MessageParams },
      responses: { 200: jsonContent(z.object({ data: z.array(FeedbackSchema) }), 'Every rating of this message'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'conversations.read');
      const { conversationId, messageId } = c.req.valid('param');
      const result = await listFeedback(serviceContext(c), { orgId: org.orgId, conversationId, messageId, viewer: memberAuthor(c) });
      if (result.status === 'not_found') throw messageNotFound();
      return c.json({ data: result.items.map(toFeedbackDto) }, 200);
    },
  );

  return router;
}
