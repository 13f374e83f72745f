/**
 * Knowledge sources: creation for every kind, listing with live progress, sync, deletion.
 * Creation stores the original in R2 first, then the rows in one D1 batch, then enqueues the
 * job; a failure before the batch leaves nothing behind, and the cron sweeper re-enqueues work
 * whose message was lost after it.
 */
import { and, desc, eq, inArray, lt, ne, sql } from 'drizzle-orm';
import { documents, sources, type SourceType } from '../../db/schema';
import type { Db } from '../../db/client';
import type { ServiceContext } from '../../context';
import type { Actor } from '../../context';
import { newId } from '../../lib/ids';
import { sha256Hex } from '../../lib/crypto';
import { auditInsert, auditInsertIfChanged } from '../audit/service';
import { enqueueAfterCommit } from '../../jobs/messages';
import { splitForStatements } from '../../db/bound-parameters';
import { markSourcesOfBotDeleting, sourceTransition } from './lifecycle';
import { originalKey } from './storage';
import { QA_MIME, TEXT_MIME } from './document-text';

export type SourceRow = typeof sources.$inferSelect;
export type DocumentRow = typeof documents.$inferSelect;

export const SCHEDULE_INTERVAL_MS = { daily: 86_400_000, weekly: 7 * 86_400_000 } as const;
export type Schedule = 'none' | keyof typeof SCHEDULE_INTERVAL_MS;

export interface WebsiteConfig {
  url: string;
  maxPages: number;
  maxDepth: number;
  include: string[];
  exclude: string[];
}

export type NewSourceInput =
  | { type: 'text'; title: string; text: string; schedule?: Schedule }
  | { type: 'qa'; title?: string; pairs: { question: string; answer: string }[]; schedule?: Schedule }
  | { type: 'url'; url: string; title?: string; schedule?: Schedule }
  | ({ type: 'website'; title?: string; schedule?: Schedule } & WebsiteConfig);

export interface UploadedFile {
  name: string;
  mime: string;
  bytes: Uint8Array;
}

export interface Progress {
  done: number;
  total: number;
  failed: number;
  chunks: number;
  characters: number;
}

const emptyProgress = (): Progress => ({ done: 0, total: 0, failed: 0, chunks: 0, characters: 0 });

/** Keys starting with "_" are the crawler's own state (robots.txt and its outcome), not settings. */
const publicConfig = (config: Record<string, unknown>) => Object.fromEntries(Object.entries(config).filter(([key]) => !key.startsWith('_')));

