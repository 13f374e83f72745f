import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, jsonBody, jsonContent, commonErrors, PaginationQuery, IdParam, page } from '../../http/router';
import { ApiError, conflict, notFound } from '../../http/problem';
import { requirePermission, serviceContext } from '../../http/context';
import { decodeCursor, toPage } from '../../lib/pagination';
import { CreateSourceSchema, DocumentSchema, SearchHitSchema, SearchRequestSchema, SourceSchema, UpdateSourceSchema } from './schemas';
import * as sources from './sources';
import { getDocument, listDocuments, toDocumentDto } from './documents';
import { search } from './search';
import { uploadRoute } from './upload-route';
import { requireBot, requireSource, sourceNotFound } from './route-guards';

const tags = ['Knowledge'];
const security = [{ bearer: [] }];
const BotId = IdParam('botId', 'bot');
const SourceId = IdParam('sourceId', 'src');
const DocumentId = IdParam('documentId', 'doc');


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
      request: { params: BotId, body: jsonBody(CreateSourceSchema) },
      responses: { 202: jsonContent(SourceSchema, 'Accepted and queued'), ...commonErrors, 409: commonErrors[400] },
    }),
    async (c) => {
      const org = requirePermission(c, 'sources.write');
      const bot = await requireBot(c, c.req.valid('param').botId);
      const result = await sources.createSource(serviceContext(c), c.get('actor'), org.orgId, bot.id, c.req.valid('json'));
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
      request: { params: SourceId },
      responses: { 200: jsonContent(SourceSchema, 'The source'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'sources.read');
      const dto = await sources.getSourceWithProgress(c.get('db'), org.orgId, c.req.valid('param').sourceId);
      if (!dto) throw sourceNotFound();
      return c.json(dto, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'patch',
      path: '/sources/{sourceId}',
      tags,
      security,
      summary: 'Change a source\'s re-sync schedule',
      request: { params: SourceId, body: jsonBody(UpdateSourceSchema) },
      responses: { 200: jsonContent(SourceSchema, 'Updated'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'sources.write');
      const source = await requireSource(c, c.req.valid('param').sourceId);
      await sources.setSchedule(serviceContext(c), c.get('actor'), source, c.req.valid('json').schedule);
      return c.json((await sources.getSourceWithProgress(c.get('db'), org.orgId, source.id))!, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'delete',
      path: '/sources/{sourceId}',
      tags,
      security,
      summary: 'Delete a source: its chunks, keyword index rows, vectors and stored files',
      description: 'The source disappears at once; vectors and files are removed by a background job within seconds.',
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
      responses: { 202: jsonContent(SourceSchema, 'Sync queued'), ...commonErrors, 409: commonErrors[400] },
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
      request: { params: BotId, body: jsonBody(SearchRequestSchema) },
      responses: {
        200: jsonContent(z.object({ query: z.string(), mode: z.string(), results: z.array(SearchHitSchema) }).openapi('SearchResponse'), 'Ranked chunks'),
        ...commonErrors,
      },
    }),
    async (c) => {
      const org = requirePermission(c, 'sources.read');
      const bot = await requireBot(c, c.req.valid('param').botId);
      const body = c.req.valid('json');
      const results = await search(serviceContext(c), {
        orgId: org.orgId,
        botId: bot.id,
        query: body.query,
        topK: body.topK,
        mode: body.mode,
        sourceIds: body.filter?.sourceIds,
        fusion: bot.fusion,
        hybridWeight: bot.hybridWeight,
        minScore: body.minScore ?? bot.minScore,
        rerank: body.rerank,
      });
      return c.json({ query: body.query, mode: body.mode, results }, 200);
    },
  );

  return router;
}
