/**
 * Indexing one document: original (R2) → text → chunks → embeddings → vectors + chunk rows
 * (+ FTS through the trigger). Work is sliced: one job indexes INDEX_SLICE chunk positions and
 * enqueues the next slice, so embedding calls, subrequests and D1 writes per invocation stay
 * bounded however large the document (each slice still extracts and chunks the whole text). Re-running any slice is harmless: chunk and vector ids are derived from
 * (document, position), rows of a slice are replaced, and vectors upserted.
 */
import { and, eq, gte, lt, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { bots, chunks, documents, sources } from '../../db/schema';
import type { ServiceContext } from '../../context';
import { DOCUMENT_PREVIEW_CHARS as PREVIEW_CHARS, INDEX_SLICE, VECTORIZE } from '../../limits';
import { splitForStatements } from '../../db/bound-parameters';
import { sha256Hex } from '../../lib/crypto';
import { enqueue } from '../../jobs/messages';
import { chunkText, contextualText, type Chunk } from './chunker';
import { documentText } from './extracted-text';
import { retrievalIndexFor } from './retrieval-index';
import { searchColumns } from './retrieval/search-columns';
import { failDocument, settleSource } from './settle';
import { documentTransition, moveDocument, moveSource } from './lifecycle';
import { chunkId } from './chunk-ids';

const CHUNK_COLUMNS = 15;

export type IndexOutcome = 'indexed' | 'unchanged' | 'continued' | 'failed' | 'gone';

async function loadDocument(ctx: ServiceContext, orgId: string, documentId: string) {
  const row = await ctx.db
    .select({ doc: documents, sourceStatus: sources.status, generation: sources.generation, chunking: bots.chunking })
    .from(documents)
    .innerJoin(sources, eq(sources.id, documents.sourceId))
    .innerJoin(bots, eq(bots.id, documents.botId))
    .where(and(eq(documents.id, documentId), eq(documents.orgId, orgId)))
    .get();
  return row && row.sourceStatus !== 'deleting' ? row : null;
}

function chunkRows(doc: typeof documents.$inferSelect, slice: Chunk[]): (typeof chunks.$inferInsert)[] {
  return slice.map((c) => ({
    id: chunkId(doc.id, c.index),
    orgId: doc.orgId,
    botId: doc.botId,
    sourceId: doc.sourceId,
    documentId: doc.id,
    position: c.index,
    text: c.text,
    headingPath: c.headingPath,
    windowText: c.window?.text ?? null,
    startOffset: c.start,
    endOffset: c.end,
    tokenCount: c.tokenCount,
    ...searchColumns(c.text, c.headingPath),
  }));
}

export async function indexDocumentSlice(
  ctx: ServiceContext,
  job: { orgId: string; documentId: string; offset: number; force: boolean },
): Promise<IndexOutcome> {
  const loaded = await loadDocument(ctx, job.orgId, job.documentId);
  if (!loaded) return 'gone';
  const { doc, chunking } = loaded;
  if (job.offset === 0) {
    await moveSource(ctx, doc.sourceId, 'startWork');
    // A skipped page (noindex) or a document that was requeued meanwhile is not this job's to index.
    if (!(await moveDocument(ctx, doc.id, 'start', { attempts: sql`${documents.attempts} + 1` }))) return 'gone';
  }

  // Extracted once per content version and stored; later slices and re-indexes read the copy.
  const extracted = await documentText(ctx, doc);
  if (!extracted.ok) {
    await failDocument(ctx, doc.id, doc.sourceId, extracted.reason);
    return 'failed';
  }
  if (extracted.text.trim().length === 0) {
    await failDocument(ctx, doc.id, doc.sourceId, 'No text could be extracted from this document.');
    return 'failed';
  }

  const { embedder, vectors, namespace } = await retrievalIndexFor(ctx, doc.orgId);
  const indexKey = await sha256Hex(`${doc.contentHash}|${JSON.stringify(chunking)}|${embedder.id}|${extracted.kind}`);
  if (job.offset === 0 && !job.force && doc.indexKey === indexKey && doc.chunkCount > 0) {
    await moveDocument(ctx, doc.id, 'finish', { error: null });
    await settleSource(ctx, doc.sourceId);
    return 'unchanged';
  }

  const all = extracted.chunks ?? chunkText(extracted.text, chunking);
  const slice = all.slice(job.offset, job.offset + INDEX_SLICE);
  const isLast = job.offset + INDEX_SLICE >= all.length;

  if (slice.length > 0) {
    const embeddings = await embedder.embed(slice.map((c) => contextualText(c)));
    await vectors.upsert(
      slice.map((c, i) => ({
        id: chunkId(doc.id, c.index),
        values: embeddings[i]!,
        namespace,
        metadata: { botId: doc.botId, sourceId: doc.sourceId, documentId: doc.id },
      })),
    );
  }

  const rows = chunkRows(doc, slice);
  const writes: BatchItem<'sqlite'>[] = [
    // Replace this slice's positions (and on the last slice everything past the end, which an
    // older, longer version of the document may have left).
    ctx.db
      .delete(chunks)
      .where(
        isLast
          ? and(eq(chunks.documentId, doc.id), gte(chunks.position, job.offset))
          : and(eq(chunks.documentId, doc.id), gte(chunks.position, job.offset), lt(chunks.position, job.offset + INDEX_SLICE)),
      ),
    ...splitForStatements(rows, CHUNK_COLUMNS).map((group) => ctx.db.insert(chunks).values(group)),
  ];
  if (isLast) {
    writes.push(
      documentTransition(ctx, doc.id, 'finish', {
          error: null,
          indexKey,
          title: extracted.title && doc.title === doc.locator ? extracted.title.slice(0, 300) : doc.title,
          charCount: extracted.text.length,
          chunkCount: all.length,
          preview: extracted.text.slice(0, PREVIEW_CHARS),
      }),
    );
  }
  await ctx.db.batch(writes as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]);

  if (!isLast) {
    await enqueue(ctx.env, { type: 'document.index', orgId: doc.orgId, documentId: doc.id, offset: job.offset + INDEX_SLICE, force: true });
    return 'continued';
  }
  // A shorter new version leaves vectors past its end.
  const staleIds = [];
  for (let p = all.length; p < doc.chunkCount; p++) staleIds.push(chunkId(doc.id, p));
  for (let i = 0; i < staleIds.length; i += VECTORIZE.maxUpsertBatch) await vectors.deleteByIds(staleIds.slice(i, i + VECTORIZE.maxUpsertBatch));
  await settleSource(ctx, doc.sourceId);
  return 'indexed';
}
