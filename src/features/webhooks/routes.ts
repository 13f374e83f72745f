import { createRoute } from '@hono/zod-openapi';
import { createRouter, jsonBody, jsonContent, commonErrors, PaginationQuery, IdParam, page, errorResponses } from '../../http/router';
import { conflict, notFound, validationFailed } from '../../http/problem';
import { requirePermission, serviceContext } from '../../http/context';
import { decodeCursor, toPage } from '../../http/pagination';
import { etagFor, etagResponseHeaders, IfMatchHeaders, ifMatchRevisions, preconditionFailed, preconditionFailedResponse } from '../../http/etag';
import { idempotent, IdempotencyKeyHeaders, idempotencyErrors } from '../../http/middleware/idempotency';
import { WEBHOOKS } from '../../limits';
import { eventCatalogJsonSchemas } from '../events/catalog';
import * as endpoints from './endpoints';
import * as deliveries from './deliveries';
import {
  CreatedWebhookSchema,
  CreateWebhookSchema,
  DeliveriesQuery,
  DeliverySchema,
  DeliveryWithAttemptsSchema,
  EventTypesSchema,
  RotatedSecretSchema,
  TestResultSchema,
  UpdateWebhookSchema,
  WebhookSchema,
} from './schemas';

const tags = ['Webhooks'];
const security = [{ bearer: [] }];
const WebhookId = IdParam('webhookId', 'whk');
const DeliveryId = IdParam('deliveryId', 'whd');

const webhookNotFound = () => notFound('Webhook', 'webhook_not_found');
const deliveryNotFound = () => notFound('Delivery', 'delivery_not_found');
const invalid = (errors: endpoints.FieldProblem[]) => validationFailed(errors.map((e) => ({ ...e, code: 'custom' })));

