/**
 * From a stored original to indexable text, by MIME type. Q&A sets skip the chunker: each
 * pair becomes exactly one chunk so it is retrieved as a unit.
 */
import type { Chunk } from './chunker';
import { countTokens } from './chunker';
import { extractMainContent, type WebPage } from './web/main-content';

export const TEXT_MIME = 'text/plain';
export const QA_MIME = 'application/vnd.kyrochat.qa+json';

export type ExtractedText =
  | { ok: true; kind: string; text: string; title?: string; chunks?: Chunk[] }
  | { ok: false; reason: string };

function qaChunks(raw: string): ExtractedText {
  const { pairs } = JSON.parse(raw) as { pairs: { question: string; answer: string }[] };
  let text = '';
  const chunks: Chunk[] = [];
  pairs.forEach((pair, index) => {
    const body = `Q: ${pair.question.trim()}\nA: ${pair.answer.trim()}`;
    const start = text.length;
    text += body;
    chunks.push({ index, text: body, start, end: text.length, tokenCount: countTokens(body), headingPath: [] });
    text += '\n\n';
  });
  return { ok: true, kind: 'qa', text, chunks };
}

const decoder = new TextDecoder();

export const isHtml = (mime: string) => mime === 'text/html' || mime === 'application/xhtml+xml';

export function htmlToPage(bytes: Uint8Array, url: string): Promise<WebPage> {
  return extractMainContent(new Response(bytes, { headers: { 'content-type': 'text/html; charset=utf-8' } }), url);
}

export async function extractDocumentText(bytes: Uint8Array, mime: string, locator: string): Promise<ExtractedText> {
  if (isHtml(mime)) {
    // Uploaded HTML files have no URL of their own; links resolve against a placeholder.
    const base = /^https?:\/\//.test(locator) ? locator : `https://upload.invalid/${encodeURIComponent(locator)}`;
    const page = await htmlToPage(bytes, base);
    return { ok: true, kind: 'html', text: page.text, title: page.title || undefined };
  }
  switch (mime) {
    case QA_MIME:
      return qaChunks(decoder.decode(bytes));
    case TEXT_MIME:
    case 'text/markdown':
      return { ok: true, kind: 'text', text: decoder.decode(bytes) };
    default:
      return { ok: false, reason: `Documents of type ${mime} cannot be read.` };
  }
}
