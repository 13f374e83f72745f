/**
 * From an upload's bytes to normalized text. detectFileType() decides the type (and rejects
 * what is not allowed); extractDocument() reads it. Expected failures are results, never throws.
 */
import { extractMainContent } from '../web/main-content';
import { extractCsv } from './csv';
import { extractDocx } from './docx';
import { extractJson } from './json';
import { extractPdf } from './pdf';
import { decodeUtf8Text, normalizeExtractedText } from './text';
import { EXTRACTION_DOCX_MAX_XML_BYTES, EXTRACTION_MAX_TEXT_CHARS, EXTRACTION_PDF_MAX_PAGES } from '../../../limits';
import type { Extraction, ExtractionLimits, KnowledgeFileType } from './types';

export { detectFileType } from './file-type';
export {
  ACCEPTED_UPLOAD_MIME_TYPES,
  ACCEPTED_UPLOAD_TYPES,
  MIME_OF_TYPE,
  type AcceptedUploadMime,
  type ExtractedDocument,
  type Extraction,
  type ExtractionFailure,
  type ExtractionLimits,
  type FileTypeDetection,
  type FileTypeRejection,
  type KnowledgeFileType,
} from './types';

const notText = (): Extraction => ({ ok: false, reason: 'corrupt', detail: 'The file is not UTF-8 text.' });
const noText = (): Extraction => ({ ok: false, reason: 'no_text', detail: 'The file has no text.' });

function extractPlainText(bytes: Uint8Array, markdown: boolean): Extraction {
  const decoded = decodeUtf8Text(bytes);
  if (decoded === null) return notText();
  const text = normalizeExtractedText(decoded);
  if (!text) return noText();
  // A markdown file's first level-1 heading is its title.
  const title = markdown ? /^ {0,3}# +(.+?)[ #]*$/m.exec(text)?.[1]?.trim() : undefined;
  return title ? { ok: true, text, title } : { ok: true, text };
}

async function extractHtml(bytes: Uint8Array): Promise<Extraction> {
  if (decodeUtf8Text(bytes) === null) return notText();
  const page = await extractMainContent(
    new Response(bytes, { headers: { 'content-type': 'text/html; charset=utf-8' } }),
    // An uploaded page has no address; links are not followed from files.
    'https://upload.invalid/',
  );
  const text = normalizeExtractedText(page.text);
  if (!text) return noText();
  return page.title ? { ok: true, text, title: page.title } : { ok: true, text };
}

export const EXTRACTION_LIMITS: ExtractionLimits = {
  maxTextChars: EXTRACTION_MAX_TEXT_CHARS,
  maxPdfPages: EXTRACTION_PDF_MAX_PAGES,
  maxDocxXmlBytes: EXTRACTION_DOCX_MAX_XML_BYTES,
};

function extractByType(bytes: Uint8Array, type: KnowledgeFileType, limits: ExtractionLimits): Extraction | Promise<Extraction> {
  switch (type) {
    case 'pdf':
      return extractPdf(bytes, limits);
    case 'docx':
      return extractDocx(bytes, limits.maxDocxXmlBytes);
    case 'txt':
      return extractPlainText(bytes, false);
    case 'md':
      return extractPlainText(bytes, true);
    case 'csv':
      return extractCsv(bytes);
    case 'json':
      return extractJson(bytes);
    case 'html':
      return extractHtml(bytes);
  }
}

/** Text over limits.maxTextChars is a failure with a clear reason, never a silent cut. */
export async function extractDocument(bytes: Uint8Array, type: KnowledgeFileType, limits: ExtractionLimits = EXTRACTION_LIMITS): Promise<Extraction> {
  const extracted = await extractByType(bytes, type, limits);
  if (extracted.ok && extracted.text.length > limits.maxTextChars) {
    return { ok: false, reason: 'too_large', detail: `The document's text is longer than ${limits.maxTextChars} characters. Split it into smaller files.` };
  }
  return extracted;
}
