/**
 * The safe markdown subset answers are shown in, as a pure parser: text in, a small tree of
 * safe nodes out (paragraphs, headings as bold lines, bold/italic, inline code, code blocks,
 * lists, links, citation markers [n], line breaks). Nothing here is HTML: `<img onerror=…>` is
 * text, and only http(s) and mailto links survive. dom.ts turns the tree into DOM nodes with
 * createElement and textContent alone.
 *
 * Time is linear in the input (answers are re-parsed on every animation frame while they
 * stream, and a source or a model can send anything): no regex can backtrack over the whole
 * text, closing delimiters are found with forward-only caches, emphasis is matched with a
 * bounded stack (CommonMark's delimiter-stack idea, simplified).
 */
import { WIDGET_CLIENT } from '../../src/limits';

export type Inline =
  | { t: 'text'; v: string }
  | { t: 'strong' | 'em'; c: Inline[] }
  | { t: 'code'; v: string }
  | { t: 'link'; href: string; c: Inline[] }
  | { t: 'cite'; n: number }
  | { t: 'br' };

export type Block =
  | { t: 'p' | 'h'; c: Inline[] }
  | { t: 'pre'; v: string; lang: string }
  | { t: 'ul'; items: Inline[][] }
  | { t: 'ol'; items: Inline[][]; start: number };

/** The href when `url` is an absolute http(s) or mailto URL, otherwise null (the label stays as text). */
export function safeHref(url: string): string | null {
  if (url.length === 0 || url.length > 2048 || /[\u0000-\u0020\u007f-\u009f]/.test(url)) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  return parsed.protocol === 'http:' || parsed.protocol === 'https:' || parsed.protocol === 'mailto:' ? parsed.href : null;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const HEADING = /^ {0,3}#{1,6}[ \t]+(.*)$/;
const BULLET = /^ {0,3}[-*+][ \t]+(.*)$/;
const ORDERED = /^ {0,3}(\d{1,9})[.)][ \t]+(.*)$/;
const RULE = /^ {0,3}([-*_])[ \t]*\1[ \t]*\1[-*_ \t]*$/;
const BLANK = /^[ \t]*$/;

