/**
 * Sentences and match units for the offline extractive answerer (offline-answerer.ts).
 *
 * Sentence splitting is rule-based and language-light: paragraphs, list items and table rows
 * are units of their own; inside a paragraph a `.`, `!` or `?` ends a sentence when whitespace
 * and a capital, digit or opening quote follow, unless the word before it is a known
 * abbreviation ("e.g.", "z.B.", "Dr."), an initial ("J.") or a day number ("am 1. Mai");
 * Chinese and Japanese sentences end at 。！？ with no space after.
 *
 * Matching folds case, diacritics and ß, and uses words for spaced scripts and character
 * bigrams for spaceless ones (Han, kana, Thai), where there are no words to split on.
 */
import { OFFLINE_ANSWER } from '../limits';
import { STOPWORDS, stemWord } from './text-features';

const ACCENTS = /[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]/g;
const LETTERS: Record<string, string> = { ß: 'ss', æ: 'ae', œ: 'oe', ø: 'o', ł: 'l', đ: 'd', þ: 'th', ı: 'i' };

/** Lowercase, accents and ß folded; kana voicing marks survive (NFC recomposes が). */
export function fold(text: string): string {
  return text
    .toLowerCase()
    .normalize('NFKD')
    .replace(ACCENTS, '')
    .replace(/[ßæœøłđþı]/g, (c) => LETTERS[c]!)
    .normalize('NFC');
}

const SPACELESS_RUN = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\u30fc]+/gu;
const HAN_OR_KATAKANA = /[\p{Script=Han}\p{Script=Katakana}]/u;
const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu;

/** Function words of the languages the eval corpora use (en, de, es), plus question words. */
const EXTRA_STOPWORDS = new Set(
  (
    'der die das den dem des ein eine einen einem einer eines und oder ist sind war wie was wer wo wann warum welche welcher ' +
    'welches kann konnen muss mussen ich du sie wir ihr es mit von zu im in am an auf fur bei nach aus uber unter nicht kein ' +
    'keine auch noch nur wird werden hat haben mein meine unser unsere gibt man sich dass ' +
    'el la los las un una unos unas y o es son era como que quien donde cuando por para con sin sobre entre de del al se su sus ' +
    'mi mis lo le les ya muy mas hay puedo puede pueden tengo tiene cual cuales esta este estos estas esto ' +
    'le les des du et ou est sont que qui quoi comment pour avec sans dans sur une pas ne'
  ).split(' '),
);

export interface MatchUnits {
  /** Folded, stemmed content words of spaced scripts. */
  words: string[];
  /** Character bigrams of spaceless runs (Han / kana / Thai). */
  bigrams: string[];
}

const isStopword = (w: string) => STOPWORDS.has(w) || EXTRA_STOPWORDS.has(w);

