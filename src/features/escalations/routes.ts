/**
 * Escalation tickets (issue #10): create, list with filters, read, PATCH transitions (one guarded
 * UPDATE each; an illegal one is a 409 naming the allowed actions), comments, watchers and the
 * audit history. Another org's ticket answers 404 on every route.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { createRouter, jsonBody, jsonContent, commonErrors, errorResponses, IdParam, page, PaginationQuery } from '../../http/router';
import { ApiError, badRequest, conflict, notFound } from '../../http/problem';
import { requirePermission, serviceContext } from '../../http/context';
import { decodeCursor, toPage } from '../../http/pagination';
import { etagFor, etagResponseHeaders, IfMatchHeaders, ifMatchRevisions, preconditionFailed, preconditionFailedResponse } from '../../http/etag';
import { idempotent, IdempotencyKeyHeaders, idempotencyErrors } from '../../http/middleware/idempotency';
import type { AppBindings } from '../../http/types';
import { listActivity } from '../audit/service';
import {
  AddWatcherSchema,
  CommentSchema,
  CreateCommentSchema,
  CreateEscalationSchema,
  EscalationSchema,
  HistoryItemSchema,
  ListEscalationsQuery,
  UpdateEscalationSchema,
  WatchersSchema,
} from './schemas';
import * as tickets from './service';

const tags = ['Escalations'];
const security = [{ bearer: [] }];
const TicketId = IdParam('escalationId', 'esc');
const ticketNotFound = () => notFound('Escalation', 'escalation_not_found');
const invalidAssignee = (path = 'assigneeId') =>
  badRequest('The assignee must be a member of this organization.', 'invalid_assignee', [{ path, message: 'Not a member of this organization' }]);

/** `me` is the calling person; an API key has no "me". */
function resolveUser(c: Context<AppBindings>, value: string, path: string): string {
  if (value !== 'me') return value;
  const actor = c.get('actor');
  if (actor.kind !== 'user') throw badRequest('`me` names a person; an API key is not one.', 'me_requires_user', [{ path, message: 'Only people have tickets of their own' }]);
  return actor.userId;
}

