/**
 * Answer metrics of `npm run eval` (scripts/eval-answers.mjs), kept free of I/O so tests can
 * pin them down (test/eval/answer-metrics.test.ts).
 *
 * "Gold contained" asks whether an answer states the key fact, not whether it matches a
 * reference text: every content word of the short gold answer must occur in the answer, after
 * folding case, diacritics, ß and a plural `s`. Word order and the words around them are free, so
 * a model that paraphrases ("the Retry-After header tells you") still passes, and one that
 * rambles pays through the median length, reported next to it. Japanese has no spaces between
 * words, so there every character bigram of the gold answer must occur in the answer instead.
 */

/**
 * Function words of the corpora's languages (en, de, es). Negations (not, no, nicht, kein) are
 * deliberately absent: "not certified" and "certified" are different facts.
 */
const STOPWORDS = new Set(
  [
    // English
    'a an the of to in on at for by with from into and or is are was be been it its as that this these those your you we our their up per can do does',
    // German
    'der die das den dem des ein eine einer eines einem einen und oder zu zum zur im in am an auf mit von vom für fur um bis ist sind wird werden es sie',
    // Spanish
    'el la lo los las un una unos unas de del y o en a al por para con se que su sus es son',
  ]
    .join(' ')
    .split(' '),
);

/** Han, Hiragana or Katakana: text written without spaces between words. */
const SPACELESS_SCRIPT = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;
const WORD = /[\p{L}\p{N}]+/gu;
/** The Combining Diacritical Marks block only: Japanese voicing marks (U+3099/309A) stay. */
const LATIN_DIACRITICS = /[\u0300-\u036f]/g;

/** Case, width, diacritics and ß folded, so "Größe", "GROSSE" and "grosse" compare equal. */
export function fold(text) {
  return text.normalize('NFKC').toLowerCase().replaceAll('ß', 'ss').normalize('NFD').replace(LATIN_DIACRITICS, '').normalize('NFC');
}

/** A trailing plural `s` is ignored ("viewers" = "viewer"); short words are left alone ("is", "us"). */
function stem(word) {
  return word.length > 3 && word.endsWith('s') ? word.slice(0, -1) : word;
}

export function words(text) {
  return fold(text).match(WORD) ?? [];
}

/** The words of a gold answer that carry its meaning; all its words when every one is a stopword. */
export function contentWords(text) {
  const all = words(text);
  const content = all.filter((w) => !STOPWORDS.has(w));
  return content.length > 0 ? content : all;
}

/** Every two adjacent characters inside each run of letters and digits; a one-character run counts as itself. */
export function characterBigrams(text) {
  const bigrams = new Set();
  for (const run of words(text)) {
    const chars = [...run];
    if (chars.length === 1) bigrams.add(chars[0]);
    for (let i = 0; i + 1 < chars.length; i++) bigrams.add(chars[i] + chars[i + 1]);
  }
  return bigrams;
}

/**
 * What of the gold answer is missing from the answer: content words (or, for spaceless
 * scripts, character bigrams). Empty means the answer contains the gold answer.
 */
export function missingFromAnswer(answer, gold) {
  if (SPACELESS_SCRIPT.test(gold)) {
    // Runs joined by a separator no bigram contains, so no bigram spans two runs.
    const runs = words(answer).join('\n');
    return [...characterBigrams(gold)].filter((b) => !runs.includes(b));
  }
  const present = new Set(words(answer).map(stem));
  return contentWords(gold).filter((w) => !present.has(stem(w)));
}

export function containsGold(answer, gold) {
  return missingFromAnswer(answer, gold).length === 0;
}

/** Length in characters (code points, so one kanji or emoji counts once). */
export function charLength(text) {
  return [...text].length;
}

/** The middle value (the mean of the two middle ones for an even count); NaN when empty. */
export function median(values) {
  if (values.length === 0) return Number.NaN;
  const sorted = values.toSorted((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The chat issue's targets for the offline answerer. */
export const ANSWER_TARGETS = { goldContained: 0.85, medianChars: 400, abstainUncovered: 0.9, falseAbstainCovered: 0.05 };

/**
 * One corpus's answer metrics from its turns.
 * @param {{ covered: { id: string, gold: string, goldFiles: string[], answer: string, unanswered: boolean, firstCitedFile: string | null }[],
 *           uncovered: { id: string, unanswered: boolean }[] }} turns
 */
export function summarizeAnswers({ covered, uncovered }) {
  const answered = covered.filter((t) => !t.unanswered);
  const goldContained = covered.filter((t) => containsGold(t.answer, t.gold)).length;
  const citedRight = answered.filter((t) => t.firstCitedFile !== null && t.goldFiles.includes(t.firstCitedFile)).length;
  return {
    answerable: covered.length,
    unanswerable: uncovered.length,
    goldContained: covered.length ? goldContained / covered.length : Number.NaN,
    // Diagnostic: the answerer's quality apart from abstention (a fallback never contains the gold).
    goldContainedAnswered: answered.length ? answered.filter((t) => containsGold(t.answer, t.gold)).length / answered.length : Number.NaN,
    citationAccuracy: answered.length ? citedRight / answered.length : Number.NaN,
    abstain: uncovered.length ? uncovered.filter((t) => t.unanswered).length / uncovered.length : Number.NaN,
    falseAbstain: covered.length ? (covered.length - answered.length) / covered.length : Number.NaN,
    // Of real answers only: the fallback message says nothing about how long answers are.
    medianChars: median(answered.map((t) => charLength(t.answer))),
  };
}

/** The targets a summary misses, as readable lines; empty when all are met. */
export function missedTargets(name, s, targets = ANSWER_TARGETS) {
  const missed = [];
  if (!(s.goldContained >= targets.goldContained)) missed.push(`${name}: gold contained ${s.goldContained.toFixed(3)} (target ≥ ${targets.goldContained})`);
  if (!(s.medianChars < targets.medianChars)) missed.push(`${name}: median answer ${s.medianChars} characters (target < ${targets.medianChars})`);
  if (s.unanswerable > 0 && !(s.abstain >= targets.abstainUncovered)) missed.push(`${name}: abstains on ${s.abstain.toFixed(3)} of unanswerable questions (target ≥ ${targets.abstainUncovered})`);
  if (!(s.falseAbstain <= targets.falseAbstainCovered)) missed.push(`${name}: falsely abstains on ${s.falseAbstain.toFixed(3)} of answerable questions (target ≤ ${targets.falseAbstainCovered})`);
  return missed;
}
