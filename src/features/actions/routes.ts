/**
 * Actions (issue #11): tools a bot may call. Members read them and their runs; admins write and
 * test them. Handlers validate, call the service, map its result.
 */
import { createRoute } from '@hono/zod-openapi';
import { createRouter, jsonBody, jsonContent, commonErrors, errorResponses, PaginationQuery, IdParam, page } from '../../http/router';
import { ApiError, conflict, notFound, validationFailed } from '../../http/problem';
import { requirePermission, serviceContext } from '../../http/context';
import { decodeCursor, toPage } from '../../http/pagination';
import { etagFor, etagResponseHeaders, IfMatchHeaders, ifMatchRevisions, preconditionFailed, preconditionFailedResponse } from '../../http/etag';
import { idempotent, IdempotencyKeyHeaders, idempotencyErrors } from '../../http/middleware/idempotency';
import { ACTIONS } from '../../limits';
import { getBot } from '../bots/service';
import { ActionRunSchema, ActionSchema, CreateActionSchema, TestActionResult, TestActionSchema, UpdateActionSchema } from './schemas';
import * as service from './service';
import { runAction } from './runner';

const tags = ['Actions'];
const security = [{ bearer: [] }];
const ActionId = IdParam('actionId', 'act');
const actionNotFound = () => notFound('Action', 'action_not_found');

function saveFailure(result: Exclude<service.SaveResult, { status: 'saved' }>): ApiError {
  switch (result.status) {
    case 'invalid':
      return validationFailed(result.problems);
    case 'name_taken':
      return conflict('Another action of this organization has this name (tool names must be unique).', 'action_name_taken');
    case 'too_many':
      return new ApiError({ status: 422, code: 'too_many_actions', title: 'Too many actions', detail: `An organization may define at most ${ACTIONS.maxPerOrg} actions.` });
    case 'not_found':
      return actionNotFound();
    case 'precondition_failed':
      return preconditionFailed('action');
    case 'conflict':
      return conflict('The action changed while this edit was being saved. GET it again and retry.', 'edit_conflict');
  }
}

const validationResponse = { 400: { ...errorResponses[400], description: 'Invalid fields: a bad name, a parameters schema that is not a JSON Schema object, templates naming undeclared arguments, an inline credential (`inline_secret`), a URL the egress policy refuses (`url_refused`)…' } };

