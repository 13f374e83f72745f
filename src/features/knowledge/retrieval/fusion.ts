/**
 * Fusing the keyword and vector rankings into one.
 *
 * Convex (the default): each retriever's scores are min-max normalised over its own
 * candidates, then combined as w·vector + (1 − w)·keyword; a chunk missing from one list
 * scores that list's minimum (0). A bot may fix w; by default it adapts to each query
 * (adaptiveVectorWeight). Bruch, Gai and Ingber, "An Analysis of Fusion Functions
 * for Hybrid Retrieval" (ACM TOIS 2023) show this beats reciprocal-rank fusion and is robust
 * to the choice of w: unlike RRF it keeps how far apart the scores are, so a weak retriever's
 * arbitrary order among near-equal candidates cannot push a clear keyword winner down.
 *
 * RRF (Cormack, Clarke and Büttcher, SIGIR 2009) stays available as `fusion: 'rrf'`.
 */

import type { EmbedderFamily } from './relevance';

export type Fusion = 'convex' | 'rrf';

/**
 * The vector weight w when a bot sets none: adaptive, per query. It moves between a floor
 * and a cap by how much of the query the best keyword hit leaves uncovered (its term
 * coverage κ, relevance.ts): w = floor + (cap − floor)·(1 − κ). When the keyword winner
 * contains everything the question asks for, the keywords have done their job and vector
 * only breaks near-ties; when it contains little (the question is asked in other words, or
 * the keyword list is empty), keywords are guessing and vector leads. This is a
 * query-performance predictor in the sense of Cronen-Townsend et al. (SIGIR 2002) applied to
 * fusion weights, with κ as the predictor because it is already calibrated and
 * mode-independent.
 *
 * - offline (floor 0, cap 0.7): the hashing embedder is itself a bag of words and trigrams
 *   with a small thesaurus. Where keywords cover the query it only repeats their evidence
 *   with more noise and no IDF (measured from outside, equal-weight fusion with it lost to
 *   keyword alone on Wikipedia and biomedical questions), so it gets no say there; its
 *   thesaurus and trigrams are what a paraphrase needs, so it leads when keywords miss.
 * - model (floor 0.5, cap 0.8): a trained embedding model adds what keywords cannot even
 *   when every query word matches (which of the matching chunks means it). Bruch et al. find
 *   the best fixed w for a strong in-domain model near 0.8 and lower out of domain; a
 *   general-purpose API model on a tenant's documents is out of domain, so an even split
 *   when keywords are sure, and 0.8 when they are not. Not measurable offline (no network).
 */
export const ADAPTIVE_VECTOR_WEIGHT: Record<EmbedderFamily, { floor: number; cap: number }> = {
  offline: { floor: 0, cap: 0.7 },
  model: { floor: 0.5, cap: 0.8 },
};

/** The default vector weight for one query, from the keyword winner's term coverage (null: no keyword hit or no terms). */
export function adaptiveVectorWeight(family: EmbedderFamily, keywordTopCoverage: number | null): number {
  const { floor, cap } = ADAPTIVE_VECTOR_WEIGHT[family];
  const covered = Math.min(1, Math.max(0, keywordTopCoverage ?? 0));
  return floor + (cap - floor) * (1 - covered);
}

export interface Ranked {
  id: string;
  score: number;
}

/** RRF's k: dampens the head of each list so neither retriever dominates (Cormack et al.). */
export const RRF_K = 60;

/** Scores mapped linearly onto [0, 1] (best = 1, worst candidate = 0; a lone or all-equal list is all 1). */
export function minMaxNormalize(list: readonly Ranked[]): Map<string, number> {
  const out = new Map<string, number>();
  if (list.length === 0) return out;
  let min = Infinity;
  let max = -Infinity;
  for (const { score } of list) {
    if (score < min) min = score;
    if (score > max) max = score;
  }
  const span = max - min;
  for (const { id, score } of list) out.set(id, span > 0 && Number.isFinite(span) ? (score - min) / span : 1);
  return out;
}

/** w·vector + (1 − w)·keyword over min-max normalised scores; ties keep the keyword order first. */
export function convexFusion(vector: readonly Ranked[], keyword: readonly Ranked[], vectorWeight: number): Ranked[] {
  if (!(vectorWeight >= 0 && vectorWeight <= 1)) throw new RangeError(`vectorWeight must be in [0, 1], got ${vectorWeight}`);
  const v = minMaxNormalize(vector);
  const k = minMaxNormalize(keyword);
  const order = new Map<string, number>();
  for (const { id } of keyword) if (!order.has(id)) order.set(id, order.size);
  for (const { id } of vector) if (!order.has(id)) order.set(id, order.size);
  return [...order.keys()]
    .map((id) => ({ id, score: vectorWeight * (v.get(id) ?? 0) + (1 - vectorWeight) * (k.get(id) ?? 0) }))
    .sort((a, b) => b.score - a.score || order.get(a.id)! - order.get(b.id)!);
}

export function reciprocalRankFusion(lists: readonly (readonly { id: string }[])[], k = RRF_K): Ranked[] {
  const scores = new Map<string, number>();
  for (const list of lists) list.forEach((item, i) => scores.set(item.id, (scores.get(item.id) ?? 0) + 1 / (k + i + 1)));
  return [...scores.entries()].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score);
}
