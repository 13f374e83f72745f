/**
 * PDF text through unpdf (a serverless build of PDF.js). Pages are joined with blank lines and
 * their start offsets kept, so a chunk can be cited by page.
 */
import { getDocumentProxy } from 'unpdf';
import { normalizeExtractedText } from './text';
import type { Extraction, ExtractionLimits } from './types';

/** PDF.js reports failures by exception name. */
function failureOf(error: unknown): Extraction {
  const name = error instanceof Error ? error.name : '';
  if (name === 'PasswordException') return { ok: false, reason: 'encrypted', detail: 'The PDF is password-protected.' };
  const message = error instanceof Error ? error.message : String(error);
  return { ok: false, reason: 'corrupt', detail: `The PDF cannot be read: ${message}` };
}

/** PDF text items carry layout spaces; collapse them but keep line breaks. */
const tidyPage = (text: string) => normalizeExtractedText(text.replace(/[^\S\n]+/g, ' ').replace(/ ?\n ?/g, '\n'));

type PdfDocument = Awaited<ReturnType<typeof getDocumentProxy>>;

/** One page's text the way unpdf's extractText renders it: item strings, "\n" at line ends. */
async function pageText(pdf: PdfDocument, pageNumber: number): Promise<string> {
  const page = await pdf.getPage(pageNumber);
  try {
    const content = await page.getTextContent();
    let text = '';
    for (const item of content.items) if ('str' in item && item.str != null) text += item.str + (item.hasEOL ? '\n' : '');
    return text;
  } finally {
    page.cleanup();
  }
}

/**
 * Pages are read one at a time and the text cap is checked after each, so a hostile PDF costs
 * at most one page beyond the cap; the page count is checked before any page is parsed.
 */
export async function extractPdf(bytes: Uint8Array, limits: Pick<ExtractionLimits, 'maxTextChars' | 'maxPdfPages'>): Promise<Extraction> {
  let pdf: PdfDocument;
  try {
    // PDF.js may take ownership of (detach) the buffer it is given, so it gets a copy.
    pdf = await getDocumentProxy(bytes.slice());
  } catch (error) {
    return failureOf(error);
  }
  try {
    const totalPages = pdf.numPages;
    if (totalPages > limits.maxPdfPages) {
      return { ok: false, reason: 'too_large', detail: `The PDF has ${totalPages} pages; at most ${limits.maxPdfPages} are read. Split it into smaller files.` };
    }
    let text = '';
    const pageStarts: number[] = [];
    for (let pageNumber = 1; pageNumber <= totalPages; pageNumber++) {
      const tidy = tidyPage(await pageText(pdf, pageNumber));
      if (text && tidy) text += '\n\n';
      pageStarts.push(text.length);
      text += tidy;
      if (text.length > limits.maxTextChars) {
        return { ok: false, reason: 'too_large', detail: `The PDF's text is longer than ${limits.maxTextChars} characters. Split it into smaller files.` };
      }
    }
    if (!text) {
      return { ok: false, reason: 'no_text', detail: 'The PDF has no text layer (it may be scanned images); OCR is not supported.' };
    }
    const metadata = await pdf.getMetadata().catch(() => null);
    const info = (metadata?.info ?? {}) as { Title?: unknown };
    const title = typeof info.Title === 'string' && info.Title.trim() ? info.Title.trim() : undefined;
    return { ok: true, text, title, pages: totalPages, pageStarts };
  } catch (error) {
    return failureOf(error);
  } finally {
    await pdf.destroy().catch(() => undefined);
  }
}
