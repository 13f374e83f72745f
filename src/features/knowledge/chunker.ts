/**
 * Splits extracted document text into chunks for embedding and keyword search.
 *
 * Strategies (chosen per bot):
 * - `recursive`: token-sized chunks cut at paragraphs, then sentences, lines, words; overlap.
 * - `markdown`: the same inside each heading section; chunks never cross a heading, carry the
 *   heading path, and keep fenced code blocks whole when they fit.
 * - `sentence-window`: one chunk per sentence, with a window of neighbouring sentences that the
 *   answerer reads instead of the bare sentence.
 *
 * Guarantees (property-tested): chunks are in document order; `text === source.slice(start,
 * end)`, trimmed; `tokenCount` never exceeds `chunkTokens` (runs with no boundary are cut by
 * characters, never inside a surrogate pair) and is the exact cl100k_base count of `text`, with
 * one documented exception: a pre-tokenizer piece over 100 chars (only pathological text has
 * one: a letter run with no space, digit or punctuation) counts as its UTF-8 byte length, an
 * upper bound, because the tokenizer is quadratic on such runs (tokens.ts LONG_PIECE_CHARS).
 * Every non-whitespace character of the source is in some chunk; the output is a pure
 * function of (text, options).
 *
 * What differs from the span: contextualText() (breadcrumb + text, what to embed and index) and
 * answerText() (breadcrumb + window, what the answerer reads) are built from the span; for
 * markdown and sentence-window, budgets reserve the breadcrumb so contextualText() also stays
 * within chunkTokens (unless the breadcrumb alone takes over half of it).
 *
 * Offsets are UTF-16 code units (JavaScript string indices).
 */
import { CHUNKING } from '../../limits';
import { headingBreadcrumb, markdownChunks, recursiveChunks, sentenceWindowChunks, type PlannedChunk, type StrategyInput } from './chunker/strategies';
import { TokenIndex } from './chunker/tokens';
import type { Chunk, ChunkOptions, ChunkStrategy } from './chunker/types';

export { CHUNK_STRATEGIES, type Chunk, type ChunkOptions, type ChunkStrategy, type TextSpan } from './chunker/types';
export { countTokens, TOKEN_ENCODING } from './chunker/tokens';

const strategies: Record<ChunkStrategy, (input: StrategyInput) => PlannedChunk[]> = {
  recursive: recursiveChunks,
  markdown: markdownChunks,
  'sentence-window': sentenceWindowChunks,
};

function checkInteger(name: string, value: number, min: number, max: number) {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}

/** Options with defaults applied; throws RangeError for values a bot config should never hold. */
export function resolveChunkOptions(options: ChunkOptions): Required<ChunkOptions> {
  const { strategy, chunkTokens } = options;
  if (!Object.hasOwn(strategies, strategy)) throw new RangeError(`unknown chunk strategy: ${String(strategy)}`);
  checkInteger('chunkTokens', chunkTokens, CHUNKING.minChunkTokens, CHUNKING.maxChunkTokens);
  const overlapTokens = options.overlapTokens ?? Math.min(CHUNKING.defaultOverlapTokens, Math.floor(chunkTokens / 8));
  checkInteger('overlapTokens', overlapTokens, 0, Math.floor(chunkTokens * CHUNKING.maxOverlapRatio));
  const windowSentences = options.windowSentences ?? CHUNKING.defaultWindowSentences;
  checkInteger('windowSentences', windowSentences, 0, CHUNKING.maxWindowSentences);
  return { strategy, chunkTokens, overlapTokens, windowSentences };
}

export function chunkText(text: string, options: ChunkOptions): Chunk[] {
  const { strategy, ...sizes } = resolveChunkOptions(options);
  const planned = strategies[strategy]({ index: new TokenIndex(text), ...sizes });
  return planned.map(({ start, end, tokenCount, headingPath, window }, index) => {
    const chunk: Chunk = { index, text: text.slice(start, end), start, end, tokenCount, headingPath };
    if (window) chunk.window = { ...window, text: text.slice(window.start, window.end) };
    return chunk;
  });
}

/** What to embed and put in the keyword index: the heading path, then the chunk's text. */
export function contextualText(chunk: Pick<Chunk, 'headingPath' | 'text'>): string {
  return headingBreadcrumb(chunk.headingPath) + chunk.text;
}

/** What the answerer reads for a retrieved chunk: the heading path, then its window or text. */
export function answerText(chunk: Pick<Chunk, 'headingPath' | 'text' | 'window'>): string {
  return headingBreadcrumb(chunk.headingPath) + (chunk.window?.text ?? chunk.text);
}