export function parseMarkdown(source: string, maxChars: number = WIDGET_CLIENT.markdownMaxChars): Block[] {
  const head = source.length > maxChars ? source.slice(0, maxChars) : source;
  const lines = head.replace(/\r\n?/g, '\n').split('\n');
  const blocks: Block[] = [];
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length > 0) blocks.push({ t: 'p', c: parseInline(paragraph.join('\n')) });
    paragraph = [];
  };
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    const fence = FENCE.exec(line);
    if (fence && !(fence[1]![0] === '`' && fence[2]!.includes('`'))) {
      flush();
      const marker = fence[1]!;
      const lang = (/^\s*([\w+#.-]{1,20})/.exec(fence[2]!)?.[1] ?? '').toLowerCase();
      const body: string[] = [];
      i++;
      // An unclosed fence runs to the end of the answer (it is probably still streaming).
      while (i < lines.length && !isClosingFence(lines[i]!, marker)) body.push(lines[i++]!);
      i++;
      blocks.push({ t: 'pre', v: body.join('\n'), lang });
      continue;
    }
    if (BLANK.test(line)) {
      flush();
      i++;
      continue;
    }
    if (RULE.test(line)) {
      flush();
      i++;
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      flush();
      blocks.push({ t: 'h', c: parseInline(trimClosingHashes(heading[1]!)) });
      i++;
      continue;
    }
    const ordered = ORDERED.exec(line);
    if (BULLET.test(line) || ordered) {
      flush();
      const kind = ordered ? ORDERED : BULLET;
      const items: string[] = [];
      while (i < lines.length) {
        const current = lines[i]!;
        const item = kind.exec(current);
        if (item) {
          items.push(item[kind === ORDERED ? 2 : 1]!);
        } else if (BLANK.test(current)) {
          // A blank line ends the list unless the next line is another item of it (a loose list).
          if (i + 1 < lines.length && kind.test(lines[i + 1]!)) {
            i++;
            continue;
          }
          break;
        } else if (/^[ \t]/.test(current) || !(BULLET.test(current) || ORDERED.test(current) || FENCE.test(current) || HEADING.test(current))) {
          // Continuation (indented, or a lazy line): part of the item, on its own line.
          items[items.length - 1] += `\n${current.trim()}`;
        } else {
          break;
        }
        i++;
      }
      const parsed = items.map((item) => parseInline(item));
      blocks.push(ordered ? { t: 'ol', items: parsed, start: Number(ordered[1]) } : { t: 'ul', items: parsed });
      continue;
    }
    paragraph.push(line);
    i++;
  }
  flush();
  if (head.length < source.length) blocks.push({ t: 'p', c: [{ t: 'text', v: source.slice(head.length) }] });
  return blocks;
}

function isClosingFence(line: string, marker: string): boolean {
  const trimmed = line.trim();
  if (trimmed.length < marker.length || line.length - line.trimStart().length > 3) return false;
  for (let i = 0; i < trimmed.length; i++) if (trimmed[i] !== marker[0]) return false;
  return true;
}

/** "Title ##" → "Title", without a regex that could backtrack over a long run of spaces and #. */
function trimClosingHashes(text: string): string {
  let end = text.length;
  while (end > 0 && (text[end - 1] === '#' || text[end - 1] === ' ' || text[end - 1] === '\t')) end--;
  return text.slice(0, end);
}

type Token =
  | { k: 'node'; node: Inline }
  | { k: 'delim'; ch: '*' | '_'; len: 1 | 2; open: boolean; close: boolean };

const PUNCTUATION = /[!-/:-@[-`{-~]/;
const SPECIAL = /[\\\n`[*_h]/g;
const isSpace = (ch: string | undefined) => ch === undefined || /\s/.test(ch);
const isWordChar = (ch: string | undefined) => ch !== undefined && /[\p{L}\p{N}]/u.test(ch);

/** Inline markdown → nodes. `depth` guards the recursion into link labels (one level). */
export function parseInline(text: string, depth = 0): Inline[] {
  const tokens: Token[] = [];
  let buffer = '';
  const pushText = (v: string) => {
    buffer += v;
  };
  const pushNode = (node: Inline) => {
    if (buffer) tokens.push({ k: 'node', node: { t: 'text', v: buffer } });
    buffer = '';
    tokens.push({ k: 'node', node });
  };
  const pushDelim = (token: Extract<Token, { k: 'delim' }>) => {
    if (buffer) tokens.push({ k: 'node', node: { t: 'text', v: buffer } });
    buffer = '';
    tokens.push(token);
  };
  const closers = new ForwardFinder(text);
  const runs = backtickRuns(text);
  let runIndex = 0;
  const runSearch = new Map<number, number>();

  let i = 0;
  while (i < text.length) {
    SPECIAL.lastIndex = i;
    const found = SPECIAL.exec(text);
    const at = found ? found.index : text.length;
    if (at > i) pushText(text.slice(i, at));
    if (!found) break;
    i = at;
    const ch = text[i]!;
    if (ch === '\\') {
      const next = text[i + 1];
      if (next !== undefined && PUNCTUATION.test(next)) {
        pushText(next);
        i += 2;
      } else {
        pushText('\\');
        i++;
      }
    } else if (ch === '\n') {
      pushNode({ t: 'br' });
      i++;
    } else if (ch === '`') {
      while (runIndex < runs.length && runs[runIndex]!.pos < i) runIndex++;
      const run = runs[runIndex];
      if (!run || run.pos !== i) {
        // The rest of a run whose first backtick was escaped: literal.
        pushText('`');
        i++;
        continue;
      }
      const close = findRun(runs, runIndex + 1, run.len, runSearch);
      if (close === -1) {
        pushText('`'.repeat(run.len));
      } else {
        let code = text.slice(i + run.len, runs[close]!.pos).replace(/\n/g, ' ');
        if (code.length > 2 && code.startsWith(' ') && code.endsWith(' ')) code = code.slice(1, -1);
        pushNode({ t: 'code', v: code });
        runIndex = close;
      }
      i = (close === -1 ? i : runs[close]!.pos) + run.len;
    } else if (ch === '[') {
      const cite = /^\[(\d{1,3})\]/.exec(text.slice(i, i + 5));
      if (cite) {
        pushNode({ t: 'cite', n: Number(cite[1]) });
        i += cite[0].length;
        continue;
      }
      const end = closers.next(']', i + 1);
      const parenEnd = end !== -1 && text[end + 1] === '(' ? closers.next(')', end + 2) : -1;
      // Checked without slicing, so a run of unmatched brackets stays linear.
      const nestedOpen = closers.next('[', i + 1);
      if (depth > 0 || parenEnd === -1 || end === i + 1 || (nestedOpen !== -1 && nestedOpen < end) || parenEnd - end > 2100) {
        pushText('[');
        i++;
        continue;
      }
      const href = safeHref(text.slice(end + 2, parenEnd).trim());
      const children = parseInline(text.slice(i + 1, end), depth + 1);
      if (href) pushNode({ t: 'link', href, c: children });
      else for (const child of children) pushNode(child);
      i = parenEnd + 1;
    } else if (ch === 'h') {
      const end = depth === 0 && !isWordChar(text[i - 1]) ? bareUrlEnd(text, i) : -1;
      if (end === -1) {
        pushText('h');
        i++;
      } else {
        // Consumed whole either way, so a run of "http://http://…" is scanned once, not once per "h".
        const url = text.slice(i, end);
        const href = safeHref(url);
        if (href) pushNode({ t: 'link', href, c: [{ t: 'text', v: url }] });
        else pushText(url);
        i = end;
      }
    } else {
      // * or _: a delimiter run.
      const mark = ch as '*' | '_';
      let end = i;
      while (text[end] === mark) end++;
      let length = end - i;
      const before = text[i - 1];
      const after = text[end];
      const leftFlanking = !isSpace(after);
      const rightFlanking = !isSpace(before);
      // Intraword underscores (snake_case) never emphasize.
      const open = mark === '*' ? leftFlanking : leftFlanking && !isWordChar(before);
      const close = mark === '*' ? rightFlanking : rightFlanking && !isWordChar(after);
      if (length > 3) {
        pushText(mark.repeat(length - 3));
        length = 3;
      }
      const parts: (1 | 2)[] = length === 3 ? (close ? [1, 2] : [2, 1]) : [length as 1 | 2];
      for (const len of parts) pushDelim({ k: 'delim', ch: mark, len, open, close });
      i = end;
    }
  }
  if (buffer) tokens.push({ k: 'node', node: { t: 'text', v: buffer } });
  return buildInline(tokens);
}

/** Positions of the next `]` / `)` at or after a point, each found by one forward scan that is never repeated. */
class ForwardFinder {
  private cache = new Map<string, { from: number; at: number }>();
  constructor(private readonly text: string) {}
  next(ch: string, from: number): number {
    const hit = this.cache.get(ch);
    if (hit && hit.from <= from && (hit.at === -1 || hit.at >= from)) return hit.at;
    const at = this.text.indexOf(ch, from);
    this.cache.set(ch, { from, at });
    return at;
  }
}

interface Run {
  pos: number;
  len: number;
}

function backtickRuns(text: string): Run[] {
  const runs: Run[] = [];
  for (let i = text.indexOf('`'); i !== -1; ) {
    let end = i;
    while (text[end] === '`') end++;
    runs.push({ pos: i, len: end - i });
    i = text.indexOf('`', end);
  }
  return runs;
}

/** The index of the next run of exactly `len` backticks at or after `from`, remembering where each length's search got to. */
function findRun(runs: Run[], from: number, len: number, searched: Map<number, number>): number {
  const known = searched.get(len);
  // -2 encodes "none of this length from there on"; every later search starts further right.
  if (known !== undefined && known !== -2 && known >= from) return known;
  if (known === -2) return -1;
  for (let r = from; r < runs.length; r++) {
    if (runs[r]!.len === len) {
      searched.set(len, r);
      return r;
    }
  }
  searched.set(len, -2);
  return -1;
}

/** Where a bare http(s) URL starting at `at` ends (trailing punctuation left out), or -1 when none starts there. */
function bareUrlEnd(text: string, at: number): number {
  if (!text.startsWith('http://', at) && !text.startsWith('https://', at)) return -1;
  let end = at;
  while (end < text.length && !/[\s<>"'`[\]()]/.test(text[end]!)) end++;
  while (end > at && /[.,;:!?*_]/.test(text[end - 1]!)) end--;
  return end - at > 'https://'.length ? end : -1;
}

/**
 * Pairs delimiters (a closer takes the nearest open opener of the same kind; openers between them
 * turn back into text) and builds the nested nodes. Each opener is pushed and popped at most once.
 */
function buildInline(tokens: Token[]): Inline[] {
  const stack: number[] = [];
  const openCount = new Map<string, number>();
  const closes = new Map<number, number>();
  const closing = new Set<number>();
  const kindOf = (token: Token) => (token.k === 'delim' ? token.ch + token.len : '');
  tokens.forEach((token, index) => {
    if (token.k !== 'delim') return;
    const kind = kindOf(token);
    if (token.close && (openCount.get(kind) ?? 0) > 0) {
      while (stack.length > 0) {
        const top = stack.pop()!;
        const topKind = kindOf(tokens[top]!);
        openCount.set(topKind, openCount.get(topKind)! - 1);
        if (topKind === kind) {
          closes.set(top, index);
          closing.add(index);
          break;
        }
      }
      return;
    }
    if (token.open && stack.length < WIDGET_CLIENT.emphasisMaxDepth) {
      stack.push(index);
      openCount.set(kind, (openCount.get(kind) ?? 0) + 1);
    }
  });

  const root: Inline[] = [];
  const frames: { type: 'strong' | 'em'; children: Inline[] }[] = [];
  const append = (node: Inline) => {
    const into = frames.length > 0 ? frames[frames.length - 1]!.children : root;
    const last = into[into.length - 1];
    if (node.t === 'text' && last?.t === 'text') last.v += node.v;
    else into.push(node.t === 'text' ? { t: 'text', v: node.v } : node);
  };
  tokens.forEach((token, index) => {
    if (token.k === 'node') return append(token.node);
    if (closes.has(index)) {
      frames.push({ type: token.len === 2 ? 'strong' : 'em', children: [] });
    } else if (closing.has(index)) {
      const frame = frames.pop()!;
      append({ t: frame.type, c: frame.children });
    } else {
      append({ t: 'text', v: token.ch.repeat(token.len) });
    }
  });
  return root;
}
