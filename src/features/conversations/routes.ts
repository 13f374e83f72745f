/**
 * Conversation management (issue #8): list, read, rename / archive / close, soft delete, message
 * pages and full-text search; and uploading files for a chat message. Another org's
 * conversation, and a soft-deleted one, answer 404 on every route.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { createRouter, jsonBody, jsonContent, commonErrors, errorResponses, IdParam, page } from '../../http/router';
import { ApiError, badRequest, conflict, notFound, quotaExceeded, unsupportedMediaType } from '../../http/problem';
import { requirePermission, serviceContext } from '../../http/context';
import { decodeCursor, toPage } from '../../http/pagination';
import { parseTimeRange } from '../../http/time-range';
import { etagFor, etagResponseHeaders, IfMatchHeaders, ifMatchRevisions, preconditionFailed, preconditionFailedResponse } from '../../http/etag';
import { idempotent, IdempotencyKeyHeaders, idempotencyErrors } from '../../http/middleware/idempotency';
import type { AppBindings } from '../../http/types';
import {
  AttachmentSchema,
  ConversationSchema,
  ListConversationsQuery,
  ListMessagesQuery,
  MessageSchema,
  SearchHitSchema,
  SearchQuery,
  UpdateConversationSchema,
} from './schemas';
import * as conversations from './service';
import { getBot } from '../bots/service';
import { consumeQuota } from '../usage/quotas';
import { ACCEPTED_UPLOAD_MIME_TYPES } from '../knowledge/extract';
import { checkAttachmentType, cleanAttachmentName, storeAttachment } from '../chat/attachments';
import { toMessageDto } from '../chat/store';
import { ATTACHMENTS } from '../../limits';

const tags = ['Conversations'];
const security = [{ bearer: [] }];
const ConversationId = IdParam('conversationId', 'cnv');

const conversationNotFound = () => notFound('Conversation', 'conversation_not_found');

/** The caller's id as attachments record it: a person's user id or the API key's id. */
function callerId(c: Context<AppBindings>): string {
  const actor = c.get('actor');
  return actor.kind === 'user' ? actor.userId : actor.keyId;
}

const FileField = z.any().openapi({ type: 'string', format: 'binary' });

