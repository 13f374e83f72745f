import { sqliteTable, text, integer, index, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { users } from './users';

export const ROLES = ['owner', 'admin', 'member', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const organizations = sqliteTable('organizations', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

export const memberships = sqliteTable(
  'memberships',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ROLES }).notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('memberships_org_user_unique').on(t.orgId, t.userId), index('memberships_user_idx').on(t.userId)],
);

export const invitations = sqliteTable(
  'invitations',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    email: text('email').notNull(),
    role: text('role', { enum: ROLES }).notNull(),
    tokenHash: text('token_hash').notNull(),
    invitedBy: text('invited_by').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    acceptedAt: integer('accepted_at'),
    revokedAt: integer('revoked_at'),
  },
  (t) => [uniqueIndex('invitations_token_unique').on(t.tokenHash), index('invitations_org_idx').on(t.orgId)],
);

/**
 * Per-org model provider settings. `secrets` is a JSON object of name -> AES-GCM envelope
 * ({ kid, iv, ct }), never returned in clear.
 */
export const orgSettings = sqliteTable('org_settings', {
  orgId: text('org_id').primaryKey().references(() => organizations.id, { onDelete: 'cascade' }),
  provider: text('provider').notNull().default('offline'),
  baseUrl: text('base_url'),
  chatModel: text('chat_model'),
  embeddingModel: text('embedding_model'),
  embeddingDimensions: integer('embedding_dimensions'),
  secrets: text('secrets').notNull().default('{}'),
  /** Optional reranker for search; its key is the `rerank_api_key` secret. */
  // relevantAt came later: rows saved before it lack it (settings/service.ts fills the default).
  reranker: text('reranker', { mode: 'json' }).$type<{ url: string; model: string; topN: number; relevantAt?: number }>(),
  updatedAt: integer('updated_at').notNull(),
});
