import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, jsonBody, jsonContent, commonErrors, errorResponses, PaginationQuery, IdParam, page } from '../../http/router';
import { ApiError, conflict, notFound, validationFailed } from '../../http/problem';
import { rateLimit } from '../../http/middleware/rate-limit';
import { WINDOWED_QUOTAS } from '../usage/quotas';
import { enforceSourceQuotas, storedBytes } from './route-quotas';
import { requirePermission, serviceContext } from '../../http/context';
import { decodeCursor, toPage } from '../../http/pagination';
import { CreateSourceSchema, DocumentSchema, SearchHitSchema, SearchRequestSchema, SourceSchema, UpdateSourceSchema } from './schemas';
import * as sources from './sources';
import { getDocument, listDocuments, toDocumentDto } from './documents';
import { search, searchDefaultsOf } from './search';
import { uploadRoute } from './upload-route';
import { rejectOverlyWildPatterns, requireBot, requireSource, sourceNotFound } from './route-guards';
import { WEBSITE_DEFAULT_MAX_PAGES } from '../../limits';
import { requireEgressAllowed, upstreamErrorResponses } from '../../http/upstream-problems';
import { etagFor, etagResponseHeaders, IfMatchHeaders, ifMatchRevisions, preconditionFailed, preconditionFailedResponse } from '../../http/etag';
import { idempotent, IdempotencyKeyHeaders } from '../../http/middleware/idempotency';

const tags = ['Knowledge'];
const security = [{ bearer: [] }];
const BotId = IdParam('botId', 'bot');
const SourceId = IdParam('sourceId', 'src');
const DocumentId = IdParam('documentId', 'doc');

/**
 * A website's maxPages measured against the operator's CRAWL_MAX_PAGES: an absent one defaults
 * to at most the ceiling, a larger one is refused (the crawler would otherwise stop there silently).
 */
function withCrawlCeiling(input: z.infer<typeof CreateSourceSchema>, ceiling: number): sources.NewSourceInput {
  if (input.type !== 'website') return input;
  const maxPages = input.maxPages ?? Math.min(WEBSITE_DEFAULT_MAX_PAGES, ceiling);
  if (maxPages > ceiling) {
    throw validationFailed([{ path: 'maxPages', message: `At most ${ceiling} pages (this server's CRAWL_MAX_PAGES)`, code: 'too_big' }]);
  }
  return { ...input, maxPages };
}
/** Searches spend the org's per-minute quota (each one embeds the query on the org's provider). */
const searchQuota = rateLimit({
  name: 'searches_per_minute',
  limit: (c) => WINDOWED_QUOTAS.searches_per_minute.limit(c.get('config').quotas),
  windowSeconds: WINDOWED_QUOTAS.searches_per_minute.windowSeconds,
  // The middleware books `<name>:<orgId>`: the object `quotaLimiterKey` names for the usage report.
  key: (c) => c.get('org').orgId,
  problem: { code: 'quota_exceeded', quota: 'searches_per_minute' },
});