/** Mounted under /api/v1 behind authenticate + resolveOrg. */
export function conversationRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'get',
      path: '/conversations',
      tags,
      security,
      summary: 'List conversations (newest first; soft-deleted ones never appear)',
      request: { query: ListConversationsQuery },
      responses: { 200: jsonContent(page(ConversationSchema), 'A page of conversations'), ...commonErrors, 422: errorResponses[422] },
    }),
    async (c) => {
      const org = requirePermission(c, 'conversations.read');
      const q = c.req.valid('query');
      const { from, to } = parseTimeRange(q);
      const rows = await conversations.listConversations(
        c.get('db'),
        org.orgId,
        { botId: q.botId, channel: q.channel, status: q.status, archived: q.archived, from, to },
        decodeCursor(q.cursor),
        q.limit,
      );
      const result = toPage(rows, q.limit);
      return c.json({ data: result.data.map(conversations.toConversationDto), nextCursor: result.nextCursor }, 200);
    },
  );

  // Before /conversations/{conversationId}, so "search" is never taken for an id.
  router.openapi(
    createRoute({
      method: 'get',
      path: '/conversations/search',
      tags,
      security,
      summary: 'Search message text (newest first) with highlighted snippets',
      description:
        'Full-text search over the org\'s messages, escaped exactly like knowledge keyword search: every word is matched as a literal (quotes, `*`, `NEAR`, parentheses are not operators). `snippet` is plain text; `highlights` are the [start, end) offsets of the matched words in it.',
      request: { query: SearchQuery },
      responses: { 200: jsonContent(page(SearchHitSchema), 'A page of matching messages'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'conversations.read');
      const q = c.req.valid('query');
      const rows = await conversations.searchMessages(serviceContext(c), {
        orgId: org.orgId,
        query: q.q,
        botId: q.botId,
        cursor: decodeCursor(q.cursor),
        limit: q.limit,
      });
      const result = toPage(rows, q.limit);
      return c.json({ data: result.data.map((r) => conversations.toSearchHitDto(r.hit)), nextCursor: result.nextCursor }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/conversations/{conversationId}',
      tags,
      security,
      summary: 'Get a conversation',
      request: { params: ConversationId },
      responses: { 200: { ...jsonContent(ConversationSchema, 'The conversation'), headers: etagResponseHeaders }, ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'conversations.read');
      const row = await conversations.getConversation(c.get('db'), org.orgId, c.req.valid('param').conversationId);
      if (!row) throw conversationNotFound();
      return c.json(conversations.toConversationDto(row), 200, { etag: etagFor(row.revision) });
    },
  );

  router.openapi(
    createRoute({
      method: 'patch',
      path: '/conversations/{conversationId}',
      tags,
      security,
      summary: 'Rename, archive or close a conversation (only the given fields are written)',
      description: 'Send If-Match with the ETag from a GET to make the change conditional: a stale ETag gets 412 and nothing changes. A new title stops automatic titling.',
      request: { params: ConversationId, headers: IfMatchHeaders, body: jsonBody(UpdateConversationSchema) },
      responses: {
        200: { ...jsonContent(ConversationSchema, 'The updated conversation'), headers: etagResponseHeaders },
        ...commonErrors,
        409: { ...errorResponses[409], description: '`open` asked while a team member has taken the conversation over (`conversation_with_human`)' },
        ...preconditionFailedResponse,
      },
    }),
    async (c) => {
      const org = requirePermission(c, 'conversations.manage');
      const id = c.req.valid('param').conversationId;
      const result = await conversations.updateConversation(serviceContext(c), c.get('actor'), org.orgId, id, c.req.valid('json'), ifMatchRevisions(c));
      switch (result.status) {
        case 'not_found':
          throw conversationNotFound();
        case 'precondition_failed':
          throw preconditionFailed('conversation');
        case 'with_human':
          throw conflict('A team member has taken this conversation over; it reopens for the bot when they hand it back.', 'conversation_with_human');
        case 'updated':
          return c.json(conversations.toConversationDto(result.row), 200, { etag: etagFor(result.row.revision) });
      }
    },
  );

  router.openapi(
    createRoute({
      method: 'delete',
      path: '/conversations/{conversationId}',
      tags,
      security,
      summary: 'Delete a conversation (soft: it disappears from every route at once; retention purges it)',
      request: { params: ConversationId },
      responses: { 204: { description: 'Deleted' }, ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'conversations.manage');
      const deleted = await conversations.deleteConversation(serviceContext(c), c.get('actor'), org.orgId, c.req.valid('param').conversationId);
      if (!deleted) throw conversationNotFound();
      return c.body(null, 204);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/conversations/{conversationId}/messages',
      tags,
      security,
      summary: 'A page of a conversation\'s messages, oldest or newest first',
      request: { params: ConversationId, query: ListMessagesQuery },
      responses: { 200: jsonContent(page(MessageSchema), 'A page of messages'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'conversations.read');
      const conversation = await conversations.getConversation(c.get('db'), org.orgId, c.req.valid('param').conversationId);
      if (!conversation) throw conversationNotFound();
      const { order, limit, cursor } = c.req.valid('query');
      const rows = await conversations.listMessages(c.get('db'), conversation.id, order, decodeCursor(cursor), limit);
      const result = toPage(rows, limit);
      return c.json({ data: result.data.map(toMessageDto), nextCursor: result.nextCursor }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/bots/{botId}/attachments',
      tags,
      security,
      summary: 'Upload a file to send with a chat message (txt, md, html, pdf, docx, csv, json)',
      description: `multipart/form-data with one \`file\` field, up to ${ATTACHMENTS.maxBytes} bytes. The type is checked as for knowledge uploads and the text extracted at once. Send the returned id with your next message (by the same key or person, within 24 h); unclaimed uploads are deleted after that.`,
      middleware: [idempotent()] as const,
      request: {
        params: IdParam('botId', 'bot'),
        headers: IdempotencyKeyHeaders,
        body: { required: true, content: { 'multipart/form-data': { schema: z.object({ file: FileField }).passthrough() } } },
      },
      responses: {
        201: jsonContent(AttachmentSchema, 'Stored, with its text extracted'),
        ...commonErrors,
        413: errorResponses[413],
        415: errorResponses[415],
        ...idempotencyErrors,
        422: { ...errorResponses[422], description: 'The file cannot be read (`attachment_unreadable`), or an Idempotency-Key reused with another request' },
      },
    }),
    async (c) => {
      const org = requirePermission(c, 'chat');
      const bot = await getBot(c.get('db'), org.orgId, c.req.valid('param').botId);
      if (!bot) throw notFound('Bot', 'bot_not_found');
      const form = c.req.valid('form') as Record<string, unknown>;
      const file = form.file;
      if (Array.isArray(file)) throw badRequest('Send one file per upload.', 'too_many_files', [{ path: 'file', message: 'One file only' }]);
      if (!(file instanceof File)) throw badRequest('Attach the file in a "file" field.', 'no_files', [{ path: 'file', message: 'Required' }]);
      const name = cleanAttachmentName(file.name);
      if (file.size > ATTACHMENTS.maxBytes) {
        throw new ApiError({ status: 413, code: 'file_too_large', title: 'Payload too large', detail: `${name} is larger than the ${ATTACHMENTS.maxBytes}-byte limit for attachments.` });
      }
      const bytes = new Uint8Array(await file.arrayBuffer());
      const check = checkAttachmentType(bytes, file.type, name);
      if (!check.ok) {
        if (check.reason === 'empty') throw badRequest(`${name} is empty.`, 'empty_file', [{ path: 'file', message: `${name} is empty` }]);
        throw unsupportedMediaType([...ACCEPTED_UPLOAD_MIME_TYPES], `${name}: ${check.detail}`);
      }
      const ctx = serviceContext(c);
      // Bytes count when received, as for knowledge uploads.
      const quota = await consumeQuota(ctx, org.orgId, 'upload_bytes_per_day', bytes.byteLength);
      if (!quota.allowed) throw quotaExceeded(quota);
      const stored = await storeAttachment(ctx, { orgId: org.orgId, botId: bot.id, callerId: callerId(c), name, bytes, check });
      if (stored.status === 'unreadable') {
        throw new ApiError({
          status: 422,
          code: 'attachment_unreadable',
          title: 'Unreadable file',
          detail: `${name}: ${stored.detail}`,
          extensions: { reason: stored.reason },
        });
      }
      return c.json(stored.attachment, 201);
    },
  );

  return router;
}
