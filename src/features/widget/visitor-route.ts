/**
 * The widget's visitor endpoints (mounted under /api/v1 behind `widgetOrigin`, app.ts):
 * POST /widget/{botId}/session, and the visitor's own conversations and their messages (behind
 * `visitorAuth`). Widget chat itself is a chat route (features/chat/widget-route.ts).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, jsonBody, jsonContent, errorResponses, IdParam, page, PaginationQuery } from '../../http/router';
import { ApiError, notFound, validationFailed } from '../../http/problem';
import { serviceContext } from '../../http/context';
import { decodeCursor, toPage } from '../../http/pagination';
import { WIDGET } from '../../limits';
import { FEEDBACK_RATINGS } from '../../db/schema';
import { toMessageDto } from '../chat/store';
import { MessageSchema } from '../chat/schemas';
import { ratingsBy, recordFeedback, toFeedbackDto } from '../feedback/service';
import { FeedbackBody, FeedbackSchema } from '../feedback/schemas';
import { createLead, toLeadDto } from '../leads/service';
import { LeadSchema } from '../leads/schemas';
import { getPublicWidgetConfig } from './service';
import { getVisitorConversation, issueSession, listVisitorConversations, listVisitorMessages, toVisitorConversationDto } from './visitors';

/** A message as its visitor sees it: with the visitor's own thumbs on it, so a reloaded widget shows them. */
const VisitorMessage = MessageSchema.extend({
  myRating: z.enum(FEEDBACK_RATINGS).nullable().openapi({ description: "This visitor's own rating of an answer (null: none, or not an answer)" }),
}).openapi('VisitorMessage');

const tags = ['Widget'];
const visitorSecurity = [{ visitorToken: [] }];
const BotId = IdParam('botId', 'bot');

const widgetErrors = {
  403: { ...errorResponses[403], description: 'The Origin is missing, not allowed for this bot (`origin_not_allowed`), or not the one the visitor token was issued to' },
  404: { ...errorResponses[404], description: 'No public bot has this id' },
  429: { ...errorResponses[429], description: 'The per-visitor or per-IP widget rate limit is used up' },
} as const;

const OriginHeader = z.object({
  origin: z.string().max(WIDGET.maxOriginChars).optional().openapi({ description: "The embedding page's origin (browsers send it); must be one of the bot's allowed origins", example: 'https://www.example.com' }),
});

const SessionBody = z
  .object({
    visitorId: z
      .string()
      .max(200)
      .optional()
      .openapi({ description: 'The visitor id a previous session returned (kept by the widget). Absent or not one of ours: a new one is made' }),
    identity: z
      .object({
        userId: z.string().min(1).max(WIDGET.maxUserIdChars).regex(/^[\x21-\x7e]+$/, 'Printable ASCII without spaces').openapi({ description: "The host's id for the signed-in user" }),
        hash: z.string().regex(/^[0-9a-fA-F]{64}$/, '64 hex digits').openapi({ description: "hex(HMAC-SHA256(the bot's identity secret, userId)), computed by the host's server" }),
      })
      .strict()
      .optional(),
  })
  .strict()
  .openapi('WidgetSessionRequest');

const LeadBody = z
  .object({
    conversationId: z.string().max(64).optional().openapi({ description: "The visitor's conversation the form was filled in, if any" }),
    name: z.string().max(1000).optional(),
    email: z.string().max(1000).optional(),
    phone: z.string().max(1000).optional(),
  })
  .strict()
  .openapi('WidgetLeadRequest');

const Session = z
  .object({
    token: z.string().openapi({ description: 'The visitor token: send it as `Authorization: Bearer` on widget chat and conversation requests, from the same origin' }),
    expiresAt: z.string().datetime(),
    visitorId: z.string().openapi({ example: 'vis_01JD3X5Q8W2N4V6B8C0D2E4F6G' }),
    verified: z.boolean().openapi({ description: 'True when the identity hash verified: conversations then follow the user across devices' }),
  })
  .openapi('WidgetSession');

