/**
 * A document's extracted text, kept in R2 beside its original. Extraction (parsing a PDF,
 * inflating a .docx, finding a page's main content) is the costliest and most memory-hungry
 * step of indexing, so it runs once per content version: every later 192-chunk slice, and
 * every re-index after a chunking or embedding change, reads the stored text instead. The copy
 * is tied to the document's contentHash, so new content is always extracted afresh.
 */
import type { ServiceContext } from '../../context';
import type { Chunk } from './chunker';
import { extractDocumentText, type ExtractedText } from './document-text';

/** Beside the original, under the source's prefix, so purging a source removes it too. */
export const extractedTextKey = (originalKey: string) => `${originalKey}.text.json`;

const FORMAT_VERSION = 1;

interface StoredText {
  version: typeof FORMAT_VERSION;
  contentHash: string;
  kind: string;
  text: string;
  title?: string;
  /** Fixed chunks (Q&A pairs), which bypass the chunker. */
  chunks?: Chunk[];
}

type DocumentRef = { r2Key: string | null; contentHash: string | null; mime: string; locator: string };

async function readStored(ctx: ServiceContext, key: string, contentHash: string): Promise<ExtractedText | null> {
  const object = await ctx.env.FILES.get(key);
  if (!object) return null;
  try {
    const stored = JSON.parse(await object.text()) as StoredText;
    if (stored.version !== FORMAT_VERSION || stored.contentHash !== contentHash || typeof stored.text !== 'string') return null;
    return { ok: true, kind: stored.kind, text: stored.text, title: stored.title, chunks: stored.chunks };
  } catch {
    // A damaged copy is not an error: extract again and overwrite it.
    return null;
  }
}

/** The document's text: the stored copy for this content, else extracted from the original and stored. */
export async function documentText(ctx: ServiceContext, doc: DocumentRef): Promise<ExtractedText> {
  if (!doc.r2Key) return { ok: false, reason: 'The original file is missing from storage.' };
  const key = extractedTextKey(doc.r2Key);
  if (doc.contentHash) {
    const stored = await readStored(ctx, key, doc.contentHash);
    if (stored) return stored;
  }
  const original = await ctx.env.FILES.get(doc.r2Key);
  if (!original) return { ok: false, reason: 'The original file is missing from storage.' };
  // A crawled page's original keeps the Content-Type it was served with (its charset).
  const extracted = await extractDocumentText(new Uint8Array(await original.arrayBuffer()), doc.mime, doc.locator, original.httpMetadata?.contentType);
  if (extracted.ok && doc.contentHash) await storeExtractedText(ctx, doc.r2Key, doc.contentHash, extracted);
  return extracted;
}

/** Keeps text extracted for this content beside its original (the crawler, which extracted a page already, calls it too). */
export async function storeExtractedText(ctx: ServiceContext, originalKey: string, contentHash: string, extracted: Extract<ExtractedText, { ok: true }>) {
  const stored: StoredText = { version: FORMAT_VERSION, contentHash, kind: extracted.kind, text: extracted.text, title: extracted.title, chunks: extracted.chunks };
  await ctx.env.FILES.put(extractedTextKey(originalKey), JSON.stringify(stored), { httpMetadata: { contentType: 'application/json' } });
}
