import { sqliteTable, text, integer, real, index } from 'drizzle-orm/sqlite-core';
import { organizations } from './orgs';
import type { BotWidgetOverrides } from './widget';
import type { BotHandoffSettings } from './handoff';

export const bots = sqliteTable(
  'bots',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    instructions: text('instructions').notNull().default(''),
    modelProvider: text('model_provider').notNull().default('offline'),
    model: text('model').notNull().default('extractive'),
    temperature: real('temperature').notNull().default(0.2),
    maxTokens: integer('max_tokens').notNull().default(800),
    topK: integer('top_k').notNull().default(6),
    minScore: real('min_score').notNull().default(0),
    hybrid: integer('hybrid', { mode: 'boolean' }).notNull().default(true),
    fusion: text('fusion', { enum: ['convex', 'rrf'] }).notNull().default('convex'),
    /** Vector weight of convex fusion; null means the default for the org's embedder. */
    hybridWeight: real('hybrid_weight'),
    chunking: text('chunking', { mode: 'json' })
      .$type<{ strategy: 'recursive' | 'markdown' | 'sentence-window'; chunkTokens: number; overlapTokens: number }>()
      .notNull(),
    visibility: text('visibility', { enum: ['private', 'public'] }).notNull().default('private'),
    allowedOrigins: text('allowed_origins', { mode: 'json' }).$type<string[]>().notNull(),
    /** Said when retrieval finds nothing relevant; null means the default (limits.ts). */
    fallbackMessage: text('fallback_message'),
    /** Emails, phone, card and IBAN numbers become placeholders before an external model sees them. */
    piiRedaction: integer('pii_redaction', { mode: 'boolean' }).notNull().default(false),
    /** Seconds an answer stays in the answer cache; 0 turns the cache off. */
    answerCacheTtlSeconds: integer('answer_cache_ttl_seconds').notNull().default(0),
    /**
     * Models tried in order when the bot's own model fails: { baseUrl, model, apiKeySecret } where
     * apiKeySecret names an org settings secret (never the key itself).
     */
    modelFallbacks: text('model_fallbacks', { mode: 'json' })
      .$type<{ baseUrl: string | null; model: string; apiKeySecret: string | null }[]>()
      .notNull()
      .default([]),
    /** The bot's widget overrides (partial groups, never branding); null = the org's defaults as they are. */
    widget: text('widget', { mode: 'json' }).$type<BotWidgetOverrides>(),
    /** Human handoff (issue #10): triggers, business hours, notices; null = off with the defaults. */
    handoff: text('handoff', { mode: 'json' }).$type<BotHandoffSettings>(),
    status: text('status', { enum: ['active', 'paused'] }).notNull().default('active'),
    /** Bumped by every write (a trigger covers writers that forget): the bot's ETag. */
    revision: integer('revision').notNull().default(1),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('bots_org_idx').on(t.orgId, t.id)],
);
