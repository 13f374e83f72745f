/**
 * The keyword retriever: BM25 over the word index (folded, porter-stemmed), plus the trigram
 * index when the query is in a script written without spaces. A spaceless query of one or
 * two characters (東京) has no trigram; it falls back to a substring scan, bounded to the
 * bot's spaceless chunks and to `limit` rows.
 */
import type { ServiceContext } from '../../../context';
import { shortSpacelessRuns, trigramMatch, wordMatch } from './query-terms';

export interface KeywordQuery {
  orgId: string;
  botId: string;
  query: string;
  sourceIds?: string[];
}

export interface Scored {
  id: string;
  score: number;
}

const sourceFilter = (sourceIds?: string[]) => (sourceIds?.length ? `AND c.source_id IN (${sourceIds.map(() => '?').join(',')})` : '');

async function wordRanking(ctx: ServiceContext, q: KeywordQuery, limit: number): Promise<Scored[]> {
  const match = wordMatch(q.query, q.botId);
  if (!match) return [];
  // bm25 weights: body text, heading path, bot id (the filter column carries no evidence).
  const { results } = await ctx.env.DB.prepare(
    `SELECT c.id AS id, -bm25(chunks_fts, 1.0, 0.6, 0.0) AS score
       FROM chunks_fts JOIN chunks c ON c.seq = chunks_fts.rowid
      WHERE chunks_fts MATCH ? AND c.org_id = ? ${sourceFilter(q.sourceIds)}
      ORDER BY bm25(chunks_fts, 1.0, 0.6, 0.0) LIMIT ?`,
  )
    .bind(match, q.orgId, ...(q.sourceIds ?? []), limit)
    .all<Scored>();
  return results;
}

async function trigramRanking(ctx: ServiceContext, q: KeywordQuery, limit: number): Promise<Scored[]> {
  const match = trigramMatch(q.query);
  if (!match) return [];
  const { results } = await ctx.env.DB.prepare(
    `SELECT c.id AS id, -bm25(chunks_trigram) AS score
       FROM chunks_trigram JOIN chunks c ON c.seq = chunks_trigram.rowid
      WHERE chunks_trigram MATCH ? AND c.org_id = ? AND c.bot_id = ? ${sourceFilter(q.sourceIds)}
      ORDER BY bm25(chunks_trigram) LIMIT ?`,
  )
    .bind(match, q.orgId, q.botId, ...(q.sourceIds ?? []), limit)
    .all<Scored>();
  return results;
}

/** Substring scan for 1–2 character spaceless queries; the score counts the runs a chunk contains. */
async function shortRunRanking(ctx: ServiceContext, q: KeywordQuery, limit: number): Promise<Scored[]> {
  const runs = shortSpacelessRuns(q.query);
  if (runs.length === 0) return [];
  // Spaceless runs hold no LIKE wildcards (% and _ are not in those scripts), so no escaping.
  const contains = runs.map(() => `(coalesce(c.search_text, c.text) LIKE ?)`);
  const { results } = await ctx.env.DB.prepare(
    `SELECT c.id AS id, (${contains.join(' + ')}) AS score
       FROM chunks c
      WHERE c.org_id = ? AND c.bot_id = ? AND c.spaceless ${sourceFilter(q.sourceIds)} AND (${contains.join(' OR ')})
      ORDER BY score DESC, c.seq LIMIT ?`,
  )
    .bind(...runs.map((r) => `%${r}%`), q.orgId, q.botId, ...(q.sourceIds ?? []), ...runs.map((r) => `%${r}%`), limit)
    .all<Scored>();
  return results;
}

/**
 * One keyword list. Scores of the indexes add up per chunk: both are BM25 evidence for the
 * same query, and a chunk matching its words and its CJK part is better than either alone.
 */
export async function keywordRanking(ctx: ServiceContext, q: KeywordQuery, limit: number): Promise<Scored[]> {
  const trigrams = trigramMatch(q.query);
  const lists = await Promise.all([
    wordRanking(ctx, q, limit),
    trigrams ? trigramRanking(ctx, q, limit) : shortRunRanking(ctx, q, limit),
  ]);
  if (lists[1].length === 0) return lists[0];
  if (lists[0].length === 0) return lists[1];
  const sum = new Map<string, number>();
  for (const list of lists) for (const { id, score } of list) sum.set(id, (sum.get(id) ?? 0) + score);
  return [...sum.entries()]
    .map(([id, score]) => ({ id, score }))
    .sort((a, b) => b.score - a.score)
    .slice(0, limit);
}
