/**
 * Retrieval: vector search (the org's namespace, filtered to the bot), keyword search (FTS5,
 * BM25, confined to the bot inside the MATCH), and hybrid, which fuses both rankings with
 * reciprocal-rank fusion. Hybrid is what chat uses.
 */
import { and, eq, inArray, ne } from 'drizzle-orm';
import { chunks, documents, sources } from '../../db/schema';
import type { ServiceContext } from '../../context';
import { VECTORIZE } from '../../limits';
import { splitForStatements } from '../../db/bound-parameters';
import { retrievalIndexFor } from './retrieval-index';

export type SearchMode = 'hybrid' | 'vector' | 'keyword';

export interface SearchRequest {
  orgId: string;
  botId: string;
  query: string;
  topK: number;
  mode: SearchMode;
  /** Vector matches below this similarity are dropped (keyword scores are BM25, not on this scale). */
  minScore: number;
  sourceIds?: string[];
}

/** What a search uses for anything the request leaves out: the bot's own retrieval settings. */
export function searchDefaultsOf(bot: { topK: number; minScore: number; hybrid: boolean }): { topK: number; mode: SearchMode; minScore: number } {
  return { topK: bot.topK, mode: bot.hybrid ? 'hybrid' : 'vector', minScore: bot.minScore };
}

export interface SearchHit {
  chunkId: string;
  score: number;
  text: string;
  windowText: string | null;
  headingPath: string[];
  position: number;
  startOffset: number;
  endOffset: number;
  document: { id: string; title: string; locator: string };
  source: { id: string; title: string; type: string };
  /** Rank in each list that found it (1 = best), for explaining a hybrid result. */
  ranks: { vector?: number; keyword?: number };
}

/** RRF's k: dampens the head of each list so neither retriever dominates (Cormack et al.). */
const RRF_K = 60;
/** Candidates taken from each retriever before fusion. */
const candidatesFor = (topK: number) => Math.min(Math.max(topK * 4, 20), VECTORIZE.maxTopKWithoutMetadata);

const STOPWORDS = new Set(
  'a an and are as at be but by can do does for from has have how i if in into is it its me my not of on or our so that the their them then there these this to was we what when where which who why will with you your'.split(' '),
);

/**
 * Builds a safe FTS5 query: every whitespace-separated word becomes a quoted phrase of its
 * tokens (so `rate_limit` matches the adjacent tokens rate + limit, as the tokenizer indexed
 * them), phrases are OR-ed, and the whole is confined to one bot's rows.
 */
export function ftsQuery(query: string, botId: string): string | null {
  const phrases = new Set<string>();
  for (const word of query.split(/\s+/)) {
    const tokens = word.toLowerCase().match(/[\p{L}\p{N}]+/gu);
    if (!tokens) continue;
    if (tokens.length === 1 && STOPWORDS.has(tokens[0]!)) continue;
    phrases.add(`"${tokens.join(' ')}"`);
    if (phrases.size >= 32) break;
  }
  if (phrases.size === 0) return null;
  return `bot_id : "${botId}" AND (${[...phrases].join(' OR ')})`;
}

async function keywordRanking(ctx: ServiceContext, req: SearchRequest, limit: number): Promise<{ id: string; score: number }[]> {
  const match = ftsQuery(req.query, req.botId);
  if (!match) return [];
  const sourceFilter = req.sourceIds?.length ? `AND c.source_id IN (${req.sourceIds.map(() => '?').join(',')})` : '';
  // bm25 weights: body text, heading path, bot id (the filter column carries no evidence).
  const { results } = await ctx.env.DB.prepare(
    `SELECT c.id AS id, -bm25(chunks_fts, 1.0, 0.6, 0.0) AS score
       FROM chunks_fts JOIN chunks c ON c.seq = chunks_fts.rowid
      WHERE chunks_fts MATCH ? AND c.org_id = ? ${sourceFilter}
      ORDER BY bm25(chunks_fts, 1.0, 0.6, 0.0) LIMIT ?`,
  )
    .bind(match, req.orgId, ...(req.sourceIds ?? []), limit)
    .all<{ id: string; score: number }>();
  return results;
}

