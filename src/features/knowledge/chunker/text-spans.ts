/**
 * Cutting a range of the source into trimmed sub-ranges. Everything works on offsets into the
 * one source string so no chunk text is built until the end, and offsets stay exact.
 */
import type { TextSpan } from './types';

const UNICODE_SPACES = new Set([
  0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008,
  0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff,
]);

/** Same set as the regex class \s (minus U+0085, which \s excludes but trimming should not keep). */
export function isWhitespaceCode(code: number): boolean {
  if (code <= 32) return code === 32 || (code >= 9 && code <= 13);
  return code > 127 && UNICODE_SPACES.has(code);
}

/** The span without leading and trailing whitespace, or null when nothing is left. */
export function trimSpan(text: string, start: number, end: number): TextSpan | null {
  while (start < end && isWhitespaceCode(text.charCodeAt(start))) start++;
  while (end > start && isWhitespaceCode(text.charCodeAt(end - 1))) end--;
  return start < end ? { start, end } : null;
}

function pushTrimmed(out: TextSpan[], text: string, start: number, end: number) {
  const span = trimSpan(text, start, end);
  if (span) out.push(span);
}

/** The trimmed, non-empty ranges of [start, end) between matches of a global `separator`. */
export function spansBetween(text: string, start: number, end: number, separator: RegExp): TextSpan[] {
  const out: TextSpan[] = [];
  let from = start;
  separator.lastIndex = start;
  for (let match = separator.exec(text); match && match.index < end; match = separator.exec(text)) {
    pushTrimmed(out, text, from, match.index);
    from = match.index + match[0].length;
    if (match[0].length === 0) separator.lastIndex++;
  }
  if (from < end) pushTrimmed(out, text, from, end);
  return out;
}

const BLANK_LINE = /\n[^\S\n]*\n/g;
const LINE_BREAK = /\n/g;
const WHITESPACE_RUN = /\s+/g;

/** Paragraphs: text separated by at least one blank line. */
export const paragraphSpans = (text: string, start: number, end: number) =>
  spansBetween(text, start, end, BLANK_LINE);

export const lineSpans = (text: string, start: number, end: number) =>
  spansBetween(text, start, end, LINE_BREAK);

export const wordSpans = (text: string, start: number, end: number) =>
  spansBetween(text, start, end, WHITESPACE_RUN);
