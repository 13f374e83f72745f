/**
 * Words that frame a question rather than say what it is about: the noun that names the kind of
 * answer wanted ("In what *year*…", "What *kind* of…", "What was the *name* of…") and the verb of
 * "what is X *called* / *named* / *known as*". The text that answers rarely repeats them ("The
 * wall was declared a World Heritage Site in 1987" never says "year"), so counted as query terms
 * they weigh as rare words the answer lacks and push an answerable question towards abstention;
 * in the offline answerer they make a sentence that happens to use them ("so-called") look like
 * a match. Crowd-written questions (SQuAD and the like) use these frames constantly.
 *
 * Only the frame is dropped, never the word on its own: "change the name of my bot" and "who
 * called the meeting" keep "name" and "called". English, German, Spanish and French, folded and
 * lower-cased as search folds them (foldForSearch: "año" → "ano", "heißt" → "heisst").
 */

/** Answer-kind nouns: what a wh-word asks for when it stands right before one of them. */
const KIND_NOUNS =
  'years?|dates?|century|centuries|decades?|kinds?|types?|sorts?|' + // en
  'jahr|jahres|jahrhundert|datum|art|sorte|' + // de
  'anos?|siglos?|fechas?|tipos?|clases?|' + // es
  'annees?|siecles?|genres?'; // fr ("type", "sorte", "date" are listed above)

const FRAMES: readonly RegExp[] = [
  // what year / which kind of / in welchem Jahr / en qué año / en quelle année / quel type de
  new RegExp(`\\b(?:what|which|welche[mnrs]?|que|cual(?:es)?|quel(?:le)?s?)\\s+(?:${KIND_NOUNS})\\b`, 'gu'),
  // what is / was the name of · wie ist der Name · cuál es el nombre de · quel est le nom de
  /\b(?:what|which)\s+(?:is|was|are|were)\s+(?:the\s+)?names?\b/gu,
  /\bwie\s+(?:ist|war|lautet|lautete)\s+(?:der|die)\s+namen?\b/gu,
  /\bcual\s+(?:es|era|fue)\s+el\s+nombre\b/gu,
  /\bquel\s+(?:est|etait)\s+le\s+nom\b/gu,
  // how long / how often / how old · wie lange / wie oft · cuánto tiempo · combien de temps:
  // the answer gives a duration, a frequency or an age ("within 30 days", "monthly"), it does
  // not say "long". "How long is the cable" loses "long" too; its subject words still match.
  /\bhow\s+(?:long|often|frequently|soon|old|far)\b/gu,
  /\bwie\s+(?:lange|oft|haufig|bald|alt|weit)\b/gu,
  /\b(?:cuanto|cuantos|cuanta)\s+(?:tiempo|dias|anos)\b|\bcon\s+que\s+frecuencia\b/gu,
  /\bcombien\s+de\s+(?:temps|jours)\b|\ba\s+quelle\s+frequence\b/gu,
  // how does X work · wie funktioniert X · cómo funciona X · comment fonctionne X: asks for an
  // explanation of X, which rarely says "works"
  /^how\s+(?:does|do|did|would|will|can)\b.*\b(?:work|works)\b/gu,
  /\bwie\s+funktionier(?:t|en|te)\b/gu,
  /\bcomo\s+funcion(?:a|an)\b/gu,
  /\bcomment\s+(?:fonctionne|fonctionnent|marche)\b/gu,
  // what is X called / named / known as (the frame spans the subject, so only the verb is marked)
  /^(?:what|how)\b.*\b(?:is|are|was|were)\b.*\b(?:called|named|known)\b/gu,
  // wie heißt / hieß / nennt man · cómo se llama · comment s'appelle
  /\bwie\s+(?:heisst|hiess|hiessen|heissen|nennt|nannte)\b/gu,
  /\bcomo\s+se\s+(?:llama|llamaba|llaman|denomina)\b/gu,
  /\bcomment\s+s\s*['’]?\s*appel(?:le|lent|ait)\b/gu,
];

/** The words a frame may mark as framing: the kind nouns, "long", "oft", and "name", "called", "heißt"… (never the wh-words, already function words). */
const FRAME_WORDS: ReadonlySet<string> = new Set(
  (
    'year years date dates century centuries decade decades kind kinds type types sort sorts name names called named known ' +
    'long often frequently soon old far work works ' +
    'jahr jahres jahrhundert datum art sorte name namen heisst hiess hiessen heissen nennt nannte lange oft haufig bald alt weit funktioniert funktionieren funktionierte ' +
    'ano anos siglo siglos fecha fechas tipo tipos clase clases nombre llama llamaba llaman denomina tiempo dias frecuencia funciona funcionan ' +
    'annee annees siecle siecles genre genres nom appelle appellent appelait temps jours frequence fonctionne fonctionnent marche'
  ).split(' '),
);

/**
 * The words of a question (folded and lower-cased) that only frame it. A word is framing when a
 * frame covers it; words a frame merely passes over (the subject of "what is X called") stay.
 */
export function framingWords(foldedQuestion: string): Set<string> {
  const text = foldedQuestion.trim();
  const found = new Set<string>();
  for (const frame of FRAMES) {
    for (const match of text.matchAll(frame)) {
      const words = match[0].match(/[\p{L}\p{N}]+/gu) ?? [];
      // The "called" and "work" frames span their subject: only the last word frames.
      const framing = frame.source.startsWith('^') ? words.slice(-1) : words;
      for (const w of framing) if (FRAME_WORDS.has(w)) found.add(w);
    }
  }
  return found;
}
