/**
 * messages_fts indexes a message's folded text where folding changed it (`search_text`), so
 * snippet() quotes "Strasse" for a message that says "Straße". This maps such a snippet back onto
 * the message as written, marks and all. Pure; bounded by the message's length.
 */
import { foldForSearch } from '../../lib/text/text-fold';

/**
 * Where each code point of `content` starts, in `content` and in its folding. Null when folding
 * code point by code point does not give `folded` (a decomposed sequence that recomposes, such
 * as kana + a combining voicing mark): then there is no exact map.
 */
function foldMap(content: string, folded: string): { original: number[]; folded: number[] } | null {
  const original: number[] = [];
  const foldedAt: number[] = [];
  let o = 0;
  let f = 0;
  for (const char of content) {
    original.push(o);
    foldedAt.push(f);
    const piece = foldForSearch(char);
    if (folded.slice(f, f + piece.length) !== piece) return null;
    o += char.length;
    f += piece.length;
  }
  if (f !== folded.length) return null;
  original.push(o);
  foldedAt.push(f);
  return { original, folded: foldedAt };
}

/** The original offset of folded offset `at`: a boundary inside one code point's folding snaps to its start or end. */
function toOriginal(map: { original: number[]; folded: number[] }, at: number, snap: 'start' | 'end'): number {
  let lo = 0;
  let hi = map.folded.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (map.folded[mid]! <= at) lo = mid;
    else hi = mid - 1;
  }
  if (map.folded[lo] === at || snap === 'start') return map.original[lo]!;
  return map.original[Math.min(lo + 1, map.original.length - 1)]!;
}

/**
 * `marked` is snippet() over `folded`, with `open`/`close` around matches and `ellipsis` where it
 * cut the text. Returns the same snippet over `content`, or `marked` unchanged when it cannot be
 * placed (then the folded quote is still a fair preview).
 */
export function snippetOverOriginal(marked: string, content: string, folded: string, marks: { open: string; close: string; ellipsis: string }): string {
  // The snippet's text and its marks as offsets into that text.
  let text = '';
  const cuts: { at: number; mark: string }[] = [];
  for (const char of marked) {
    if (char === marks.open || char === marks.close) cuts.push({ at: text.length, mark: char });
    else text += char;
  }
  const lead = text.startsWith(marks.ellipsis) && !folded.startsWith(text) ? marks.ellipsis : '';
  const body = text.slice(lead.length);
  const trail = body.endsWith(marks.ellipsis) && folded.indexOf(body) === -1 ? marks.ellipsis : '';
  const core = trail ? body.slice(0, -trail.length) : body;
  const position = folded.indexOf(core);
  const map = position === -1 ? null : foldMap(content, folded);
  if (!map) return marked;

  const start = toOriginal(map, position, 'start');
  const end = toOriginal(map, position + core.length, 'end');
  let out = lead;
  let from = start;
  for (const cut of cuts) {
    const inCore = Math.min(Math.max(cut.at - lead.length, 0), core.length);
    const at = Math.max(from, toOriginal(map, position + inCore, cut.mark === marks.open ? 'start' : 'end'));
    out += content.slice(from, at) + cut.mark;
    from = at;
  }
  return out + content.slice(from, end) + trail;
}
