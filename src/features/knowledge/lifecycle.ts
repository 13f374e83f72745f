/**
 * The ingestion lifecycle: every status change of a source or a document happens here, as a
 * guarded UPDATE (`… SET status = ? WHERE id = ? AND status IN (…)`) that reports whether it
 * applied. D1 has no interactive transactions, so a read-then-write could act on a state that
 * changed in between; the guard in the WHERE clause makes each transition atomic instead, and
 * a job that lost a race sees "not applied" and stops.
 *
 * Sources
 *
 *        ┌───────────────────────────── requestSync ─────────────────────────────┐
 *        ▼                                                                       │
 *     queued ──startSync / startWork──▶ processing ──settle──▶ ready / failed ───┤
 *        │                                  │                        │           │
 *        └──────────── fail ────────────────┴──▶ failed              └─startWork─┘─▶ processing
 *
 *     any of queued, processing, ready, failed ──delete──▶ deleting ──purge done──▶ (row removed)
 *
 *   transition    from                                to
 *   (create)      –                                   queued
 *   requestSync   ready, failed                       queued
 *   startSync     queued                              processing, generation + 1
 *   startWork     queued, ready, failed               processing
 *   settle        processing                          ready | failed
 *   fail          queued, processing                  failed
 *   delete        queued, processing, ready, failed   deleting
 *   (purge done)  deleting                            row removed
 *
 *   - `deleting` is terminal: no transition leaves it, so a job that finishes after a delete
 *     (a discovery, a crawl, a settle) cannot bring the source or its pages back.
 *   - `settle` applies only to `processing`: a late settle cannot overwrite a sync that was
 *     just requested (`queued`), so that sync's message still finds the source queued.
 *   - `startSync` applies only to `queued` and bumps the generation: a re-delivered sync
 *     message after the sync started is a no-op.
 *   - `startWork` (a discovery or a document job begins) moves a new source out of `queued`,
 *     and a re-delivered or forced job on a ready / failed source back into `processing`.
 *
 * Documents
 *
 *   (insert) pending ──start──▶ processing ──finish──▶ ready
 *      │                            ├────skip──────▶ skipped (noindex)
 *      └──finish | skip | fail──────┴────fail──────▶ failed
 *   ready | failed | skipped ──requeue (sync, crawl revival)──▶ pending
 *   ready | failed ──start (a re-delivered or forced index job)──▶ processing
 *
 * Work that a lost queue message strands is picked up by the cron sweeper
 * (src/jobs/scheduled.ts): queued sources, processing sources with no active document, stuck
 * documents and deleting sources are all detectable from these states and their updatedAt.
 */
