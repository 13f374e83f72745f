/**
 * Just enough CommonMark structure for chunking: ATX and setext headings (outside code fences)
 * cut the document into sections with a heading path, and each section into blocks where a
 * fenced code block is one block even when it holds blank lines.
 */
import { trimSpan } from './text-spans';
import type { TextSpan } from './types';

export interface Section extends TextSpan {
  headingPath: string[];
}

export interface Block extends TextSpan {
  kind: 'prose' | 'code';
}

interface Line {
  start: number;
  /** Offset of the line's "\n" (or of the end). */
  end: number;
  /** The line without its line break (and without a CR before it). */
  content: string;
}

function* lines(text: string, start: number, end: number): Generator<Line> {
  let lineStart = start;
  while (lineStart < end) {
    let newline = text.indexOf('\n', lineStart);
    if (newline === -1 || newline > end) newline = end;
    const contentEnd = newline > lineStart && text.charCodeAt(newline - 1) === 13 ? newline - 1 : newline;
    yield { start: lineStart, end: newline, content: text.slice(lineStart, contentEnd) };
    lineStart = newline + 1;
  }
}

const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})/;
const ATX_HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const SETEXT_UNDERLINE = /^ {0,3}(=+|-+)[ \t]*$/;
const LIST_OR_QUOTE = /^ {0,3}(?:[-*+>]|\d{1,9}[.)])(?:[ \t]|$)/;
const BLANK = /^\s*$/;

interface Fence {
  marker: string;
}

function fenceOpening(line: string): Fence | null {
  const match = FENCE_OPEN.exec(line);
  if (!match) return null;
  const marker = match[1]!;
  // A backtick fence's info string cannot contain backticks (that is inline code).
  if (marker[0] === '`' && line.slice(match[0].length).includes('`')) return null;
  return { marker };
}

function closesFence(line: string, fence: Fence): boolean {
  const trimmed = line.replace(/^ {0,3}/, '').trimEnd();
  return trimmed.length >= fence.marker.length && trimmed === fence.marker[0]!.repeat(trimmed.length);
}

/** Heading text as a reader sees it: no emphasis markers, links reduced to their text. */
export function cleanHeadingText(raw: string): string {
  return raw
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[*_`]+/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** YAML front matter is not a setext heading; it is skipped as plain text. */
function frontMatterEnd(text: string): number {
  if (!text.startsWith('---\n') && !text.startsWith('---\r\n')) return 0;
  const close = /\r?\n---[ \t]*(?:\r?\n|$)/g;
  close.lastIndex = 3;
  const match = close.exec(text);
  return match ? match.index + match[0].length : 0;
}

interface Heading {
  level: number;
  title: string;
  /** Offset of the heading's first line. */
  start: number;
  /** Offset just after the heading (its underline for setext). */
  end: number;
}

function findHeadings(text: string): Heading[] {
  const headings: Heading[] = [];
  let fence: Fence | null = null;
  let previous: Line | null = null;
  let previousIsParagraphStart = false;
  let beforePrevious: 'blank' | 'other' = 'blank';
  for (const line of lines(text, frontMatterEnd(text), text.length)) {
    const content = line.content;
    if (fence) {
      if (closesFence(content, fence)) fence = null;
      previous = null;
      beforePrevious = 'other';
      continue;
    }
    const opening = fenceOpening(content);
    if (opening) {
      fence = opening;
      previous = null;
      beforePrevious = 'other';
      continue;
    }
    const atx = ATX_HEADING.exec(content);
    const setext = SETEXT_UNDERLINE.exec(content);
    if (atx) {
      headings.push({ level: atx[1]!.length, title: cleanHeadingText(atx[2] ?? ''), start: line.start, end: line.end });
      previous = null;
      beforePrevious = 'other';
      continue;
    }
    if (setext && previous && previousIsParagraphStart) {
      const level = setext[1]![0] === '=' ? 1 : 2;
      headings.push({ level, title: cleanHeadingText(previous.content), start: previous.start, end: line.end });
      previous = null;
      beforePrevious = 'other';
      continue;
    }
    const blank = BLANK.test(content);
    // A setext title is a one-line paragraph: the line before it is blank (or the start).
    previousIsParagraphStart = !blank && beforePrevious === 'blank' && !LIST_OR_QUOTE.test(content);
    beforePrevious = blank ? 'blank' : 'other';
    previous = blank ? null : line;
  }
  return headings;
}

/**
 * Sections in document order, covering all non-blank text. A heading whose section would hold
 * nothing but the heading (e.g. "# Install" directly followed by "## Linux") is folded into the
 * next section, so its line is still chunked, under the deeper path.
 */
export function markdownSections(text: string): Section[] {
  const sections: Section[] = [];
  const path: { level: number; title: string }[] = [];
  let start = 0;
  let bodyStart = 0;
  let headingPath: string[] = [];
  for (const heading of findHeadings(text)) {
    const bodyIsBlank = trimSpan(text, bodyStart, heading.start) === null;
    if (!(bodyIsBlank && start < bodyStart)) {
      if (trimSpan(text, start, heading.start)) sections.push({ start, end: heading.start, headingPath });
      start = heading.start;
    }
    while (path.length && path[path.length - 1]!.level >= heading.level) path.pop();
    path.push({ level: heading.level, title: heading.title });
    headingPath = path.map((entry) => entry.title).filter((title) => title.length > 0);
    bodyStart = heading.end;
  }
  if (trimSpan(text, start, text.length)) sections.push({ start, end: text.length, headingPath });
  return sections.map((section) => ({ ...section, ...trimSpan(text, section.start, section.end)! }));
}

/** Blocks of a section: blank-line separated prose, and whole fenced code blocks. */
export function markdownBlocks(text: string, start: number, end: number): Block[] {
  const blocks: Block[] = [];
  let blockStart = -1;
  let blockEnd = -1;
  let fence: Fence | null = null;
  const flush = (kind: Block['kind']) => {
    if (blockStart >= 0) {
      const span = trimSpan(text, blockStart, blockEnd);
      if (span) blocks.push({ ...span, kind });
    }
    blockStart = -1;
  };
  for (const line of lines(text, start, end)) {
    if (fence) {
      blockEnd = line.end;
      if (closesFence(line.content, fence)) {
        fence = null;
        flush('code');
      }
      continue;
    }
    const opening = fenceOpening(line.content);
    if (opening) {
      flush('prose');
      fence = opening;
      blockStart = line.start;
      blockEnd = line.end;
      continue;
    }
    if (BLANK.test(line.content)) {
      flush('prose');
      continue;
    }
    if (blockStart < 0) blockStart = line.start;
    blockEnd = line.end;
  }
  flush(fence ? 'code' : 'prose');
  return blocks;
}
