/**
 * One folding for search text, applied to chunks when they are indexed and to queries when
 * they are asked, so both sides meet: "crème brûlée" ≈ "creme brulee", "Straße" ≈ "Strasse".
 *
 * FTS5's `remove_diacritics 2` strips accents but keeps letters that are not "letter + mark"
 * in Unicode (ß, æ, ø, ł, đ, þ...) and does not unify compatibility forms (ﬁ, fullwidth
 * Ｌａｔｉｎ, halfwidth ｶﾀｶﾅ). NFKD handles the forms and splits accents off; only the
 * combining marks of Latin, Greek and Cyrillic are dropped, so Japanese voicing marks
 * (U+3099/U+309A) recompose under NFC and が stays が.
 */

/** Letters that NFKD leaves alone but a reader treats as a spelling of plain Latin letters. */
const LETTER_FOLDS: Record<string, string> = {
  ß: 'ss', ẞ: 'SS', æ: 'ae', Æ: 'AE', œ: 'oe', Œ: 'OE', ø: 'o', Ø: 'O', đ: 'd', Đ: 'D',
  ł: 'l', Ł: 'L', þ: 'th', Þ: 'TH', ð: 'd', Ð: 'D', ı: 'i', ħ: 'h', Ħ: 'H',
};
const LETTER_FOLD_PATTERN = new RegExp(`[${Object.keys(LETTER_FOLDS).join('')}]`, 'g');
/** Combining marks of Latin, Greek and Cyrillic letters (and their extension blocks). */
const ACCENT_MARKS = /[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]/g;

export function foldForSearch(text: string): string {
  return text.normalize('NFKD').replace(ACCENT_MARKS, '').replace(LETTER_FOLD_PATTERN, (ch) => LETTER_FOLDS[ch]!).normalize('NFC');
}

/** The folded form when it differs (what the index stores), null when folding changes nothing. */
export function searchFormOf(text: string): string | null {
  const folded = foldForSearch(text);
  return folded === text ? null : folded;
}

/**
 * Scripts written without spaces between words: a word tokenizer sees a whole sentence as
 * one token there, so these need character n-grams (the trigram index). Korean is written with
 * spaces, but between phrases: particles and endings join the word ("부산까지" is "to Busan"),
 * so a search for "부산" needs the same n-grams.
 */
const SPACELESS_CHAR = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
const SPACELESS_RUN = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}\u30fc]+/gu;

export function hasSpacelessScript(text: string): boolean {
  return SPACELESS_CHAR.test(text);
}

/** Maximal runs of spaceless-script characters, in order (the prolonged sound mark ー included). */
export function spacelessRuns(text: string): string[] {
  return text.match(SPACELESS_RUN) ?? [];
}

/** The text with its spaceless-script runs replaced by spaces: what a word splitter may read. */
export function withoutSpacelessRuns(text: string): string {
  return text.replace(SPACELESS_RUN, ' ');
}