import { and, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { documents, sources, type DOCUMENT_STATUSES, type SOURCE_STATUSES } from '../../db/schema';
import type { ServiceContext } from '../../context';
import { outboxEvents } from '../../db/schema';
import { newId } from '../../lib/ids';
import { publishSoon } from '../events/outbox';

export type SourceStatus = (typeof SOURCE_STATUSES)[number];
export type DocumentStatus = (typeof DOCUMENT_STATUSES)[number];
type SourceRow = typeof sources.$inferSelect;

const LIVE_SOURCE: SourceStatus[] = ['queued', 'processing', 'ready', 'failed'];

export const SOURCE_TRANSITIONS = {
  requestSync: { from: ['ready', 'failed'], to: 'queued' },
  startSync: { from: ['queued'], to: 'processing' },
  startWork: { from: ['queued', 'ready', 'failed'], to: 'processing' },
  settleReady: { from: ['processing'], to: 'ready' },
  settleFailed: { from: ['processing'], to: 'failed' },
  fail: { from: ['queued', 'processing'], to: 'failed' },
  delete: { from: LIVE_SOURCE, to: 'deleting' },
} as const satisfies Record<string, { from: readonly SourceStatus[]; to: SourceStatus }>;
export type SourceTransition = keyof typeof SOURCE_TRANSITIONS;

export const DOCUMENT_TRANSITIONS = {
  start: { from: ['pending', 'processing', 'ready', 'failed'], to: 'processing' },
  finish: { from: ['pending', 'processing'], to: 'ready' },
  skip: { from: ['pending', 'processing'], to: 'skipped' },
  fail: { from: ['pending', 'processing'], to: 'failed' },
  requeue: { from: ['pending', 'processing', 'ready', 'failed', 'skipped'], to: 'pending' },
} as const satisfies Record<string, { from: readonly DocumentStatus[]; to: DocumentStatus }>;
export type DocumentTransition = keyof typeof DOCUMENT_TRANSITIONS;

type SourceFields = Partial<Pick<SourceRow, 'error' | 'nextSyncAt' | 'lastSyncedAt'>> & { generation?: SQL };
type DocumentFields = { [K in keyof Omit<typeof documents.$inferInsert, 'id' | 'status' | 'orgId' | 'botId' | 'sourceId'>]?: (typeof documents.$inferInsert)[K] | SQL };

/** A source by id, or by id within an org (for work that names both, like queue messages). */
export type SourceRef = string | { id: string; orgId: string };

/** The guarded UPDATE of one source, as a statement that can also go in a `db.batch`. */
export function sourceTransition(ctx: ServiceContext, ref: SourceRef, transition: SourceTransition, fields: SourceFields = {}) {
  const { from, to } = SOURCE_TRANSITIONS[transition];
  const which = typeof ref === 'string' ? eq(sources.id, ref) : and(eq(sources.id, ref.id), eq(sources.orgId, ref.orgId));
  return ctx.db
    .update(sources)
    .set({ ...fields, status: to, updatedAt: ctx.clock.now() })
    .where(and(which, inArray(sources.status, [...from])))
    .returning();
}

const isoFromMs = (column: SQL) => sql`CASE WHEN ${column} IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%fZ', ${column} / 1000.0, 'unixepoch') END`;

/**
 * source.ready / source.failed (events/catalog.ts), built in SQL from the source as just updated
 * and written only if the guarded transition before it in the batch changed the row: a
 * transition that did not apply (a lost race, a deleted source) announces nothing.
 */
function sourceSettledEvent(ctx: ServiceContext, sourceId: string, to: 'ready' | 'failed') {
  const data = sql`json_object('id', ${sources.id}, 'botId', ${sources.botId}, 'type', ${sources.type}, 'title', ${sources.title}, 'status', ${sources.status},
    'error', ${sources.error}, 'lastSyncedAt', ${isoFromMs(sql`${sources.lastSyncedAt}`)}, 'updatedAt', ${isoFromMs(sql`${sources.updatedAt}`)})`;
  // Every column of outbox_events in order; seq is NULL so SQLite assigns it.
  return ctx.db
    .insert(outboxEvents)
    .select(
      sql`SELECT NULL, ${newId('whe', ctx.clock)}, ${sources.orgId}, ${`source.${to}`}, ${sources.botId}, NULL, ${data}, ${ctx.clock.now()}, NULL
            FROM ${sources} WHERE ${sources.id} = ${sourceId} AND changes() = 1`,
    );
}

/** Applies a source transition; the updated row, or null when the source was not in a `from` state. */
export async function moveSource(ctx: ServiceContext, ref: SourceRef, transition: SourceTransition, fields: SourceFields = {}): Promise<SourceRow | null> {
  const to = SOURCE_TRANSITIONS[transition].to;
  if (to !== 'ready' && to !== 'failed') {
    const [row] = await sourceTransition(ctx, ref, transition, fields);
    return row ?? null;
  }
  const sourceId = typeof ref === 'string' ? ref : ref.id;
  const [[row]] = await ctx.db.batch([sourceTransition(ctx, ref, transition, fields), sourceSettledEvent(ctx, sourceId, to)]);
  if (row) publishSoon(ctx, row.orgId);
  return row ?? null;
}

/** `delete` for every live source of a bot (the bot itself is being deleted). */
export async function markSourcesOfBotDeleting(ctx: ServiceContext, orgId: string, botId: string): Promise<{ id: string }[]> {
  return ctx.db
    .update(sources)
    .set({ status: SOURCE_TRANSITIONS.delete.to, updatedAt: ctx.clock.now() })
    .where(and(eq(sources.orgId, orgId), eq(sources.botId, botId), inArray(sources.status, [...SOURCE_TRANSITIONS.delete.from])))
    .returning({ id: sources.id });
}

/** The end of a purge: removes the row of a source that is (still) being deleted. */
export async function removeDeletedSource(ctx: ServiceContext, sourceId: string): Promise<boolean> {
  const removed = await ctx.db
    .delete(sources)
    .where(and(eq(sources.id, sourceId), eq(sources.status, 'deleting')))
    .returning({ id: sources.id });
  return removed.length > 0;
}

/** Keeps a transient failure's reason on a live source without changing its status. */
export async function noteSourceError(ctx: ServiceContext, sourceId: string, error: string) {
  await ctx.db
    .update(sources)
    .set({ error, updatedAt: ctx.clock.now() })
    .where(and(eq(sources.id, sourceId), inArray(sources.status, LIVE_SOURCE)));
}

/** The guarded UPDATE of one document, as a statement that can also go in a `db.batch`. */
export function documentTransition(ctx: ServiceContext, documentId: string, transition: DocumentTransition, fields: DocumentFields = {}) {
  const { from, to } = DOCUMENT_TRANSITIONS[transition];
  return ctx.db
    .update(documents)
    .set({ ...fields, status: to, updatedAt: ctx.clock.now() })
    .where(and(eq(documents.id, documentId), inArray(documents.status, [...from])))
    .returning({ id: documents.id });
}

/** Applies a document transition; whether the document was in a `from` state. */
export async function moveDocument(ctx: ServiceContext, documentId: string, transition: DocumentTransition, fields: DocumentFields = {}): Promise<boolean> {
  return (await documentTransition(ctx, documentId, transition, fields)).length > 0;
}

/** Keeps a transient failure's reason on a document without changing its status. */
export async function noteDocumentError(ctx: ServiceContext, documentId: string, error: string) {
  await ctx.db.update(documents).set({ error, updatedAt: ctx.clock.now() }).where(eq(documents.id, documentId));
}

/**
 * `requeue` for every document of a source that has just started a sync. Stored sources move
 * their documents into the new generation; url sources keep theirs until the crawl sees the
 * page again.
 */
export async function requeueSourceDocuments(ctx: ServiceContext, source: SourceRow): Promise<{ id: string }[]> {
  const { from, to } = DOCUMENT_TRANSITIONS.requeue;
  return ctx.db
    .update(documents)
    .set({ status: to, seenGeneration: source.type === 'url' ? sql`${documents.seenGeneration}` : source.generation, updatedAt: ctx.clock.now() })
    .where(and(eq(documents.sourceId, source.id), inArray(documents.status, [...from])))
    .returning({ id: documents.id });
}

/** A page a crawl wants in this generation: a new document, or a known one seen again. */
export type AdmittedPage = { kind: 'create'; id: string; url: string; depth: number } | { kind: 'revive'; id: string };

/**
 * The pages a crawl admits, as raw statements for one `DB.batch`, in the given order. Each
 * carries two guards, so that concurrent crawl jobs of one site and a racing delete or newer
 * sync are all safe:
 * - the source is still crawling this generation (not deleting, not re-synced since);
 * - fewer than `maxPages` pages have been seen in this generation. Pages of earlier crawls
 *   that were not seen again do not count: they are removed when the generation settles.
 * Each statement returns the id it queued (none when a guard refused).
 */
export function admitPageStatements(ctx: ServiceContext, source: SourceRow, maxPages: number, pages: AdmittedPage[]): D1PreparedStatement[] {
  const now = ctx.clock.now();
  const crawling = `EXISTS (SELECT 1 FROM sources WHERE id = ?1 AND status IN ('queued', 'processing') AND generation = ?2)
     AND (SELECT count(*) FROM documents WHERE source_id = ?1 AND seen_generation = ?2) < ?3`;
  return pages.map((page) =>
    page.kind === 'revive'
      ? ctx.env.DB.prepare(
          `UPDATE documents SET status = 'pending', seen_generation = ?2, updated_at = ?4
            WHERE id = ?5 AND source_id = ?1 AND seen_generation < ?2 AND ${crawling}
            RETURNING id`,
        ).bind(source.id, source.generation, maxPages, now, page.id)
      : ctx.env.DB.prepare(
          `INSERT OR IGNORE INTO documents (id, org_id, bot_id, source_id, title, locator, depth, mime, status, seen_generation, created_at, updated_at)
           SELECT ?5, ?6, ?7, ?1, ?8, ?8, ?9, 'text/html', 'pending', ?2, ?4, ?4
            WHERE ${crawling}
           RETURNING id`,
        ).bind(source.id, source.generation, maxPages, now, page.id, source.orgId, source.botId, page.url, page.depth),
  );
}
