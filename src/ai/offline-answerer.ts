/**
 * The offline extractive answerer: no key, no network. It answers from the numbered sources it
 * is given (never from the prompt text, so instructions hidden in a source have nothing to act
 * on): the 2–3 sentences that share the most informative words with the question, each followed
 * by its source's [n] marker, streamed word by word.
 *
 * Deliberately small; the `models` slice replaces it with a stronger one behind the same export.
 * Whether to answer at all is the pipeline's call (abstention on retrieval relevance).
 */
import { ChatModelError, type ChatChunk, type ChatModel, type ChatRequest, type PromptSource } from './chat-model';

const MAX_SENTENCES = 3;
/** A picked sentence longer than this is cut at a word boundary: an answer, not a chunk. */
const MAX_SENTENCE_CHARS = 300;
/** Bounds the work on a hostile or huge source: sentences scored per source. */
const MAX_SENTENCES_PER_SOURCE = 400;

const STOPWORDS = new Set(
  'a an and are as at be but by can could did do does for from had has have how i if in into is it its me my no not of on or our so than that the their them then there these they this to was we were what when where which who why will with would you your about tell please'.split(' '),
);

function terms(text: string): string[] {
  return (text.toLowerCase().normalize('NFKC').match(/[\p{L}\p{N}]+/gu) ?? [])
    .filter((w) => w.length > 1 && !STOPWORDS.has(w))
    .map((w) => (w.length > 4 && w.endsWith('s') && !w.endsWith('ss') ? w.slice(0, -1) : w));
}

function sentencesOf(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+|\n+/)
    .map((s) => s.replace(/\s+/g, ' ').trim())
    .filter((s) => /[\p{L}\p{N}]/u.test(s))
    .slice(0, MAX_SENTENCES_PER_SOURCE);
}

function clip(sentence: string): string {
  if (sentence.length <= MAX_SENTENCE_CHARS) return sentence;
  const cut = sentence.slice(0, MAX_SENTENCE_CHARS);
  const space = cut.lastIndexOf(' ');
  return `${cut.slice(0, space > 0 ? space : MAX_SENTENCE_CHARS)}…`;
}

interface Candidate {
  source: PromptSource;
  index: number;
  text: string;
  score: number;
}

/** The answer text: best sentences in source order, each with its marker. Exported for tests of the pipeline's citations. */
export function composeExtractiveAnswer(question: string, sources: PromptSource[]): string {
  if (sources.length === 0) return '';
  const wanted = [...new Set(terms(question))];
  // Rarer words across the given sources say more about what is asked.
  const docFreq = new Map<string, number>();
  const perSource = sources.map((source) => {
    const sentences = sentencesOf(`${source.title}. ${source.text}`).slice(1); // the title is context, not an answer
    const seen = new Set(terms(source.text));
    for (const w of wanted) if (seen.has(w)) docFreq.set(w, (docFreq.get(w) ?? 0) + 1);
    return { source, sentences };
  });
  const weight = (w: string) => Math.log(1 + sources.length / (docFreq.get(w) ?? sources.length));
  const candidates: Candidate[] = [];
  for (const { source, sentences } of perSource) {
    sentences.forEach((text, index) => {
      const found = new Set(terms(text));
      let score = 0;
      for (const w of wanted) if (found.has(w)) score += weight(w) + 1;
      // Mild preference for the better-ranked source and for shorter, denser sentences.
      if (score > 0) candidates.push({ source, index, text, score: score / Math.sqrt(1 + text.length / 200) - source.n * 0.01 });
    });
  }
  candidates.sort((a, b) => b.score - a.score);
  let picked = candidates.slice(0, MAX_SENTENCES);
  if (picked.length > 1) picked = picked.filter((c) => c.score >= picked[0]!.score * 0.5);
  if (picked.length === 0) {
    const first = perSource[0]!;
    const text = first.sentences[0] ?? first.source.text.slice(0, MAX_SENTENCE_CHARS);
    picked = [{ source: first.source, index: 0, text, score: 0 }];
  }
  picked.sort((a, b) => a.source.n - b.source.n || a.index - b.index);
  return picked.map((c) => `${clip(c.text)} [${c.source.n}]`).join(' ');
}

export function createOfflineAnswerer(): ChatModel {
  return {
    id: 'offline:extractive',
    async *stream(request: ChatRequest): AsyncIterable<ChatChunk> {
      const answer = composeExtractiveAnswer(request.question, request.sources);
      const words = answer.split(/(?<= )/);
      for (const word of words) {
        if (request.signal?.aborted) throw new ChatModelError('aborted', 'the caller aborted the answer');
        yield { type: 'text', text: word };
      }
    },
  };
}
