import fc from 'fast-check';
import { countTokens as libraryCountTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import { describe, expect, it } from 'vitest';
import { CL100K_PATTERN_SOURCE, pieceEnd } from '../../../src/features/knowledge/chunker/cl100k-pretokenizer';
import { countTokens, LONG_PIECE_CHARS, TokenIndex } from '../../../src/features/knowledge/chunker/tokens';

const plainText = { disallowedSpecial: new Set<string>() };
const library = (text: string) => libraryCountTokens(text, plainText);
const splitRegex = new RegExp(CL100K_PATTERN_SOURCE, 'gu');
/** countTokens' contract, computed independently: the library per regex piece, long pieces as UTF-8 bytes. */
/** Moves an offset that falls between a high and a low surrogate back to the pair's start. */
const codePointBoundary = (text: string, offset: number) =>
  offset > 0 && offset < text.length && /[\uDC00-\uDFFF]/.test(text[offset]!) && /[\uD800-\uDBFF]/.test(text[offset - 1]!) ? offset - 1 : offset;

const reference = (text: string) =>
  [...text.matchAll(splitRegex)].reduce(
    (sum, [piece]) => sum + (piece.length > LONG_PIECE_CHARS ? new TextEncoder().encode(piece).length : library(piece)),
    0,
  );

/** Fragments chosen to hit every branch of the cl100k pattern, ASCII and not. */
const fragments = [
  'a', 'Zebra', ' ', '  ', '   ', '\n', '\r\n', '\n\n', '\t', '\u000b', '.', ',', '...', '?!', "'", "'s", "'LL", "'Re", "'x",
  '1', '23', '4567', '(', ' (', '"', '#', '|', '-', '—', 'é', 'naïve', 'ß', 'Ωmega', '\u00a0', '\u3000', '日本語', '。', '😀',
  '👩‍💻', '\u0301', '٣', '²', '<|endoftext|>', '<|fim_prefix|>', '\u2028', '\ud800', 'https://x.io/a?b=1', '  \n  ',
];
const fragmentText = fc.array(fc.constantFrom(...fragments), { maxLength: 60 }).map((parts) => parts.join(''));
const anyText = fc.oneof(fragmentText, fc.string({ unit: 'binary', maxLength: 80 }), fc.string({ maxLength: 200 }));

describe('cl100k pre-tokenizer', () => {
  it('replicates the pattern shipped with gpt-tokenizer (re-check the scanner if this changes)', () => {
    expect(CL100K_PATTERN_SOURCE).toBe(
      String.raw`'(?:[sS]|[dD]|[mM]|[tT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s+$|\s*[\r\n]|\s+(?!\S)|\s`,
    );
  });

  it('cuts text into the same pieces as the regex', () => {
    const regex = new RegExp(CL100K_PATTERN_SOURCE, 'gu');
    fc.assert(
      fc.property(anyText, (text) => {
        const pieces: string[] = [];
        for (let p = 0; p < text.length; ) {
          const q = pieceEnd(text, p);
          pieces.push(text.slice(p, q));
          p = q;
        }
        expect(pieces).toEqual([...text.matchAll(regex)].map((match) => match[0]));
      }),
      { numRuns: 1500 },
    );
  });
});

describe('token counting', () => {
  it('counts like gpt-tokenizer, treating special tokens as plain text', () => {
    expect(countTokens('')).toBe(0);
    expect(countTokens('hello world')).toBe(2);
    expect(countTokens('<|endoftext|>')).toBe(library('<|endoftext|>'));
    fc.assert(
      fc.property(anyText, (text) => {
        expect(countTokens(text)).toBe(reference(text));
      }),
      { numRuns: 1500 },
    );
  });

  it('is exact for text without pieces over LONG_PIECE_CHARS, an upper bound otherwise', () => {
    const sentence = 'Refunds for annual plans are possible within 14 days; see billing.';
    expect(countTokens(sentence)).toBe(library(sentence));
    const run = 'abcdefghij'.repeat(30);
    expect(countTokens(run)).toBe(300);
    expect(countTokens(run)).toBeGreaterThanOrEqual(library(run));
    expect(countTokens(`x ${'é'.repeat(101)} y`)).toBe(library('x') + 203 + library(' y'));
    expect(countTokens('😀'.repeat(51))).toBe(204);
  });

  it('indexes a document once and counts any span exactly', () => {
    const longText = fc.array(fc.oneof(fragmentText, fc.lorem({ mode: 'sentences', maxCount: 4 })), { minLength: 1, maxLength: 12 }).map((parts) => parts.join(' '));
    fc.assert(
      fc.property(longText, fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 8 }), (text, cuts) => {
        const index = new TokenIndex(text);
        expect(index.totalTokens).toBe(reference(text));
        expect(index.totalTokens).toBe(countTokens(text));
        for (const [a, b] of cuts) {
          // Chunks never start or end inside a surrogate pair, so neither do these spans.
          const start = codePointBoundary(text, Math.min(a % (text.length + 1), b % (text.length + 1)));
          const end = codePointBoundary(text, Math.max(a % (text.length + 1), b % (text.length + 1)));
          expect(index.count(start, end)).toBe(reference(text.slice(start, end)));
        }
      }),
      { numRuns: 800 },
    );
  });

  it('maps offsets to token positions and back', () => {
    const index = new TokenIndex('alpha beta gamma');
    expect(index.tokenPosition(0)).toBe(0);
    expect(index.tokenPosition(5)).toBe(1);
    expect(index.tokenPosition(16)).toBe(index.totalTokens);
    expect(index.offsetOfToken(1)).toBe(5);
  });
});
