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
import { hasSpacelessScript } from '../lib/text/text-fold';
import { ChatModelError, type ChatChunk, type ChatModel, type ChatRequest, type PromptSource } from './chat-model';
import {
  createUnitMatcher,
  fold,
  hasEvidence,
  isQuantityWord,
  questionUnits,
  segmentSource,
  sentenceForms,
  type QuestionUnits,
  type Segment,
  type SentenceForms,
} from './answer-sentences';

export const OFFLINE_CHAT_MODEL_ID = 'offline:extractive';

interface Candidate {
  source: PromptSource;
  sourceRank: number;
  /** Index among its source's segments: neighbours are ±1. */
  position: number;
  segment: Segment;
  forms: SentenceForms;
  /** Question units the sentence itself states. */
  matched: Set<string>;
  /** Question units its title, section headings and the paragraph before it state (what it is about). */
  context: Set<string>;
  /** Holds the kind of fact the question asks for (a quantity, a name, a cause). */
  evidence: boolean;
  score: number;
  /** The text as quoted (a window around the matches when the sentence is long). */
  quoted: string;
}

interface Scored {
  candidates: Candidate[];
  bySource: Candidate[][];
  units: QuestionUnits;
  idf: Map<string, number>;
  mass: number;
}

/** Text addressed to the assistant rather than about the subject: never quoted as an answer. */
const INSTRUCTION_LIKE =
  /\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instructions?|prompts?|rules|above|previous)\b|\b(?:system prompt|you are now|act as|pretend to be|new instructions)\b|\bignorier\w*\b.{0,40}\banweisung|\bignora\w*\b.{0,40}\binstruccion/i;
const WORD = /[\p{L}\p{N}]+/gu;

/**
 * Weights of the score, relative to full coverage of the question (1). The section's headings
 * count for less than the sentence's own words: they say what the passage is about, not that this
 * sentence says it. The other terms only break near-ties.
 */
const WEIGHT = { context: 0.3, evidence: 0.15, rank: 0.05, early: 0.01 } as const;
/** A further sentence must add at least this share of the question's weight that the answer lacks. */
const MIN_GAIN = 0.1;
/** Spaced-script sentences with fewer words rarely answer alone ("POST requests accept a key."): their paragraph continues them. */
const SHORT_SENTENCE_WORDS = 8;

export function createOfflineAnswerer(): ChatModel {
  return { id: OFFLINE_CHAT_MODEL_ID, stream: streamOfflineAnswer };
}

