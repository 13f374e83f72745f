/** Maps the [n] markers an answer actually uses to the retrieved hits they number. */
import type { Citation } from '../../db/schema';
import type { SearchHit } from '../knowledge/search';

const SNIPPET_CHARS = 240;

/** A locator is shown as a link only when it is a web URL (uploads and pasted text have none). */
function urlOf(locator: string): string | null {
  try {
    const url = new URL(locator);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

function snippetOf(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (line.length <= SNIPPET_CHARS) return line;
  const cut = line.slice(0, SNIPPET_CHARS);
  const space = cut.lastIndexOf(' ');
  return `${space > SNIPPET_CHARS / 2 ? cut.slice(0, space) : cut}…`;
}

export function toCitation(n: number, hit: SearchHit): Citation {
  return {
    n,
    sourceId: hit.source.id,
    documentId: hit.document.id,
    chunkId: hit.chunkId,
    title: hit.document.title || hit.source.title,
    url: urlOf(hit.document.locator),
    snippet: snippetOf(hit.text),
    score: hit.relevance,
  };
}

/** Citations in order of first use; markers that number no source (a model's invention) are ignored. */
export function citationsFor(answer: string, numbered: ReadonlyMap<number, SearchHit>): Citation[] {
  const seen = new Set<number>();
  const out: Citation[] = [];
  for (const match of answer.matchAll(/\[(\d{1,3})\]/g)) {
    const n = Number(match[1]);
    const hit = numbered.get(n);
    if (!hit || seen.has(n)) continue;
    seen.add(n);
    out.push(toCitation(n, hit));
  }
  return out;
}
