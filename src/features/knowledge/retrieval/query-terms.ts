/**
 * What a query asks for, in the units each index understands: folded words (minus function
 * words) for the word index, and character trigrams / short runs for spaceless scripts.
 */
import { KEYWORD_MAX_QUERY_TERMS } from '../../../limits';
import { STOPWORDS } from '../../../lib/text/stopwords';
import { foldForSearch, spacelessRuns } from '../../../lib/text/text-fold';

/** Function words (moved to src/lib/text so the offline answerer reads questions the same way). */
export { STOPWORDS };

/** At most this many terms go into one MATCH: bounds the FTS work and the bound parameters a long query can cause. */
export const MAX_QUERY_TERMS = KEYWORD_MAX_QUERY_TERMS;

/**
 * The shorter list the keyword search leaves out of its MATCH. BM25 already gives common words
 * little weight, and its ranking (measured in `npm run eval`) was settled with this list;
 * relevance, which has no such damping for a word the bot never uses, needs the full one.
 */
export const KEYWORD_STOPWORDS: ReadonlySet<string> = new Set(
  (
    'a an and are as at be but by can do does for from has have how i if in into is it its me my not of on or our so that the their them then there these this to was we what when where which who why will with you your ' +
    'der die das den dem des ein eine einen einem einer und oder ist sind war wie was wo wer warum wann ich wir sie er es ihr mein meine unser unsere zu im am an auf aus bei mit nach von vor fur uber um kann konnen muss mussen wird werden nicht kein keine auch noch nur so dass ob ' +
    'el la los las lo un una unos unas y o es son era como que cual cuando donde quien por para con sin de del al en se su sus mi mis nuestro nuestra puedo puede hay no si mas muy ya ' +
    'le les une des et ou est sont comment quoi quand qui pour avec sans du au aux ce cette je nous vous il elle on ne pas'
  ).split(' '),
);

/**
 * Folded, lower-cased content words of a query: each a list of word-tokenizer tokens (`rate_limit` → rate, limit).
 * Tokens written wholly in a spaceless script are left to the n-gram units (spacelessTerms,
 * queryTrigrams) unless `keepSpaceless`: an index with words only can still match them whole.
 */
export function queryWords(query: string, stopwords: ReadonlySet<string> = STOPWORDS, keepSpaceless = false): string[][] {
  const words: string[][] = [];
  const seen = new Set<string>();
  for (const word of foldForSearch(query).toLowerCase().split(/\s+/)) {
    const tokens = word.match(/[\p{L}\p{N}]+/gu)?.filter((t) => keepSpaceless || spacelessRuns(t).join('') !== t);
    if (!tokens?.length) continue;
    if (tokens.length === 1 && stopwords.has(tokens[0]!)) continue;
    const key = tokens.join(' ');
    if (seen.has(key)) continue;
    seen.add(key);
    words.push(tokens);
    if (words.length >= MAX_QUERY_TERMS) break;
  }
  return words;
}

/** Distinct character trigrams of the query's spaceless runs, in order. */
export function queryTrigrams(query: string): string[] {
  const grams = new Set<string>();
  for (const run of spacelessRuns(foldForSearch(query))) {
    const chars = [...run];
    for (let i = 0; i + 3 <= chars.length && grams.size < MAX_QUERY_TERMS; i++) grams.add(chars.slice(i, i + 3).join(''));
  }
  return [...grams];
}

/** Spaceless runs too short for a trigram (1–2 characters, e.g. 東京), which need a substring scan. */
export function shortSpacelessRuns(query: string): string[] {
  return [...new Set(spacelessRuns(foldForSearch(query)).filter((run) => [...run].length < 3))].slice(0, 4);
}

/**
 * What a spaceless query asks for, as units relevance can weigh: character bigrams (the usual
 * unit of CJK retrieval: most Chinese and Japanese words are two characters) of its content
 * runs. In Japanese, hiragana mostly writes grammar (particles, verb endings: は, の, ですか,
 * てもらえます), so a query is first cut at hiragana runs: bigrams spanning a particle (品は,
 * は何) occur in no document and would look like rare, unanswered terms. A query written in
 * hiragana only keeps its hiragana. A one-character content run counts as itself.
 */
export function spacelessTerms(query: string): string[] {
  const terms = new Set<string>();
  for (const run of spacelessRuns(foldForSearch(query))) {
    const parts = run.split(HIRAGANA_RUN).filter((p) => p.length > 0);
    const content = parts.filter((p) => !ONLY_HIRAGANA.test(p));
    for (const part of content.length > 0 ? content : parts) {
      const chars = [...part];
      if (chars.length === 1) terms.add(part);
      for (let i = 0; i + 2 <= chars.length; i++) terms.add(chars[i]! + chars[i + 1]!);
      if (terms.size >= MAX_QUERY_TERMS) return [...terms].slice(0, MAX_QUERY_TERMS);
    }
  }
  return [...terms];
}
const HIRAGANA_RUN = /(\p{Script=Hiragana}+)/u;
const ONLY_HIRAGANA = /^\p{Script=Hiragana}+$/u;

const quote = (s: string) => `"${s.replaceAll('"', '""')}"`;

/**
 * The one escaping of user text into FTS5 query syntax: each content word becomes a quoted
 * phrase of its tokens, OR-ed, so no operator (NEAR, AND, *, ^, column filters, parentheses)
 * the user typed ever reaches FTS5 as syntax. null when the query has no content word.
 * Knowledge keyword search and conversation search both use it (with the short keyword stop-word list);
 * conversation search, which has no trigram index, keeps words of spaceless scripts (`keepSpaceless`).
 */
export function wordsMatchExpression(query: string, keepSpaceless = false): string | null {
  const words = queryWords(query, KEYWORD_STOPWORDS, keepSpaceless);
  if (words.length === 0) return null;
  return words.map((tokens) => quote(tokens.join(' '))).join(' OR ');
}

/** FTS5 MATCH for the word index: each word a phrase of its tokens, OR-ed, confined to one bot. */
export function wordMatch(query: string, botId: string): string | null {
  const words = wordsMatchExpression(query);
  return words ? `bot_id : ${quote(botId)} AND (${words})` : null;
}

/** FTS5 MATCH for the trigram index: the query's trigrams OR-ed (BM25 rewards chunks sharing many). */
export function trigramMatch(query: string): string | null {
  const grams = queryTrigrams(query);
  return grams.length ? grams.map(quote).join(' OR ') : null;
}
