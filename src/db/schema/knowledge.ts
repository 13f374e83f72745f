import { sql } from 'drizzle-orm';
import { sqliteTable, text, integer, index, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { organizations } from './orgs';

export const SOURCE_TYPES = ['text', 'qa', 'url', 'website', 'file'] as const;
export type SourceType = (typeof SOURCE_TYPES)[number];
/** `deleting` is internal: such a source is invisible to the API while the purge job runs. */
export const SOURCE_STATUSES = ['queued', 'processing', 'ready', 'failed', 'deleting'] as const;

/** Where knowledge comes from. One source yields one or more documents. */
export const sources = sqliteTable(
  'sources',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    // No cascade from bots: deleting a bot marks its sources `deleting` and the purge job
    // removes vectors and R2 objects before the rows, which a cascade would orphan.
    botId: text('bot_id').notNull(),
    type: text('type', { enum: SOURCE_TYPES }).notNull(),
    title: text('title').notNull(),
    /** Type-specific settings: { url, maxPages, maxDepth, include, exclude } for websites. */
    config: text('config', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    status: text('status', { enum: SOURCE_STATUSES }).notNull(),
    error: text('error'),
    schedule: text('schedule', { enum: ['none', 'daily', 'weekly'] }).notNull().default('none'),
    nextSyncAt: integer('next_sync_at'),
    lastSyncedAt: integer('last_synced_at'),
    /** Bumped by every sync; pages not seen in the current generation are removed when it ends. */
    generation: integer('generation').notNull().default(1),
    createdBy: text('created_by'),
    /**
     * The id another system knows this text / Q&A source by (inbound webhooks' knowledge.upsert):
     * unique per org and bot among live sources. A replaced or deleted source gives it up (null).
     */
    externalId: text('external_id'),
    /** Bumped by every write (a trigger covers the ingestion jobs): the source's ETag. */
    revision: integer('revision').notNull().default(1),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    index('sources_bot_idx').on(t.orgId, t.botId, t.id),
    index('sources_next_sync_idx').on(t.nextSyncAt),
    uniqueIndex('sources_external_id_unique').on(t.orgId, t.botId, t.externalId).where(sql`external_id IS NOT NULL`),
  ],
);

export const DOCUMENT_STATUSES = ['pending', 'processing', 'ready', 'failed', 'skipped'] as const;

/** One unit of content: a file, a page, a pasted text, a Q&A set. Its original lives in R2. */
export const documents = sqliteTable(
  'documents',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull(),
    botId: text('bot_id').notNull(),
    sourceId: text('source_id').notNull().references(() => sources.id, { onDelete: 'cascade' }),
    title: text('title').notNull(),
    /** Page URL for web sources (unique per source), file name for uploads. */
    locator: text('locator').notNull(),
    depth: integer('depth').notNull().default(0),
    mime: text('mime').notNull(),
    r2Key: text('r2_key'),
    sizeBytes: integer('size_bytes').notNull().default(0),
    /** SHA-256 of the original bytes (or fetched page text). */
    contentHash: text('content_hash'),
    /** Hash of content + chunking + embedding settings: equal means re-indexing would change nothing. */
    indexKey: text('index_key'),
    status: text('status', { enum: DOCUMENT_STATUSES }).notNull(),
    error: text('error'),
    charCount: integer('char_count').notNull().default(0),
    chunkCount: integer('chunk_count').notNull().default(0),
    preview: text('preview').notNull().default(''),
    seenGeneration: integer('seen_generation').notNull().default(1),
    attempts: integer('attempts').notNull().default(0),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('documents_source_locator_unique').on(t.sourceId, t.locator),
    index('documents_source_idx').on(t.sourceId, t.status),
    index('documents_bot_hash_idx').on(t.botId, t.contentHash),
    index('documents_org_idx').on(t.orgId, t.id),
  ],
);

/**
 * Retrievable passages. `seq` is the integer rowid the FTS5 index (chunks_fts, created in a
 * hand-written migration with triggers) points at; `id` doubles as the vector id.
 */
export const chunks = sqliteTable(
  'chunks',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    id: text('id').notNull(),
    orgId: text('org_id').notNull(),
    botId: text('bot_id').notNull(),
    sourceId: text('source_id').notNull(),
    documentId: text('document_id').notNull().references(() => documents.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    text: text('text').notNull(),
    headingPath: text('heading_path', { mode: 'json' }).$type<string[]>().notNull(),
    /** sentence-window: the neighbouring sentences the answerer reads instead of `text`. */
    windowText: text('window_text'),
    startOffset: integer('start_offset').notNull(),
    endOffset: integer('end_offset').notNull(),
    tokenCount: integer('token_count').notNull(),
    /** Folded text the full-text indexes read (src/lib/text/text-fold.ts); null when equal to `text`. */
    searchText: text('search_text'),
    searchHeading: text('search_heading'),
    /** Holds a script written without spaces (CJK, Thai): indexed by trigrams too. */
    spaceless: integer('spaceless', { mode: 'boolean' }).notNull().default(false),
  },
  (t) => [uniqueIndex('chunks_id_unique').on(t.id), index('chunks_document_idx').on(t.documentId, t.position), index('chunks_bot_idx').on(t.botId)],
);
