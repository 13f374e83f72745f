/**
 * The cl100k_base pre-tokenizer (the regex that cuts text into "pieces" before BPE), rewritten
 * as a char-code scanner for ASCII. BPE never merges across pieces, so a text's token count is
 * the sum of its pieces' counts; that is what lets TokenIndex count a whole document once and
 * answer span counts from prefix sums.
 *
 * Why not just run the library's regex: its unicode property classes and per-match allocations
 * make it the slowest part of counting. The scanner decides a piece by itself only when every
 * character it looked at (including the one that ended a run) is ASCII; otherwise it asks the
 * real regex at that position, so the result is always exactly the regex's.
 */
import { CL100K_TOKEN_SPLIT_REGEX } from 'gpt-tokenizer/encodingParams/constants';

/** The pattern this scanner replicates; a test fails if the library ever changes it. */
export const CL100K_PATTERN_SOURCE = CL100K_TOKEN_SPLIT_REGEX.source;

const stickySplitRegex = new RegExp(CL100K_TOKEN_SPLIT_REGEX.source, 'uy');

const NOT_ASCII = -1; // the ASCII rules cannot decide: ask the regex
const OTHER = 0; // ASCII that is not a letter, digit or whitespace: [^\s\p{L}\p{N}]
const LETTER = 1;
const DIGIT = 2;
const BLANK = 3; // whitespace other than CR and LF
const NEWLINE = 4; // CR or LF
const END = 5; // past the end of the span

/** Class of every UTF-16 code unit: one typed-array load instead of range tests per char. */
const codeClass = new Int8Array(65536).fill(NOT_ASCII);
for (let code = 0; code < 128; code++) {
  if ((code >= 65 && code <= 90) || (code >= 97 && code <= 122)) codeClass[code] = LETTER;
  else if (code >= 48 && code <= 57) codeClass[code] = DIGIT;
  else if (code === 10 || code === 13) codeClass[code] = NEWLINE;
  else if (code === 9 || code === 11 || code === 12 || code === 32) codeClass[code] = BLANK;
  else codeClass[code] = OTHER;
}

const APOSTROPHE = 39;
const SPACE = 32;

const classAt = (text: string, i: number, end: number): number =>
  i < end ? codeClass[text.charCodeAt(i)]! : END;

const lower = (code: number) => code | 0x20;

/** Length of the contraction suffix ('s 't 're 've 'm 'll 'd, either case) at i, or 0. */
function contractionLength(text: string, i: number, end: number): number {
  if (i + 1 >= end) return 0;
  const a = lower(text.charCodeAt(i + 1));
  if (a === 115 || a === 100 || a === 109 || a === 116) return 2; // s d m t
  if (i + 2 >= end) return 0;
  const b = lower(text.charCodeAt(i + 2));
  if ((a === 108 && b === 108) || (a === 118 && b === 101) || (a === 114 && b === 101)) return 3; // ll ve re
  return 0;
}

/** End of the run of `cls` chars from i, or NOT_ASCII when a non-ASCII char stops it. */
function runEnd(text: string, i: number, end: number, cls: number): number {
  let c = cls;
  while (i < end && (c = codeClass[text.charCodeAt(i)]!) === cls) i++;
  return i < end && c === NOT_ASCII ? NOT_ASCII : i;
}

function asciiPieceEnd(text: string, p: number, end: number): number {
  const first = codeClass[text.charCodeAt(p)]!;
  // [^\r\n\p{L}\p{N}]?\p{L}+ (the most common piece: a word with its leading space)
  if (first === LETTER) return runEnd(text, p + 1, end, LETTER);
  if (first === NOT_ASCII) return NOT_ASCII;
  const next = classAt(text, p + 1, end);
  if (first === OTHER || first === BLANK) {
    if (first === OTHER && text.charCodeAt(p) === APOSTROPHE) {
      const length = contractionLength(text, p, end);
      if (length) return p + length;
    }
    if (next === LETTER) return runEnd(text, p + 2, end, LETTER);
    if (next === NOT_ASCII) return NOT_ASCII;
  }
  // \p{N}{1,3}
  if (first === DIGIT) {
    if (next !== DIGIT) return next === NOT_ASCII ? NOT_ASCII : p + 1;
    const third = classAt(text, p + 2, end);
    if (third !== DIGIT) return third === NOT_ASCII ? NOT_ASCII : p + 2;
    return p + 3;
  }
  // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
  let punctStart = -1;
  if (first === OTHER) punctStart = p;
  else if (next === OTHER && text.charCodeAt(p) === SPACE) punctStart = p + 1;
  if (punctStart >= 0) {
    let i = runEnd(text, punctStart + 1, end, OTHER);
    if (i === NOT_ASCII) return NOT_ASCII;
    while (i < end && codeClass[text.charCodeAt(i)] === NEWLINE) i++;
    return i;
  }
  // Whitespace, in the pattern's order: \s+$ | \s*[\r\n] | \s+(?!\S) | \s
  let runStop = p;
  let lastNewline = -1;
  for (; runStop < end; runStop++) {
    const c = codeClass[text.charCodeAt(runStop)];
    if (c === NEWLINE) lastNewline = runStop;
    else if (c === NOT_ASCII) return NOT_ASCII;
    else if (c !== BLANK) break;
  }
  if (runStop === end) return end;
  if (lastNewline >= 0) return lastNewline + 1;
  if (runStop - p >= 2) return runStop - 1;
  return p + 1;
}

function regexPieceEnd(text: string, p: number, end: number): number {
  if (end === text.length) {
    stickySplitRegex.lastIndex = p;
    const match = stickySplitRegex.exec(text);
    return p + (match ? match[0].length : 1);
  }
  // The span ends before the text does: match on a window of the span, widening it whenever the
  // match reaches the window's edge (only then could the truncation have changed the match).
  for (let width = 64; ; width *= 4) {
    const limit = Math.min(end, p + width);
    const window = text.slice(p, limit);
    stickySplitRegex.lastIndex = 0;
    const match = stickySplitRegex.exec(window);
    const pieceEnd = p + (match ? match[0].length : 1);
    if (pieceEnd < limit || limit === end) return pieceEnd;
  }
}

/**
 * End offset of the cl100k piece that starts at `p` when the text is considered to end at
 * `end` (used to tokenize a span of a larger text without copying it).
 */
export function pieceEnd(text: string, p: number, end: number = text.length): number {
  const ascii = asciiPieceEnd(text, p, end);
  return ascii === NOT_ASCII ? regexPieceEnd(text, p, end) : ascii;
}
