import { conceptOf, phraseConcept } from './concepts';

/**
 * Turns text into weighted sparse features for the offline hashed embedder: word unigrams,
 * bigrams of neighbouring content words, character trigrams inside words, and thesaurus
 * concepts (concepts.ts) shared by synonyms. Pure and
 * deterministic (no locale-dependent calls), so the same text gives the same features on
 * every machine and every run.
 */

/** Relative weight of each feature family before sublinear tf; tuned so no family drowns the others. */
export const FEATURE_WEIGHTS = {
  unigram: 1,
  /** Stopwords still count a little: "not" or "how" can matter, but must not dominate similarity. */
  stopwordUnigram: 0.08,
  bigram: 0.6,
  /**
   * Per trigram. A 7-letter word yields 7, together a bit lighter than the word itself
   * (7 × 0.3² vs 1² in the norm): enough to carry typos and unstemmed forms, not to blur topics.
   */
  charTrigram: 0.3,
  /** A thesaurus concept (concepts.ts): what synonyms share, so paraphrases land near each other. */
  concept: 0.7,
} as const;

/**
 * Common English function words. Without corpus statistics (no IDF offline) this list is what
 * keeps "the", "how", "is" from making every question look alike.
 */
export const STOPWORDS: ReadonlySet<string> = new Set(
  (
    'a about above after again against all am an and any are as at be because been before being below ' +
    'between both but by can could did do does doing down during each few for from further had has have ' +
    'having he her here hers herself him himself his how i if in into is it its itself just me more most ' +
    'my myself no nor not now of off on once only or other our ours ourselves out over own same she should ' +
    'so some such than that the their theirs them themselves then there these they this those through to ' +
    'too under until up very was we were what when where which while who whom why will with would you your ' +
    'yours yourself yourselves also may might must shall us get got let lets im ive youre dont doesnt cant'
  ).split(' '),
);

const WORD_SPLIT = /[^\p{L}\p{N}]+/u;
const COMBINING_MARKS = /\p{M}+/gu;

/**
 * Lowercased words with diacritics folded ("Café" → "cafe") and apostrophes dropped
 * ("don't" → "dont"), so spelling variants meet in the same features.
 */
export function tokenizeWords(text: string): string[] {
  const folded = text.normalize('NFKD').replace(COMBINING_MARKS, '').toLowerCase().replace(/['’]/g, '');
  return folded.split(WORD_SPLIT).filter((w) => w.length > 0);
}

/**
 * A deliberately light English suffix stripper: plural and common verb endings only. It maps
 * "refunds"/"refunded"/"refunding" onto "refund" without the over-stemming of a full Porter
 * stemmer; character trigrams cover the rest of the morphology.
 */
export function stemWord(word: string): string {
  if (word.length <= 3 || /\d/.test(word)) return word;
  // Plurals first, then verb endings, so "strings" and "string" both end at the same stem.
  let stem = word;
  if (stem.endsWith('sses')) stem = stem.slice(0, -2);
  else if (stem.endsWith('ies') && stem.length > 4) stem = stem.slice(0, -3) + 'y';
  else if (/(?:ch|sh|x|z)es$/.test(stem)) stem = stem.slice(0, -2);
  else if (stem.endsWith('s') && !/(?:ss|us|is)$/.test(stem)) stem = stem.slice(0, -1);

  if (stem.endsWith('ing') && stem.length > 5) stem = undouble(stem.slice(0, -3));
  else if (stem.endsWith('ed') && stem.length > 4) stem = undouble(stem.slice(0, -2));
  return stem;
}

/** "stopped" → "stopp" → "stop"; keeps legitimate doubles like "ll" in "install". */
function undouble(stem: string): string {
  const n = stem.length;
  if (n >= 3 && stem[n - 1] === stem[n - 2] && !/[lsz]/.test(stem[n - 1]!)) return stem.slice(0, -1);
  return stem;
}

/**
 * Feature name → accumulated weight, already sublinearly scaled: a feature seen tf times
 * weighs (1 + ln tf) × its family weight, so repetition helps but cannot swamp a vector.
 */
export function extractFeatures(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  const familyWeight = new Map<string, number>();
  const add = (feature: string, weight: number) => {
    counts.set(feature, (counts.get(feature) ?? 0) + 1);
    familyWeight.set(feature, weight);
  };

  let previousContentStem: string | null = null;
  let previousWord: string | null = null;
  for (const word of tokenizeWords(text)) {
    const isStopword = STOPWORDS.has(word);
    const stem = stemWord(word);
    add(`w:${stem}`, isStopword ? FEATURE_WEIGHTS.stopwordUnigram : FEATURE_WEIGHTS.unigram);
    const phrase = previousWord === null ? undefined : phraseConcept(previousWord, word, stemWord);
    if (phrase) add(`k:${phrase}`, FEATURE_WEIGHTS.concept);
    previousWord = word;
    if (isStopword) continue; // bigrams skip over stopwords: "reset my password" → "reset password"

    if (previousContentStem !== null) add(`b:${previousContentStem} ${stem}`, FEATURE_WEIGHTS.bigram);
    previousContentStem = stem;
    const concept = conceptOf(stem, stemWord);
    if (concept) add(`k:${concept}`, FEATURE_WEIGHTS.concept);

    if (word.length >= 4) {
      const padded = `<${word}>`;
      for (let i = 0; i + 3 <= padded.length; i++) add(`c:${padded.slice(i, i + 3)}`, FEATURE_WEIGHTS.charTrigram);
    }
  }

  const weighted = new Map<string, number>();
  for (const [feature, tf] of counts) weighted.set(feature, (1 + Math.log(tf)) * familyWeight.get(feature)!);
  return weighted;
}
