/**
 * The integrations registry (mounted under /api/v1 behind authenticate + resolveOrg): inbound
 * webhook endpoints, their secrets and their receive log. Admins only (they hold signing
 * secrets and write into knowledge and conversations, like API keys).
 */
import { createRoute } from '@hono/zod-openapi';
import { createRouter, jsonBody, jsonContent, commonErrors, PaginationQuery, IdParam, page } from '../../http/router';
import { notFound, validationFailed } from '../../http/problem';
import { requirePermission, serviceContext } from '../../http/context';
import { decodeCursor, toPage } from '../../http/pagination';
import { etagFor, etagResponseHeaders, IfMatchHeaders, ifMatchRevisions, preconditionFailed, preconditionFailedResponse } from '../../http/etag';
import { idempotent, IdempotencyKeyHeaders, idempotencyErrors } from '../../http/middleware/idempotency';
import {
  CreatedIntegrationSchema,
  CreateIntegrationSchema,
  InboundEventSchema,
  IntegrationSchema,
  RotatedSecretSchema,
  TestIntegrationSchema,
  TestResultSchema,
  UpdateIntegrationSchema,
} from './schemas';
import * as service from './service';
import type { TargetProblem } from './service';
import { listInboundEvents, toInboundEventDto } from './receive';
import { testIntegration } from './test-run';

const tags = ['Integrations'];
const security = [{ bearer: [] }];
const IntegrationId = IdParam('integrationId', 'int');
const integrationNotFound = () => notFound('Integration', 'integration_not_found');

function targetProblem(problem: TargetProblem): never {
  switch (problem.status) {
    case 'bot_not_found':
      throw notFound('Bot', 'bot_not_found');
    case 'source_not_found':
      throw notFound('Source', 'source_not_found');
    case 'invalid':
      throw validationFailed(problem.errors);
  }
}

