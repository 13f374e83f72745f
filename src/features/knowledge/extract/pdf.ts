/**
 * PDF text through unpdf (a serverless build of PDF.js). Pages are joined with blank lines and
 * their start offsets kept, so a chunk can be cited by page.
 */
import { extractText, getDocumentProxy } from 'unpdf';
import { normalizeExtractedText } from './text';
import type { Extraction } from './types';

/** PDF.js reports failures by exception name. */
function failureOf(error: unknown): Extraction {
  const name = error instanceof Error ? error.name : '';
  if (name === 'PasswordException') return { ok: false, reason: 'encrypted', detail: 'The PDF is password-protected.' };
  const message = error instanceof Error ? error.message : String(error);
  return { ok: false, reason: 'corrupt', detail: `The PDF cannot be read: ${message}` };
}

/** PDF text items carry layout spaces; collapse them but keep line breaks. */
const tidyPage = (text: string) => normalizeExtractedText(text.replace(/[^\S\n]+/g, ' ').replace(/ ?\n ?/g, '\n'));

export async function extractPdf(bytes: Uint8Array): Promise<Extraction> {
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    // PDF.js may take ownership of (detach) the buffer it is given, so it gets a copy.
    pdf = await getDocumentProxy(bytes.slice());
  } catch (error) {
    return failureOf(error);
  }
  try {
    const { totalPages, text: pages } = await extractText(pdf, { mergePages: false });
    const metadata = await pdf.getMetadata().catch(() => null);
    const info = (metadata?.info ?? {}) as { Title?: unknown };
    let text = '';
    const pageStarts: number[] = [];
    for (const page of pages) {
      const tidy = tidyPage(page);
      if (text && tidy) text += '\n\n';
      pageStarts.push(text.length);
      text += tidy;
    }
    if (!text) {
      return { ok: false, reason: 'no_text', detail: 'The PDF has no text layer (it may be scanned images); OCR is not supported.' };
    }
    const title = typeof info.Title === 'string' && info.Title.trim() ? info.Title.trim() : undefined;
    return { ok: true, text, title, pages: totalPages, pageStarts };
  } catch (error) {
    return failureOf(error);
  } finally {
    await pdf.destroy().catch(() => undefined);
  }
}
