/**
 * Text and Q&A sources another system owns, addressed by its own id (`external_id`, unique per
 * org and bot among sources that have one): inbound webhooks' knowledge.upsert / knowledge.delete.
 *
 * Replacing is "new source in, old source out" in one D1 batch: the old source gives up the
 * external id and turns `deleting` (invisible to search at once; the purge job removes its
 * chunks, vectors and original), the new one is inserted and indexed. So no chunk of the old
 * text can answer after the batch, and a job still working on the old source finds it deleting
 * and stops (the lifecycle's terminal state). Content equal to what is stored (same type, title
 * and bytes) is a no-op, which also makes a re-run of the same event change nothing.
 */
import { and, eq, inArray, ne } from 'drizzle-orm';
import { documents, sources } from '../../db/schema';
import type { ServiceContext } from '../../context';
import { sha256Hex } from '../../lib/crypto';
import { enqueueAfterCommit } from '../../jobs/messages';
import { auditInsert, auditInsertIfChanged } from '../audit/service';
import { SOURCE_TRANSITIONS } from './lifecycle';
import { documentRow, sourceRow } from './sources';
import { originalKey } from './storage';
import { QA_MIME, TEXT_MIME } from './document-text';

export type ExternalContent =
  | { type: 'text'; title: string; text: string }
  | { type: 'qa'; title: string; pairs: { question: string; answer: string }[] };

export interface ExternalRef {
  orgId: string;
  botId: string;
  externalId: string;
  /** The integration acting (recorded as the creator and in the audit trail). */
  integrationId: string;
}

export type UpsertOutcome =
  | { status: 'created'; sourceId: string }
  | { status: 'replaced'; sourceId: string; replacedSourceIds: string[] }
  | { status: 'unchanged'; sourceId: string };

const LIVE = [...SOURCE_TRANSITIONS.delete.from];

function encode(content: ExternalContent): { bytes: Uint8Array; mime: string; locator: string } {
  const body = content.type === 'text' ? content.text : JSON.stringify({ pairs: content.pairs });
  return { bytes: new TextEncoder().encode(body), mime: content.type === 'text' ? TEXT_MIME : QA_MIME, locator: content.type };
}

/** The live source holding `externalId` in the bot, with its one document's content hash. */
export async function findExternalSource(ctx: ServiceContext, ref: Omit<ExternalRef, 'integrationId'>) {
  const row = await ctx.db
    .select({ id: sources.id, type: sources.type, title: sources.title, status: sources.status, contentHash: documents.contentHash })
    .from(sources)
    .leftJoin(documents, eq(documents.sourceId, sources.id))
    .where(and(eq(sources.orgId, ref.orgId), eq(sources.botId, ref.botId), eq(sources.externalId, ref.externalId), ne(sources.status, 'deleting')))
    .get();
  return row ?? null;
}

/** What an upsert would do, without doing it (the integration's dry run). */
export async function previewUpsert(ctx: ServiceContext, ref: Omit<ExternalRef, 'integrationId'>, content: ExternalContent) {
  const current = await findExternalSource(ctx, ref);
  if (!current) return { status: 'would_create' as const };
  const hash = await sha256Hex(encode(content).bytes);
  if (current.type === content.type && current.title === content.title && current.contentHash === hash) return { status: 'unchanged' as const, sourceId: current.id };
  return { status: 'would_replace' as const, sourceId: current.id };
}

/** Statements that take `externalId` away from every source of the bot holding it, deleting the live ones. */
function releaseExternalId(ctx: ServiceContext, ref: Omit<ExternalRef, 'integrationId'>) {
  const holding = and(eq(sources.orgId, ref.orgId), eq(sources.botId, ref.botId), eq(sources.externalId, ref.externalId));
  const now = ctx.clock.now();
  return [
    // A source deleted through the API still holds the id until its purge ends: it lets go now.
    ctx.db.update(sources).set({ externalId: null }).where(and(holding, eq(sources.status, 'deleting'))),
    ctx.db
      .update(sources)
      .set({ externalId: null, status: SOURCE_TRANSITIONS.delete.to, updatedAt: now })
      .where(and(holding, inArray(sources.status, LIVE)))
      .returning({ id: sources.id }),
  ] as const;
}

export async function upsertExternalSource(ctx: ServiceContext, ref: ExternalRef, content: ExternalContent): Promise<UpsertOutcome> {
  const { bytes, mime, locator } = encode(content);
  const contentHash = await sha256Hex(bytes);
  const current = await findExternalSource(ctx, ref);
  if (current && current.type === content.type && current.title === content.title && current.contentHash === contentHash) {
    return { status: 'unchanged', sourceId: current.id };
  }

  const creator = { kind: 'integration' as const, integrationId: ref.integrationId };
  const source = { ...sourceRow(ctx, creator, ref.orgId, ref.botId, { type: content.type, title: content.title, config: {} }), externalId: ref.externalId };
  const doc = documentRow(ctx, source, { title: source.title, locator, mime, sizeBytes: bytes.byteLength, contentHash });
  doc.r2Key = originalKey(doc);
  await ctx.env.FILES.put(doc.r2Key, bytes, {
    httpMetadata: { contentType: mime },
    customMetadata: { orgId: ref.orgId, sourceId: source.id, fileName: locator },
  });
  const [releaseDeleting, releaseLive] = releaseExternalId(ctx, ref);
  let replaced: { id: string }[];
  try {
    [, replaced] = await ctx.db.batch([
      releaseDeleting,
      releaseLive,
      ctx.db.insert(sources).values(source),
      ctx.db.insert(documents).values(doc),
      auditInsert(ctx.db, ctx.clock, ctx.meta, {
        orgId: ref.orgId,
        actor: { kind: 'system' },
        action: current ? 'source.replace' : 'source.create',
        target: { type: 'source', id: source.id },
        metadata: { type: content.type, botId: ref.botId, title: source.title, externalId: ref.externalId, integrationId: ref.integrationId },
      }),
    ]);
  } catch (err) {
    await ctx.env.FILES.delete(doc.r2Key);
    throw err;
  }
  await enqueueAfterCommit(ctx.env, [
    { type: 'document.index', orgId: ref.orgId, documentId: doc.id },
    ...replaced.map((r) => ({ type: 'source.purge' as const, orgId: ref.orgId, sourceId: r.id })),
  ]);
  return replaced.length > 0 ? { status: 'replaced', sourceId: source.id, replacedSourceIds: replaced.map((r) => r.id) } : { status: 'created', sourceId: source.id };
}

export type DeleteOutcome = { status: 'deleted'; sourceIds: string[] } | { status: 'not_found' };

/** Deletes the source holding `externalId` (the purge job removes what it indexed); none is a no-op. */
export async function deleteExternalSource(ctx: ServiceContext, ref: ExternalRef): Promise<DeleteOutcome> {
  const [releaseDeleting, releaseLive] = releaseExternalId(ctx, ref);
  const [, deleted] = await ctx.db.batch([
    releaseDeleting,
    releaseLive,
    // The unique index leaves at most one live holder, so "changed one row" is "deleted it".
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, {
      orgId: ref.orgId,
      actor: { kind: 'system' },
      action: 'source.delete',
      target: { type: 'bot', id: ref.botId },
      metadata: { externalId: ref.externalId, integrationId: ref.integrationId },
    }),
  ]);
  if (deleted.length === 0) return { status: 'not_found' };
  await enqueueAfterCommit(ctx.env, deleted.map((r) => ({ type: 'source.purge' as const, orgId: ref.orgId, sourceId: r.id })));
  return { status: 'deleted', sourceIds: deleted.map((r) => r.id) };
}
