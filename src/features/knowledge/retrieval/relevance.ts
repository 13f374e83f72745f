/**
 * Calibrated relevance: one number in [0, 1] per hit that means the same in every mode and
 * for every embedder: roughly "how much of what the query asks for this chunk evidently
 * addresses". Scores that fusion uses (BM25, cosine, fused) are only comparable inside one
 * ranking; relevance is comparable across queries, which is what a `minScore` cut-off and
 * chat's abstention need.
 *
 * It is built from two pieces of absolute evidence, each mapped onto [0, 1]:
 * - term coverage: the share of the query's informative mass that the chunk contains. Each
 *   query term (content word, folded, matched in any inflection or compound: word-forms.ts;
 *   for spaceless scripts a character bigram of its content runs) weighs its BM25 IDF over
 *   the bot's chunks (term-stats.ts), so a word found in every chunk (the product name)
 *   weighs next to nothing and a rare one most; a word the bot never uses weighs like the
 *   rarest it does (termWeight). Computed from the text, so every hit in every mode has it.
 * - semantic similarity: the cosine, mapped through the embedder family's range (the cosine
 *   of unrelated texts → 0, of a clear paraphrase → 1). Only hits the vector search scored
 *   have it.
 * and combined by noisy-OR: either kind of evidence alone can make a hit relevant, and both
 * together make it more so. A reranker's score replaces this when one ran (it is trained for
 * exactly this judgement and already lies in [0, 1]).
 */
import { foldForSearch } from '../../../lib/text/text-fold';
import { createWordMatcher } from '../../../lib/text/word-forms';
import type { QueryTermStats } from './term-stats';
import { RELEVANCE } from '../../../limits';

/**
 * Cosine → [0, 1] per embedder family: `unrelated` is where the best of many unrelated
 * texts sits (the top hit of an unanswerable question), `paraphrase` where a clear
 * restatement sits. The offline hashing embedder's pairs of unrelated texts average 0 (signed
 * hashing) with a spread of about 1/√384 ≈ 0.05; the best of N chunks lies near
 * 0.05·√(2 ln N), about 0.2 for a thousand chunks, so 0.2 is its noise floor, and 0.6 keeps
 * the span of the old range. OpenAI-style models place unrelated text around 0.1–0.2 and
 * close paraphrases above 0.6.
 */
export const COSINE_RANGES = {
  offline: { unrelated: 0.2, paraphrase: 0.6 },
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

/** BM25's inverse document frequency (Robertson–Spärck Jones, kept positive as in Lucene). */
export function inverseDocumentFrequency(df: number, n: number): number {
  const count = Math.max(n, df, 0);
  return Math.log(1 + (count - df + 0.5) / (df + 0.5));
}

/**
 * The weight of a query term: its IDF, with a term the bot's knowledge never uses counted as
 * if one chunk had it (add-one smoothing of the document frequency). Such a word is ambiguous
 * evidence: the subject of a question the bot cannot answer ("faxes") or a paraphrase's own
 * vocabulary ("wiping" for "deleted"). Unsmoothed it weighed far more than the rarest word the
 * bot does use (log 2N against log N/1.5), so one unusual verb sank an answerable paraphrase;
 * smoothed it weighs like that rarest word, and a question made only of such words still has
 * no coverage at all.
 */
export function termWeight(df: number, n: number): number {
  return inverseDocumentFrequency(Math.max(df, 1), Math.max(n, 1));
}

/**
 * The informative mass a query must carry before a chunk can cover it fully: the weight of
 * one term that singles out a tenth of the chunks (one chunk in a bot of fewer than ten). A
 * query made only of words found nearly everywhere ("Orbitly?") asks for nothing in
 * particular, and matching it proves no chunk relevant.
 */
export function informativeMassFloor(chunkCount: number): number {
  return inverseDocumentFrequency(Math.max(1, RELEVANCE.floorDocumentShare * chunkCount), chunkCount);
}

const wordsOf = (text: string) => [...new Set(foldForSearch(text).toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [])];

/**
 * Prepared once per query, applied to each hit: Σ weight of the query terms the chunk contains
 * / max(Σ weight of all query terms, the floor). Null when the query has no terms at all.
 * The weights come from the bot's whole index, never from the hits at hand, so a chunk gets
 * the same coverage whichever mode or fusion put it in the list.
 */
export function coverageScorer(stats: QueryTermStats): (text: string) => number | null {
  if (stats.words.length + stats.grams.length === 0) return () => null;
  const sameWord = createWordMatcher();
  const hasWord = (words: readonly string[], word: readonly string[]) => word.every((t) => words.some((w) => sameWord(t, w)));
  const wordWeights = stats.wordStats.map((s) => termWeight(s.df, s.n));
  const gramWeights = stats.gramStats.map((s) => termWeight(s.df, s.n));
  const mass = [...wordWeights, ...gramWeights].reduce((a, b) => a + b, 0);
  const denominator = Math.max(mass, informativeMassFloor(stats.chunkCount), Number.MIN_VALUE);
  return (text) => {
    const words = wordsOf(text);
    const folded = foldForSearch(text).toLowerCase();
    let found = 0;
    stats.words.forEach((word, i) => {
      if (hasWord(words, word)) found += wordWeights[i]!;
    });
    stats.grams.forEach((gram, i) => {
      if (folded.includes(gram)) found += gramWeights[i]!;
    });
    return clamp01(found / denominator);
  };
}

export function combineEvidence(coverage: number | null, similarity: number | undefined): number {
  const c = coverage ?? 0;
  const s = similarity ?? 0;
  return clamp01(1 - (1 - c) * (1 - s));
}

const clamp01 = (x: number) => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);