export function knowledgeRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'post',
      path: '/bots/{botId}/sources',
      tags,
      security,
      summary: 'Add knowledge: text, Q&A pairs, one URL or a whole website',
      description: 'Processing happens in the background: poll GET /sources/{id} until status is ready or failed.',
      middleware: [idempotent()] as const,
      request: { params: BotId, headers: IdempotencyKeyHeaders, body: jsonBody(CreateSourceSchema) },
      responses: {
        202: jsonContent(SourceSchema, 'Accepted and queued'),
        ...commonErrors,
        409: errorResponses[409],
        413: errorResponses[413],
        422: {
          ...errorResponses[422],
          description:
            'A URL the egress policy refuses (egress_refused), an include or exclude pattern with too many wildcards (pattern_too_complex), or an Idempotency-Key reused with another body (idempotency_key_reused)',
        },
      },
    }),
    async (c) => {
      const org = requirePermission(c, 'sources.write');
      const bot = await requireBot(c, c.req.valid('param').botId);
      const input = withCrawlCeiling(c.req.valid('json'), c.get('config').crawlMaxPages);
      if (input.type === 'url' || input.type === 'website') requireEgressAllowed(c.get('config').egress, input.url, 'url');
      rejectOverlyWildPatterns(input);
      const ctx = serviceContext(c);
      await enforceSourceQuotas(ctx, org.orgId, 1, storedBytes(input));
      const result = await sources.createSource(ctx, c.get('actor'), org.orgId, bot.id, input);
      if (result.status === 'duplicate') {
        throw new ApiError({
          status: 409,
          code: 'duplicate_content',
          title: 'Conflict',
          detail: `This bot already has the same content (source ${result.existingSourceId}).`,
          extensions: { existingSourceId: result.existingSourceId, existingDocumentId: result.existingDocumentId },
        });
      }
      const dto = await sources.getSourceWithProgress(c.get('db'), org.orgId, result.source.id);
      return c.json(dto!, 202, { location: `/api/v1/sources/${result.source.id}` });
    },
  );

  uploadRoute(router);

  router.openapi(
    createRoute({
      method: 'get',
      path: '/bots/{botId}/sources',
      tags,
      security,
      summary: 'A bot\'s sources with their status and progress',
      request: { params: BotId, query: PaginationQuery },
      responses: { 200: jsonContent(page(SourceSchema), 'A page of sources'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'sources.read');
      const bot = await requireBot(c, c.req.valid('param').botId);
      const { limit, cursor } = c.req.valid('query');
      const result = toPage(await sources.listSources(c.get('db'), org.orgId, bot.id, decodeCursor(cursor), limit), limit);
      return c.json(result, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/sources/{sourceId}',
      tags,
      security,
      summary: 'A source: status (queued, processing, ready, failed with reason) and progress',
      description: 'The ETag versions the source row (settings and status); the progress counters are live and not part of it.',
      request: { params: SourceId },
      responses: { 200: { ...jsonContent(SourceSchema, 'The source'), headers: etagResponseHeaders }, ...commonErrors },
    }),
    async (c) => {
      requirePermission(c, 'sources.read');
      const source = await requireSource(c, c.req.valid('param').sourceId);
      return c.json(await sources.withProgress(c.get('db'), source), 200, { etag: etagFor(source.revision) });
    },
  );

  router.openapi(
    createRoute({
      method: 'patch',
      path: '/sources/{sourceId}',
      tags,
      security,
      summary: 'Change a source\'s re-sync schedule',
      description: 'Send If-Match with the ETag from a GET to make the change conditional: a stale ETag gets 412 and nothing changes.',
      request: { params: SourceId, headers: IfMatchHeaders, body: jsonBody(UpdateSourceSchema) },
      responses: { 200: { ...jsonContent(SourceSchema, 'Updated'), headers: etagResponseHeaders }, ...commonErrors, ...preconditionFailedResponse },
    }),
    async (c) => {
      requirePermission(c, 'sources.write');
      const source = await requireSource(c, c.req.valid('param').sourceId);
      const updated = await sources.setSchedule(serviceContext(c), c.get('actor'), source, c.req.valid('json').schedule, ifMatchRevisions(c));
      if (!updated) {
        // Gone since the lookup (deleted), or moved past the ETag the caller sent.
        if (!(await sources.getSource(c.get('db'), source.orgId, source.id))) throw sourceNotFound();
        throw preconditionFailed('source');
      }
      return c.json(await sources.withProgress(c.get('db'), updated), 200, { etag: etagFor(updated.revision) });
    },
  );

  router.openapi(
    createRoute({
      method: 'delete',
      path: '/sources/{sourceId}',
      tags,
      security,
      summary: 'Delete a source: its chunks, keyword index rows, vectors and stored files',
      description: 'The source disappears from lists and search at once; a background job then removes its vectors and files (queued, so usually within seconds, later while the queue retries).',
      request: { params: SourceId },
      responses: { 204: { description: 'Deleted' }, ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'sources.write');
      if (!(await sources.deleteSource(serviceContext(c), c.get('actor'), org.orgId, c.req.valid('param').sourceId))) throw sourceNotFound();
      return c.body(null, 204);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/sources/{sourceId}/sync',
      tags,
      security,
      summary: 'Re-fetch (web) or re-index a source; unchanged content is skipped, removed pages deleted',
      request: { params: SourceId },
      responses: { 202: jsonContent(SourceSchema, 'Sync queued'), ...commonErrors, 409: errorResponses[409] },
    }),
    async (c) => {
      const org = requirePermission(c, 'sources.write');
      const source = await requireSource(c, c.req.valid('param').sourceId);
      const result = await sources.requestSync(serviceContext(c), c.get('actor'), source);
      if (result.status === 'busy') throw conflict('This source is already being processed; sync it when it is done.', 'source_busy');
      return c.json((await sources.getSourceWithProgress(c.get('db'), org.orgId, source.id))!, 202);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/sources/{sourceId}/documents',
      tags,
      security,
      summary: 'The documents (files, pages, texts) of a source',
      request: { params: SourceId, query: PaginationQuery },
      responses: { 200: jsonContent(page(DocumentSchema), 'A page of documents'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'sources.read');
      const source = await requireSource(c, c.req.valid('param').sourceId);
      const { limit, cursor } = c.req.valid('query');
      const result = toPage(await listDocuments(c.get('db'), org.orgId, source.id, decodeCursor(cursor), limit), limit);
      return c.json({ data: result.data.map(toDocumentDto), nextCursor: result.nextCursor }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/documents/{documentId}',
      tags,
      security,
      summary: 'A document: metadata, text preview and chunk count',
      request: { params: DocumentId },
      responses: { 200: jsonContent(DocumentSchema, 'The document'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'sources.read');
      const doc = await getDocument(c.get('db'), org.orgId, c.req.valid('param').documentId);
      if (!doc) throw notFound('Document', 'document_not_found');
      return c.json(toDocumentDto(doc), 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/documents/{documentId}/download',
      tags,
      security,
      summary: 'The original file (or fetched page) as stored',
      request: { params: DocumentId },
      responses: { 200: { description: 'The original bytes' }, ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'sources.read');
      const doc = await getDocument(c.get('db'), org.orgId, c.req.valid('param').documentId);
      if (!doc || !doc.r2Key) throw notFound('Document', 'document_not_found');
      const object = await c.env.FILES.get(doc.r2Key);
      if (!object) throw notFound('Document content', 'document_content_missing');
      const fileName = (doc.locator.split('/').filter(Boolean).pop() ?? doc.id).replace(/[^\w.\- ]+/g, '_').slice(0, 120) || doc.id;
      return new Response(object.body, {
        status: 200,
        headers: {
          'content-type': object.httpMetadata?.contentType ?? doc.mime,
          'content-length': String(object.size),
          'content-disposition': `attachment; filename="${fileName}"`,
          'x-content-type-options': 'nosniff',
          etag: object.httpEtag,
        },
      });
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/bots/{botId}/search',
      tags,
      security,
      summary: 'Search a bot\'s knowledge: hybrid (default), vector or keyword',
      description: 'Spends the org\'s `searches_per_minute` quota: 429 `quota_exceeded` with Retry-After when it is used up.',
      middleware: [searchQuota] as const,
      request: { params: BotId, body: jsonBody(SearchRequestSchema) },
      responses: {
        200: jsonContent(z.object({ query: z.string(), mode: z.string(), results: z.array(SearchHitSchema) }).openapi('SearchResponse'), 'Ranked chunks'),
        ...commonErrors,
        ...upstreamErrorResponses,
      },
    }),
    async (c) => {
      const org = requirePermission(c, 'sources.read');
      const bot = await requireBot(c, c.req.valid('param').botId);
      const body = c.req.valid('json');
      const defaults = searchDefaultsOf(bot);
      const mode = body.mode ?? defaults.mode;
      const results = await search(serviceContext(c), {
        orgId: org.orgId,
        botId: bot.id,
        query: body.query,
        topK: body.topK ?? defaults.topK,
        mode,
        minScore: body.minScore ?? defaults.minScore,
        sourceIds: body.filter?.sourceIds,
        fusion: defaults.fusion,
        hybridWeight: defaults.hybridWeight,
        rerank: body.rerank,
      });
      return c.json({ query: body.query, mode, results }, 200);
    },
  );

  return router;
}