/** What a question asks about: content words (stemmed) and spaceless bigrams, each once. */
export function questionUnits(question: string): MatchUnits {
  const folded = fold(question);
  const words = new Set<string>();
  for (const word of folded.replace(SPACELESS_RUN, ' ').match(WORD) ?? []) {
    const w = word.replace(/['’]/g, '');
    if (w.length < 2 || isStopword(w)) continue;
    words.add(stemWord(w));
  }
  const bigrams = new Set<string>();
  const weak = new Set<string>();
  for (const run of folded.match(SPACELESS_RUN) ?? []) {
    const chars = [...run];
    for (let i = 0; i + 2 <= chars.length; i++) {
      const gram = chars[i]! + chars[i + 1]!;
      // Kana-only pairs are mostly grammar (です, とは, のは); kept only when nothing else is there.
      (HAN_OR_KATAKANA.test(gram) ? bigrams : weak).add(gram);
    }
    if (chars.length === 1 && HAN_OR_KATAKANA.test(chars[0]!)) bigrams.add(chars[0]!);
  }
  const cap = OFFLINE_ANSWER.maxQuestionTerms;
  return { words: [...words].slice(0, cap), bigrams: [...(bigrams.size > 0 ? bigrams : weak)].slice(0, cap) };
}

/** A sentence's folded text and its stemmed words, for matching. */
export interface SentenceForms {
  folded: string;
  stems: Set<string>;
  words: string[];
}

export function sentenceForms(sentence: string): SentenceForms {
  const folded = fold(sentence);
  const words = (folded.replace(SPACELESS_RUN, ' ').match(WORD) ?? []).map((w) => w.replace(/['’]/g, ''));
  return { folded, words, stems: new Set(words.map(stemWord)) };
}

/**
 * A question word matches a sentence word with the same light stem, or with a long common
 * prefix (all but one letter of the shorter word, at least 4): "configure" ~ "configuration",
 * "Rückerstattung" ~ "Rückerstattungen", "reembolso" ~ "reembolsos"; not "install" ~ "instance".
 */
export function wordMatches(term: string, forms: SentenceForms): boolean {
  if (forms.stems.has(term)) return true;
  if (term.length < 4) return false;
  for (const word of forms.words) {
    const shorter = Math.min(term.length, word.length);
    if (shorter < 4) continue;
    const need = Math.max(4, shorter - 1);
    if (word.length >= need && term.slice(0, need) === word.slice(0, need)) return true;
  }
  return false;
}

// Abbreviations whose period does not end a sentence (folded, without the final period).
const ABBREVIATIONS = new Set(
  (
    'mr mrs ms dr prof sr jr st vs etc e.g i.e approx inc ltd co corp no nos fig cf al dept est min max mt ' +
    'z.b bzw ca d.h usw evtl ggf inkl nr str u.a vgl bspw sog hr fr ' +
    'sra dra srta p.ej aprox ej num uds ud pag tel'
  ).split(' '),
);

/** Splits a paragraph into sentences (see the module comment for the rules). */
function splitParagraph(paragraph: string): string[] {
  const out: string[] = [];
  let start = 0;
  const boundary = /([.!?…]+)(["'”’)\]]*)(\s+)(?=[\p{Lu}\p{N}"'“‘(¿¡\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}])|([。！？]+)([」』”’）)]*)\s*/gu;
  for (let m = boundary.exec(paragraph); m; m = boundary.exec(paragraph)) {
    const end = m.index + m[0].length;
    if (m[1] === '.') {
      const before = paragraph.slice(start, m.index).match(/(\S+)$/)?.[1] ?? '';
      const token = fold(before).replace(/^[("'“‘¿¡]+/, '');
      if (ABBREVIATIONS.has(token) || /^\p{L}$/u.test(token) || /^\d{1,2}$/.test(token)) continue;
    }
    const sentence = paragraph.slice(start, end).trim();
    if (sentence) out.push(sentence);
    start = end;
  }
  const rest = paragraph.slice(start).trim();
  if (rest) out.push(rest);
  return out;
}

const LIST_MARKER = /^(?:[-*•+–]|\d{1,3}[.)]|[a-z][.)])\s+/;

/** A source's text as sentences, in order. Headings are left out: they name topics, they don't answer. */
export function splitSentences(text: string): string[] {
  const sentences: string[] = [];
  // A blank line, or a new line that starts a list item, a heading or a table row, starts a unit.
  const units = text.split(/\n\s*\n|\r?\n(?=[ \t]*(?:[-*•+–]|\d{1,3}[.)]|#{1,6}|\|)[ \t])/);
  for (const unit of units) {
    const trimmed = unit.trim();
    if (!trimmed || /^#{1,6}\s/.test(trimmed) || /^\|?[\s:|-]+\|?$/.test(trimmed)) continue;
    const paragraph = trimmed
      .replace(LIST_MARKER, '')
      .replace(/^\|\s*|\s*\|$/g, '')
      .replace(/\s*\|\s*/g, ' — ')
      .replace(/\s*\n\s*/g, ' ');
    sentences.push(...splitParagraph(paragraph));
  }
  return sentences;
}