export function escalationRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'post',
      path: '/escalations',
      tags,
      security,
      summary: 'Open an escalation ticket',
      description: 'Idempotency-Key makes a retry safe. The creator and the assignee watch the ticket (they are mailed on every transition).',
      middleware: [idempotent()] as const,
      request: { headers: IdempotencyKeyHeaders, body: jsonBody(CreateEscalationSchema) },
      responses: { 201: { ...jsonContent(EscalationSchema, 'The new ticket'), headers: etagResponseHeaders }, ...commonErrors, ...idempotencyErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'conversations.manage');
      const body = c.req.valid('json');
      const result = await tickets.createEscalation(serviceContext(c), c.get('actor'), { ...body, orgId: org.orgId, source: c.get('actor').kind === 'user' ? 'member' : 'api' });
      switch (result.status) {
        case 'conversation_not_found':
          throw notFound('Conversation', 'conversation_not_found');
        case 'bot_not_found':
          throw notFound('Bot', 'bot_not_found');
        case 'invalid_assignee':
          throw invalidAssignee();
        case 'created':
          return c.json(tickets.toEscalationDto(result.row, Date.now()), 201, { etag: etagFor(result.row.revision) });
      }
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/escalations',
      tags,
      security,
      summary: 'List tickets (newest first) by status, priority, assignee (`me`, `none`), overdue, bot',
      request: { query: ListEscalationsQuery },
      responses: { 200: jsonContent(page(EscalationSchema), 'A page of tickets'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'conversations.read');
      const q = c.req.valid('query');
      const now = Date.now();
      const assignee = q.assignee && q.assignee !== 'none' ? resolveUser(c, q.assignee, 'query.assignee') : q.assignee;
      const rows = await tickets.listEscalations(c.get('db'), org.orgId, { ...q, assignee }, now, decodeCursor(q.cursor), q.limit);
      const result = toPage(rows, q.limit);
      return c.json({ data: result.data.map((r) => tickets.toEscalationDto(r, now)), nextCursor: result.nextCursor }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/escalations/{escalationId}',
      tags,
      security,
      summary: 'Get a ticket',
      request: { params: TicketId },
      responses: { 200: { ...jsonContent(EscalationSchema, 'The ticket'), headers: etagResponseHeaders }, ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'conversations.read');
      const row = await tickets.getEscalation(c.get('db'), org.orgId, c.req.valid('param').escalationId);
      if (!row) throw ticketNotFound();
      return c.json(tickets.toEscalationDto(row, Date.now()), 200, { etag: etagFor(row.revision) });
    },
  );

  router.openapi(
    createRoute({
      method: 'patch',
      path: '/escalations/{escalationId}',
      tags,
      security,
      summary: 'Move a ticket (action: assign, unassign, resolve, close, reopen) and/or edit its priority, title, description',
      description:
        'States: open → assigned → resolved → closed; reopen from resolved or closed. Each action is one guarded update: from a state that does not allow it the answer is 409 `illegal_transition` with `allowedActions`. ' +
        'Send If-Match with the ETag from a GET to make the change conditional (412 when stale). The assignee and watchers are mailed.',
      request: { params: TicketId, headers: IfMatchHeaders, body: jsonBody(UpdateEscalationSchema) },
      responses: {
        200: { ...jsonContent(EscalationSchema, 'The updated ticket'), headers: etagResponseHeaders },
        ...commonErrors,
        409: { ...errorResponses[409], description: 'The action is not allowed from the current status (`illegal_transition`, with `currentStatus` and `allowedActions`)' },
        ...preconditionFailedResponse,
      },
    }),
    async (c) => {
      const org = requirePermission(c, 'conversations.manage');
      const id = c.req.valid('param').escalationId;
      const body = c.req.valid('json');
      const patch = body.assigneeId ? { ...body, assigneeId: resolveUser(c, body.assigneeId, 'assigneeId') } : body;
      const result = await tickets.updateEscalation(serviceContext(c), c.get('actor'), org.orgId, id, patch, ifMatchRevisions(c));
      switch (result.status) {
        case 'not_found':
          throw ticketNotFound();
        case 'invalid_assignee':
          throw invalidAssignee();
        case 'precondition_failed':
          throw preconditionFailed('ticket');
        case 'illegal_transition':
          throw new ApiError({
            status: 409,
            code: 'illegal_transition',
            title: 'Illegal transition',
            detail: `A ${result.current} ticket cannot ${body.action}. Allowed from ${result.current}: ${result.allowed.join(', ') || 'nothing'}.`,
            extensions: { currentStatus: result.current, allowedActions: result.allowed },
          });
        case 'updated':
          return c.json(tickets.toEscalationDto(result.row, Date.now()), 200, { etag: etagFor(result.row.revision) });
      }
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/escalations/{escalationId}/comments',
      tags,
      security,
      summary: 'Add an internal comment (never shown to the visitor); the watchers are mailed',
      middleware: [idempotent()] as const,
      request: { params: TicketId, headers: IdempotencyKeyHeaders, body: jsonBody(CreateCommentSchema) },
      responses: { 201: jsonContent(CommentSchema, 'The comment'), ...commonErrors, ...idempotencyErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'conversations.manage');
      const result = await tickets.addComment(serviceContext(c), c.get('actor'), org.orgId, c.req.valid('param').escalationId, c.req.valid('json').body);
      if (result.status === 'not_found') throw ticketNotFound();
      return c.json(tickets.toCommentDto(result.row), 201);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/escalations/{escalationId}/comments',
      tags,
      security,
      summary: "A ticket's comments, oldest first",
      request: { params: TicketId, query: PaginationQuery },
      responses: { 200: jsonContent(page(CommentSchema), 'A page of comments'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'conversations.read');
      const ticket = await tickets.getEscalation(c.get('db'), org.orgId, c.req.valid('param').escalationId);
      if (!ticket) throw ticketNotFound();
      const { limit, cursor } = c.req.valid('query');
      const result = toPage(await tickets.listComments(c.get('db'), ticket.id, decodeCursor(cursor), limit), limit);
      return c.json({ data: result.data.map(tickets.toCommentDto), nextCursor: result.nextCursor }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/escalations/{escalationId}/history',
      tags,
      security,
      summary: "A ticket's full history from the audit trail, newest first",
      request: { params: TicketId, query: PaginationQuery },
      responses: { 200: jsonContent(page(HistoryItemSchema), 'A page of audit events'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'conversations.read');
      const ticket = await tickets.getEscalation(c.get('db'), org.orgId, c.req.valid('param').escalationId);
      if (!ticket) throw ticketNotFound();
      const { limit, cursor } = c.req.valid('query');
      const rows = await listActivity(c.get('db'), { orgId: org.orgId, targetId: ticket.id, cursor: decodeCursor(cursor), limit });
      const result = toPage(rows, limit);
      return c.json(
        {
          data: result.data.map((r) => ({ id: r.id, action: r.action, actorType: r.actorType, actorId: r.actorId, metadata: r.metadata, createdAt: new Date(r.createdAt).toISOString() })),
          nextCursor: result.nextCursor,
        },
        200,
      );
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/escalations/{escalationId}/watchers',
      tags,
      security,
      summary: 'Watch a ticket (mailed on every transition); userId defaults to me',
      request: { params: TicketId, body: jsonBody(AddWatcherSchema) },
      responses: { 200: jsonContent(WatchersSchema, 'The watchers'), ...commonErrors, 409: { ...errorResponses[409], description: 'The ticket has the most watchers allowed (`too_many_watchers`)' } },
    }),
    async (c) => {
      const org = requirePermission(c, 'conversations.manage');
      const userId = resolveUser(c, c.req.valid('json').userId ?? 'me', 'userId');
      const result = await tickets.addWatcher(serviceContext(c), org.orgId, c.req.valid('param').escalationId, userId);
      if (result.status === 'not_found') throw ticketNotFound();
      if (result.status === 'invalid_user') throw invalidAssignee('userId');
      if (result.status === 'too_many') throw conflict('This ticket has the most watchers allowed.', 'too_many_watchers');
      return c.json({ watchers: result.watchers }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'delete',
      path: '/escalations/{escalationId}/watchers/{userId}',
      tags,
      security,
      summary: 'Stop watching a ticket (`me` for yourself)',
      request: { params: TicketId.merge(z.object({ userId: z.string().min(1).max(64).openapi({ param: { name: 'userId', in: 'path' } }) })) },
      responses: { 200: jsonContent(WatchersSchema, 'The watchers'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'conversations.manage');
      const params = c.req.valid('param');
      const result = await tickets.removeWatcher(serviceContext(c), org.orgId, params.escalationId, resolveUser(c, params.userId, 'userId'));
      if (result.status !== 'ok') throw ticketNotFound();
      return c.json({ watchers: result.watchers }, 200);
    },
  );

  return router;
}