/** Mounted under /api/v1 behind authenticate + resolveOrg. */
export function actionRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'get',
      path: '/actions',
      tags,
      security,
      summary: 'List actions (newest first)',
      request: { query: PaginationQuery },
      responses: { 200: jsonContent(page(ActionSchema), 'A page of actions'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'actions.read');
      const { limit, cursor } = c.req.valid('query');
      const rows = await service.listActions(serviceContext(c), org.orgId, decodeCursor(cursor), limit);
      const result = toPage(rows, limit);
      return c.json({ data: result.data.map(service.toActionDto), nextCursor: result.nextCursor }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/actions',
      tags,
      security,
      summary: 'Create an action',
      description:
        'Types: `http` (method, URL template, headers, JSON body template), `email` (through the mailer), and the built-ins `collect_lead` and `search_knowledge`. ' +
        'Templates use `{{args.NAME}}` (declared in `parameters`) and `{{secrets.NAME}}` (org settings secrets, resolved only when the action runs); credentials are never stored inline.',
      middleware: [idempotent()] as const,
      request: { headers: IdempotencyKeyHeaders, body: jsonBody(CreateActionSchema) },
      responses: {
        201: { ...jsonContent(ActionSchema, 'Created'), headers: etagResponseHeaders },
        ...commonErrors,
        ...validationResponse,
        ...idempotencyErrors,
        409: { ...errorResponses[409], description: 'The name is taken (`action_name_taken`), or the Idempotency-Key is in progress' },
      },
    }),
    async (c) => {
      const org = requirePermission(c, 'actions.manage');
      const result = await service.createAction(serviceContext(c), c.get('actor'), org.orgId, c.req.valid('json'));
      if (result.status !== 'saved') throw saveFailure(result);
      return c.json(service.toActionDto(result.row), 201, { location: `/api/v1/actions/${result.row.id}`, etag: etagFor(result.row.revision) });
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/actions/{actionId}',
      tags,
      security,
      summary: 'Get an action',
      request: { params: ActionId },
      responses: { 200: { ...jsonContent(ActionSchema, 'The action'), headers: etagResponseHeaders }, ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'actions.read');
      const row = await service.getAction(serviceContext(c), org.orgId, c.req.valid('param').actionId);
      if (!row) throw actionNotFound();
      return c.json(service.toActionDto(row), 200, { etag: etagFor(row.revision) });
    },
  );

  router.openapi(
    createRoute({
      method: 'patch',
      path: '/actions/{actionId}',
      tags,
      security,
      summary: 'Change an action (only the given fields; `http` / `email` replace the config whole; the type is fixed)',
      description: 'Send If-Match with the ETag from a GET to make the change conditional: a stale ETag gets 412 and nothing changes.',
      request: { params: ActionId, headers: IfMatchHeaders, body: jsonBody(UpdateActionSchema) },
      responses: {
        200: { ...jsonContent(ActionSchema, 'The updated action'), headers: etagResponseHeaders },
        ...commonErrors,
        ...validationResponse,
        409: { ...errorResponses[409], description: 'The name is taken, or the action changed meanwhile (`edit_conflict`)' },
        ...preconditionFailedResponse,
      },
    }),
    async (c) => {
      const org = requirePermission(c, 'actions.manage');
      const result = await service.updateAction(serviceContext(c), c.get('actor'), org.orgId, c.req.valid('param').actionId, c.req.valid('json'), ifMatchRevisions(c));
      if (result.status !== 'saved') throw saveFailure(result);
      return c.json(service.toActionDto(result.row), 200, { etag: etagFor(result.row.revision) });
    },
  );

  router.openapi(
    createRoute({
      method: 'delete',
      path: '/actions/{actionId}',
      tags,
      security,
      summary: 'Delete an action (its runs stay readable in the audit trail)',
      request: { params: ActionId },
      responses: { 204: { description: 'Deleted' }, ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'actions.manage');
      const deleted = await service.deleteAction(serviceContext(c), c.get('actor'), org.orgId, c.req.valid('param').actionId);
      if (!deleted) throw actionNotFound();
      return c.body(null, 204);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/actions/{actionId}/test',
      tags,
      security,
      summary: 'Run an action now with the given arguments (recorded as a `test` run)',
      description: 'The arguments are checked against the parameters schema first; a failing check is an `error` run and nothing is sent.',
      request: { params: ActionId, body: jsonBody(TestActionSchema) },
      responses: { 200: jsonContent(TestActionResult, 'The recorded run and what the model would be told'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'actions.manage');
      const ctx = serviceContext(c);
      const body = c.req.valid('json');
      const action = await service.getAction(ctx, org.orgId, c.req.valid('param').actionId);
      if (!action) throw actionNotFound();
      const botId = body.botId ?? action.botIds[0] ?? null;
      if (body.botId && !(await getBot(ctx.db, org.orgId, body.botId))) throw notFound('Bot', 'bot_not_found');
      const outcome = await runAction(ctx, action, body.arguments, { orgId: org.orgId, botId, conversationId: null, messageId: null, source: 'test', actor: c.get('actor') });
      return c.json({ run: service.toRunDto(outcome.run), result: outcome.result }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/actions/{actionId}/runs',
      tags,
      security,
      summary: "An action's runs, newest first (request and response redacted)",
      request: { params: ActionId, query: PaginationQuery },
      responses: { 200: jsonContent(page(ActionRunSchema), 'A page of runs'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'actions.read');
      const ctx = serviceContext(c);
      const { actionId } = c.req.valid('param');
      const { limit, cursor } = c.req.valid('query');
      // Runs of another org's action id are simply none; the action itself must exist here.
      if (!(await service.getAction(ctx, org.orgId, actionId))) throw actionNotFound();
      const rows = await service.listRuns(ctx, org.orgId, actionId, decodeCursor(cursor), limit);
      const result = toPage(rows, limit);
      return c.json({ data: result.data.map(service.toRunDto), nextCursor: result.nextCursor }, 200);
    },
  );

  return router;
}
