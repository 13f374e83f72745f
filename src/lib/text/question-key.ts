/**
 * The key near-duplicate questions share: folded (accents, ß), lower-cased, split into words,
 * stop words dropped, each word stemmed, then the distinct stems sorted. "How do I reset my
 * password?", "password reset?" and "Resetting passwords" all become "password reset".
 * Analytics groups questions by it (top questions, unanswered questions).
 *
 * A question of only stop words ("what is it?") keeps its folded words, so it still groups with
 * its own repeats rather than with every other such question.
 */
import { foldForSearch } from './text-fold';
import { STOPWORDS } from './stopwords';
import { stemOf } from './word-forms';

/** Keys longer than this are cut: a pasted essay is not a question worth grouping by every word. */
export const QUESTION_KEY_MAX_CHARS = 200;

export function questionKeyOf(question: string): string {
  const words = foldForSearch(question).toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const content = words.filter((w) => !STOPWORDS.has(w));
  const stems = [...new Set((content.length > 0 ? content : words).map(stemOf))].sort();
  return stems.join(' ').slice(0, QUESTION_KEY_MAX_CHARS);
}
