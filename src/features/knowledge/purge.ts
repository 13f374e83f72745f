/**
 * Removing knowledge leaves nothing behind: vectors, R2 objects, chunk rows (and through the
 * delete trigger, their FTS rows), document rows and finally the source row. Work is done a
 * bounded batch of documents per job, so a 10,000-page site never exceeds one invocation's limits.
 */
import { and, eq, inArray } from 'drizzle-orm';
import { chunks, documents, sources } from '../../db/schema';
import type { ServiceContext } from '../../context';
import { DOCUMENTS_PER_PURGE, R2_MAX_DELETE_KEYS, VECTORIZE } from '../../limits';
import { splitForStatements } from '../../db/bound-parameters';
import { enqueue } from '../../jobs/messages';
import { retrievalIndexFor } from './retrieval-index';
import { deletePrefix, sourcePrefix } from './storage';
import { chunkId } from './chunk-ids';
import { removeDeletedSource } from './lifecycle';
import { extractedTextKey } from './extracted-text';


type DocRef = Pick<typeof documents.$inferSelect, 'id' | 'r2Key' | 'chunkCount'>;

/** Deletes the vectors, originals and rows of these documents. Idempotent. */
export async function purgeDocuments(ctx: ServiceContext, orgId: string, docs: DocRef[]) {
  if (docs.length === 0) return;
  const docIds = docs.map((d) => d.id);
  // Rows and computed ids together: a slice whose rows were never written may still have vectors.
  const vectorIds = new Set<string>();
  for (const ids of splitForStatements(docIds)) {
    for (const c of await ctx.db.select({ id: chunks.id }).from(chunks).where(inArray(chunks.documentId, ids))) vectorIds.add(c.id);
  }
  for (const d of docs) for (let p = 0; p < d.chunkCount; p++) vectorIds.add(chunkId(d.id, p));
  const { vectors } = await retrievalIndexFor(ctx, orgId);
  const ids = [...vectorIds];
  for (let i = 0; i < ids.length; i += VECTORIZE.maxUpsertBatch) {
    await vectors.deleteByIds(ids.slice(i, i + VECTORIZE.maxUpsertBatch));
  }
  const keys = docs.flatMap((d) => (d.r2Key ? [d.r2Key, extractedTextKey(d.r2Key)] : []));
  for (let i = 0; i < keys.length; i += R2_MAX_DELETE_KEYS) await ctx.env.FILES.delete(keys.slice(i, i + R2_MAX_DELETE_KEYS));
  for (const ids of splitForStatements(docIds, 1, 1)) {
    await ctx.db.delete(documents).where(and(eq(documents.orgId, orgId), inArray(documents.id, ids)));
  }
}

export type PurgeOutcome = 'continued' | 'done' | 'gone';

export async function purgeSourceBatch(ctx: ServiceContext, orgId: string, sourceId: string): Promise<PurgeOutcome> {
  const source = await ctx.db.select().from(sources).where(and(eq(sources.id, sourceId), eq(sources.orgId, orgId))).get();
  if (!source) return 'gone';
  if (source.status !== 'deleting') return 'gone';
  const batch = await ctx.db
    .select({ id: documents.id, r2Key: documents.r2Key, chunkCount: documents.chunkCount })
    .from(documents)
    .where(eq(documents.sourceId, sourceId))
    .limit(DOCUMENTS_PER_PURGE);
  await purgeDocuments(ctx, orgId, batch);
  if (batch.length === DOCUMENTS_PER_PURGE) {
    await enqueue(ctx.env, { type: 'source.purge', orgId, sourceId });
    return 'continued';
  }
  await deletePrefix(ctx.env.FILES, sourcePrefix(orgId, source.botId, sourceId));
  await removeDeletedSource(ctx, sourceId);
  return 'done';
}
