/** Zod schemas (and OpenAPI components) of the integrations API. */
import { z } from '@hono/zod-openapi';
import { INTEGRATION_ACTIONS, INBOUND_STATUSES, INBOUND_VERIFICATIONS } from '../../db/schema';
import { INBOUND_WEBHOOKS } from '../../limits';

const name = z.string().trim().min(1).max(INBOUND_WEBHOOKS.maxNameChars).openapi({ example: 'CMS publish' });
const action = z.enum(INTEGRATION_ACTIONS).openapi({ description: 'What a verified event does (see the README: Integrations)' });
const botId = z.string().min(1).max(64).nullable().openapi({ description: 'The bot it acts on: required for knowledge.*; for the others it narrows what an event may touch', example: 'bot_01JD3X0000000000000000000' });
const sourceId = z.string().min(1).max(64).nullable().openapi({ description: 'source.sync only: the source to re-sync (else each event names one in `sourceId`)' });

export const CreateIntegrationSchema = z
  .object({ name, action, botId: botId.optional(), sourceId: sourceId.optional(), enabled: z.boolean().optional() })
  .strict()
  .openapi('CreateIntegration');

export const UpdateIntegrationSchema = z
  .object({ name: name.optional(), action: action.optional(), botId: botId.optional(), sourceId: sourceId.optional(), enabled: z.boolean().optional() })
  .strict()
  .openapi('UpdateIntegration');

const SecretInfo = z.object({
  masked: z.string().openapi({ example: 'whsec_…x9Qa' }),
  rotatedAt: z.string().datetime(),
  previousValidUntil: z.string().datetime().nullable().openapi({ description: 'Until when the previous secret still verifies (null: none)' }),
});

export const IntegrationSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    action,
    botId: z.string().nullable(),
    sourceId: z.string().nullable(),
    enabled: z.boolean(),
    url: z.string().openapi({ description: 'Where the sender POSTs signed events (path on this API\'s origin)', example: '/hooks/3q2-…' }),
    secret: SecretInfo,
    createdAt: z.string().datetime(),
    updatedAt: z.string().datetime(),
  })
  .openapi('Integration');

export const CreatedIntegrationSchema = IntegrationSchema.extend({
  signingSecret: z.string().openapi({ description: 'The Standard Webhooks secret (whsec_…), shown only now' }),
}).openapi('CreatedIntegration');

export const RotatedSecretSchema = z
  .object({
    signingSecret: z.string().openapi({ description: 'The new secret, shown only now' }),
    rotatedAt: z.string().datetime(),
    previousValidUntil: z.string().datetime().openapi({ description: `The previous secret keeps verifying until then (${INBOUND_WEBHOOKS.secretGraceMs / 3_600_000} h)` }),
  })
  .openapi('RotatedIntegrationSecret');

export const InboundEventSchema = z
  .object({
    id: z.string().openapi({ example: 'ihe_01JD3X0000000000000000000' }),
    webhookId: z.string().nullable(),
    action,
    verification: z.enum(INBOUND_VERIFICATIONS),
    status: z.enum(INBOUND_STATUSES),
    sizeBytes: z.number().int(),
    result: z.record(z.string(), z.unknown()).nullable().openapi({ description: 'What processing did (ids touched, outcome)' }),
    error: z.string().nullable(),
    attempts: z.number().int(),
    receivedAt: z.string().datetime(),
    processedAt: z.string().datetime().nullable(),
  })
  .openapi('InboundEvent');

export const TestIntegrationSchema = z
  .object({ payload: z.unknown().optional().openapi({ description: "The event body to try (default: a sample for the integration's action)" }) })
  .strict()
  .openapi('TestIntegration');

export const TestResultSchema = z
  .object({
    request: z.object({
      headers: z.record(z.string(), z.string()).openapi({ description: 'webhook-id, webhook-timestamp, webhook-signature as a sender would send them' }),
      body: z.string(),
    }),
    verification: z.enum(INBOUND_VERIFICATIONS),
    valid: z.boolean(),
    errors: z.array(z.object({ path: z.string(), message: z.string(), code: z.string() })),
    dryRun: z.record(z.string(), z.unknown()).nullable().openapi({ description: 'What the action would do now (nothing was changed); null when the payload is invalid' }),
  })
  .openapi('IntegrationTestResult');

export const AcceptedEventSchema = z.object({ id: z.string(), status: z.literal('queued') }).openapi('AcceptedInboundEvent');
