/**
 * Reading for the offline extractive answerer (offline-answerer.ts): a source's text as quotable
 * sentences with their section, and a question as what it asks about and what kind of fact
 * answers it.
 *
 * Segmentation is line-based Markdown-light: fenced code blocks are one unquotable segment each;
 * headings are not quoted but name the section of the sentences under them; paragraphs, list
 * items and table rows are blocks of their own; lines that are only markup are dropped. Inside a
 * block a `.`, `!` or `?` ends a sentence when whitespace and a capital, digit or opening quote
 * follow, unless the word before it is a known abbreviation ("e.g.", "z.B.", "Dr."), an initial
 * ("J.") or a day number ("am 1. Mai"); Chinese and Japanese sentences end at 。！？.
 *
 * Matching folds as search does (src/lib/text/text-fold.ts) and compares words as retrieval
 * relevance does (src/lib/text/word-forms.ts: inflections, derivations, compound heads); spaceless
 * scripts (Han, kana, Thai) are matched by character bigrams, since there are no words to split on.
 */
import { OFFLINE_ANSWER } from '../limits';
import { STOPWORDS } from '../lib/text/stopwords';
import { foldForSearch, spacelessRuns, withoutSpacelessRuns } from '../lib/text/text-fold';
import { createWordMatcher, stemOf } from '../lib/text/word-forms';
import { framingWords } from '../lib/text/question-framing';

/** Search folding plus lower case: what every comparison here reads. */
export const fold = (text: string): string => foldForSearch(text).toLowerCase();

/** Spaceless characters that write content (kana-only pairs are mostly Japanese grammar). */
const CONTENT_SPACELESS = /[\p{Script=Han}\p{Script=Katakana}\p{Script=Hangul}]/u;
const WORD = /[\p{L}\p{N}]+/gu;

// --- Questions ---------------------------------------------------------------------------------

/**
 * The kind of fact a question asks for, when its wording says so: `quantity` (how long / many /
 * much / often, when, what year; wie lange / viel, wann; cuánto, cuándo; combien, quand; いつ,
 * いくら, 何日), `person` (who, wer, quién, qui) or `reason` (why, warum, por qué, pourquoi, なぜ).
 */
export type AnswerType = 'quantity' | 'person' | 'reason' | null;

/** Question phrases, folded, per answer type. Their words say how the question is asked, so they are not content. */
const TYPE_PHRASES: ReadonlyArray<[Exclude<AnswerType, null>, RegExp]> = [
  [
    'quantity',
    /\b(?:how (?:long|many|much|often|old|far|big|large|high|soon|early|late|fast|frequently)|(?:what|which) (?:year|years|date|dates|time|day|days|month|age|percentage|percent|amount|price|cost|size|number|period|duration|deadline|century|decade)|in what year|by when|until when|since when|when|wie (?:lange|viele?|oft|alt|weit|spat|fruh|gross|hoch|teuer|schnell)|wieviele?|bis wann|seit wann|ab wann|wann|(?:welche[mnrs]?|in welchem) (?:jahr|tag|datum|uhrzeit|monat|preis|betrag)|cuant[oa]s?(?: tiempo)?|cuando|hasta cuando|desde cuando|(?:que|en que) (?:ano|dia|fecha|hora|mes|precio)|combien(?: de temps)?|quand|(?:quel|quelle)s? (?:annee|jour|date|heure|mois|prix))\b|いつ|いくら|何(?:日|時|年|月|円|分|秒|文字|個|本|人|回|週|歳|件|枚|名|営業日|か月|ヶ月|パーセント)|どのくらい|どれくらい|どのぐらい|多少|几|什么时候|多久|多长/u,
  ],
  ['person', /\b(?:who|whom|whose|wer|wem|wen|wessen|quien(?:es)?|qui)\b|誰|だれ|谁/u],
  ['reason', /\b(?:why|what causes|what caused|warum|wieso|weshalb|weswegen|por que|pourquoi)\b|なぜ|どうして|何故|为什么/u],
];

/** Words of question phrases that no list of function words has: "long" in "how long", "year" in "what year". */
const TYPE_WORDS = new Set('long often old far soon early late lange oft alt weit spat fruh tiempo temps'.split(' '));

