/**
 * The two halves of every strategy: cut text into atoms that each fit the token budget
 * (trying coarse boundaries first), then pack consecutive atoms greedily into chunks, with an
 * overlap that starts on a sentence (or at least a word) boundary.
 *
 * Counts while searching come from TokenIndex positions (O(log n)); every emitted chunk and
 * atom is checked with its real count (countTokens), so the budget is a hard limit.
 */
import { sentenceSpans } from './sentences';
import { isWhitespaceCode, trimSpan } from './text-spans';
import type { TokenIndex } from './tokens';
import type { TextSpan } from './types';

export type Splitter = (text: string, start: number, end: number) => TextSpan[];

export interface PackedSpan extends TextSpan {
  tokenCount: number;
}

/** Pieces of the tokenizer itself: the finest cut that keeps whole tokens. */
export function pieceSplitter(index: TokenIndex): Splitter {
  return (text, start, end) => {
    const out: TextSpan[] = [];
    for (let piece = index.pieceAt(start); piece < index.pieceCount; piece++) {
      const pieceStart = index.pieceStart(piece);
      if (pieceStart >= end) break;
      const span = trimSpan(text, Math.max(start, pieceStart), Math.min(end, index.pieceStart(piece + 1)));
      if (span) out.push(span);
    }
    return out;
  };
}

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;

/**
 * Last resort for a run with no usable boundary (a huge word, base64, a long token run): cut it
 * by characters, as long as possible under the budget. Never splits a surrogate pair. Counts are
 * not monotonic in length under BPE, so the search only promises a cut that fits.
 */
function cutByCharacters(index: TokenIndex, span: TextSpan, budget: number, out: TextSpan[]) {
  const text = index.text;
  let start = span.start;
  while (start < span.end) {
    // A rest of over 32 chars per budgeted token almost never fits; not counting it (at worst
    // cutting where no cut was needed) keeps cutting a huge run linear instead of quadratic.
    if (span.end - start <= budget * 32 && index.count(start, span.end) <= budget) {
      out.push({ start, end: span.end });
      return;
    }
    // Grow a probe exponentially to bracket the cut, so the search stays near the chunk size.
    let good = start + 1;
    let probe = Math.min(span.end, start + budget * 4);
    while (probe < span.end && index.count(start, probe) <= budget) {
      good = probe;
      probe = Math.min(span.end, start + (probe - start) * 2);
    }
    let lo = good;
    let hi = probe - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (index.count(start, mid) <= budget) lo = mid;
      else hi = mid - 1;
    }
    let end = lo;
    if (isHighSurrogate(text.charCodeAt(end - 1))) end += end - 1 > start ? -1 : 1;
    const piece = trimSpan(text, start, end);
    if (piece) out.push(piece);
    start = end;
    while (start < span.end && isWhitespaceCode(text.charCodeAt(start))) start++;
  }
}

/**
 * Appends to `out` atoms covering every non-whitespace char of `span`, each at most `budget`
 * tokens: the span itself if it fits, else its parts by the first splitter that divides it,
 * recursively, down to character cuts.
 */
export function splitToFit(
  index: TokenIndex,
  span: TextSpan,
  budget: number,
  splitters: readonly Splitter[],
  out: TextSpan[],
  level = 0,
): void {
  if (index.count(span.start, span.end) <= budget) {
    out.push(span);
    return;
  }
  const splitter = splitters[level];
  if (!splitter) {
    cutByCharacters(index, span, budget, out);
    return;
  }
  const parts = splitter(index.text, span.start, span.end);
  if (parts.length <= 1) {
    splitToFit(index, span, budget, splitters, out, level + 1);
    return;
  }
  for (const part of parts) splitToFit(index, part, budget, splitters, out, level + 1);
}

/** Where the next chunk starts so it repeats about `overlapTokens` of the previous one. */
function overlapStart(
  index: TokenIndex,
  previous: TextSpan,
  nextAtomStart: number,
  overlapTokens: number,
): number {
  if (overlapTokens <= 0) return nextAtomStart;
  const text = index.text;
  const target = index.tokenPosition(previous.end) - overlapTokens;
  let from = Math.max(index.offsetOfToken(Math.max(0, target + 1)), previous.start + 1);
  // Start on a word: skip the rest of the word we landed in, then the spaces after it.
  if (from > 0 && !isWhitespaceCode(text.charCodeAt(from - 1))) {
    while (from < previous.end && !isWhitespaceCode(text.charCodeAt(from))) from++;
  }
  while (from < previous.end && isWhitespaceCode(text.charCodeAt(from))) from++;
  if (from >= previous.end) return nextAtomStart;
  // Prefer whole sentences: the first one in the window is usually cut, so start at the second.
  const sentences = sentenceSpans(text, from, previous.end);
  return sentences.length > 1 ? sentences[1]!.start : from;
}

/** Greedy packing of in-order atoms (each within budget) into chunks of at most `budget` tokens. */
export function packAtoms(
  index: TokenIndex,
  atoms: readonly TextSpan[],
  budget: number,
  overlapTokens: number,
): PackedSpan[] {
  const chunks: PackedSpan[] = [];
  let i = 0;
  let start = atoms[0]?.start ?? 0;
  while (i < atoms.length) {
    const startPosition = index.tokenPosition(start);
    let j = i;
    while (j + 1 < atoms.length && index.tokenPosition(atoms[j + 1]!.end) - startPosition <= budget) j++;
    let tokenCount = index.count(start, atoms[j]!.end);
    while (tokenCount > budget) {
      if (j > i) j--;
      else if (start !== atoms[i]!.start) start = atoms[i]!.start; // the overlap does not fit: drop it
      else throw new Error(`chunker invariant broken: atom ${start}-${atoms[i]!.end} exceeds ${budget} tokens`);
      tokenCount = index.count(start, atoms[j]!.end);
    }
    const chunk = { start, end: atoms[j]!.end, tokenCount };
    chunks.push(chunk);
    i = j + 1;
    if (i < atoms.length) start = overlapStart(index, chunk, atoms[i]!.start, overlapTokens);
  }
  return chunks;
}