const VisitorConversation = z
  .object({
    id: z.string(),
    title: z.string(),
    status: z.enum(['open', 'handoff_requested', 'human', 'closed']),
    messageCount: z.number().int(),
    lastMessageAt: z.string().datetime().nullable(),
    createdAt: z.string().datetime(),
  })
  .openapi('WidgetConversation');

const MessagesQuery = PaginationQuery.extend({
  order: z.enum(['asc', 'desc']).default('asc').openapi({ description: 'asc: oldest first (reading order); desc: newest first' }),
});

export function widgetVisitorRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'post',
      path: '/widget/{botId}/session',
      tags,
      summary: 'Open a visitor session (the widget calls this first)',
      description:
        'Public, for public bots, from an allowed Origin. Returns a short-lived visitor token bound to the bot, the origin and a visitor id. ' +
        "With `identity` (the host's user id and its HMAC-SHA256 under the bot's identity secret) the session is verified; a wrong hash is a 403 `identity_invalid` and no token.",
      request: { params: BotId, headers: OriginHeader, body: jsonBody(SessionBody) },
      responses: {
        200: jsonContent(Session, 'The visitor token'),
        400: errorResponses[400],
        ...widgetErrors,
        403: { ...errorResponses[403], description: 'The Origin is not allowed (`origin_not_allowed`), or the identity hash is wrong (`identity_invalid`)' },
      },
    }),
    async (c) => {
      const { bot, origin } = c.get('widget');
      const result = await issueSession(serviceContext(c), bot, origin, c.req.valid('json'));
      if (result.status === 'identity_invalid') {
        throw new ApiError({ status: 403, code: 'identity_invalid', title: 'Forbidden', detail: "The identity hash does not match the user id under the bot's identity secret." });
      }
      return c.json({ token: result.token, expiresAt: new Date(result.expiresAt).toISOString(), visitorId: result.visitorId, verified: result.verified }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/widget/{botId}/conversations',
      tags,
      security: visitorSecurity,
      summary: "The visitor's own conversations (a verified user's from every device), newest first",
      request: { params: BotId, headers: OriginHeader, query: PaginationQuery },
      responses: { 200: jsonContent(page(VisitorConversation), 'A page of conversations'), 400: errorResponses[400], 401: errorResponses[401], ...widgetErrors },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid('query');
      const rows = await listVisitorConversations(c.get('db'), c.get('visitor'), decodeCursor(cursor), limit);
      const result = toPage(rows, limit);
      return c.json({ data: result.data.map(toVisitorConversationDto), nextCursor: result.nextCursor }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/widget/{botId}/conversations/{conversationId}/messages',
      tags,
      security: visitorSecurity,
      summary: "A page of one of the visitor's conversations (user, assistant and team member messages)",
      request: { params: BotId.merge(IdParam('conversationId', 'cnv')), headers: OriginHeader, query: MessagesQuery },
      responses: {
        200: jsonContent(page(VisitorMessage), 'A page of messages'),
        400: errorResponses[400],
        401: errorResponses[401],
        ...widgetErrors,
        404: { ...errorResponses[404], description: "No public bot has this id, or the conversation is not this visitor's" },
      },
    }),
    async (c) => {
      const { conversationId } = c.req.valid('param');
      const { limit, cursor, order } = c.req.valid('query');
      const db = c.get('db');
      const conversation = await getVisitorConversation(db, c.get('visitor'), conversationId);
      if (!conversation) throw notFound('Conversation', 'conversation_not_found');
      const rows = await listVisitorMessages(db, conversation.id, order, decodeCursor(cursor), limit);
      const result = toPage(rows, limit);
      const visitor = c.get('visitor');
      const answers = result.data.filter((m) => m.role === 'assistant').map((m) => m.id);
      const ratings = answers.length
        ? await ratingsBy(serviceContext(c), {
            orgId: visitor.orgId,
            conversationId: conversation.id,
            messageIds: answers,
            author: { kind: 'visitor', id: visitor.visitorId, botId: visitor.botId, verifiedUserId: visitor.verifiedUserId },
          })
        : new Map();
      return c.json({ data: result.data.map((m) => ({ ...toMessageDto(m), myRating: ratings.get(m.id) ?? null })), nextCursor: result.nextCursor }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/widget/{botId}/conversations/{conversationId}/messages/{messageId}/feedback',
      tags,
      security: visitorSecurity,
      summary: "Thumbs up or down on an answer in the visitor's own conversation (rating again replaces it)",
      request: { params: BotId.merge(IdParam('conversationId', 'cnv')).merge(IdParam('messageId', 'msg')), headers: OriginHeader, body: jsonBody(FeedbackBody) },
      responses: {
        201: jsonContent(FeedbackSchema, "The visitor's first rating of this answer"),
        200: jsonContent(FeedbackSchema, "The visitor's earlier rating, replaced"),
        400: errorResponses[400],
        401: errorResponses[401],
        ...widgetErrors,
        404: { ...errorResponses[404], description: "No public bot has this id, or no such answer in one of this visitor's conversations" },
      },
    }),
    async (c) => {
      const { conversationId, messageId } = c.req.valid('param');
      const body = c.req.valid('json');
      const visitor = c.get('visitor');
      const result = await recordFeedback(serviceContext(c), {
        orgId: visitor.orgId,
        conversationId,
        messageId,
        rating: body.rating,
        comment: body.comment,
        author: { kind: 'visitor', id: visitor.visitorId, botId: visitor.botId, verifiedUserId: visitor.verifiedUserId },
      });
      switch (result.status) {
        // A visitor is not told whether someone else's message exists or is an answer.
        case 'not_found':
        case 'not_assistant':
          throw notFound('Message', 'message_not_found');
        case 'invalid':
          throw validationFailed(result.errors);
        case 'stored':
          return c.json(toFeedbackDto({ ...result.feedback, mine: true }), result.created ? 201 : 200);
      }
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/widget/{botId}/leads',
      tags,
      security: visitorSecurity,
      summary: "The widget's lead form: the visitor's name, email and phone (at least an email or a phone)",
      request: { params: BotId, headers: OriginHeader, body: jsonBody(LeadBody) },
      responses: {
        201: jsonContent(LeadSchema, 'The stored lead'),
        400: errorResponses[400],
        401: errorResponses[401],
        ...widgetErrors,
        404: { ...errorResponses[404], description: "No public bot has this id, or the conversation is not this visitor's" },
        409: { ...errorResponses[409], description: "The bot's widget has no lead form (`lead_form_disabled`)" },
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const visitor = c.get('visitor');
      // The bot's effective lead form decides what the widget may send: the same rules server side.
      const widget = await getPublicWidgetConfig(c.get('db'), visitor.botId);
      if (widget.status === 'not_found') throw notFound('Bot', 'bot_not_found');
      const form = widget.config.leadForm;
      if (!form.enabled) {
        throw new ApiError({ status: 409, code: 'lead_form_disabled', title: 'Lead form disabled', detail: "This bot's widget does not collect leads." });
      }
      const missing = form.fields.filter((f) => f.required && !body[f.field]?.trim()).map((f) => ({ path: f.field, message: 'Required by this bot\'s lead form' }));
      if (missing.length > 0) throw validationFailed(missing);
      const result = await createLead(serviceContext(c), {
        orgId: visitor.orgId,
        botId: visitor.botId,
        conversationId: body.conversationId ?? null,
        visitorId: visitor.visitorId,
        verifiedUserId: visitor.verifiedUserId,
        name: body.name ?? null,
        email: body.email ?? null,
        phone: body.phone ?? null,
      });
      switch (result.status) {
        case 'invalid':
          throw validationFailed(result.errors);
        case 'bot_not_found':
          throw notFound('Bot', 'bot_not_found');
        case 'conversation_not_found':
          throw notFound('Conversation', 'conversation_not_found');
        case 'created':
          return c.json(toLeadDto(result.lead), 201);
      }
    },
  );

  return router;
}
