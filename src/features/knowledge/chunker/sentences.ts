/**
 * Sentence boundaries, by rule rather than Intl.Segmenter: it runs on every paragraph of the
 * sentence-window strategy, and the rules below (abbreviations, initials, decimals, list items)
 * are what documentation text needs.
 */
import { isWhitespaceCode, trimSpan } from './text-spans';
import type { TextSpan } from './types';

/** Lower-cased words that end with a period without ending a sentence. */
const ABBREVIATIONS = new Set([
  'mr', 'mrs', 'ms', 'dr', 'prof', 'sr', 'jr', 'st', 'vs', 'etc', 'e.g', 'i.e', 'eg', 'ie', 'cf',
  'inc', 'ltd', 'co', 'corp', 'no', 'nos', 'fig', 'figs', 'approx', 'dept', 'est', 'vol', 'vols',
  'p', 'pp', 'ch', 'sec', 'ed', 'eds', 'al', 'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug',
  'sep', 'sept', 'oct', 'nov', 'dec', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun', 'min',
  'max', 'avg', 'ref', 'resp', 'u.s', 'a.m', 'p.m',
]);

const isTerminator = (code: number) => code === 46 || code === 33 || code === 63 || code === 0x2026; // . ! ? …
/** Full-width terminators end a sentence even with no space after (CJK text has none). */
const isWideTerminator = (code: number) => code === 0x3002 || code === 0xff01 || code === 0xff1f;
/** Closing quotes and brackets that belong to the sentence they follow. */
const isCloser = (code: number) =>
  code === 34 || code === 39 || code === 41 || code === 93 || code === 0x201d || code === 0x2019 || code === 0xbb;
const isLowercase = (code: number) => (code >= 97 && code <= 122) || (code > 127 && String.fromCharCode(code) !== String.fromCharCode(code).toUpperCase());
const isAsciiLetter = (code: number) => (code >= 65 && code <= 90) || (code >= 97 && code <= 122);

/** The word (letters and inner dots) that ends right before the period at `dot`. */
function wordBeforeDot(text: string, dot: number, floor: number): string {
  let i = dot;
  while (i > floor && (isAsciiLetter(text.charCodeAt(i - 1)) || text.charCodeAt(i - 1) === 46)) i--;
  return text.slice(i, dot).toLowerCase();
}

/** A line that starts a list item, heading, quote or table row starts a new sentence too. */
const BLOCK_START = /[ \t]*(?:[-*+>|#]|\d{1,3}[.)])\s/y;

function startsBlockLine(text: string, lineStart: number): boolean {
  BLOCK_START.lastIndex = lineStart;
  return BLOCK_START.test(text);
}

/** Trimmed sentence spans of text[start, end). */
export function sentenceSpans(text: string, start: number, end: number): TextSpan[] {
  const out: TextSpan[] = [];
  let sentenceStart = start;
  const cut = (at: number) => {
    const span = trimSpan(text, sentenceStart, at);
    if (span) out.push(span);
    sentenceStart = at;
  };
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code === 10) {
      if (i + 1 < end && startsBlockLine(text, i + 1)) cut(i + 1);
      continue;
    }
    if (isWideTerminator(code)) {
      let j = i + 1;
      while (j < end && (isWideTerminator(text.charCodeAt(j)) || isCloser(text.charCodeAt(j)))) j++;
      cut(j);
      i = j - 1;
      continue;
    }
    if (!isTerminator(code)) continue;
    let j = i + 1;
    while (j < end && (isTerminator(text.charCodeAt(j)) || isCloser(text.charCodeAt(j)))) j++;
    if (j < end && !isWhitespaceCode(text.charCodeAt(j))) {
      i = j - 1; // "3.14", "example.com", "e.g.," — not an end
      continue;
    }
    let next = j;
    while (next < end && isWhitespaceCode(text.charCodeAt(next))) next++;
    if (next < end && isLowercase(text.charCodeAt(next))) {
      i = j - 1;
      continue;
    }
    if (code === 46 && j === i + 1) {
      const word = wordBeforeDot(text, i, sentenceStart);
      if ((word.length === 1 && next < end) || ABBREVIATIONS.has(word)) {
        i = j - 1;
        continue;
      }
    }
    cut(j);
    i = j - 1;
  }
  cut(end);
  return out;
}