export interface QuestionUnits {
  /** Folded content words of spaced scripts, one per stem. */
  words: string[];
  /** Character bigrams of spaceless runs (Han / kana / Thai). */
  bigrams: string[];
  /** Numbers the question itself states: a sentence repeating them brings no new quantity. */
  numbers: Set<string>;
  type: AnswerType;
  /** No question word and at most two terms ("送料", "refund policy"): the user names a topic. */
  topicOnly: boolean;
}

const INTERROGATIVE = /[?？]|\b(?:what|how|which|where|does|do|is|are|can|should|was|wo|wie|was|welche\w*|kann|gibt|donde|como|que|cual\w*|puedo|ou|comment|quel\w*|est-ce)\b|何|どこ|どう|ですか|ますか|か。?$/u;

/** What a question asks about (content words and bigrams, each once) and the kind of fact it wants. */
export function questionUnits(question: string): QuestionUnits {
  const folded = fold(question);
  const type = TYPE_PHRASES.find(([, pattern]) => pattern.test(folded))?.[0] ?? null;
  const typeWords = new Set<string>();
  for (const [, pattern] of TYPE_PHRASES) {
    const phrase = folded.match(pattern)?.[0];
    if (phrase) for (const w of phrase.match(WORD) ?? []) typeWords.add(w);
  }
  // "What is X called", "what kind of": the frame, not the subject (retrieval drops the same words).
  const framing = framingWords(folded);
  const words = new Map<string, string>();
  const numbers = new Set<string>();
  for (const w of withoutSpacelessRuns(folded).match(WORD) ?? []) {
    if (/\d/.test(w)) numbers.add(w);
    if ((w.length < 2 && !/\d/.test(w)) || STOPWORDS.has(w) || framing.has(w) || (typeWords.has(w) && TYPE_WORDS.has(w))) continue;
    if (typeWords.has(w) && !/\d/.test(w) && type === 'quantity' && /^(?:years?|dates?|time|days?|month|age|jahr|tag|datum|uhrzeit|monat|ano|dia|fecha|hora|mes|annee|jour|heure|mois)$/.test(w)) continue;
    const stem = stemOf(w);
    if (!words.has(stem)) words.set(stem, w);
  }
  const bigrams = new Set<string>();
  const weak = new Set<string>();
  // Question markers of spaceless scripts (いつ, 何日, ですか) are grammar, not topic.
  const spaceless = folded.replace(/いつ|いくら|どのくらい|どれくらい|どのぐらい|なぜ|どうして|何故|何|誰|だれ|什么时候|为什么|多少|多久|多长|几|谁/gu, ' ');
  for (const run of spacelessRuns(spaceless)) {
    const chars = [...run];
    for (let i = 0; i + 2 <= chars.length; i++) {
      const gram = chars[i]! + chars[i + 1]!;
      // Kana-only pairs are mostly grammar (です, とは, のは); kept only when nothing else is there.
      (CONTENT_SPACELESS.test(gram) ? bigrams : weak).add(gram);
    }
    if (chars.length === 1 && CONTENT_SPACELESS.test(chars[0]!)) bigrams.add(chars[0]!);
  }
  const cap = OFFLINE_ANSWER.maxQuestionTerms;
  const unitWords = [...words.values()].slice(0, cap);
  const unitBigrams = [...(bigrams.size > 0 ? bigrams : weak)].slice(0, cap);
  const termCount = unitWords.length + (unitBigrams.length > 0 ? Math.max(1, Math.ceil(unitBigrams.length / 2)) : 0);
  return { words: unitWords, bigrams: unitBigrams, numbers, type, topicOnly: type === null && termCount <= 2 && !INTERROGATIVE.test(folded.trim()) };
}

// --- Evidence of an answer type ----------------------------------------------------------------

