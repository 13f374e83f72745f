/** Reading documents back: metadata, a text preview, chunk counts and the original file. */
import { and, desc, eq, lt, ne } from 'drizzle-orm';
import { documents, sources } from '../../db/schema';
import type { Db } from '../../db/client';
import type { DocumentRow } from './sources';

export function toDocumentDto(row: DocumentRow) {
  const isWeb = /^https?:\/\//.test(row.locator);
  return {
    id: row.id,
    sourceId: row.sourceId,
    botId: row.botId,
    title: row.title,
    url: isWeb ? row.locator : null,
    fileName: isWeb ? null : row.locator,
    mime: row.mime,
    sizeBytes: row.sizeBytes,
    contentHash: row.contentHash,
    status: row.status,
    error: row.error,
    characters: row.charCount,
    chunks: row.chunkCount,
    preview: row.preview,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
}

const visible = (orgId: string) => and(eq(documents.orgId, orgId), ne(sources.status, 'deleting'));

export async function listDocuments(db: Db, orgId: string, sourceId: string, cursor: string | null, limit: number) {
  const conditions = [visible(orgId), eq(documents.sourceId, sourceId)];
  if (cursor) conditions.push(lt(documents.id, cursor));
  const rows = await db
    .select({ doc: documents })
    .from(documents)
    .innerJoin(sources, eq(sources.id, documents.sourceId))
    .where(and(...conditions))
    .orderBy(desc(documents.id))
    .limit(limit + 1);
  return rows.map((r) => r.doc);
}

export async function getDocument(db: Db, orgId: string, documentId: string): Promise<DocumentRow | null> {
  const row = await db
    .select({ doc: documents })
    .from(documents)
    .innerJoin(sources, eq(sources.id, documents.sourceId))
    .where(and(visible(orgId), eq(documents.id, documentId)))
    .get();
  return row?.doc ?? null;
}
