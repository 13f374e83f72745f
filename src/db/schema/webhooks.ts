import { sqliteTable, text, integer, index, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { organizations } from './orgs';
import type { StoredSecretEnvelope } from './widget-identity';

export const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * An org's outbound webhook endpoint. The signing secret is encrypted (src/lib/secrets.ts) and
 * shown once; after a rotation `previous_secret` keeps signing alongside the new one until
 * `previous_valid_until`. `consecutive_failures` counts deliveries that exhausted their retries
 * in a row; reaching WEBHOOKS.disableAfterFailedDeliveries disables the endpoint.
 */
export const webhookEndpoints = sqliteTable(
  'webhook_endpoints',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    description: text('description').notNull().default(''),
    /** Event type names or wildcards (`escalation.*`, `*`). */
    eventTypes: text('event_types', { mode: 'json' }).$type<string[]>().notNull(),
    /** Only events of this bot (events without a bot, like member.*, still match). */
    botId: text('bot_id'),
    enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
    disabledReason: text('disabled_reason'),
    disabledAt: integer('disabled_at'),
    secret: text('secret', { mode: 'json' }).$type<StoredSecretEnvelope>().notNull(),
    /** The secret's masked form, to tell secrets apart without decrypting. */
    secretHint: text('secret_hint').notNull(),
    previousSecret: text('previous_secret', { mode: 'json' }).$type<StoredSecretEnvelope>(),
    previousValidUntil: integer('previous_valid_until'),
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    revision: integer('revision').notNull().default(1),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('webhook_endpoints_org_idx').on(t.orgId, t.id)],
);

/**
 * One event for one endpoint. Unique per (endpoint, event), so concurrent publishers and re-runs
 * create it once. `attempts` counts the current attempt chain (a redelivery starts a new one);
 * `next_attempt_at` is when the next attempt is due (also the claim lease while one runs).
 */
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    endpointId: text('endpoint_id').notNull().references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    eventId: text('event_id').notNull(),
    /** The outbox seq: deliveries of one conversation to one endpoint go out in this order. */
    eventSeq: integer('event_seq').notNull(),
    eventType: text('event_type').notNull(),
    conversationId: text('conversation_id'),
    status: text('status', { enum: DELIVERY_STATUSES }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    completedAt: integer('completed_at'),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_endpoint_event_uq').on(t.endpointId, t.eventId),
    index('webhook_deliveries_endpoint_idx').on(t.endpointId, t.id),
    index('webhook_deliveries_order_idx').on(t.endpointId, t.conversationId, t.status, t.eventSeq),
    index('webhook_deliveries_due_idx').on(t.status, t.nextAttemptAt),
  ],
);

/** Every HTTP attempt of a delivery: what the receiver answered, how fast, or why it failed. */
export const webhookAttempts = sqliteTable(
  'webhook_attempts',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull(),
    deliveryId: text('delivery_id').notNull().references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    /** 1-based position in its attempt chain. */
    attempt: integer('attempt').notNull(),
    statusCode: integer('status_code'),
    latencyMs: integer('latency_ms').notNull(),
    /** The response body's first WEBHOOKS.maxStoredResponseBytes. */
    responseBody: text('response_body'),
    error: text('error'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('webhook_attempts_delivery_idx').on(t.deliveryId, t.id)],
);