const NUMBER_WORDS = new Set(
  (
    'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty hundred thousand million billion half dozen once twice ' +
    'daily weekly monthly yearly annually hourly quarterly midnight noon ' +
    'january february march april may june july august september october november december ' +
    'zwei drei vier funf sechs sieben acht neun zehn elf zwolf dreizehn vierzehn funfzehn sechzehn siebzehn achtzehn neunzehn zwanzig dreissig vierzig funfzig hundert tausend halb halbe taglich wochentlich monatlich jahrlich ' +
    'januar februar marz juni juli oktober dezember ' +
    'dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince dieciseis diecisiete dieciocho diecinueve veinte treinta cuarenta cincuenta cien ciento mil millon media diario semanal mensual anual ' +
    'enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre ' +
    'deux trois quatre cinq sept huit neuf dix onze douze treize quatorze quinze seize vingt trente quarante cinquante cent mille demi quotidien hebdomadaire mensuel annuel ' +
    'janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre'
  ).split(' '),
);
/** A Han-numeral or digit quantity with a counter: 六百円, 十二文字, 3日, 五営業日. */
const CJK_QUANTITY = /[0-9０-９一二三四五六七八九十百千万億]+(?:円|日|時間|時|分|秒|年|か月|ヶ月|月|週間|週|文字|本|個|件|人|回|%|％|パーセント|営業日|枚|名|歳|元|天|小时|分钟)/u;
const CAUSE = /\b(?:because|due to|caused by|owing to|as a result|so that|since|therefore|weil|denn|wegen|aufgrund|deshalb|daher|porque|debido|ya que|por eso|parce que|car|a cause|grace a)\b|ため|から|原因|因为|由于/u;

/** A folded word that states a quantity, date or frequency the question did not already state. */
export const isQuantityWord = (word: string, question: QuestionUnits): boolean => (/\d/.test(word) && !question.numbers.has(word)) || NUMBER_WORDS.has(word);

/** Whether a sentence holds the kind of fact the question asks for, beyond what the question itself says. */
export function hasEvidence(type: AnswerType, forms: SentenceForms, question: QuestionUnits, original: string): boolean {
  if (type === 'quantity') {
    if (forms.words.some((w) => isQuantityWord(w, question))) return true;
    return CJK_QUANTITY.test(forms.folded);
  }
  if (type === 'reason') return CAUSE.test(forms.folded);
  if (type === 'person') {
    // A capitalised word after the first, not one the question used: a name, most likely.
    const capitalised = original.match(/(?<=\s)\p{Lu}\p{Ll}+/gu) ?? [];
    return capitalised.some((w) => !question.words.includes(fold(w)) && !STOPWORDS.has(fold(w)));
  }
  return false;
}

// --- Sentences ---------------------------------------------------------------------------------

/** A sentence's folded text and its words, for matching. */
export interface SentenceForms {
  folded: string;
  words: string[];
}

export function sentenceForms(sentence: string): SentenceForms {
  const folded = fold(sentence);
  return { folded, words: withoutSpacelessRuns(folded).match(WORD) ?? [] };
}

/**
 * Which question words a sentence's words match, remembered per distinct word: a long source
 * repeats its vocabulary, and comparing every question word with every word anew would cost most
 * of the answer's CPU.
 */
export function createUnitMatcher(questionWords: readonly string[]): (word: string) => readonly string[] {
  const same = createWordMatcher();
  const memo = new Map<string, readonly string[]>();
  return (word) => {
    let hits = memo.get(word);
    if (!hits) memo.set(word, (hits = questionWords.filter((q) => same(q, word))));
    return hits;
  };
}

export type SegmentKind = 'prose' | 'code';

export interface Segment {
  text: string;
  kind: SegmentKind;
  /** Index of the paragraph, list item, table row or code block it belongs to. */
  block: number;
  /** Index of the section (heading) it sits under; the source's own heading path is section 0. */
  section: number;
  /** The headings above it, joined: what the section is about. */
  heading: string;
}

// Abbreviations whose period does not end a sentence (folded, without the final period).
const ABBREVIATIONS = new Set(
  (
    'mr mrs ms dr prof sr jr st vs etc e.g i.e approx inc ltd co corp no nos fig figs cf al dept est min max mt ref refs vol eq ' +
    'z.b bzw ca d.h usw evtl ggf inkl nr str u.a vgl bspw sog hr fr ' +
    'sra dra srta p.ej aprox ej num uds ud pag tel'
  ).split(' '),
);