export function toSourceDto(row: SourceRow, progress: Progress) {
  const config = publicConfig(row.config as Record<string, unknown>);
  return {
    id: row.id,
    botId: row.botId,
    type: row.type,
    title: row.title,
    status: row.status as Exclude<SourceRow['status'], 'deleting'>,
    error: row.error,
    progress: { done: progress.done, total: progress.total, failed: progress.failed },
    chunks: progress.chunks,
    characters: progress.characters,
    config,
    schedule: row.schedule,
    externalId: row.externalId,
    lastSyncedAt: row.lastSyncedAt ? new Date(row.lastSyncedAt).toISOString() : null,
    nextSyncAt: row.nextSyncAt ? new Date(row.nextSyncAt).toISOString() : null,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
}

/** Per source and status: how many documents, and their chunks and characters. */
function progressRows(db: Db, sourceIds: string[]) {
  return db
    .select({
      sourceId: documents.sourceId,
      status: documents.status,
      n: sql<number>`count(*)`,
      chunks: sql<number>`coalesce(sum(${documents.chunkCount}), 0)`,
      chars: sql<number>`coalesce(sum(${documents.charCount}), 0)`,
    })
    .from(documents)
    .where(inArray(documents.sourceId, sourceIds))
    .groupBy(documents.sourceId, documents.status);
}

/** Progress is derived from the documents, never counted separately, so it cannot drift. */
export async function progressFor(db: Db, sourceIds: string[]): Promise<Map<string, Progress>> {
  const result = new Map<string, Progress>();
  // A page of 100 sources looks up 101 ids (limit + 1): more than one statement's worth.
  for (const ids of splitForStatements(sourceIds)) {
    for (const r of await progressRows(db, ids)) {
      const p = result.get(r.sourceId) ?? emptyProgress();
      p.total += r.n;
      if (r.status === 'ready' || r.status === 'skipped') p.done += r.n;
      if (r.status === 'failed') {
        p.done += r.n;
        p.failed += r.n;
      }
      p.chunks += r.chunks;
      p.characters += r.chars;
      result.set(r.sourceId, p);
    }
  }
  return result;
}

export async function getSource(db: Db, orgId: string, sourceId: string): Promise<SourceRow | null> {
  const row = await db
    .select()
    .from(sources)
    .where(and(eq(sources.orgId, orgId), eq(sources.id, sourceId), ne(sources.status, 'deleting')))
    .get();
  return row ?? null;
}

export async function getSourceWithProgress(db: Db, orgId: string, sourceId: string) {
  const row = await getSource(db, orgId, sourceId);
  if (!row) return null;
  return withProgress(db, row);
}

/** The DTO of a row already read, so a caller can pair it with that row's revision (ETag). */
export async function withProgress(db: Db, row: SourceRow) {
  return toSourceDto(row, (await progressFor(db, [row.id])).get(row.id) ?? emptyProgress());
}

export async function listSources(db: Db, orgId: string, botId: string, cursor: string | null, limit: number) {
  const conditions = [eq(sources.orgId, orgId), eq(sources.botId, botId), ne(sources.status, 'deleting')];
  if (cursor) conditions.push(lt(sources.id, cursor));
  const rows = await db.select().from(sources).where(and(...conditions)).orderBy(desc(sources.id)).limit(limit + 1);
  const progress = await progressFor(db, rows.map((r) => r.id));
  return rows.map((r) => toSourceDto(r, progress.get(r.id) ?? emptyProgress()));
}

function nextSyncAt(schedule: Schedule | undefined, now: number) {
  return schedule && schedule !== 'none' ? now + SCHEDULE_INTERVAL_MS[schedule] : null;
}

/** Who creates a source: a person, an API key, or an inbound webhook integration (external-sources.ts). */
export type SourceCreator = Actor | { kind: 'integration'; integrationId: string };

export function sourceRow(ctx: ServiceContext, actor: SourceCreator, orgId: string, botId: string, fields: Pick<SourceRow, 'type' | 'title' | 'config'> & { schedule?: Schedule }): SourceRow {
  const now = ctx.clock.now();
  return {
    id: newId('src', ctx.clock),
    orgId,
    botId,
    type: fields.type,
    title: fields.title.slice(0, 300),
    config: fields.config,
    status: 'queued',
    error: null,
    schedule: fields.schedule ?? 'none',
    nextSyncAt: nextSyncAt(fields.schedule, now),
    lastSyncedAt: null,
    generation: 1,
    revision: 1,
    createdBy: actor.kind === 'user' ? actor.userId : actor.kind === 'api_key' ? actor.keyId : actor.integrationId,
    externalId: null,
    createdAt: now,
    updatedAt: now,
  };
}

export function documentRow(ctx: ServiceContext, source: SourceRow, fields: Partial<DocumentRow> & Pick<DocumentRow, 'title' | 'locator' | 'mime'>): DocumentRow {
  const now = ctx.clock.now();
  const id = fields.id ?? newId('doc', ctx.clock);
  return {
    id,
    orgId: source.orgId,
    botId: source.botId,
    sourceId: source.id,
    depth: 0,
    r2Key: null,
    sizeBytes: 0,
    contentHash: null,
    indexKey: null,
    status: 'pending',
    error: null,
    charCount: 0,
    chunkCount: 0,
    preview: '',
    seenGeneration: source.generation,
    attempts: 0,
    createdAt: now,
    updatedAt: now,
    ...fields,
  };
}

export type CreateSourceResult =
  | { status: 'created'; source: SourceRow }
  | { status: 'duplicate'; existingDocumentId: string; existingSourceId: string };

/** A document with the same bytes already in this bot (and not being deleted). */
async function findDuplicate(db: Db, botId: string, contentHash: string) {
  return (
    (await db
      .select({ documentId: documents.id, sourceId: documents.sourceId })
      .from(documents)
      .innerJoin(sources, eq(sources.id, documents.sourceId))
      .where(and(eq(documents.botId, botId), eq(documents.contentHash, contentHash), ne(sources.status, 'deleting')))
      .get()) ?? null
  );
}

/** Stores one original and its source + document rows; the caller enqueues indexing. */
async function storeStaticSource(
  ctx: ServiceContext,
  actor: Actor,
  source: SourceRow,
  doc: { title: string; locator: string; mime: string; bytes: Uint8Array },
): Promise<CreateSourceResult & { documentId?: string }> {
  const contentHash = await sha256Hex(doc.bytes);
  const duplicate = await findDuplicate(ctx.db, source.botId, contentHash);
  if (duplicate) return { status: 'duplicate', existingDocumentId: duplicate.documentId, existingSourceId: duplicate.sourceId };
  const row = documentRow(ctx, source, { title: doc.title, locator: doc.locator, mime: doc.mime, sizeBytes: doc.bytes.byteLength, contentHash });
  row.r2Key = originalKey(row);
  await ctx.env.FILES.put(row.r2Key, doc.bytes, {
    httpMetadata: { contentType: doc.mime },
    customMetadata: { orgId: source.orgId, sourceId: source.id, fileName: doc.locator.slice(0, 200) },
  });
  try {
    await ctx.db.batch([
      ctx.db.insert(sources).values(source),
      ctx.db.insert(documents).values(row),
      auditInsert(ctx.db, ctx.clock, ctx.meta, {
        orgId: source.orgId,
        actor,
        action: 'source.create',
        target: { type: 'source', id: source.id },
        metadata: { type: source.type, botId: source.botId, title: source.title },
      }),
    ]);
  } catch (err) {
    await ctx.env.FILES.delete(row.r2Key);
    throw err;
  }
  return { status: 'created', source, documentId: row.id };
}

export async function createSource(ctx: ServiceContext, actor: Actor, orgId: string, botId: string, input: NewSourceInput): Promise<CreateSourceResult> {
  switch (input.type) {
    case 'text':
    case 'qa': {
      const isText = input.type === 'text';
      const title = isText ? input.title : input.title ?? `Q&A (${input.pairs.length} pairs)`;
      const source = sourceRow(ctx, actor, orgId, botId, { type: input.type, title, config: {}, schedule: input.schedule });
      const body = isText ? input.text : JSON.stringify({ pairs: input.pairs });
      const result = await storeStaticSource(ctx, actor, source, {
        title,
        locator: isText ? 'text' : 'qa',
        mime: isText ? TEXT_MIME : QA_MIME,
        bytes: new TextEncoder().encode(body),
      });
      if (result.status === 'created' && result.documentId) {
        await enqueueAfterCommit(ctx.env, [{ type: 'document.index', orgId, documentId: result.documentId }]);
      }
      return result;
    }
    case 'url': {
      const source = sourceRow(ctx, actor, orgId, botId, { type: 'url', title: input.title ?? input.url, config: { url: input.url }, schedule: input.schedule });
      const doc = documentRow(ctx, source, { title: input.title ?? input.url, locator: input.url, mime: 'text/html' });
      await ctx.db.batch([
        ctx.db.insert(sources).values(source),
        ctx.db.insert(documents).values(doc),
        auditInsert(ctx.db, ctx.clock, ctx.meta, { orgId, actor, action: 'source.create', target: { type: 'source', id: source.id }, metadata: { type: 'url', botId, url: input.url } }),
      ]);
      await enqueueAfterCommit(ctx.env, [{ type: 'page.crawl', orgId, documentId: doc.id, generation: source.generation }]);
      return { status: 'created', source };
    }
    case 'website': {
      const config: WebsiteConfig = { url: input.url, maxPages: input.maxPages, maxDepth: input.maxDepth, include: input.include, exclude: input.exclude };
      const source = sourceRow(ctx, actor, orgId, botId, { type: 'website', title: input.title ?? input.url, config: { ...config }, schedule: input.schedule });
      await ctx.db.batch([
        ctx.db.insert(sources).values(source),
        auditInsert(ctx.db, ctx.clock, ctx.meta, { orgId, actor, action: 'source.create', target: { type: 'source', id: source.id }, metadata: { type: 'website', botId, ...config } }),
      ]);
      await enqueueAfterCommit(ctx.env, [{ type: 'website.discover', orgId, sourceId: source.id, generation: source.generation }]);
      return { status: 'created', source };
    }
  }
}

export type FileOutcome =
  | { file: string; status: 'created'; source: SourceRow }
  | { file: string; status: 'duplicate'; existingSourceId: string; existingDocumentId: string };

/** One source per uploaded file, so each can be synced, listed and deleted on its own. */
export async function createFileSources(ctx: ServiceContext, actor: Actor, orgId: string, botId: string, files: UploadedFile[], schedule?: Schedule) {
  const outcomes: FileOutcome[] = [];
  const jobs: { type: 'document.index'; orgId: string; documentId: string }[] = [];
  for (const file of files) {
    const source = sourceRow(ctx, actor, orgId, botId, { type: 'file', title: file.name, config: { fileName: file.name, mime: file.mime, sizeBytes: file.bytes.byteLength }, schedule });
    const result = await storeStaticSource(ctx, actor, source, { title: file.name, locator: file.name, mime: file.mime, bytes: file.bytes });
    if (result.status === 'duplicate') {
      outcomes.push({ file: file.name, status: 'duplicate', existingSourceId: result.existingSourceId, existingDocumentId: result.existingDocumentId });
    } else {
      outcomes.push({ file: file.name, status: 'created', source: result.source });
      if (result.documentId) jobs.push({ type: 'document.index', orgId, documentId: result.documentId });
    }
  }
  await enqueueAfterCommit(ctx.env, jobs);
  return outcomes;
}

/** Hides the source at once; the purge job removes vectors, R2 objects and rows. */
export async function deleteSource(ctx: ServiceContext, actor: Actor, orgId: string, sourceId: string): Promise<boolean> {
  const source = await getSource(ctx.db, orgId, sourceId);
  if (!source) return false;
  const [deleted] = await ctx.db.batch([
    sourceTransition(ctx, { id: sourceId, orgId }, 'delete'),
    auditInsert(ctx.db, ctx.clock, ctx.meta, { orgId, actor, action: 'source.delete', target: { type: 'source', id: sourceId }, metadata: { type: source.type, title: source.title } }),
  ]);
  if (deleted.length === 0) return false;
  await enqueueAfterCommit(ctx.env, [{ type: 'source.purge', orgId, sourceId }]);
  return true;
}

/** Marks every source of a bot for purging (the bot itself is deleted by the caller). */
export async function deleteSourcesOfBot(ctx: ServiceContext, orgId: string, botId: string) {
  const rows = await markSourcesOfBotDeleting(ctx, orgId, botId);
  await enqueueAfterCommit(ctx.env, rows.map((r) => ({ type: 'source.purge' as const, orgId, sourceId: r.id })));
}

export type SyncResult = { status: 'queued'; source: SourceRow } | { status: 'busy' };

export async function requestSync(ctx: ServiceContext, actor: Actor | { kind: 'system' }, source: SourceRow): Promise<SyncResult> {
  if (source.status === 'queued' || source.status === 'processing') return { status: 'busy' };
  const now = ctx.clock.now();
  const [updated] = await ctx.db.batch([
    sourceTransition(ctx, source.id, 'requestSync', { error: null, nextSyncAt: nextSyncAt(source.schedule, now) }),
    auditInsert(ctx.db, ctx.clock, ctx.meta, { orgId: source.orgId, actor, action: 'source.sync', target: { type: 'source', id: source.id } }),
  ]);
  const row = updated[0];
  if (!row) return { status: 'busy' };
  await enqueueAfterCommit(ctx.env, [{ type: 'source.sync', orgId: source.orgId, sourceId: source.id }]);
  return { status: 'queued', source: row };
}

/** Writes the schedule only; with `ifMatch` (revisions) only while the source is at one of them. */
export async function setSchedule(ctx: ServiceContext, actor: Actor, source: SourceRow, schedule: Schedule, ifMatch?: number[]) {
  const now = ctx.clock.now();
  const [updated] = await ctx.db.batch([
    ctx.db
      .update(sources)
      .set({ schedule, nextSyncAt: nextSyncAt(schedule, now), updatedAt: now, revision: sql`${sources.revision} + 1` })
      .where(
        and(
          eq(sources.id, source.id),
          eq(sources.orgId, source.orgId),
          ne(sources.status, 'deleting'),
          ...(ifMatch ? [inArray(sources.revision, ifMatch)] : []),
        ),
      )
      .returning(),
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, { orgId: source.orgId, actor, action: 'source.update', target: { type: 'source', id: source.id }, metadata: { schedule } }),
  ]);
  return updated[0] ?? null;
}

export type { SourceType };

/**
 * Re-indexes every idle source of an org (or one bot) after a change that alters how text is
 * chunked or embedded; documents whose index key did not change are skipped by the indexer.
 */
export async function reindexSources(ctx: ServiceContext, orgId: string, botId?: string) {
  const idle = await ctx.db
    .select()
    .from(sources)
    .where(and(eq(sources.orgId, orgId), inArray(sources.status, ['ready', 'failed']), ...(botId ? [eq(sources.botId, botId)] : [])));
  for (const source of idle) await requestSync(ctx, { kind: 'system' }, source);
  return idle.length;
}
