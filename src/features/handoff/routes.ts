/**
 * Human handoff and the inbox (issue #10): a member or API key asks for a person on a
 * conversation, the inbox lists conversations that need one, and a member's read marker moves.
 * The visitor's button is widget-route.ts.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, jsonBody, jsonContent, commonErrors, errorResponses, IdParam, page, PaginationQuery } from '../../http/router';
import { badRequest, conflict, forbidden, notFound } from '../../http/problem';
import { requirePermission, serviceContext } from '../../http/context';
import { decodeCursor, toPage } from '../../http/pagination';
import { CONVERSATION_STATUSES, ESCALATION_PRIORITIES } from '../../db/schema';
import { ESCALATION, INBOX } from '../../limits';
import { MessageSchema } from '../chat/schemas';
import { toMessageDto } from '../chat/store';
import { HandoffOutcomeSchema } from '../chat/schemas';
import { EscalationSchema } from '../escalations/schemas';
import { toEscalationDto } from '../escalations/service';
import { getConversation } from '../conversations/service';
import { announceHandoff, requestHandoff, type HandoffResult } from './service';
import { INBOX_STATUSES, listInbox, markRead, toInboxDto } from './inbox';
import { HANDOFF_LANGS } from './settings';
import type { ServerFrame } from '../chat/live/room-protocol';
import { publishToRoom } from '../chat/live/room-publish';

const tags = ['Inbox'];
const security = [{ bearer: [] }];
const ConversationId = IdParam('conversationId', 'cnv');

export const HandoffReply = z
  .object({
    conversationId: z.string(),
    conversationStatus: z.enum(CONVERSATION_STATUSES),
    escalation: EscalationSchema.nullable(),
    notice: MessageSchema.nullable().openapi({ description: 'The stored message telling the visitor (null when nothing changed)' }),
    handoff: HandoffOutcomeSchema.nullable(),
  })
  .openapi('HandoffReply');

const MemberHandoffBody = z
  .object({
    priority: z.enum(ESCALATION_PRIORITIES).optional(),
    note: z.string().trim().max(ESCALATION.maxDescriptionChars).optional().openapi({ description: "The ticket's description" }),
    lang: z.enum(HANDOFF_LANGS).optional().openapi({ description: "The visitor's language for the notice (default en)" }),
  })
  .strict()
  .openapi('HandoffRequest');

/** The same answer for the member route and the visitor's button. */
export function handoffReply(result: Extract<HandoffResult, { status: 'requested' | 'already' }>, now: number) {
  return {
    conversationId: result.conversation.id,
    conversationStatus: result.conversation.status,
    escalation: result.escalation ? toEscalationDto(result.escalation, now) : null,
    notice: result.status === 'requested' ? toMessageDto(result.notice) : null,
    handoff: result.status === 'requested' ? result.outcome : null,
  };
}

export const handoffConflict = () => conflict('This conversation is closed; start a new one.', 'conversation_closed');

const InboxItem = z
  .object({
    id: z.string(),
    botId: z.string(),
    channel: z.string(),
    title: z.string(),
    status: z.enum(INBOX_STATUSES),
    visitorId: z.string().nullable(),
    humanUserId: z.string().nullable().openapi({ description: 'The member who took over' }),
    assigneeId: z.string().nullable().openapi({ description: 'Who has it: the member who took over, else the open ticket\'s assignee' }),
    escalationId: z.string().nullable(),
    messageCount: z.number().int(),
    unread: z.number().int().nullable().openapi({ description: "Messages after your read marker, not written by you (null for an API key: keys have no marker)" }),
    lastMessageAt: z.string().datetime().nullable(),
    handoffRequestedAt: z.string().datetime().nullable(),
    waitingSeconds: z.number().int().nullable(),
    createdAt: z.string().datetime(),
  })
  .openapi('InboxItem');

const InboxQuery = PaginationQuery.extend({
  status: z.enum(INBOX_STATUSES).optional().openapi({ description: 'Default: both' }),
  botId: z.string().min(1).max(64).optional(),
  assignee: z.string().min(1).max(64).optional().openapi({ description: 'A user id, `me` or `none`' }),
  waitingLongerThan: z.coerce.number().int().min(0).max(INBOX.maxWaitingSeconds).optional().openapi({ description: 'Seconds since the handoff was requested' }),
});

const ReadBody = z
  .object({ messageId: z.string().min(1).max(64).optional().openapi({ description: 'Default: the newest message' }) })
  .strict()
  .openapi('ReadMarkerRequest');

