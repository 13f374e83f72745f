import { z } from '@hono/zod-openapi';
import { ACTION_RUN_STATUSES, ACTION_TYPES } from '../../db/schema';
import { ACTIONS } from '../../limits';
import { ACTION_NAME_PATTERN, HTTP_METHODS } from './definition';

const JsonObject = z.record(z.string(), z.unknown());

export const HttpConfigSchema = z
  .object({
    method: z.enum(HTTP_METHODS),
    urlTemplate: z.string().min(1).max(2048).openapi({ example: 'https://api.example.com/orders/{{args.orderId}}' }),
    headers: z.record(z.string().max(100), z.string().max(1000)).default({}).openapi({ example: { authorization: 'Bearer {{secrets.shop_api_key}}' } }),
    bodyTemplate: z.unknown().nullable().default(null).openapi({ description: 'A JSON value; a string that is exactly `{{args.x}}` becomes that argument (any JSON type), placeholders inside longer strings are substituted as text' }),
  })
  .strict()
  .openapi('ActionHttpConfig');

export const EmailConfigSchema = z
  .object({
    to: z.string().min(1).max(300).openapi({ example: '{{args.email}}' }),
    subject: z.string().min(1).max(300),
    bodyTemplate: z.string().min(1).max(16_000),
  })
  .strict()
  .openapi('ActionEmailConfig');

const name = z.string().regex(ACTION_NAME_PATTERN, `Letters, digits, _ and - only, 1 to ${ACTIONS.maxNameChars} characters`).openapi({ example: 'lookup_order' });
const description = z.string().trim().min(1).max(ACTIONS.maxDescriptionChars);
const botIds = z.array(z.string().min(1).max(64)).max(ACTIONS.maxBotsPerAction);

export const CreateActionSchema = z
  .object({
    name,
    description,
    type: z.enum(ACTION_TYPES),
    parameters: JsonObject.optional().openapi({ description: 'JSON Schema (type object) for the arguments; built-ins have their own', example: { type: 'object', properties: { orderId: { type: 'string' } }, required: ['orderId'] } }),
    http: HttpConfigSchema.optional(),
    email: EmailConfigSchema.optional(),
    botIds: botIds.default([]),
    needsConfirmation: z.boolean().default(false),
    enabled: z.boolean().default(true),
  })
  .strict()
  .openapi('CreateAction');

export const UpdateActionSchema = z
  .object({
    name: name.optional(),
    description: description.optional(),
    parameters: JsonObject.optional(),
    http: HttpConfigSchema.optional(),
    email: EmailConfigSchema.optional(),
    botIds: botIds.optional(),
    needsConfirmation: z.boolean().optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .openapi('UpdateAction');

export const ActionSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    type: z.enum(ACTION_TYPES),
    parameters: JsonObject,
    http: HttpConfigSchema.nullable(),
    email: EmailConfigSchema.nullable(),
    botIds: z.array(z.string()),
    needsConfirmation: z.boolean(),
    enabled: z.boolean(),
    createdAt: z.string().datetime(),
    updatedAt: z.string().datetime(),
  })
  .openapi('Action');

export const ActionRunSchema = z
  .object({
    id: z.string(),
    actionId: z.string(),
    actionName: z.string(),
    source: z.enum(['chat', 'test']),
    botId: z.string().nullable(),
    conversationId: z.string().nullable(),
    messageId: z.string().nullable(),
    status: z.enum(ACTION_RUN_STATUSES),
    latencyMs: z.number().int(),
    request: z.unknown().openapi({ description: 'As sent, with secret values, credential headers and personal data redacted' }),
    response: z.unknown().openapi({ description: 'As received, redacted the same way' }),
    error: z.string().nullable(),
    createdAt: z.string().datetime(),
  })
  .openapi('ActionRun');

export const TestActionSchema = z
  .object({
    arguments: JsonObject.default({}),
    botId: z.string().min(1).max(64).optional().openapi({ description: 'The bot built-ins act for (default: the first of the action\'s bots)' }),
  })
  .strict()
  .openapi('TestAction');

export const TestActionResult = z
  .object({ run: ActionRunSchema, result: z.string().openapi({ description: 'What the model would be given back' }) })
  .openapi('TestActionResult');

export const ConfirmationDecision = z
  .object({
    approve: z.boolean(),
    stream: z.boolean().default(false).openapi({ description: 'Answer the resumed turn as Server-Sent Events' }),
  })
  .strict()
  .openapi('ConfirmationDecision');