/** Splits a paragraph into sentences (see the module comment for the rules). */
function splitParagraph(paragraph: string): string[] {
  const out: string[] = [];
  let start = 0;
  const boundary = /([.!?…]+)(["'”’)\]]*)(\s+)(?=[\p{Lu}\p{N}"'“‘(¿¡\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}])|([。！？]+)([」』”’）)]*)\s*/gu;
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

const FENCE = /^\s{0,3}(```|~~~)/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const LIST_ITEM = /^\s*(?:[-*•+–]|\d{1,3}[.)]|[a-z][.)])\s+/;
const TABLE_RULE = /^\s*\|?[\s:|-]+\|?\s*$/;
const HAS_CONTENT = /[\p{L}\p{N}]/u;

const BARE_FENCE = /^\s{0,3}(```|~~~)\s*$/;
const CODE_SYMBOLS = /[{}()[\];=$\\<>|&]/g;
const codeLikeness = (text: string) => (text.trim() ? (text.match(CODE_SYMBOLS)?.length ?? 0) / text.length : 0);

/**
 * Whether a chunk was cut from the middle of a fenced block, so its first fence closes code
 * rather than opening it. Only a chunk with an odd number of fences can be; then one of its ends
 * is inside code, and it is the start when the first fence is bare (an opener usually names its
 * language) and the text before it looks more like code than the text after the last fence.
 */
function startsInsideCode(lines: readonly string[]): boolean {
  const fences = lines.flatMap((line, i) => (FENCE.test(line) ? [i] : []));
  if (fences.length % 2 === 0 || !BARE_FENCE.test(lines[fences[0]!]!)) return false;
  return codeLikeness(lines.slice(0, fences[0]).join('\n')) > codeLikeness(lines.slice(fences.at(-1)! + 1).join('\n'));
}

/**
 * A source's text as segments in reading order: prose sentences (quotable) and code blocks (scored
 * so the prose around them can be found, never quoted). `headings` is the heading path the source
 * starts under (a chunk cut from the middle of a document).
 */
export function segmentSource(text: string, headings: readonly string[] = []): Segment[] {
  const segments: Segment[] = [];
  const path: string[] = [...headings];
  let section = 0;
  let block = 0;
  let paragraph: string[] = [];
  const lines = text.split(/\r?\n/);
  let code: string[] | null = startsInsideCode(lines) ? [] : null;

  const heading = () => path.filter(Boolean).join(' › ');
  const flush = () => {
    if (paragraph.length === 0) return;
    const joined = paragraph.join(' ').replace(/\s+/g, ' ').trim();
    paragraph = [];
    if (!HAS_CONTENT.test(joined.replace(/[*_`#>|~=-]/g, ''))) return;
    for (const sentence of splitParagraph(joined)) segments.push({ text: sentence, kind: 'prose', block, section, heading: heading() });
    block++;
  };

  for (const line of lines) {
    if (code) {
      if (FENCE.test(line)) {
        if (code.some((l) => l.trim())) segments.push({ text: code.join('\n'), kind: 'code', block: block++, section, heading: heading() });
        code = null;
      } else code.push(line);
      continue;
    }
    if (FENCE.test(line)) {
      flush();
      code = [];
      continue;
    }
    const h = line.match(HEADING);
    if (h) {
      flush();
      path.length = Math.min(path.length, Math.max(0, h[1]!.length - 1));
      path.push(h[2]!.replace(/[*_`]/g, ''));
      section++;
      continue;
    }
    if (!line.trim() || TABLE_RULE.test(line) && line.includes('-')) {
      flush();
      continue;
    }
    const trimmed = line.trim();
    if (LIST_ITEM.test(line) || trimmed.startsWith('|')) {
      flush();
      paragraph.push(trimmed.replace(LIST_ITEM, '').replace(/^\|\s*|\s*\|$/g, '').replace(/\s*\|\s*/g, ' — '));
      if (trimmed.startsWith('|')) flush();
      continue;
    }
    paragraph.push(trimmed.replace(/^>\s?/, ''));
  }
  flush();
  // An unclosed fence still holds code: never quoted.
  if (code?.some((l) => l.trim())) segments.push({ text: code.join('\n'), kind: 'code', block, section, heading: heading() });
  return segments;
}

/** A source's quotable sentences in order (code blocks and headings left out). */
export function splitSentences(text: string): string[] {
  return segmentSource(text)
    .filter((s) => s.kind === 'prose')
    .map((s) => s.text);
}