/** The answer the offline answerer gives, whole (what `stream` sends word by word). */
export function composeOfflineAnswer(question: string, sources: readonly PromptSource[]): string {
  const scored = scoreCandidates(question, sources.slice(0, OFFLINE_ANSWER.maxSources));
  return render(choose(scored));
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

/**
 * Every sentence of every source, scored by the share of the question's weight it covers: each
 * question term weighs by how rare it is among all the sentences on offer (IDF), so the term that
 * singles out the answer counts most. Added: a third of the weight that its title and headings,
 * or the sentences before it in its paragraph, cover (pronouns refer back to them), a bonus
 * when it holds the kind of fact asked for, and small priors for the retrieval rank of its source
 * and for coming early.
 */
function scoreCandidates(question: string, sources: readonly PromptSource[]): Scored {
  const units = questionUnits(question);
  const unitsOfWord = createUnitMatcher(units.words);
  const matchUnits = (forms: SentenceForms) => {
    const matched = new Set<string>();
    for (const w of new Set(forms.words)) for (const u of unitsOfWord(w)) matched.add(`w:${u}`);
    for (const g of units.bigrams) if (forms.folded.includes(g)) matched.add(`b:${g}`);
    return matched;
  };

  const candidates: Candidate[] = [];
  const bySource: Candidate[][] = sources.map((source, sourceRank) => {
    const contexts = new Map<string, Set<string>>();
    const list: Candidate[] = [];
    // What the paragraph said before a sentence: "She rose to fame…" is still about the Beyoncé named earlier.
    let said = { block: -1, units: new Set<string>() };
    const text = cleanSourceText(source.text.slice(0, OFFLINE_ANSWER.maxSourceChars));
    for (const segment of segmentSource(text, source.headings)) {
      if (segment.kind === 'prose' && INSTRUCTION_LIKE.test(segment.text)) continue;
      const forms = sentenceForms(segment.text);
      const about = `${source.title}\n${segment.heading}`;
      let context = contexts.get(about);
      if (!context) contexts.set(about, (context = matchUnits(sentenceForms(about))));
      const evidence = segment.kind === 'prose' && hasEvidence(units.type, forms, units, segment.text);
      const matched = matchUnits(forms);
      if (said.block !== segment.block) said = { block: segment.block, units: new Set() };
      const around = said.units.size > 0 ? new Set([...context, ...said.units]) : context;
      for (const u of matched) said.units.add(u);
      list.push({ source, sourceRank, position: list.length, segment, forms, matched, context: around, evidence, score: 0, quoted: segment.text });
    }
    candidates.push(...list);
    return list;
  });

  const all = [...units.words.map((w) => `w:${w}`), ...units.bigrams.map((g) => `b:${g}`)];
  const df = new Map(all.map((u) => [u, 0]));
  for (const c of candidates) for (const u of c.matched) df.set(u, (df.get(u) ?? 0) + 1);
  const idf = new Map(all.map((u) => [u, Math.log(1 + candidates.length / (1 + df.get(u)!))]));
  const mass = all.reduce((sum, u) => sum + idf.get(u)!, 0);
  const share = (set: Iterable<string>) => (mass > 0 ? [...set].reduce((sum, u) => sum + idf.get(u)!, 0) / mass : 0);

  // What a window of a long sentence is valued by: the question's terms, and the kind of fact it asks for.
  const keysOf = (word: string) => [...unitsOfWord(word).map((u) => `w:${u}`), ...(units.type === 'quantity' && isQuantityWord(word, units) ? ['quantity'] : [])];
  const weightOf = (key: string) => (key === 'quantity' ? WEIGHT.evidence * mass : (idf.get(key) ?? 0));
  for (const c of candidates) {
    const own = share(c.matched);
    const about = share([...c.context].filter((u) => !c.matched.has(u)));
    if (c.segment.kind === 'prose') c.quoted = excerpt(c.segment.text, keysOf, weightOf);
    if (own + about === 0) continue;
    c.score =
      own + WEIGHT.context * about + (c.evidence && own > 0 ? WEIGHT.evidence : 0) + WEIGHT.rank / (1 + c.sourceRank) + WEIGHT.early / (1 + c.position);
  }
  return { candidates, bySource, units, idf, mass };
}

/**
 * The best sentence, completed from its own paragraph when it cannot stand alone: a lead-in that
 * ends with a colon or a heading-like fragment takes the sentence after it, a very short sentence
 * its continuation, and an answer lacking the kind of fact asked for ("when", "how many") the
 * neighbour that has it. A code block is never quoted: the prose that explains it stands in.
 * Then further sentences only while each adds a real share of the question the answer lacks.
 */
function choose({ candidates, bySource, units, idf, mass }: Scored): Candidate[] {
  const prose = candidates.filter((c) => c.segment.kind === 'prose');
  if (prose.length === 0) return [];
  const ranked = [...candidates].sort((a, b) => b.score - a.score || a.sourceRank - b.sourceRank || a.position - b.position);
  const top = ranked[0]!;
  // No overlap at all: the top source's first sentence (retrieval chose it).
  if (top.score === 0) return [bySource.flat().find((c) => c.segment.kind === 'prose')!];

  const covered = new Set(top.matched);
  const found = top.segment.kind === 'code' ? (neighbour(bySource, top, 1, 'section') ?? neighbour(bySource, top, -1, 'section') ?? ranked.find((c) => c.segment.kind === 'prose')!) : top;
  const best = answerOfPair(bySource, found) ?? found;
  for (const u of best.matched) covered.add(u);

  const group = [best];
  let length = renderedLength(best);
  const add = (c: Candidate | undefined): boolean => {
    if (!c || group.includes(c) || length + renderedLength(c) + 1 > OFFLINE_ANSWER.targetChars) return false;
    group.push(c);
    length += renderedLength(c) + 1;
    for (const u of c.matched) covered.add(u);
    return true;
  };
  if (isLeadIn(best)) add(neighbour(bySource, best, 1, 'section'));
  else if (isShort(best)) add(neighbour(bySource, best, 1, 'block'));
  if (units.type && !group.some((c) => c.evidence)) {
    const around = [neighbour(bySource, best, -1, 'block'), neighbour(bySource, best, 1, 'block')].filter((c): c is Candidate => !!c?.evidence);
    // A cause with no telltale word ("This is almost always clock skew") most often follows the fact it explains.
    if (!add(around.sort((a, b) => b.score - a.score || b.position - a.position)[0]) && units.type === 'reason') add(neighbour(bySource, best, 1, 'block'));
  }
  group.sort((a, b) => a.position - b.position);

  const chosen = [...group];
  const share = (set: Iterable<string>) => (mass > 0 ? [...set].reduce((sum, u) => sum + idf.get(u)!, 0) / mass : 0);
  for (const c of ranked) {
    if (chosen.length >= OFFLINE_ANSWER.maxSentences || c.score < best.score * 0.5) break;
    if (c.segment.kind === 'code' || chosen.includes(c) || chosen.some((k) => similar(k.forms, c.forms))) continue;
    const gain = share([...c.matched].filter((u) => !covered.has(u)));
    // A bare topic ("送料", "refund policy") is answered by what is said about it, more than once if need be.
    const moreOnTopic = units.topicOnly && c.matched.size > 0 && c.score >= best.score * 0.8;
    if (gain < MIN_GAIN && !moreOnTopic) continue;
    const extra = renderedLength(c) + 1;
    if (length + extra > OFFLINE_ANSWER.targetChars) continue;
    chosen.push(c);
    length += extra;
    for (const u of c.matched) covered.add(u);
  }
  return chosen;
}

/**
 * A Q&A pair is indexed as "Q: question\nA: answer" (knowledge/document-text.ts). When its
 * question line is what matched, the answer line is what to say (without its "A:" label): quoting
 * the question back answers nothing. Corrected answers (analytics) are such pairs.
 */
function answerOfPair(bySource: Candidate[][], c: Candidate): Candidate | undefined {
  if (!/^Q:\s/.test(c.segment.text)) return undefined;
  const answer = bySource[c.sourceRank]!.slice(c.position + 1).find((n) => n.segment.kind === 'prose' && /^A:\s/.test(n.segment.text));
  if (answer) answer.quoted = answer.quoted.replace(/^A:\s*/, '');
  return answer;
}

/** The next (1) or previous (-1) prose sentence of the same source, within the same paragraph or section. */
function neighbour(bySource: Candidate[][], c: Candidate, step: 1 | -1, within: 'block' | 'section'): Candidate | undefined {
  const list = bySource[c.sourceRank]!;
  for (let i = c.position + step; i >= 0 && i < list.length; i += step) {
    const n = list[i]!;
    if (n.segment.section !== c.segment.section || (within === 'block' && n.segment.block !== c.segment.block)) return undefined;
    if (n.segment.kind === 'prose') return n;
  }
  return undefined;
}

/** Ends with a colon ("for example:"), or a few words without a sentence end: it announces what follows. */
function isLeadIn(c: Candidate): boolean {
  const text = c.segment.text.trim();
  return /[:：]$/.test(text) || (c.forms.words.length < 4 && !/[.!?。！？…]["'”’)\]]*$/.test(text) && !hasSpacelessScript(text));
}

const isShort = (c: Candidate) => !hasSpacelessScript(c.segment.text) && c.forms.words.length < SHORT_SENTENCE_WORDS;

function similar(a: SentenceForms, b: SentenceForms): boolean {
  if (a.folded === b.folded) return true;
  const wa = new Set(a.words);
  const wb = new Set(b.words);
  if (wa.size === 0 || wb.size === 0) return false;
  let shared = 0;
  for (const w of wa) if (wb.has(w)) shared++;
  return shared / (wa.size + wb.size - shared) > 0.8;
}

const marker = (c: Candidate) => `[${c.source.n}]`;
const renderedLength = (c: Candidate) => c.quoted.length + marker(c).length + 1;

/**
 * A sentence as quoted. Past the per-sentence cap, a window of it centred on the question terms it
 * holds (and, for "how many / when" questions, the quantity): a long sentence's answer is not
 * always at its start. Cut at words and marked with "…". Text without spaces is cut at the cap.
 */
function excerpt(sentence: string, keysOf: (word: string) => readonly string[], weightOf: (key: string) => number): string {
  const cap = OFFLINE_ANSWER.maxSentenceChars;
  if (sentence.length <= cap) return sentence;
  const tokens = [...sentence.matchAll(WORD)].map((m) => ({ start: m.index, end: m.index + m[0].length, keys: (fold(m[0]).match(WORD) ?? []).flatMap(keysOf) }));
  if (hasSpacelessScript(sentence) || tokens.length === 0) return `${sentence.slice(0, cap - 1)}…`;
  const room = cap - 2;
  // Sliding window over words, at most `room` characters wide, valued by the distinct keys in it; the first best wins.
  const counts = new Map<string, number>();
  let value = 0;
  let best = { value: -1, left: 0, right: 0 };
  let left = 0;
  for (let right = 0; right < tokens.length; right++) {
    for (const k of tokens[right]!.keys) {
      counts.set(k, (counts.get(k) ?? 0) + 1);
      if (counts.get(k) === 1) value += weightOf(k);
    }
    while (left < right && tokens[right]!.end - tokens[left]!.start > room) {
      for (const k of tokens[left]!.keys) {
        counts.set(k, counts.get(k)! - 1);
        if (counts.get(k) === 0) value -= weightOf(k);
      }
      left++;
    }
    if (value > best.value + 1e-9) best = { value, left, right };
  }
  const keyed = tokens.slice(best.left, best.right + 1).filter((t) => t.keys.length > 0);
  const middle = keyed.length ? (keyed[0]!.start + keyed.at(-1)!.end) / 2 : room / 2;
  const startAt = (from: number) => (from <= 0 ? 0 : (tokens.find((t) => t.start >= from)?.start ?? 0));
  let start = startAt(middle - room / 2);
  let end = start + room;
  if (end >= sentence.length) {
    end = sentence.length;
    start = startAt(end - room);
  } else {
    const last = tokens.findLast((t) => t.end <= end && t.start >= start);
    if (last) end = last.end;
  }
  const body = sentence.slice(start, end).trim();
  return `${start > 0 ? '…' : ''}${body}${end < sentence.length ? '…' : ''}`;
}

function render(chosen: Candidate[]): string {
  return chosen
    .map((c) => {
      const text = c.quoted;
      // Japanese and Chinese put no space before the marker or between sentences.
      return hasSpacelessScript(text.slice(-1)) || /[。！？]$/.test(text) ? `${text}${marker(c)}` : `${text} ${marker(c)}`;
    })
    .reduce((answer, piece) => (answer === '' ? piece : /[。！？\]]$/.test(answer) && hasSpacelessScript(piece[0]!) ? answer + piece : `${answer} ${piece}`), '');
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
    if (!hasSpacelessScript(word) || word.length <= 4) {
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