async function vectorRanking(ctx: ServiceContext, req: SearchRequest, limit: number): Promise<{ id: string; score: number }[]> {
  const { embedder, vectors, namespace } = await retrievalIndexFor(ctx, req.orgId);
  const [vector] = await embedder.embed([req.query]);
  const filter: VectorizeVectorMetadataFilter = { botId: req.botId };
  if (req.sourceIds?.length) filter.sourceId = { $in: req.sourceIds };
  const { matches } = await vectors.query(vector!, { topK: limit, namespace, filter, returnMetadata: 'none' });
  // minScore 0 (the bots' default) keeps every match, negative similarities included.
  return matches.filter((m) => req.minScore <= 0 || m.score >= req.minScore).map((m) => ({ id: m.id, score: m.score }));
}

export function reciprocalRankFusion(lists: { id: string }[][], k = RRF_K): { id: string; score: number }[] {
  const scores = new Map<string, number>();
  for (const list of lists) list.forEach((item, i) => scores.set(item.id, (scores.get(item.id) ?? 0) + 1 / (k + i + 1)));
  return [...scores.entries()].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score);
}

export async function search(ctx: ServiceContext, req: SearchRequest): Promise<SearchHit[]> {
  const limit = candidatesFor(req.topK);
  const [vectorList, keywordList] = await Promise.all([
    req.mode === 'keyword' ? Promise.resolve([]) : vectorRanking(ctx, req, limit),
    req.mode === 'vector' ? Promise.resolve([]) : keywordRanking(ctx, req, limit),
  ]);
  const ranked =
    req.mode === 'vector' ? vectorList : req.mode === 'keyword' ? keywordList : reciprocalRankFusion([vectorList, keywordList]);
  const vectorRank = new Map(vectorList.map((m, i) => [m.id, i + 1]));
  const keywordRank = new Map(keywordList.map((m, i) => [m.id, i + 1]));

  // Read back text from D1, re-checking org, bot and that the source still exists: the vector
  // index is eventually consistent and may still return ids of deleted chunks.
  const wanted = ranked.slice(0, req.topK * 2).map((r) => r.id);
  if (wanted.length === 0) return [];
  // Three parameters besides the ids (org, bot, the excluded status); topK 50 asks for 100 ids.
  const rows = [];
  for (const ids of splitForStatements(wanted, 1, 3)) {
    rows.push(
      ...(await ctx.db
        .select({ chunk: chunks, docTitle: documents.title, locator: documents.locator, sourceTitle: sources.title, sourceType: sources.type })
        .from(chunks)
        .innerJoin(documents, eq(documents.id, chunks.documentId))
        .innerJoin(sources, eq(sources.id, chunks.sourceId))
        .where(and(inArray(chunks.id, ids), eq(chunks.orgId, req.orgId), eq(chunks.botId, req.botId), ne(sources.status, 'deleting')))),
    );
  }
  const byId = new Map(rows.map((r) => [r.chunk.id, r]));

  const hits: SearchHit[] = [];
  for (const { id, score } of ranked) {
    const row = byId.get(id);
    if (!row) continue;
    hits.push({
      chunkId: id,
      score,
      text: row.chunk.text,
      windowText: row.chunk.windowText,
      headingPath: row.chunk.headingPath,
      position: row.chunk.position,
      startOffset: row.chunk.startOffset,
      endOffset: row.chunk.endOffset,
      document: { id: row.chunk.documentId, title: row.docTitle, locator: row.locator },
      source: { id: row.chunk.sourceId, title: row.sourceTitle, type: row.sourceType },
      ranks: { vector: vectorRank.get(id), keyword: keywordRank.get(id) },
    });
    if (hits.length === req.topK) break;
  }
  return hits;
}
