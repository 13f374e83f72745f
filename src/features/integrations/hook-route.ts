/**
 * `POST /hooks/{slug}`: the public receiving end of inbound webhooks. No authentication: the
 * Standard Webhooks signature is the credential (receive.ts). Mounted outside /api, so none of
 * the API's CORS, body-limit or auth middleware runs; this route reads the body itself, as a
 * stream, and stops at INBOUND_WEBHOOKS.maxBodyBytes.
 *
 * Answers: 202 with the event id (queued); 400 a verified body that is not a valid payload;
 * 401 a missing / bad signature or a stale timestamp; 404 an unknown or disabled integration;
 * 409 a webhook-id already accepted (replay); 413 a body over the cap; 429 over the URL's rate.
 */
import { z } from '@hono/zod-openapi';
import { createRouter, errorResponses, jsonContent } from '../../http/router';
import { ApiError, badRequest, conflict, notFound, validationFailed } from '../../http/problem';
import { serviceContext } from '../../http/context';
import { rateLimit } from '../../http/middleware/rate-limit';
import { INBOUND_WEBHOOKS, RATE_LIMIT_WINDOW_SECONDS } from '../../limits';
import { readCapped } from '../../lib/read-capped';
import { receiveInbound, type BodyRead } from './receive';
import { AcceptedEventSchema } from './schemas';
import { ConversationReplyPayload, KnowledgeDeletePayload, KnowledgeUpsertPayload, SourceSyncPayload } from './payloads';

const MAX = INBOUND_WEBHOOKS.maxBodyBytes;
const TOLERANCE = `${INBOUND_WEBHOOKS.timestampToleranceSeconds / 60} minutes`;

/** Reads at most MAX bytes: a declared length over it is refused unread, a stream is cut when it passes it. */
async function readBody(request: Request): Promise<BodyRead> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > MAX) return { ok: false, reason: 'too_large' };
  return readCapped(request.body, MAX);
}

const unauthorizedHook = (detail: string, code: string) => new ApiError({ status: 401, code, title: 'Unauthorized', detail });

const SlugParam = z.object({
  slug: z.string().min(1).max(64).openapi({ param: { name: 'slug', in: 'path' }, description: "The random part of the integration's URL" }),
});

/** A leaked URL must not turn into an unbounded log of rejected requests. Called only for a known integration. */
const perIntegration = rateLimit({
  name: 'inbound-hook',
  limit: INBOUND_WEBHOOKS.requestsPerMinutePerIntegration,
  windowSeconds: RATE_LIMIT_WINDOW_SECONDS,
  key: (c) => `hook:${c.req.param('slug') ?? ''}`,
  problem: { code: 'rate_limited', quota: 'inbound_webhook_requests_per_minute' },
});

export function hookRoutes() {
  const router = createRouter();
  router.openAPIRegistry.registerPath({
    method: 'post',
    path: '/hooks/{slug}',
    tags: ['Integrations'],
    summary: 'Receive a signed inbound webhook event (Standard Webhooks)',
    description:
      `Public. Sign with the integration's \`whsec_\` secret using any Standard Webhooks library: headers \`webhook-id\`, \`webhook-timestamp\` (within ${TOLERANCE}), \`webhook-signature\`. ` +
      `The body (at most ${MAX} bytes) depends on the integration's action: source.sync any JSON object (\`sourceId\` when the integration names none), knowledge.upsert, knowledge.delete, conversation.reply as below. ` +
      'A webhook-id is accepted once per integration: a replay is refused with 409.',
    request: {
      params: SlugParam,
      body: {
        required: true,
        content: {
          'application/json': {
            schema: z.union([SourceSyncPayload, KnowledgeUpsertPayload, KnowledgeDeletePayload, ConversationReplyPayload]) as never,
          },
        },
      },
    },
    responses: {
      202: jsonContent(AcceptedEventSchema, 'Verified and queued; processed in the background (see GET /integrations/{id}/events)'),
      400: errorResponses[400],
      401: { ...errorResponses[401], description: `Missing or malformed signature headers, a signature no secret matches, or a timestamp outside ${TOLERANCE}` },
      404: { ...errorResponses[404], description: 'No enabled integration has this URL' },
      409: { ...errorResponses[409], description: 'This webhook-id was already accepted (`webhook_replayed`)' },
      413: errorResponses[413],
      429: errorResponses[429],
    },
  });

  router.post('/hooks/:slug', async (c) => {
    const slug = c.req.param('slug');
    if (slug.length > 64) throw notFound('Integration', 'integration_not_found');
    const result = await receiveInbound(
      serviceContext(c),
      slug,
      { id: c.req.header('webhook-id') ?? null, timestamp: c.req.header('webhook-timestamp') ?? null, signature: c.req.header('webhook-signature') ?? null },
      () => readBody(c.req.raw),
      // Throws the 429 problem when the integration's minute is used up.
      () => perIntegration(c, async () => undefined).then(() => undefined),
    );
    switch (result.status) {
      case 'not_found':
        console.warn(JSON.stringify({ level: 'warn', msg: 'inbound webhook for an unknown or disabled integration', requestId: c.get('requestId') }));
        throw notFound('Integration', 'integration_not_found');
      case 'too_large':
        throw new ApiError({ status: 413, code: 'payload_too_large', title: 'Payload too large', detail: `The request body is larger than ${MAX} bytes.` });
      case 'rejected':
        if (result.verification === 'stale_timestamp') throw unauthorizedHook(`webhook-timestamp is more than ${TOLERANCE} away from now.`, 'webhook_timestamp_out_of_range');
        if (result.verification === 'invalid_headers') throw unauthorizedHook('Send webhook-id, webhook-timestamp and webhook-signature (Standard Webhooks).', 'webhook_headers_invalid');
        throw unauthorizedHook('No signature in webhook-signature matches this integration\'s secret.', 'webhook_signature_invalid');
      case 'replayed':
        throw conflict('An event with this webhook-id was already accepted by this integration; it is not processed again.', 'webhook_replayed');
      case 'malformed_json':
        throw badRequest('The request body is not valid JSON.', 'malformed_json');
      case 'invalid':
        throw validationFailed(result.errors);
      case 'accepted':
        return c.json({ id: result.eventId, status: 'queued' as const }, 202);
    }
  });

  return router;
}
