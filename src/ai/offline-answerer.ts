/**
 * The offline extractive answerer: the chat model of a bot without a key. It composes a short
 * answer (a few sentences, ≤ OFFLINE_ANSWER.targetChars) from the sentences of the numbered
 * sources that best match the question, each followed by its `[n]` marker, and streams it word
 * by word. No network, no randomness: the same request gives the same answer.
 *
 * Scoring: a sentence's score is the share of the question's informative mass it covers, each
 * question term weighted by how rare it is among all the sentences offered (IDF-like), with a
 * small bonus for the retrieval rank of its source and for a source title that matches. Words
 * for spaced scripts, character bigrams for Chinese, Japanese and Thai.
 *
 * It only ever quotes: a source sentence that reads like an instruction to the assistant
 * ("ignore your instructions…") is never chosen, and `[n]`-like markers inside source text are
 * removed so that every marker in the answer is one the answerer put there.
 *
 * With no sources it answers nothing (usage only): deciding to abstain, and saying so in the
 * bot's words, is the pipeline's job.
 */
import { OFFLINE_ANSWER } from '../limits';
import { ChatModelError, type ChatChunk, type ChatModel, type ChatRequest, type PromptSource } from './chat-model';
import { questionUnits, sentenceForms, splitSentences, wordMatches, type SentenceForms } from './answer-sentences';

export const OFFLINE_CHAT_MODEL_ID = 'offline:extractive';

interface Candidate {
  source: PromptSource;
  sourceRank: number;
  position: number;
  text: string;
  forms: SentenceForms;
  matched: Set<string>;
  score: number;
}

/** Text addressed to the assistant rather than about the subject: never quoted as an answer. */
const INSTRUCTION_LIKE =
  /\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instructions?|prompts?|rules|above|previous)\b|\b(?:system prompt|you are now|act as|pretend to be|new instructions)\b|\bignorier\w*\b.{0,40}\banweisung|\bignora\w*\b.{0,40}\binstruccion/i;
const SPACELESS = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}]/u;

export function createOfflineAnswerer(): ChatModel {
  return { id: OFFLINE_CHAT_MODEL_ID, stream: streamOfflineAnswer };
}

/** The answer the offline answerer gives, whole (what `stream` sends word by word). */
export function composeOfflineAnswer(question: string, sources: readonly PromptSource[]): string {
  const candidates = scoreCandidates(question, sources.slice(0, OFFLINE_ANSWER.maxSources));
  const chosen = choose(candidates);
  return render(chosen);
}

async function* streamOfflineAnswer(request: ChatRequest): AsyncIterable<ChatChunk> {
  if (request.signal?.aborted) throw new ChatModelError('aborted', 'offline answer was aborted', { model: OFFLINE_CHAT_MODEL_ID });
  const answer = composeOfflineAnswer(request.question, request.sources);
  for (const word of streamPieces(answer)) {
    if (request.signal?.aborted) throw new ChatModelError('aborted', 'offline answer was aborted', { model: OFFLINE_CHAT_MODEL_ID });
    yield { type: 'text', text: word };
  }
  const countTokens = await tokenCounter();
  const promptTokens = request.messages.reduce((sum, m) => sum + countTokens(m.content), 0);
  const completionTokens = countTokens(answer);
  yield { type: 'usage', usage: { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens } };
}

function scoreCandidates(question: string, sources: readonly PromptSource[]): Candidate[] {
  const units = questionUnits(question);
  const candidates: Candidate[] = [];
  sources.forEach((source, sourceRank) => {
    const text = cleanSourceText(source.text.slice(0, OFFLINE_ANSWER.maxSourceChars));
    splitSentences(text).forEach((sentence, position) => {
      if (INSTRUCTION_LIKE.test(sentence)) return;
      const forms = sentenceForms(sentence);
      const matched = new Set<string>();
      for (const w of units.words) if (wordMatches(w, forms)) matched.add(`w:${w}`);
      for (const g of units.bigrams) if (forms.folded.includes(g)) matched.add(`b:${g}`);
      candidates.push({ source, sourceRank, position, text: sentence, forms, matched, score: 0 });
    });
  });
  if (candidates.length === 0) return [];

  // IDF over the sentences on offer: a term every sentence has says little about which one answers.
  const all = [...units.words.map((w) => `w:${w}`), ...units.bigrams.map((g) => `b:${g}`)];
  const df = new Map(all.map((u) => [u, 0]));
  for (const c of candidates) for (const u of c.matched) df.set(u, (df.get(u) ?? 0) + 1);
  const idf = new Map(all.map((u) => [u, Math.log(1 + candidates.length / (1 + df.get(u)!))]));
  const mass = all.reduce((sum, u) => sum + idf.get(u)!, 0);

  const titleHits = sources.map((s) => {
    const forms = sentenceForms(s.title);
    return units.words.filter((w) => wordMatches(w, forms)).length + units.bigrams.filter((g) => forms.folded.includes(g)).length;
  });
  for (const c of candidates) {
    const covered = [...c.matched].reduce((sum, u) => sum + idf.get(u)!, 0);
    const coverage = mass > 0 ? covered / mass : 0;
    // Bonuses break ties between equally covering sentences; they never outweigh a covered term.
    const rankBonus = 0.04 / (1 + c.sourceRank);
    const titleBonus = titleHits[c.sourceRank]! > 0 && c.matched.size > 0 ? 0.03 : 0;
    const earlyBonus = 0.01 / (1 + c.position);
    c.score = coverage > 0 ? coverage + rankBonus + titleBonus + earlyBonus : 0;
  }
  return candidates;
}

