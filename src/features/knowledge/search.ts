/**
 * Retrieval: vector search (the org's namespace, filtered to the bot), keyword search (FTS5,
 * BM25, confined to the bot; retrieval/keyword.ts), and hybrid, which fuses both rankings
 * (retrieval/fusion.ts: convex by default, RRF on request). Every hit carries a calibrated
 * `relevance` (retrieval/relevance.ts); an org's reranker may reorder the head (retrieval/hits.ts).
 * Hybrid is what chat uses.
 */
import { and, eq, inArray, ne } from 'drizzle-orm';
import { chunks, documents, sources } from '../../db/schema';
import type { ServiceContext } from '../../context';
import { VECTORIZE } from '../../limits';
import { splitForStatements } from '../../db/bound-parameters';
import { retrievalIndexFor, type RetrievalIndex } from './retrieval-index';
import { keywordRanking } from './retrieval/keyword';
import { adaptiveVectorWeight, convexFusion, reciprocalRankFusion, type Fusion } from './retrieval/fusion';
import { coverageScorer, embedderFamily } from './retrieval/relevance';
import { applyReranker, withRelevance } from './retrieval/hits';
import { termStatistics } from './retrieval/term-stats';

export type SearchMode = 'hybrid' | 'vector' | 'keyword';

export interface SearchRequest {
  orgId: string;
  botId: string;
  query: string;
  topK: number;
  mode: SearchMode;
  /** Hits with a lower calibrated relevance (0..1, every mode) are left out; 0 keeps all. */
  minScore: number;
  sourceIds?: string[];
  /** The bot's fusion settings; a null weight adapts to each query (adaptiveVectorWeight). */
  fusion?: Fusion;
  hybridWeight?: number | null;
  /** False skips the org's reranker for this query. */
  rerank?: boolean;
}

export interface SearchDefaults {
  topK: number;
  mode: SearchMode;
  minScore: number;
  fusion: Fusion;
  hybridWeight: number | null;
}

/** What a search uses for anything the request leaves out: the bot's own retrieval settings. */
export function searchDefaultsOf(bot: { topK: number; minScore: number; hybrid: boolean; fusion: Fusion; hybridWeight: number | null }): SearchDefaults {
  return { topK: bot.topK, mode: bot.hybrid ? 'hybrid' : 'vector', minScore: bot.minScore, fusion: bot.fusion, hybridWeight: bot.hybridWeight };
}

export interface SearchHit {
  chunkId: string;
  /** The ranking score of the stage that ordered the hit: only comparable within one response. */
  score: number;
  /** Calibrated relevance in [0, 1]: comparable across queries, modes and embedders. */
  relevance: number;
  text: string;
  windowText: string | null;
  headingPath: string[];
  position: number;
  startOffset: number;
  endOffset: number;
  document: { id: string; title: string; locator: string };
  source: { id: string; title: string; type: string };
  /** Rank in each list that found it (1 = best), for explaining a hybrid result. */
  ranks: { vector?: number; keyword?: number; rerank?: number };
}

/** Candidates taken from each retriever before fusion. */
const candidatesFor = (topK: number) => Math.min(Math.max(topK * 4, 20), VECTORIZE.maxTopKWithoutMetadata);

async function vectorRanking(ctx: ServiceContext, index: RetrievalIndex, req: SearchRequest, limit: number): Promise<{ id: string; score: number }[]> {
  const { embedder, vectors, namespace } = index;
  const [vector] = await embedder.embed([req.query]);
  const filter: VectorizeVectorMetadataFilter = { botId: req.botId };
  if (req.sourceIds?.length) filter.sourceId = { $in: req.sourceIds };
  const { matches } = await vectors.query(vector!, { topK: limit, namespace, filter, returnMetadata: 'none' });
  // Every match is a candidate: minScore applies to the calibrated relevance, after fusion.
  return matches.map((m) => ({ id: m.id, score: m.score }));
}

