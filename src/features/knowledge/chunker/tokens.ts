/**
 * cl100k_base token counting for chunking, built so a document is tokenized once. Exact, with
 * one bound for pathological text (see LONG_PIECE_CHARS).
 *
 * cl100k_base is the encoding of OpenAI's text-embedding-3 / ada-002 models, which is what
 * chunk sizes protect. gpt-tokenizer is imported per encoding to keep the other rank tables out
 * of the Worker bundle.
 *
 * TokenIndex pre-tokenizes the whole text into pieces (see cl100k-pretokenizer.ts) and keeps
 * prefix sums of their token counts. The count of any span whose last char is not whitespace is
 * then exact in O(log n + edge): the standalone tokenization of the span agrees with the
 * document's pieces everywhere except the first and last few pieces, which are re-scanned.
 * (The pattern has no look-behind, so once a re-scanned piece ends on a document piece boundary
 * the two tokenizations coincide; only `\s+$` and `\s+(?!\S)` look at the end of the string, and
 * they cannot fire before a non-whitespace last char.)
 */
import { countTokens as libraryCountTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import { pieceEnd } from './cl100k-pretokenizer';
import { PieceTokenCache } from './piece-token-cache';
import { isWhitespaceCode } from './text-spans';

export const TOKEN_ENCODING = 'cl100k_base';

/** Special tokens such as <|endoftext|> are counted as the plain text they are in a document. */
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/** Pieces repeat a lot (a word with its leading space), so their counts are memoized. */
const pieceCache = new PieceTokenCache((piece) => libraryCountTokens(piece, PLAIN_TEXT));

/**
 * Longest piece given to BPE. gpt-tokenizer's merge loop is quadratic in a piece's length (a
 * 160,000-letter run took 80 s; 2,000 random letters take ~80 ms), and only pathological text
 * has longer pieces: letter runs with no space, digit or punctuation, long runs of one symbol or
 * of spaces. Those are counted as their UTF-8 byte length instead, a hard upper bound (every
 * token is at least one byte), so budgets still hold; see countTokens().
 */
export const LONG_PIECE_CHARS = 100;

function utf8Length(text: string, start: number, end: number): number {
  let bytes = 0;
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < end && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3; // BMP, or a lone surrogate (encoded as U+FFFD)
  }
  return bytes;
}

function pieceTokens(text: string, start: number, end: number): number {
  return end - start > LONG_PIECE_CHARS ? utf8Length(text, start, end) : pieceCache.count(text, start, end);
}

/** Tokens in text[start, end) when that span is tokenized on its own, by scanning it. */
function scanCount(text: string, start: number, end: number): number {
  let count = 0;
  for (let p = start; p < end; ) {
    const q = pieceEnd(text, p, end);
    count += pieceTokens(text, p, q);
    p = q;
  }
  return count;
}

/**
 * Token count of a string as gpt-tokenizer's cl100k_base counts plain text: exact whenever no
 * pre-tokenizer piece is longer than LONG_PIECE_CHARS (true of any natural-language text);
 * otherwise each such piece counts as its UTF-8 byte length, so the result is an upper bound.
 */
export function countTokens(text: string): number {
  return scanCount(text, 0, text.length);
}

export class TokenIndex {
  /** starts[i] = offset of piece i; starts[pieceCount] = text.length. */
  private readonly starts: Int32Array;
  /** before[i] = tokens in pieces 0..i-1. */
  private readonly before: Int32Array;
  readonly pieceCount: number;

  constructor(readonly text: string) {
    // English averages ~5 chars per piece; the arrays grow if a text has shorter ones.
    let capacity = Math.max(16, Math.ceil(text.length / 4));
    let starts = new Int32Array(capacity + 1);
    let before = new Int32Array(capacity + 1);
    let n = 0;
    let tokens = 0;
    for (let p = 0; p < text.length; ) {
      if (n === capacity) {
        capacity *= 2;
        const grownStarts = new Int32Array(capacity + 1);
        grownStarts.set(starts);
        const grownBefore = new Int32Array(capacity + 1);
        grownBefore.set(before);
        starts = grownStarts;
        before = grownBefore;
      }
      const q = pieceEnd(text, p, text.length);
      starts[n] = p;
      before[n] = tokens;
      tokens += pieceTokens(text, p, q);
      n++;
      p = q;
    }
    starts[n] = text.length;
    before[n] = tokens;
    this.starts = starts;
    this.before = before;
    this.pieceCount = n;
  }

  get totalTokens(): number {
    return this.before[this.pieceCount]!;
  }

  /** Index of the piece containing offset (pieceCount for text.length). */
  pieceAt(offset: number): number {
    let lo = 0;
    let hi = this.pieceCount;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  pieceStart(piece: number): number {
    return this.starts[piece]!;
  }

  /**
   * Position of offset in the document's token stream, interpolated inside a piece (which
   * matters for the long runs LONG_PIECE_CHARS is about). Differences of two positions estimate
   * a span's count to within its edge pieces.
   */
  tokenPosition(offset: number): number {
    const piece = this.pieceAt(offset);
    const pieceStart = this.starts[piece]!;
    const before = this.before[piece]!;
    if (pieceStart === offset || piece === this.pieceCount) return before;
    const fraction = (offset - pieceStart) / (this.starts[piece + 1]! - pieceStart);
    return before + Math.round((this.before[piece + 1]! - before) * fraction);
  }

  /** Offset of the start of the piece holding the token at `position`. */
  offsetOfToken(position: number): number {
    let lo = 0;
    let hi = this.pieceCount;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.before[mid]! <= position) lo = mid;
      else hi = mid - 1;
    }
    return this.starts[lo]!;
  }

  /** countTokens(text.slice(start, end)), without copying the span. */
  count(start: number, end: number): number {
    if (end <= start) return 0;
    const text = this.text;
    if (end - start <= 32 || isWhitespaceCode(text.charCodeAt(end - 1))) {
      return scanCount(text, start, end);
    }
    // Head: re-scan until a piece ends on one of the document's piece boundaries.
    let piece = this.pieceAt(start);
    let count = 0;
    let p = start;
    while (this.starts[piece] !== p) {
      const q = pieceEnd(text, p, end);
      count += pieceTokens(text, p, q);
      p = q;
      if (p >= end) return count;
      while (this.starts[piece]! < p) piece++;
    }
    // Middle from the prefix sums, tail (the piece cut by `end`) re-scanned.
    const last = this.pieceAt(end);
    count += this.before[last]! - this.before[piece]!;
    return count + scanCount(text, this.starts[last]!, end);
  }
}
