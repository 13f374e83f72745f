/**
 * From a stored original to indexable text, by MIME type. Q&A sets skip the chunker: each
 * pair becomes exactly one chunk so it is retrieved as a unit.
 */
import type { Chunk } from './chunker';
import { countTokens } from './chunker';
import { extractMainContent, type WebPage } from './web/main-content';
import { decodeWebText } from './web/charset';
import { ACCEPTED_UPLOAD_TYPES, extractDocument } from './extract';

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

/** A fetched page's main content; `contentType` is the response's full header (its charset counts). */
export function htmlToPage(bytes: Uint8Array, url: string, contentType?: string | null): Promise<WebPage> {
  const html = decodeWebText(bytes, contentType);
  return extractMainContent(new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } }), url);
}

/** `contentType`: the full Content-Type a fetched page was served with, for its charset. */
export async function extractDocumentText(bytes: Uint8Array, mime: string, locator: string, contentType?: string | null): Promise<ExtractedText> {
  if (mime === QA_MIME) return qaChunks(decoder.decode(bytes));
  const fetched = /^https?:\/\//.test(locator);
  // A fetched web page: main content only, with its own URL as the base.
  if (isHtml(mime) && fetched) {
    const page = await htmlToPage(bytes, locator, contentType);
    return { ok: true, kind: 'html', text: page.text, title: page.title || undefined };
  }
  // Fetched plain text in a declared legacy charset becomes UTF-8 for the text extractors.
  if (fetched && mime.startsWith('text/')) bytes = new TextEncoder().encode(decodeWebText(bytes, contentType));
  const type = ACCEPTED_UPLOAD_TYPES[mime as keyof typeof ACCEPTED_UPLOAD_TYPES];
  if (!type) return { ok: false, reason: `Documents of type ${mime} cannot be read.` };
  const extracted = await extractDocument(bytes, type);
  if (!extracted.ok) return { ok: false, reason: extracted.detail };
  return { ok: true, kind: type, text: extracted.text, title: extracted.title };
}