/** A chunk's text as relevance reads it (headings first), or null. */
async function chunkText(ctx: ServiceContext, orgId: string, chunkId: string | undefined): Promise<string | null> {
  if (chunkId === undefined) return null;
  const [row] = await ctx.db
    .select({ text: chunks.text, headingPath: chunks.headingPath })
    .from(chunks)
    .where(and(eq(chunks.id, chunkId), eq(chunks.orgId, orgId)));
  return row ? evidenceText(row) : null;
}

const evidenceText = (chunk: { headingPath: string[]; text: string }) => [...chunk.headingPath, chunk.text].join('\n');

export async function search(ctx: ServiceContext, req: SearchRequest): Promise<SearchHit[]> {
  const index = await retrievalIndexFor(ctx, req.orgId);
  const family = embedderFamily(index.embedder.id);
  const reranker = req.rerank === false ? null : index.reranker;
  const limit = candidatesFor(Math.max(req.topK, reranker?.config.topN ?? 0));
  // The default fusion weight reads the keyword winner's text (adaptiveVectorWeight): fetched
  // right after the keyword list, while the vector query is still running.
  const adaptive = req.mode === 'hybrid' && req.fusion !== 'rrf' && req.hybridWeight == null;
  const keywordWithWinner = async () => {
    const list = await keywordRanking(ctx, req, limit);
    return { list, winnerText: adaptive ? await chunkText(ctx, req.orgId, list[0]?.id) : null };
  };
  const [vectorList, { list: keywordList, winnerText }, terms] = await Promise.all([
    req.mode === 'keyword' ? Promise.resolve([]) : vectorRanking(ctx, index, req, limit),
    req.mode === 'vector' ? Promise.resolve({ list: [], winnerText: null }) : keywordWithWinner(),
    termStatistics(ctx, req.botId, req.orgId, req.query),
  ]);
  const coverage = coverageScorer(terms);
  const vectorWeight = () => req.hybridWeight ?? adaptiveVectorWeight(family, winnerText === null ? null : coverage(winnerText));
  const ranked =
    req.mode === 'vector'
      ? vectorList
      : req.mode === 'keyword'
        ? keywordList
        : req.fusion === 'rrf'
          ? reciprocalRankFusion([vectorList, keywordList])
          : convexFusion(vectorList, keywordList, vectorWeight());
  const vectorRank = new Map(vectorList.map((m, i) => [m.id, i + 1]));
  const keywordRank = new Map(keywordList.map((m, i) => [m.id, i + 1]));

  // Read back text from D1, re-checking org, bot and that the source still exists: the vector
  // index is eventually consistent and may still return ids of deleted chunks.
  const wanted = ranked.slice(0, Math.max(req.topK * 2, reranker?.config.topN ?? 0)).map((r) => r.id);
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

  const found = ranked.filter((r) => byId.has(r.id)).slice(0, wanted.length);
  const cosines = new Map(vectorList.map((m) => [m.id, m.score]));
  let scored = withRelevance(
    coverage,
    found.map((r) => {
      const chunk = byId.get(r.id)!.chunk;
      return { id: r.id, score: r.score, text: evidenceText(chunk) };
    }),
    cosines,
    family,
  );
  if (reranker) scored = await applyReranker(reranker.fetch, reranker, req.query, scored);

  const hits: SearchHit[] = [];
  for (const { id, score, relevance, rerankRank } of scored) {
    if (relevance < req.minScore) continue;
    const row = byId.get(id)!;
    hits.push({
      chunkId: id,
      score,
      relevance,
      text: row.chunk.text,
      windowText: row.chunk.windowText,
      headingPath: row.chunk.headingPath,
      position: row.chunk.position,
      startOffset: row.chunk.startOffset,
      endOffset: row.chunk.endOffset,
      document: { id: row.chunk.documentId, title: row.docTitle, locator: row.locator },
      source: { id: row.chunk.sourceId, title: row.sourceTitle, type: row.sourceType },
      ranks: { vector: vectorRank.get(id), keyword: keywordRank.get(id), rerank: rerankRank },
    });
    if (hits.length === req.topK) break;
  }
  return hits;
}
