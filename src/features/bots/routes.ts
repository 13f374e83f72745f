import { createRoute } from '@hono/zod-openapi';
import { createRouter, jsonBody, jsonContent, commonErrors, PaginationQuery, IdParam, page } from '../../http/router';
import { notFound, validationFailed } from '../../http/problem';
import { requirePermission, serviceContext } from '../../http/context';
import { decodeCursor, toPage } from '../../http/pagination';
import { BotSchema, CreateBotSchema, UpdateBotSchema } from './schemas';
import { etagFor, etagResponseHeaders, IfMatchHeaders, ifMatchRevisions, preconditionFailed, preconditionFailedResponse } from '../../http/etag';
import * as bots from './service';
import type { BotRow } from './service';
import { chunkingOverlapProblem, DEFAULT_CHUNKING } from '../knowledge/chunking-settings';
import { idempotent, IdempotencyKeyHeaders, idempotencyErrors } from '../../http/middleware/idempotency';

const tags = ['Bots'];
const BotId = IdParam('botId', 'bot');
const security = [{ bearer: [] }];

const botNotFound = () => notFound('Bot', 'bot_not_found');

/** The chunker's overlap rule, on settings merged with the defaults or the stored values. */
function checkChunking(chunking: BotRow['chunking']) {
  const problem = chunkingOverlapProblem(chunking);
  if (problem) throw validationFailed([{ path: 'chunking.overlapTokens', message: problem, code: 'too_big' }]);
}

/** Mounted under /api/v1 behind authenticate + resolveOrg. */
export function botRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'get',
      path: '/bots',
      tags,
      security,
      summary: 'List bots (newest first)',
      request: { query: PaginationQuery },
      responses: { 200: jsonContent(page(BotSchema), 'A page of bots'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'bots.read');
      const { limit, cursor } = c.req.valid('query');
      const rows = await bots.listBots(c.get('db'), org.orgId, decodeCursor(cursor), limit);
      const result = toPage(rows, limit);
      return c.json({ data: result.data.map(bots.toBotDto), nextCursor: result.nextCursor }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/bots',
      tags,
      security,
      summary: 'Create a bot',
      middleware: [idempotent()] as const,
      request: { headers: IdempotencyKeyHeaders, body: jsonBody(CreateBotSchema) },
      responses: { 201: { ...jsonContent(BotSchema, 'Created'), headers: etagResponseHeaders }, ...commonErrors, ...idempotencyErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'bots.create');
      const input = c.req.valid('json');
      checkChunking({ ...DEFAULT_CHUNKING, ...input.chunking });
      const row = await bots.createBot(serviceContext(c), c.get('actor'), org.orgId, input);
      return c.json(bots.toBotDto(row), 201, { location: `/api/v1/bots/${row.id}`, etag: etagFor(row.revision) });
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/bots/{botId}',
      tags,
      security,
      summary: 'Get a bot',
      request: { params: BotId },
      responses: { 200: { ...jsonContent(BotSchema, 'The bot'), headers: etagResponseHeaders }, ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'bots.read');
      const row = await bots.getBot(c.get('db'), org.orgId, c.req.valid('param').botId);
      if (!row) throw botNotFound();
      return c.json(bots.toBotDto(row), 200, { etag: etagFor(row.revision) });
    },
  );

  router.openapi(
    createRoute({
      method: 'patch',
      path: '/bots/{botId}',
      tags,
      security,
      summary: 'Change a bot (only the given fields are written; nested groups merge)',
      description: 'Send If-Match with the ETag from a GET to make the change conditional: a stale ETag gets 412 and nothing changes.',
      request: { params: BotId, headers: IfMatchHeaders, body: jsonBody(UpdateBotSchema) },
      responses: { 200: { ...jsonContent(BotSchema, 'The updated bot'), headers: etagResponseHeaders }, ...commonErrors, ...preconditionFailedResponse },
    }),
    async (c) => {
      const org = requirePermission(c, 'bots.update');
      const { botId } = c.req.valid('param');
      const result = await bots.updateBot(serviceContext(c), c.get('actor'), org.orgId, botId, c.req.valid('json'), ifMatchRevisions(c));
      switch (result.status) {
        case 'not_found':
          throw botNotFound();
        case 'precondition_failed':
          throw preconditionFailed('bot');
        case 'invalid_chunking':
          // The merge with what is stored now would leave settings the chunker refuses.
          throw validationFailed([{ path: 'chunking.overlapTokens', message: 'Must be at most half of chunkTokens', code: 'too_big' }]);
        case 'updated':
          return c.json(bots.toBotDto(result.row), 200, { etag: etagFor(result.row.revision) });
      }
    },
  );

  router.openapi(
    createRoute({
      method: 'delete',
      path: '/bots/{botId}',
      tags,
      security,
      summary: 'Delete a bot',
      request: { params: BotId },
      responses: { 204: { description: 'Deleted' }, ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'bots.delete');
      const deleted = await bots.deleteBot(serviceContext(c), c.get('actor'), org.orgId, c.req.valid('param').botId);
      if (!deleted) throw botNotFound();
      return c.body(null, 204);
    },
  );

  return router;
}

