/**
 * When a query word and a chunk word are "the same word" for relevance: inflection
 * ("refunds" / "refunded" / "refund", "Gutscheine" / "Gutschein", "devolución" /
 * "devoluciones") and compounds built on a word ("Zutaten" in "Zutatenliste", "Brot" in
 * "Buchweizenbrot").
 *
 * A light, language-agnostic suffix stripper, not a full stemmer: one inflectional or common
 * derivational ending of English, German, Spanish or French comes off, and never below
 * MIN_STEM letters, so short words stay whole ("news" is not "new"). Over-stemming would make
 * unrelated words meet and an unanswerable question look covered; under-stemming only costs a
 * paraphrase a little coverage, which the other words and the embedder make up.
 *
 * Words are expected folded and lower-cased (foldForSearch), so "é" already is "e".
 */

/** Shortest stem a suffix may leave: four letters keep "card" from "cards" but not "car" from "cars"... */
const MIN_STEM = 4;
/** A stem at least this long also matches words it begins (compounds, derivations): "zutat" → "zutatenliste". */
export const MIN_PREFIX_STEM = 5;

/**
 * Endings, longest first within each language's list so the longest applicable one wins.
 * English: plural, verb and adverb endings. German: plural and adjective endings and -ung.
 * Spanish and French: plural, gender and -ción/-tion noun endings.
 */
const SUFFIXES: readonly string[] = [
  ...'ational ations ation ements ement ments ment ingly edly ings ing ness ies ied ers er ed es ly s'.split(' '),
  ...'ungen ung heiten heit keiten keit lichen licher liches lich isch ern em en e n'.split(' '),
  ...'aciones acion iciones icion ciones cion siones sion amente mente idades idad ados adas ado ada idos idas ido ida os as o a'.split(' '),
  ...'ements ement euses euse eux ees ee'.split(' '),
].sort((a, b) => b.length - a.length);

/** The stem relevance compares words by: the word minus its longest applicable ending, undoubled. */
export function stemOf(word: string): string {
  if (word.length <= MIN_STEM || /\d/.test(word)) return word;
  let stem = word;
  for (const suffix of SUFFIXES) {
    if (word.endsWith(suffix) && word.length - suffix.length >= MIN_STEM - 1) {
      stem = word.slice(0, -suffix.length);
      break;
    }
  }
  // "running" → "runn" → "run", "stopped" → "stop"; a doubled l, s or z is part of the word ("install").
  const n = stem.length;
  if (stem !== word && n >= 4 && stem[n - 1] === stem[n - 2] && !/[lsz]/.test(stem[n - 1]!)) stem = stem.slice(0, -1);
  return stem;
}

/**
 * A chunk word counts for a query word when both reduce to one stem, or when either stem is
 * long enough (MIN_PREFIX_STEM) and the other word extends it (a derivation or a compound built
 * on the same word: extendsStem), or when one is the head of the other as a compound.
 *
 * The matcher remembers the stems it computed: relevance compares every query word with
 * every word of up to a hundred chunks, and stemming each pair anew would cost most of it.
 */
export function createWordMatcher(): (queryWord: string, chunkWord: string) => boolean {
  const stems = new Map<string, string>();
  const stem = (word: string) => {
    let s = stems.get(word);
    if (s === undefined) stems.set(word, (s = stemOf(word)));
    return s;
  };
  return (queryWord, chunkWord) => {
    if (queryWord === chunkWord) return true;
    const q = stem(queryWord);
    const c = stem(chunkWord);
    if (q === c) return true;
    if (extendsStem(q, chunkWord) || extendsStem(c, queryWord)) return true;
    return isCompoundHead(queryWord, chunkWord) || isCompoundHead(chunkWord, queryWord);
  };
}

/**
 * What may follow a stem in a word built on it: the stemmer's endings, and derivational endings
 * it does not strip (they change the word class, so stems are kept apart, but "inhibitors" is
 * still about "inhibit").
 */
const ENDINGS: ReadonlySet<string> = new Set([
  ...SUFFIXES,
  // English derivations ("inhibitors", "policy" for "polic-ies")
  ...'y or ors ion ions ive ives ity ities al als ic ics ical ism ist ists able ible ance ence ant ants ent ents ure ures'.split(' '),
  // German verb endings ("akzeptiert", "akzeptierst" for "akzeptier-en")
  ...'t st te ten tet et est'.split(' '),
]);

/**
 * `other` is built on `stem` (the stem of a word, or the word itself): it begins with it, and
 * what follows is nothing, an ending (ENDINGS) or a word of its own, MIN_STEM letters or more
 * ("zutat" + "enliste", "gutschein" + "code", "cancel" + "lation"). Two letters that are no ending
 * make another word: "popul" (from "populations") does not begin "popular", nor "nepal" "nepali".
 */
function extendsStem(stem: string, other: string): boolean {
  if (stem.length < MIN_PREFIX_STEM || !other.startsWith(stem)) return false;
  const rest = other.slice(stem.length);
  // A doubled final consonant belongs to the ending: "cancel" + "led", "stop" + "ped".
  const ending = rest[0] === stem.at(-1) ? rest.slice(1) : rest;
  return rest === '' || ENDINGS.has(rest) || ENDINGS.has(ending) || rest.length >= MIN_STEM;
}

/** One comparison, without a shared stem memo. */
export const sameWord = (queryWord: string, chunkWord: string): boolean => createWordMatcher()(queryWord, chunkWord);

/** The form the word index is asked for besides the word itself: its stem as a prefix, when long enough to be safe. */
export function prefixFormOf(word: string): string | null {
  const stem = stemOf(word);
  return stem.length >= MIN_PREFIX_STEM && stem !== word ? stem : null;
}

/**
 * German (and Dutch, Scandinavian) compounds put the head last: "Buchweizenbrot" is a kind
 * of "Brot". The modifier in front must be a word of its own (MIN_STEM letters or more), so
 * an English word ending the same ("support" / "port", "email" / "mail") is not a compound.
 */
function isCompoundHead(head: string, compound: string): boolean {
  return head.length >= MIN_STEM && compound.length - head.length >= MIN_STEM && compound.endsWith(head);
}
