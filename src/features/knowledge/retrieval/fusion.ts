/**
 * Fusing the keyword and vector rankings into one.
 *
 * Convex (the default): each retriever's scores are min-max normalised over its own
 * candidates, then combined as w·vector + (1 − w)·keyword; a chunk missing from one list
 * scores that list's minimum (0). Bruch, Gai and Ingber, "An Analysis of Fusion Functions
 * for Hybrid Retrieval" (ACM TOIS 2023) show this beats reciprocal-rank fusion and is robust
 * to the choice of w: unlike RRF it keeps how far apart the scores are, so a weak retriever's
 * arbitrary order among near-equal candidates cannot push a clear keyword winner down.
 *
 * RRF (Cormack, Clarke and Büttcher, SIGIR 2009) stays available as `fusion: 'rrf'`.
 */

import type { EmbedderFamily } from './relevance';

export type Fusion = 'convex' | 'rrf';

/**
 * The vector weight w when a bot sets none, by embedder family.
 * - offline (0.3): the hashing embedder is itself a bag of words and trigrams with a small
 *   thesaurus: it mostly repeats keyword evidence, with more noise and no IDF. Measured from
 *   outside, equal-weight fusion with it lost to keyword alone, so keyword leads and vector
 *   breaks near-ties and lifts synonyms.
 * - model (0.6): a trained embedding model adds what keywords cannot (paraphrase, other
 *   languages' words for the same thing). Bruch et al. find the best w for a strong
 *   in-domain model near 0.8 and lower out of domain; a general-purpose API model on a
 *   tenant's documents is out of domain, so a little over even.
 */
export const DEFAULT_VECTOR_WEIGHT: Record<EmbedderFamily, number> = { offline: 0.3, model: 0.6 };

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
