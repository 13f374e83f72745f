import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, jsonBody, jsonContent, commonErrors, PaginationQuery, IdParam, page } from '../../http/router';
import { ApiError, notFound } from '../../http/problem';
import { requirePermission, serviceContext } from '../../http/context';
import { decodeCursor, toPage } from '../../http/pagination';
import { SCOPES } from '../orgs/policy';
import * as keys from './service';
import { KEY_CACHE_TTL_MS } from '../../limits';
import { idempotent, IdempotencyKeyHeaders, idempotencyErrors } from '../../http/middleware/idempotency';

const tags = ['API keys'];
const security = [{ bearer: [] }];

const ApiKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string().openapi({ example: 'kc_live_AbC123' }),
    scopes: z.array(z.string()),
    createdBy: z.string(),
    createdAt: z.string().datetime(),
    lastUsedAt: z.string().datetime().nullable(),
  })
  .openapi('ApiKey');

export function apiKeyRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'post',
      path: '/api-keys',
      tags,
      security,
      summary: 'Create an API key (the secret is returned once)',
      description: 'Only people can create keys, and a key never gets a scope beyond what its creator\'s role allows.',
      middleware: [idempotent()] as const,
      request: {
        headers: IdempotencyKeyHeaders,
        body: jsonBody(
          z.object({
            name: z.string().trim().min(1).max(100),
            scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length),
          }),
        ),
      },
      responses: {
        201: jsonContent(ApiKeySchema.extend({ key: z.string().openapi({ example: 'kc_live_…' }) }).openapi('CreatedApiKey'), 'Created'),
        ...commonErrors,
        ...idempotencyErrors,
      },
    }),
    async (c) => {
      const org = requirePermission(c, 'keys.manage');
      const actor = c.get('actor');
      if (actor.kind !== 'user') {
        throw new ApiError({ status: 403, code: 'user_required', title: 'Forbidden', detail: 'API keys cannot create API keys.' });
      }
      const result = await keys.createApiKey(serviceContext(c), actor, org, c.req.valid('json'));
      if (result.status === 'scope_exceeds_role') {
        throw new ApiError({
          status: 403,
          code: 'scope_exceeds_role',
          title: 'Forbidden',
          detail: `Your role (${org.role}) cannot grant: ${result.scopes.join(', ')}.`,
        });
      }
      return c.json({ ...keys.toApiKeyDto(result.row), key: result.secret }, 201);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/api-keys',
      tags,
      security,
      summary: 'List live API keys (never their secrets)',
      request: { query: PaginationQuery },
      responses: { 200: jsonContent(page(ApiKeySchema), 'A page of keys'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'keys.read');
      const { limit, cursor } = c.req.valid('query');
      const result = toPage(await keys.listApiKeys(c.get('db'), org.orgId, decodeCursor(cursor), limit), limit);
      return c.json({ data: result.data.map(keys.toApiKeyDto), nextCursor: result.nextCursor }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'delete',
      path: '/api-keys/{keyId}',
      tags,
      security,
      summary: 'Revoke an API key',
      description: `Refused at once by the isolate that handles the revocation; other isolates may accept the key for up to ${KEY_CACHE_TTL_MS / 1000} s more (their verified-key cache).`,
      request: { params: IdParam('keyId', 'key') },
      responses: { 204: { description: 'Revoked' }, ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'keys.manage');
      const revoked = await keys.revokeApiKey(serviceContext(c), c.get('actor'), org.orgId, c.req.valid('param').keyId);
      if (!revoked) throw notFound('API key', 'api_key_not_found');
      return c.body(null, 204);
    },
  );

  return router;
}