export function handoffRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'post',
      path: '/conversations/{conversationId}/handoff',
      tags,
      security,
      summary: 'Ask for a person on a conversation: it moves to handoff_requested and a ticket opens',
      description:
        'The conversation must be `open`: it becomes `handoff_requested`, an escalation ticket opens, `conversation.handoff_requested` and `escalation.created` are recorded, and the visitor is told (a stored message, live in the room). ' +
        'Asked again while waiting for (or with) a person, nothing changes (200 with the open ticket).',
      request: { params: ConversationId, body: jsonBody(MemberHandoffBody) },
      responses: {
        201: jsonContent(HandoffReply, 'Requested: the ticket and the notice'),
        200: jsonContent(HandoffReply, 'Already waiting for, or with, a person: nothing changed'),
        ...commonErrors,
        409: { ...errorResponses[409], description: 'The conversation is closed (`conversation_closed`)' },
      },
    }),
    async (c) => {
      const org = requirePermission(c, 'conversations.manage');
      const body = c.req.valid('json');
      const actor = c.get('actor');
      const ctx = serviceContext(c);
      const result = await requestHandoff(ctx, {
        orgId: org.orgId,
        conversationId: c.req.valid('param').conversationId,
        source: actor.kind === 'user' ? 'member' : 'api',
        lang: body.lang ?? 'en',
        actor: actor.kind === 'user' ? { type: 'user', id: actor.userId } : { type: 'api_key', id: actor.keyId },
        auditActor: actor,
        priority: body.priority,
        note: body.note,
      });
      if (result.status === 'not_found') throw notFound('Conversation', 'conversation_not_found');
      if (result.status === 'closed') throw handoffConflict();
      if (result.status === 'requested') await announceHandoff(ctx, result, true);
      return c.json(handoffReply(result, Date.now()), result.status === 'requested' ? 201 : 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/inbox',
      tags,
      security,
      summary: 'Conversations that need a person (handoff_requested, human), oldest first, with your unread counts',
      request: { query: InboxQuery },
      responses: { 200: jsonContent(page(InboxItem), 'A page of conversations'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'conversations.read');
      const q = c.req.valid('query');
      const actor = c.get('actor');
      const readerId = actor.kind === 'user' ? actor.userId : null;
      let assignee = q.assignee;
      if (assignee === 'me') {
        if (!readerId) throw badRequest('`me` names a person; an API key is not one.', 'me_requires_user', [{ path: 'query.assignee', message: 'Only people have conversations of their own' }]);
        assignee = readerId;
      }
      const ctx = serviceContext(c);
      const rows = await listInbox(ctx, org.orgId, readerId, { status: q.status, botId: q.botId, assignee, waitingLongerThanSeconds: q.waitingLongerThan }, decodeCursor(q.cursor), q.limit);
      const result = toPage(rows, q.limit);
      const now = ctx.clock.now();
      return c.json({ data: result.data.map((r) => toInboxDto(r, now)), nextCursor: result.nextCursor }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/conversations/{conversationId}/read',
      tags,
      security,
      summary: 'Move your read marker (the inbox unread count) to a message; the room sees a read receipt',
      request: { params: ConversationId, body: jsonBody(ReadBody) },
      responses: {
        200: jsonContent(z.object({ conversationId: z.string(), messageId: z.string().nullable() }).openapi('ReadMarker'), 'The marker'),
        ...commonErrors,
        404: { ...errorResponses[404], description: 'No such conversation in this org, or no such message in it (`message_not_found`)' },
      },
    }),
    async (c) => {
      const org = requirePermission(c, 'conversations.read');
      const actor = c.get('actor');
      if (actor.kind !== 'user') throw forbidden('Read markers belong to people; an API key has none.', 'people_only');
      const conversationId = c.req.valid('param').conversationId;
      const ctx = serviceContext(c);
      const conversation = await getConversation(ctx.db, org.orgId, conversationId);
      if (!conversation) throw notFound('Conversation', 'conversation_not_found');
      const result = await markRead(ctx, org.orgId, conversationId, actor.userId, c.req.valid('json').messageId ?? null);
      if (result.status === 'unknown_message') throw notFound('Message', 'message_not_found');
      if (result.status === 'ok' && conversation.liveAt !== null) {
        const frame: ServerFrame = { type: 'read', role: 'agent', userId: actor.userId, messageId: result.messageId };
        // The marker is stored; a receipt the room missed is not worth failing the request.
        await publishToRoom(ctx, conversationId, [frame], 'read receipt not relayed');
      }
      return c.json({ conversationId, messageId: result.status === 'ok' ? result.messageId : null }, 200);
    },
  );

  return router;
}


