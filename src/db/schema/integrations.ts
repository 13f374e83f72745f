import { sql } from 'drizzle-orm';
import { sqliteTable, text, integer, index, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { organizations } from './orgs';
import type { StoredSecretEnvelope } from './widget-identity';

export const INTEGRATION_ACTIONS = ['source.sync', 'knowledge.upsert', 'knowledge.delete', 'conversation.reply'] as const;
export type IntegrationAction = (typeof INTEGRATION_ACTIONS)[number];

/**
 * An inbound webhook endpoint of an org: other systems POST signed events (Standard Webhooks) to
 * `/hooks/{slug}` and KyroChat runs the integration's one action with them. `slug` is random and
 * unguessable (256 bits); `secret` is the Standard Webhooks signing secret (`whsec_…`), encrypted
 * like every tenant secret. After a rotation `previous_secret` still verifies until
 * `previous_valid_until`, so the sender can switch without a gap.
 *
 * `bot_id` / `source_id` are not foreign keys: deleting a bot or a source must not silently delete
 * the org's integration; an event for a bot or source that is gone fails with that reason.
 */
export const integrations = sqliteTable(
  'integrations',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    action: text('action', { enum: INTEGRATION_ACTIONS }).notNull(),
    botId: text('bot_id'),
    sourceId: text('source_id'),
    enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
    slug: text('slug').notNull(),
    secret: text('secret', { mode: 'json' }).$type<StoredSecretEnvelope>().notNull(),
    previousSecret: text('previous_secret', { mode: 'json' }).$type<StoredSecretEnvelope>(),
    previousValidUntil: integer('previous_valid_until'),
    secretRotatedAt: integer('secret_rotated_at').notNull(),
    revision: integer('revision').notNull().default(1),
    createdBy: text('created_by'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('integrations_slug_unique').on(t.slug), index('integrations_org_idx').on(t.orgId, t.id)],
);

/** What verifying a received request found. */
export const INBOUND_VERIFICATIONS = ['verified', 'invalid_headers', 'bad_signature', 'stale_timestamp', 'integration_disabled', 'not_checked'] as const;
export type InboundVerification = (typeof INBOUND_VERIFICATIONS)[number];

/**
 * `rejected`: failed verification (nothing of the body kept); `too_large`: the body went over the
 * cap (not read further); `replayed`: a webhook-id already accepted; `invalid`: verified but not a
 * valid payload for the action; `queued` → `processing` → `processed` | `failed`: accepted work.
 */
export const INBOUND_STATUSES = ['rejected', 'too_large', 'replayed', 'invalid', 'queued', 'processing', 'processed', 'failed'] as const;
export type InboundStatus = (typeof INBOUND_STATUSES)[number];

/**
 * The log of every request received on an integration's URL, with its verification result.
 * Accepted events (`accepted` = 1, never changed after insert) also carry their payload until
 * processed; the partial unique index on (integration, webhook-id) over accepted rows is the
 * replay guard: the second insert of an id conflicts instead of a read-then-write race.
 */
export const inboundEvents = sqliteTable(
  'inbound_events',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull(),
    integrationId: text('integration_id')
      .notNull()
      .references(() => integrations.id, { onDelete: 'cascade' }),
    /** The sender's `webhook-id` (null when the header was missing). */
    webhookId: text('webhook_id'),
    verification: text('verification', { enum: INBOUND_VERIFICATIONS }).notNull(),
    status: text('status', { enum: INBOUND_STATUSES }).notNull(),
    accepted: integer('accepted', { mode: 'boolean' }).notNull().default(false),
    action: text('action', { enum: INTEGRATION_ACTIONS }).notNull(),
    /** The verified JSON body, kept only while the event waits to be processed. */
    payload: text('payload'),
    sizeBytes: integer('size_bytes').notNull().default(0),
    /** What processing did (ids it touched, its outcome). */
    result: text('result', { mode: 'json' }).$type<Record<string, unknown>>(),
    error: text('error'),
    attempts: integer('attempts').notNull().default(0),
    receivedAt: integer('received_at').notNull(),
    processedAt: integer('processed_at'),
  },
  (t) => [
    uniqueIndex('inbound_events_replay_guard').on(t.integrationId, t.webhookId).where(sql`accepted = 1`),
    index('inbound_events_integration_idx').on(t.integrationId, t.id),
    index('inbound_events_status_idx').on(t.status, t.receivedAt),
  ],
);
