import { sqliteTable, text, integer, primaryKey, index } from 'drizzle-orm/sqlite-core';
import { organizations } from './orgs';

/**
 * One row per Idempotency-Key a caller used on a creating route. The first request inserts
 * the row `in_progress` (a guarded insert, since D1 has no transactions); when it finishes
 * below 500 its status and body are kept so a retry replays them until `expires_at`.
 */
export const idempotencyKeys = sqliteTable(
  'idempotency_keys',
  {
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    /** Who used the key (a user id or an API key id): two callers never share results. */
    actorId: text('actor_id').notNull(),
    /** `POST /api/v1/bots`: the method and concrete path the key was used on. */
    route: text('route').notNull(),
    key: text('key').notNull(),
    /** SHA-256 of method, path and canonical body: the same key with another body is refused. */
    fingerprint: text('fingerprint').notNull(),
    state: text('state', { enum: ['in_progress', 'completed'] }).notNull(),
    status: integer('status'),
    /** { contentType, location } of the first response. */
    headers: text('headers', { mode: 'json' }).$type<Record<string, string>>(),
    body: text('body'),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.actorId, t.route, t.key] }), index('idempotency_keys_expiry_idx').on(t.expiresAt)],
);