/** Mounted under /api/v1 behind authenticate + resolveOrg. */
export function webhookRoutes() {
  const router = createRouter();

  // Before /webhooks/{webhookId}, so the static path wins.
  router.openapi(
    createRoute({
      method: 'get',
      path: '/webhooks/event-types',
      tags,
      security,
      summary: 'The event catalog: every event type with its description and the JSON Schema of its data',
      responses: { 200: jsonContent(EventTypesSchema, 'Every event type'), ...commonErrors },
    }),
    async (c) => {
      requirePermission(c, 'webhooks.read');
      return c.json({ data: eventCatalogJsonSchemas() }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/webhooks',
      tags,
      security,
      summary: 'List webhook endpoints (newest first)',
      request: { query: PaginationQuery },
      responses: { 200: jsonContent(page(WebhookSchema), 'A page of webhook endpoints'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'webhooks.read');
      const { limit, cursor } = c.req.valid('query');
      const result = toPage(await endpoints.listEndpoints(c.get('db'), org.orgId, decodeCursor(cursor), limit), limit);
      return c.json({ data: result.data.map(endpoints.toEndpointDto), nextCursor: result.nextCursor }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/webhooks',
      tags,
      security,
      summary: 'Create a webhook endpoint (the signing secret is returned only now)',
      middleware: [idempotent()] as const,
      request: { headers: IdempotencyKeyHeaders, body: jsonBody(CreateWebhookSchema) },
      responses: {
        201: { ...jsonContent(CreatedWebhookSchema, 'Created'), headers: etagResponseHeaders },
        ...commonErrors,
        ...idempotencyErrors,
        409: { ...errorResponses[409], description: `The org already has ${WEBHOOKS.maxEndpointsPerOrg} endpoints (\`too_many_webhooks\`), or an Idempotency-Key in progress` },
      },
    }),
    async (c) => {
      const org = requirePermission(c, 'webhooks.manage');
      const result = await endpoints.createEndpoint(serviceContext(c), c.get('actor'), org.orgId, c.req.valid('json'));
      switch (result.status) {
        case 'invalid':
          throw invalid(result.errors);
        case 'too_many':
          throw conflict(`An organization has at most ${WEBHOOKS.maxEndpointsPerOrg} webhook endpoints.`, 'too_many_webhooks');
        case 'created':
          return c.json({ ...endpoints.toEndpointDto(result.row), secret: result.secret }, 201, {
            location: `/api/v1/webhooks/${result.row.id}`,
            etag: etagFor(result.row.revision),
          });
      }
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/webhooks/{webhookId}',
      tags,
      security,
      summary: 'Get a webhook endpoint',
      request: { params: WebhookId },
      responses: { 200: { ...jsonContent(WebhookSchema, 'The endpoint'), headers: etagResponseHeaders }, ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'webhooks.read');
      const row = await endpoints.getEndpoint(c.get('db'), org.orgId, c.req.valid('param').webhookId);
      if (!row) throw webhookNotFound();
      return c.json(endpoints.toEndpointDto(row), 200, { etag: etagFor(row.revision) });
    },
  );

  router.openapi(
    createRoute({
      method: 'patch',
      path: '/webhooks/{webhookId}',
      tags,
      security,
      summary: 'Change a webhook endpoint (only the given fields); `enabled: true` turns a disabled one back on',
      request: { params: WebhookId, headers: IfMatchHeaders, body: jsonBody(UpdateWebhookSchema) },
      responses: { 200: { ...jsonContent(WebhookSchema, 'The updated endpoint'), headers: etagResponseHeaders }, ...commonErrors, ...preconditionFailedResponse },
    }),
    async (c) => {
      const org = requirePermission(c, 'webhooks.manage');
      const { webhookId } = c.req.valid('param');
      const result = await endpoints.updateEndpoint(serviceContext(c), c.get('actor'), org.orgId, webhookId, c.req.valid('json'), ifMatchRevisions(c));
      switch (result.status) {
        case 'invalid':
          throw invalid(result.errors);
        case 'not_found':
          throw webhookNotFound();
        case 'precondition_failed':
          throw preconditionFailed('webhook');
        case 'updated':
          return c.json(endpoints.toEndpointDto(result.row), 200, { etag: etagFor(result.row.revision) });
      }
    },
  );

  router.openapi(
    createRoute({
      method: 'delete',
      path: '/webhooks/{webhookId}',
      tags,
      security,
      summary: 'Delete a webhook endpoint and its delivery log',
      request: { params: WebhookId },
      responses: { 204: { description: 'Deleted' }, ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'webhooks.manage');
      if (!(await endpoints.deleteEndpoint(serviceContext(c), c.get('actor'), org.orgId, c.req.valid('param').webhookId))) throw webhookNotFound();
      return c.body(null, 204);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/webhooks/{webhookId}/rotate-secret',
      tags,
      security,
      summary: 'Rotate the signing secret: the new one is returned once; the old one keeps signing alongside it for a grace period',
      request: { params: WebhookId },
      responses: { 200: jsonContent(RotatedSecretSchema, 'The new secret'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'webhooks.manage');
      const result = await endpoints.rotateSecret(serviceContext(c), c.get('actor'), org.orgId, c.req.valid('param').webhookId);
      if (result.status === 'not_found') throw webhookNotFound();
      return c.json(
        { secret: result.secret, previousSecretValidUntil: new Date(result.row.previousValidUntil!).toISOString(), webhook: endpoints.toEndpointDto(result.row) },
        200,
        { etag: etagFor(result.row.revision) },
      );
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/webhooks/{webhookId}/test',
      tags,
      security,
      summary: 'Send a webhook.test event to this endpoint now and return what it answered (one attempt, no retries)',
      request: { params: WebhookId },
      responses: { 200: jsonContent(TestResultSchema, 'The delivery and its attempt (delivered or not)'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'webhooks.manage');
      const result = await deliveries.sendTestEvent(serviceContext(c), org.orgId, c.req.valid('param').webhookId);
      if (result.status === 'not_found') throw webhookNotFound();
      return c.json({ delivery: deliveries.toDeliveryDto(result.delivery), attempt: deliveries.toAttemptDto(result.attempt) }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/webhooks/{webhookId}/deliveries',
      tags,
      security,
      summary: 'List an endpoint\'s deliveries (newest first), optionally by status or event type',
      request: { params: WebhookId, query: DeliveriesQuery },
      responses: { 200: jsonContent(page(DeliverySchema), 'A page of deliveries'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'webhooks.read');
      const { webhookId } = c.req.valid('param');
      const { limit, cursor, status, eventType } = c.req.valid('query');
      if (!(await endpoints.getEndpoint(c.get('db'), org.orgId, webhookId))) throw webhookNotFound();
      const rows = await deliveries.listDeliveries(c.get('db'), org.orgId, webhookId, { status, eventType }, decodeCursor(cursor), limit);
      const result = toPage(rows, limit);
      return c.json({ data: result.data.map(deliveries.toDeliveryDto), nextCursor: result.nextCursor }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/deliveries/{deliveryId}',
      tags,
      security,
      summary: 'Get a delivery with its attempts (status code, latency, truncated answer, error)',
      request: { params: DeliveryId },
      responses: { 200: jsonContent(DeliveryWithAttemptsSchema, 'The delivery'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'webhooks.read');
      const { deliveryId } = c.req.valid('param');
      const row = await deliveries.getDelivery(c.get('db'), org.orgId, deliveryId);
      if (!row) throw deliveryNotFound();
      const attempts = await deliveries.listAttempts(c.get('db'), org.orgId, deliveryId, 100);
      return c.json({ ...deliveries.toDeliveryDto(row), attemptLog: attempts.map(deliveries.toAttemptDto) }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/deliveries/{deliveryId}/redeliver',
      tags,
      security,
      summary: 'Send a failed or delivered event again (a new attempt chain)',
      request: { params: DeliveryId },
      responses: {
        202: jsonContent(DeliverySchema, 'Queued'),
        ...commonErrors,
        409: { ...errorResponses[409], description: 'The delivery is still pending (`delivery_pending`), or its endpoint is disabled (`webhook_disabled`)' },
      },
    }),
    async (c) => {
      const org = requirePermission(c, 'webhooks.manage');
      const result = await deliveries.redeliver(serviceContext(c), c.get('actor'), org.orgId, c.req.valid('param').deliveryId);
      switch (result.status) {
        case 'not_found':
          throw deliveryNotFound();
        case 'pending':
          throw conflict('This delivery is still pending; it can be redelivered once it has succeeded or failed.', 'delivery_pending');
        case 'endpoint_disabled':
          throw conflict('The endpoint is disabled: turn it back on (PATCH enabled: true) first.', 'webhook_disabled');
        case 'queued':
          return c.json(deliveries.toDeliveryDto(result.delivery), 202);
      }
    },
  );

  return router;
}
