/**
 * POST /bots/{botId}/sources/files: multipart upload of one or more files. Each file's type
 * must be on the MIME allowlist AND match its magic bytes; any file that fails makes the whole
 * request a 4xx and nothing is stored (all files are checked before the first is written).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { jsonContent, commonErrors, errorResponses, IdParam, type Router } from '../../http/router';
import { ApiError, badRequest, unsupportedMediaType } from '../../http/problem';
import { requirePermission, serviceContext } from '../../http/context';
import { ACCEPTED_UPLOAD_MIME_TYPES, detectFileType } from './extract';
import { createFileSources, toSourceDto } from './sources';
import { SourceSchema } from './schemas';
import { requireBot } from './route-guards';
import { enforceSourceQuotas } from './route-quotas';
import { idempotent, IdempotencyKeyHeaders, idempotencyErrors } from '../../http/middleware/idempotency';

import { MAX_FILES_PER_UPLOAD } from '../../limits';

const FileField = z.any().openapi({ type: 'array', items: { type: 'string', format: 'binary' } });

const UploadOutcome = z.discriminatedUnion('status', [
  z.object({ file: z.string(), status: z.literal('created'), source: SourceSchema }),
  z.object({ file: z.string(), status: z.literal('duplicate'), existingSourceId: z.string(), existingDocumentId: z.string() }),
]);

function filesFrom(form: Record<string, unknown>): File[] {
  const out: File[] = [];
  for (const [key, value] of Object.entries(form)) {
    if (!['file', 'files', 'files[]', 'file[]'].includes(key)) continue;
    for (const v of Array.isArray(value) ? value : [value]) if (v instanceof File) out.push(v);
  }
  return out;
}

export function uploadRoute(router: Router) {
  router.openapi(
    createRoute({
      method: 'post',
      path: '/bots/{botId}/sources/files',
      tags: ['Knowledge'],
      security: [{ bearer: [] }],
      summary: 'Upload files (txt, md, html, pdf, docx, csv, json) as knowledge sources',
      description: `Send multipart/form-data with one or more \`file\` fields (at most ${MAX_FILES_PER_UPLOAD}). The same content already in the bot is reported as a duplicate, not ingested twice.`,
      middleware: [idempotent()] as const,
      request: {
        params: IdParam('botId', 'bot'),
        headers: IdempotencyKeyHeaders,
        body: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: z.object({ file: FileField, schedule: z.enum(['none', 'daily', 'weekly']).optional() }).passthrough(),
            },
          },
        },
      },
      responses: {
        202: jsonContent(z.object({ data: z.array(UploadOutcome) }).openapi('UploadResult'), 'Accepted'),
        ...commonErrors,
        413: errorResponses[413],
        415: errorResponses[415],
        ...idempotencyErrors,
      },
    }),
    async (c) => {
      const org = requirePermission(c, 'sources.write');
      const bot = await requireBot(c, c.req.valid('param').botId);
      const form = c.req.valid('form') as Record<string, unknown>;
      const files = filesFrom(form);
      if (files.length === 0) {
        throw badRequest('Attach at least one file in a "file" field.', 'no_files', [{ path: 'file', message: 'Required' }]);
      }
      if (files.length > MAX_FILES_PER_UPLOAD) {
        throw badRequest(`At most ${MAX_FILES_PER_UPLOAD} files per request.`, 'too_many_files');
      }
      const limit = c.get('config').maxUploadBytes;
      const accepted: { name: string; mime: string; bytes: Uint8Array }[] = [];
      for (const file of files) {
        const name = file.name || 'upload';
        if (file.size > limit) {
          throw new ApiError({ status: 413, code: 'file_too_large', title: 'Payload too large', detail: `${name} is larger than the ${limit}-byte limit.` });
        }
        if (file.size === 0) throw badRequest(`${name} is empty.`, 'empty_file', [{ path: 'file', message: `${name} is empty` }]);
        const bytes = new Uint8Array(await file.arrayBuffer());
        const detected = detectFileType(bytes, file.type, name);
        if (!detected.ok) {
          if (detected.reason === 'empty') throw badRequest(`${name} is empty.`, 'empty_file', [{ path: 'file', message: `${name} is empty` }]);
          throw unsupportedMediaType([...ACCEPTED_UPLOAD_MIME_TYPES], `${name}: ${detected.detail}`);
        }
        accepted.push({ name, mime: detected.mime, bytes });
      }
      const schedule = typeof form.schedule === 'string' ? (form.schedule as 'none' | 'daily' | 'weekly') : undefined;
      const ctx = serviceContext(c);
      await enforceSourceQuotas(ctx, org.orgId, accepted.length, accepted.reduce((sum, f) => sum + f.bytes.byteLength, 0));
      const outcomes = await createFileSources(ctx, c.get('actor'), org.orgId, bot.id, accepted, schedule);
      const emptyProgress = { done: 0, total: 1, failed: 0, chunks: 0, characters: 0 };
      return c.json(
        { data: outcomes.map((o) => (o.status === 'created' ? { file: o.file, status: o.status, source: toSourceDto(o.source, emptyProgress) } : o)) },
        202,
      );
    },
  );
}
