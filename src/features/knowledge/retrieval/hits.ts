/**
 * From ranked chunk ids to the final hit list: calibrated relevance for every hit, the
 * optional rerank stage, and the `minScore` cut-off (on relevance, so it means the same in
 * every mode).
 */
import { combineEvidence, similarityEvidence, type EmbedderFamily } from './relevance';
import { rerank, rerankRelevance, type FetchLike, type RerankerConfig } from './rerank';

export interface Candidate {
  id: string;
  score: number;
  /** What the chunk says, headings included: the evidence relevance and the reranker read. */
  text: string;
}

export interface Scored extends Candidate {
  relevance: number;
  rerankRank?: number;
}

/** `coverage` is the query's coverageScorer (relevance.ts), built once per search. */
export function withRelevance(
  coverage: (text: string) => number | null,
  candidates: readonly Candidate[],
  cosines: ReadonlyMap<string, number>,
  family: EmbedderFamily,
): Scored[] {
  return candidates.map((c) => {
    const cosine = cosines.get(c.id);
    return { ...c, relevance: combineEvidence(coverage(c.text), cosine === undefined ? undefined : similarityEvidence(cosine, family)) };
  });
}

/**
 * Reorders the head of the list by the reranker's scores, which then give the relevance of
 * those hits (rerankRelevance). On any failure the list comes back unchanged and the reason is logged.
 */
export async function applyReranker(
  fetchFn: FetchLike,
  reranker: { config: RerankerConfig; apiKey: string | undefined },
  query: string,
  hits: Scored[],
): Promise<Scored[]> {
  const head = hits.slice(0, reranker.config.topN);
  if (head.length === 0) return hits;
  const outcome = await rerank(fetchFn, reranker.config, reranker.apiKey, query, head.map((h) => h.text));
  if (!outcome.ok) {
    console.warn(JSON.stringify({ level: 'warn', msg: 'rerank failed; fused order kept', reason: outcome.reason, detail: outcome.detail }));
    return hits;
  }
  const scored = head.map((h, i) => ({ hit: h, score: outcome.scores[i], i }));
  // Hits the reranker left out follow the ones it scored, in fused order.
  scored.sort((a, b) => (b.score ?? -1) - (a.score ?? -1) || a.i - b.i);
  const reranked = scored.map(({ hit, score }, rank) =>
    score === undefined ? hit : { ...hit, score, relevance: rerankRelevance(score, reranker.config.relevantAt), rerankRank: rank + 1 },
  );
  return [...reranked, ...hits.slice(head.length)];
}
