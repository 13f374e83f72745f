/**
 * Calibrated relevance: one number in [0, 1] per hit that means the same in every mode and
 * for every embedder: roughly "how much of what the query asks for this chunk evidently
 * addresses". Scores that fusion uses (BM25, cosine, fused) are only comparable inside one
 * ranking; relevance is comparable across queries, which is what a `minScore` cut-off and
 * chat's abstention need.
 *
 * It is built from two pieces of absolute evidence, each mapped onto [0, 1]:
 * - term coverage: the share of the query's content words (light-stemmed, folded) and, for
 *   spaceless scripts, character trigrams (or runs too short for one) found in the chunk. Computed from the text, so it is
 *   available for every hit in every mode.
 * - semantic similarity: the cosine, mapped through the embedder family's range (the cosine
 *   of unrelated texts → 0, of a clear paraphrase → 1). Only hits the vector search scored
 *   have it.
 * and combined by noisy-OR: either kind of evidence alone can make a hit relevant, and both
 * together make it more so. A reranker's score replaces this when one ran (it is trained for
 * exactly this judgement and already lies in [0, 1]).
 */
import { foldForSearch } from './text-fold';
import { queryTrigrams, queryWords, shortSpacelessRuns } from './query-terms';

/**
 * Cosine → [0, 1] per embedder family: `unrelated` is where texts sharing nothing sit,
 * `paraphrase` where a clear restatement sits. The offline hashing embedder's unrelated
 * texts are near 0 by construction (signed hashing); OpenAI-style models place unrelated
 * text around 0.1–0.2 and close paraphrases above 0.6.
 */
export const COSINE_RANGES = {
  offline: { unrelated: 0.1, paraphrase: 0.5 },
  model: { unrelated: 0.2, paraphrase: 0.65 },
} as const;
export type EmbedderFamily = keyof typeof COSINE_RANGES;

export function embedderFamily(embedderId: string): EmbedderFamily {
  return embedderId.startsWith('offline') ? 'offline' : 'model';
}

export function similarityEvidence(cosine: number, family: EmbedderFamily): number {
  const { unrelated, paraphrase } = COSINE_RANGES[family];
  return clamp01((cosine - unrelated) / (paraphrase - unrelated));
}

/** Two words are one term when equal or when they share a long stem (retry/retrying, limit/limits). */
function sameStem(a: string, b: string): boolean {
  if (a === b) return true;
  const shorter = Math.min(a.length, b.length);
  if (shorter < 4) return false;
  let common = 0;
  while (common < shorter && a[common] === b[common]) common++;
  return common >= Math.max(4, shorter - 2);
}

/** Prepared once per query, applied to each hit. */
export function coverageScorer(query: string): (text: string) => number | null {
  const words = queryWords(query);
  // Spaceless text is matched by substrings: trigrams, or the whole run when it is shorter.
  const grams = [...queryTrigrams(query), ...shortSpacelessRuns(query)];
  const total = words.length + grams.length;
  if (total === 0) return () => null;
  return (text) => {
    const folded = foldForSearch(text).toLowerCase();
    const tokens = new Set(folded.match(/[\p{L}\p{N}]+/gu) ?? []);
    const hasToken = (t: string) => tokens.has(t) || [...tokens].some((w) => sameStem(t, w));
    let found = 0;
    for (const word of words) if (word.every(hasToken)) found++;
    for (const gram of grams) if (folded.includes(gram)) found++;
    return found / total;
  };
}

export function combineEvidence(coverage: number | null, similarity: number | undefined): number {
  const c = coverage ?? 0;
  const s = similarity ?? 0;
  return clamp01(1 - (1 - c) * (1 - s));
}

const clamp01 = (x: number) => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);
