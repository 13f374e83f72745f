/**
 * How rare each query term is in one bot's knowledge: the document frequencies relevance
 * weighs terms by (relevance.ts). Counted per bot, never across tenants: another org's
 * documents must not move this org's scores (that would leak what they contain).
 *
 * - Words: one statement of `count(*)` sub-queries against the word index, each confined to
 *   the bot like the keyword search is, counting the word's inflected forms (wordForms). FTS5 counts from its posting lists without reading
 *   chunk text. At most MAX_QUERY_TERMS + 1 bound parameters (D1 allows 100).
 * - Spaceless bigrams: the trigram index cannot look up two characters, so they are counted
 *   by substring over a bounded sample of the bot's spaceless chunks (RELEVANCE.dfSampleChunks):
 *   a document frequency is a proportion, and a sample of a few thousand estimates it well.
 */
import type { ServiceContext } from '../../../context';
import { RELEVANCE } from '../../../limits';
import { queryWords, spacelessTerms } from './query-terms';
import { prefixFormOf } from '../../../lib/text/word-forms';
import { framingWords } from '../../../lib/text/question-framing';
import { foldForSearch } from '../../../lib/text/text-fold';

export interface TermStat {
  /** Chunks containing the term. */
  df: number;
  /** Chunks it was counted over. */
  n: number;
}

export interface QueryTerms {
  /** Content words, each as its word-tokenizer tokens (matched as a phrase). */
  words: string[][];
  /** Bigrams (or one-character runs) of spaceless scripts. */
  grams: string[];
}

export interface QueryTermStats extends QueryTerms {
  wordStats: TermStat[];
  gramStats: TermStat[];
  /** The bot's chunk count in the word index. */
  chunkCount: number;
}

/**
 * What relevance weighs: the query's content words minus the words that only frame the question
 * ("In what year…", "What is X called…": question-framing.ts), which the answering text rarely
 * repeats. A query made of nothing else keeps them.
 */
export function queryTerms(query: string): QueryTerms {
  const words = queryWords(query);
  const framing = framingWords(foldForSearch(query).toLowerCase());
  const content = words.filter((tokens) => !(tokens.length === 1 && framing.has(tokens[0]!)));
  return { words: content.length > 0 ? content : words, grams: spacelessTerms(query) };
}

const quote = (s: string) => `"${s.replaceAll('"', '""')}"`;

/**
 * The word as relevance matches it (word-forms.ts): the exact phrase, or for a one-token word
 * with a long stem also that stem as a prefix ("gutschein"* finds Gutscheine, Gutscheincode).
 * Compound heads ("Brot" in "Buchweizenbrot") no index query can find: such a word may count
 * as rarer than it is, which the add-one weight of relevance.ts keeps bounded.
 */
function wordForms(tokens: string[]): string {
  const prefix = tokens.length === 1 ? prefixFormOf(tokens[0]!) : null;
  return prefix ? `(${quote(tokens[0]!)} OR ${quote(prefix)}*)` : quote(tokens.join(' '));
}

export async function termStatistics(ctx: ServiceContext, botId: string, orgId: string, query: string): Promise<QueryTermStats> {
  const terms = queryTerms(query);
  const [words, grams] = await Promise.all([wordFrequencies(ctx, botId, terms.words), gramFrequencies(ctx, orgId, botId, terms.grams)]);
  return { ...terms, wordStats: words.stats, gramStats: grams, chunkCount: words.n };
}

async function wordFrequencies(ctx: ServiceContext, botId: string, words: string[][]): Promise<{ n: number; stats: TermStat[] }> {
  const bot = `bot_id : ${quote(botId)}`;
  const matches = [bot, ...words.map((tokens) => `${bot} AND ${wordForms(tokens)}`)];
  const columns = matches.map((_, i) => `(SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?) AS c${i}`);
  const row = await ctx.env.DB.prepare(`SELECT ${columns.join(', ')}`)
    .bind(...matches)
    .first<Record<string, number>>();
  const n = row?.c0 ?? 0;
  return { n, stats: words.map((_, i) => ({ df: row?.[`c${i + 1}`] ?? 0, n })) };
}

async function gramFrequencies(ctx: ServiceContext, orgId: string, botId: string, grams: string[]): Promise<TermStat[]> {
  if (grams.length === 0) return [];
  const columns = grams.map((_, i) => `coalesce(sum(instr(t, ?) > 0), 0) AS d${i}`);
  const row = await ctx.env.DB.prepare(
    `SELECT count(*) AS n, ${columns.join(', ')}
       FROM (SELECT coalesce(search_text, text) AS t FROM chunks WHERE org_id = ? AND bot_id = ? AND spaceless LIMIT ?)`,
  )
    .bind(...grams, orgId, botId, RELEVANCE.dfSampleChunks)
    .first<Record<string, number>>();
  const n = row?.n ?? 0;
  return grams.map((_, i) => ({ df: row?.[`d${i}`] ?? 0, n }));
}