/**
 * The best sentence, then others that score at least half as well, cover something new and fit
 * the length budget. With no overlap at all, the top source's first sentence (retrieval chose it).
 */
function choose(candidates: Candidate[]): Candidate[] {
  if (candidates.length === 0) return [];
  const ranked = [...candidates].sort((a, b) => b.score - a.score || a.sourceRank - b.sourceRank || a.position - b.position);
  const best = ranked[0]!;
  if (best.score === 0) return [candidates[0]!];
  const chosen = [best];
  let length = renderedLength(best);
  const covered = new Set(best.matched);
  for (const c of ranked.slice(1)) {
    if (chosen.length >= OFFLINE_ANSWER.maxSentences || c.score < best.score * 0.5) break;
    const addsSomething = [...c.matched].some((u) => !covered.has(u));
    const duplicate = chosen.some((k) => similar(k.forms, c.forms));
    const extra = renderedLength(c) + 1;
    if (!addsSomething || duplicate || length + extra > OFFLINE_ANSWER.targetChars) continue;
    chosen.push(c);
    length += extra;
    for (const u of c.matched) covered.add(u);
  }
  // Reading order: sources by their best sentence, sentences in document order within a source.
  const firstSeen = new Map<number, number>();
  chosen.forEach((c, i) => firstSeen.has(c.sourceRank) || firstSeen.set(c.sourceRank, i));
  return chosen.sort((a, b) => firstSeen.get(a.sourceRank)! - firstSeen.get(b.sourceRank)! || a.position - b.position);
}

function similar(a: SentenceForms, b: SentenceForms): boolean {
  if (a.folded === b.folded) return true;
  if (a.stems.size === 0 || b.stems.size === 0) return false;
  let shared = 0;
  for (const s of a.stems) if (b.stems.has(s)) shared++;
  return shared / (a.stems.size + b.stems.size - shared) > 0.8;
}

const marker = (c: Candidate) => `[${c.source.n}]`;
const renderedLength = (c: Candidate) => quote(c.text).length + marker(c).length + 1;

/** A sentence as quoted: cut at a word (or, without spaces, a character) past the per-sentence cap. */
function quote(sentence: string): string {
  if (sentence.length <= OFFLINE_ANSWER.maxSentenceChars) return sentence;
  const head = sentence.slice(0, OFFLINE_ANSWER.maxSentenceChars - 1);
  const space = head.lastIndexOf(' ');
  return `${space > OFFLINE_ANSWER.maxSentenceChars / 2 ? head.slice(0, space) : head}…`;
}

function render(chosen: Candidate[]): string {
  return chosen
    .map((c) => {
      const text = quote(c.text);
      // Japanese and Chinese put no space before the marker or between sentences.
      return SPACELESS.test(text.slice(-1)) || /[。！？]$/.test(text) ? `${text}${marker(c)}` : `${text} ${marker(c)}`;
    })
    .reduce((answer, piece) => (answer === '' ? piece : /[。！？\]]$/.test(answer) && SPACELESS.test(piece[0]!) ? answer + piece : `${answer} ${piece}`), '');
}

/**
 * Source text as it may be quoted: citation-like markers (`[3]`, `[^3]`) and control characters
 * removed, whitespace collapsed, so the answer holds only markers the answerer put there.
 */
function cleanSourceText(text: string): string {
  return text
    .replace(/\[\^?\d{1,4}\]/g, '')
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/g, '')
    .replace(/[ \t]+/g, ' ');
}

/** Word by word (each with its trailing space); text without spaces in pieces of two characters. */
function* streamPieces(answer: string): Generator<string> {
  for (const word of answer.match(/\S+\s*/g) ?? []) {
    if (!SPACELESS.test(word) || word.length <= 4) {
      yield word;
      continue;
    }
    const chars = [...word];
    for (let i = 0; i < chars.length; i += 2) yield chars.slice(i, i + 2).join('');
  }
}

// Loaded on first use: the cl100k ranks are ~1 MB of source and cost CPU to initialise.
let counter: Promise<(text: string) => number> | undefined;
function tokenCounter(): Promise<(text: string) => number> {
  counter ??= import('gpt-tokenizer/encoding/cl100k_base').then((m) => (text: string) => m.countTokens(text));
  return counter;
}

