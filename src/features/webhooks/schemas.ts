import { z } from '@hono/zod-openapi';
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { WEBHOOKS } from '../../limits';
import { DELIVERY_STATUSES } from '../../db/schema';
import { EVENT_CATALOG, EVENT_TYPES } from '../events/catalog';
import { PaginationQuery } from '../../http/router';

const eventFilter = z
  .string()
  .min(1)
  .max(100)
  .openapi({ description: 'An event type (`message.created`), a namespace wildcard (`conversation.*`) or `*`', example: 'conversation.*' });

export const CreateWebhookSchema = z
  .object({
    url: z.string().min(1).max(WEBHOOKS.maxUrlChars).openapi({ description: 'https (http only in development or for an allowlisted host); checked by the egress rules', example: 'https://example.com/kyrochat/webhooks' }),
    description: z.string().max(WEBHOOKS.maxDescriptionChars).optional(),
    eventTypes: z.array(eventFilter).min(1).max(WEBHOOKS.maxEventTypesPerEndpoint),
    botId: z.string().max(64).nullable().optional().openapi({ description: 'Only events of this bot (org-wide events such as member.* still arrive)' }),
    enabled: z.boolean().optional(),
  })
  .strict()
  .openapi('CreateWebhook');

export const UpdateWebhookSchema = CreateWebhookSchema.partial().strict().openapi('UpdateWebhook');

export const WebhookSchema = z
  .object({
    id: z.string().openapi({ example: 'whk_01JD3X5Q8W2N4V6B8C0D2E4F6G' }),
    url: z.string(),
    description: z.string(),
    eventTypes: z.array(z.string()),
    botId: z.string().nullable(),
    enabled: z.boolean(),
    disabledReason: z.string().nullable().openapi({ description: 'Why the endpoint is off: repeated failed deliveries, or a member' }),
    disabledAt: z.string().datetime().nullable(),
    secret: z.string().openapi({ description: 'The signing secret, masked (its full value is shown once, at creation or rotation)', example: 'whsec_…Ab12' }),
    previousSecretValidUntil: z.string().datetime().nullable().openapi({ description: 'After a rotation: until when the previous secret still signs alongside the new one' }),
    consecutiveFailures: z.number().int(),
    createdAt: z.string().datetime(),
    updatedAt: z.string().datetime(),
  })
  .openapi('Webhook');

export const CreatedWebhookSchema = WebhookSchema.extend({
  secret: z.string().openapi({ description: 'The signing secret (`whsec_…`): shown only now. Verify requests with any Standard Webhooks library.' }),
}).openapi('CreatedWebhook');

export const RotatedSecretSchema = z
  .object({
    secret: z.string().openapi({ description: 'The new signing secret, shown only now' }),
    previousSecretValidUntil: z.string().datetime().openapi({ description: 'The previous secret keeps signing (a second `v1,` signature) until then' }),
    webhook: WebhookSchema,
  })
  .openapi('RotatedWebhookSecret');

export const AttemptSchema = z
  .object({
    id: z.string(),
    attempt: z.number().int().openapi({ description: 'Position in its attempt chain (a redelivery starts at 1 again)' }),
    statusCode: z.number().int().nullable(),
    latencyMs: z.number().int(),
    responseBody: z.string().nullable().openapi({ description: `The first ${WEBHOOKS.maxStoredResponseBytes} bytes of the answer` }),
    error: z.string().nullable(),
    createdAt: z.string().datetime(),
  })
  .openapi('WebhookAttempt');

export const DeliverySchema = z
  .object({
    id: z.string().openapi({ example: 'whd_01JD3X5Q8W2N4V6B8C0D2E4F6G' }),
    webhookId: z.string(),
    eventId: z.string().openapi({ description: 'The `webhook-id` header: the same on every attempt, for deduplication' }),
    eventType: z.string(),
    conversationId: z.string().nullable(),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.number().int(),
    nextAttemptAt: z.string().datetime().nullable(),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    createdAt: z.string().datetime(),
    completedAt: z.string().datetime().nullable(),
  })
  .openapi('WebhookDelivery');

export const DeliveryWithAttemptsSchema = DeliverySchema.extend({ attemptLog: z.array(AttemptSchema) }).openapi('WebhookDeliveryWithAttempts');

export const TestResultSchema = z.object({ delivery: DeliverySchema, attempt: AttemptSchema }).openapi('WebhookTestResult');

export const DeliveriesQuery = PaginationQuery.extend({
  status: z.enum(DELIVERY_STATUSES).optional(),
  eventType: z.string().max(100).optional(),
});

export const EventTypesSchema = z
  .object({
    data: z.array(z.object({ type: z.string(), description: z.string(), schema: z.record(z.string(), z.unknown()).openapi({ description: 'JSON Schema of `data`' }) })),
  })
  .openapi('WebhookEventTypes');

/**
 * Every catalog entry as an OpenAPI 3.1 webhook (top-level `webhooks`): what KyroChat POSTs to an
 * endpoint for that event. Registered on the app itself, so the names stay unprefixed.
 */
export function registerEventWebhooks(registry: OpenAPIRegistry) {
  const signatureHeaders = z.object({
    'webhook-id': z.string().openapi({ description: 'The event id (`whe_…`), the same on every retry: deduplicate on it' }),
    'webhook-timestamp': z.string().openapi({ description: 'Unix seconds when this attempt was signed' }),
    'webhook-signature': z.string().openapi({ description: 'Space-separated `v1,<base64 HMAC-SHA256>` signatures (two during a secret rotation)' }),
  });
  for (const type of EVENT_TYPES) {
    const entry = EVENT_CATALOG[type];
    registry.registerWebhook({
      method: 'post',
      path: type,
      summary: type,
      description: `${entry.description} Signed per Standard Webhooks; answer 2xx within ${WEBHOOKS.timeoutMs / 1000} s.`,
      tags: ['Webhook events'],
      request: {
        headers: signatureHeaders,
        body: {
          required: true,
          content: {
            'application/json': {
              schema: z.object({ type: z.literal(type), timestamp: z.string().datetime().openapi({ description: 'When the event happened' }), data: entry.data }),
            },
          },
        },
      },
      responses: { 200: { description: 'Any 2xx acknowledges the event; anything else is retried' } },
    });
  }
}