export function integrationRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'get',
      path: '/integrations',
      tags,
      security,
      summary: 'List inbound webhook integrations (newest first)',
      request: { query: PaginationQuery },
      responses: { 200: jsonContent(page(IntegrationSchema), 'A page of integrations'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'integrations.read');
      const { limit, cursor } = c.req.valid('query');
      const ctx = serviceContext(c);
      const result = toPage(await service.listIntegrations(ctx.db, org.orgId, decodeCursor(cursor), limit), limit);
      return c.json({ data: await Promise.all(result.data.map((r) => service.toIntegrationDto(ctx, r))), nextCursor: result.nextCursor }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/integrations',
      tags,
      security,
      summary: 'Create an inbound webhook integration',
      description: 'Answers its public URL (`/hooks/{slug}`) and its Standard Webhooks signing secret, shown only in this response.',
      middleware: [idempotent()] as const,
      request: { headers: IdempotencyKeyHeaders, body: jsonBody(CreateIntegrationSchema) },
      responses: { 201: { ...jsonContent(CreatedIntegrationSchema, 'Created'), headers: etagResponseHeaders }, ...commonErrors, ...idempotencyErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'integrations.manage');
      const ctx = serviceContext(c);
      const result = await service.createIntegration(ctx, c.get('actor'), org.orgId, c.req.valid('json'));
      if (result.status !== 'created') targetProblem(result);
      c.header('cache-control', 'no-store');
      return c.json({ ...(await service.toIntegrationDto(ctx, result.row)), signingSecret: result.secret }, 201, {
        location: `/api/v1/integrations/${result.row.id}`,
        etag: etagFor(result.row.revision),
      });
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/integrations/{integrationId}',
      tags,
      security,
      summary: 'Get an integration (its secret masked)',
      request: { params: IntegrationId },
      responses: { 200: { ...jsonContent(IntegrationSchema, 'The integration'), headers: etagResponseHeaders }, ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'integrations.read');
      const ctx = serviceContext(c);
      const row = await service.getIntegration(ctx.db, org.orgId, c.req.valid('param').integrationId);
      if (!row) throw integrationNotFound();
      return c.json(await service.toIntegrationDto(ctx, row), 200, { etag: etagFor(row.revision) });
    },
  );

  router.openapi(
    createRoute({
      method: 'patch',
      path: '/integrations/{integrationId}',
      tags,
      security,
      summary: 'Change an integration (only the given fields are written)',
      description: 'Send If-Match with the ETag from a GET to make the change conditional: a stale ETag gets 412 and nothing changes.',
      request: { params: IntegrationId, headers: IfMatchHeaders, body: jsonBody(UpdateIntegrationSchema) },
      responses: { 200: { ...jsonContent(IntegrationSchema, 'The updated integration'), headers: etagResponseHeaders }, ...commonErrors, ...preconditionFailedResponse },
    }),
    async (c) => {
      const org = requirePermission(c, 'integrations.manage');
      const ctx = serviceContext(c);
      const result = await service.updateIntegration(ctx, c.get('actor'), org.orgId, c.req.valid('param').integrationId, c.req.valid('json'), ifMatchRevisions(c));
      switch (result.status) {
        case 'not_found':
          throw integrationNotFound();
        case 'precondition_failed':
          throw preconditionFailed('integration');
        case 'updated':
          return c.json(await service.toIntegrationDto(ctx, result.row), 200, { etag: etagFor(result.row.revision) });
        default:
          return targetProblem(result);
      }
    },
  );

  router.openapi(
    createRoute({
      method: 'delete',
      path: '/integrations/{integrationId}',
      tags,
      security,
      summary: 'Delete an integration (its URL stops answering; its log goes with it)',
      request: { params: IntegrationId },
      responses: { 204: { description: 'Deleted' }, ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'integrations.manage');
      if (!(await service.deleteIntegration(serviceContext(c), c.get('actor'), org.orgId, c.req.valid('param').integrationId))) throw integrationNotFound();
      return c.body(null, 204);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/integrations/{integrationId}/secret/rotate',
      tags,
      security,
      summary: 'Make a new signing secret (the previous one verifies for a grace period)',
      request: { params: IntegrationId },
      responses: { 200: jsonContent(RotatedSecretSchema, 'The new secret (shown once)'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'integrations.manage');
      const rotated = await service.rotateSecret(serviceContext(c), c.get('actor'), org.orgId, c.req.valid('param').integrationId);
      if (!rotated) throw integrationNotFound();
      c.header('cache-control', 'no-store');
      return c.json(
        {
          signingSecret: rotated.secret,
          rotatedAt: new Date(rotated.row.secretRotatedAt).toISOString(),
          previousValidUntil: new Date(rotated.row.previousValidUntil!).toISOString(),
        },
        200,
      );
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/integrations/{integrationId}/test',
      tags,
      security,
      summary: 'Sign a sample event, verify and validate it as /hooks would, and dry-run the action',
      description:
        "Signs `payload` (or a sample for the action) with the integration's current secret, runs it through the same verification and payload validation as a received event, and reports what the action would do now. Nothing is stored, logged or changed. Works on a disabled integration too.",
      request: { params: IntegrationId, body: jsonBody(TestIntegrationSchema) },
      responses: { 200: jsonContent(TestResultSchema, 'What would happen'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'integrations.manage');
      const result = await testIntegration(serviceContext(c), org.orgId, c.req.valid('param').integrationId, c.req.valid('json').payload);
      if (!result) throw integrationNotFound();
      return c.json(result, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/integrations/{integrationId}/events',
      tags,
      security,
      summary: 'The receive log: every request on the URL with its verification result (newest first)',
      request: { params: IntegrationId, query: PaginationQuery },
      responses: { 200: jsonContent(page(InboundEventSchema), 'A page of received events'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'integrations.read');
      const db = c.get('db');
      const { integrationId } = c.req.valid('param');
      if (!(await service.getIntegration(db, org.orgId, integrationId))) throw integrationNotFound();
      const { limit, cursor } = c.req.valid('query');
      const result = toPage(await listInboundEvents(db, org.orgId, integrationId, decodeCursor(cursor), limit), limit);
      return c.json({ data: result.data.map(toInboundEventDto), nextCursor: result.nextCursor }, 200);
    },
  );

  return router;
}

