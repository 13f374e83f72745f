/**
 * What an upload really is. The declared MIME type must be on the allowlist AND the bytes must
 * agree with it (magic bytes for binary formats, valid UTF-8 text for text formats), so a file
 * cannot get past the allowlist by lying about its type.
 *
 * Browsers send "application/octet-stream" (or nothing) for extensions they do not know, .md
 * typically; only then does the file name's extension choose the candidate type, which the
 * bytes must still confirm. A text/plain upload named *.md is treated as markdown.
 */
import { unzipSync } from 'fflate';
import { decodeUtf8Text } from './text';
import { ACCEPTED_UPLOAD_TYPES, MIME_OF_TYPE, type AcceptedUploadMime, type FileTypeDetection, type KnowledgeFileType } from './types';

const GENERIC_MIME_TYPES = new Set(['', 'application/octet-stream', 'binary/octet-stream', 'application/unknown']);

const TYPE_OF_EXTENSION: Record<string, KnowledgeFileType> = {
  pdf: 'pdf', docx: 'docx', txt: 'txt', text: 'txt', md: 'md', markdown: 'md', csv: 'csv', json: 'json', html: 'html', htm: 'html',
};

const extensionOf = (filename: string | undefined) => /\.([a-z0-9]+)$/i.exec(filename ?? '')?.[1]?.toLowerCase();

/** "Text/HTML; charset=utf-8" → "text/html" */
const mimeEssence = (mime: string | null | undefined) => (mime ?? '').split(';')[0]!.trim().toLowerCase();

const startsWithBytes = (bytes: Uint8Array, prefix: string) =>
  bytes.length >= prefix.length && [...prefix].every((char, i) => bytes[i] === char.charCodeAt(0));

/** Zip entry names, read without inflating anything; null when the archive cannot be read. */
export function zipEntryNames(bytes: Uint8Array): string[] | null {
  const names: string[] = [];
  try {
    unzipSync(bytes, {
      filter(file) {
        names.push(file.name);
        return false;
      },
    });
  } catch {
    return null;
  }
  return names;
}

const HTML_START = /^(?:\s|<!--[\s\S]*?-->)*<(?:!doctype\s+html|html|head|body|meta|title|link|main|article|section|div|p|h[1-6]|table|ul|ol)\b/i;

/** Signatures of binary formats that can also be valid UTF-8; a text upload must not start with one. */
const BINARY_SIGNATURES = ['%PDF-', 'PK\u0003\u0004', 'GIF87a', 'GIF89a', '\u007fELF', '{\\rtf'];

/** The upload as text (BOM dropped), or null when it is not a text file. */
function textOf(bytes: Uint8Array): string | null {
  if (BINARY_SIGNATURES.some((signature) => startsWithBytes(bytes, signature))) return null;
  return decodeUtf8Text(bytes)?.replace(/^\ufeff/, '') ?? null;
}

function contentMatches(type: KnowledgeFileType, bytes: Uint8Array): boolean {
  switch (type) {
    case 'pdf':
      return startsWithBytes(bytes, '%PDF-');
    case 'docx':
      return startsWithBytes(bytes, 'PK\u0003\u0004') && (zipEntryNames(bytes)?.includes('word/document.xml') ?? false);
    case 'txt':
    case 'md':
    case 'csv':
      return textOf(bytes) !== null;
    case 'json':
      return /^\s*[[{]/.test(textOf(bytes) ?? '');
    case 'html':
      return HTML_START.test(textOf(bytes) ?? '');
  }
}

export function detectFileType(bytes: Uint8Array, declaredMime: string | null | undefined, filename?: string): FileTypeDetection {
  if (bytes.length === 0) return { ok: false, reason: 'empty', detail: 'The file is empty.' };
  const essence = mimeEssence(declaredMime);
  const extension = extensionOf(filename);
  let type: KnowledgeFileType | undefined;
  if (essence in ACCEPTED_UPLOAD_TYPES) type = ACCEPTED_UPLOAD_TYPES[essence as AcceptedUploadMime];
  else if (GENERIC_MIME_TYPES.has(essence) && extension) type = TYPE_OF_EXTENSION[extension];
  if (!type) {
    const what = GENERIC_MIME_TYPES.has(essence) ? `file type${extension ? ` .${extension}` : ''}` : `media type ${essence}`;
    return { ok: false, reason: 'unsupported_type', detail: `Unsupported ${what}.` };
  }
  if (type === 'txt' && (extension === 'md' || extension === 'markdown')) type = 'md';
  if (!contentMatches(type, bytes)) {
    return { ok: false, reason: 'content_mismatch', detail: `The file's content is not ${MIME_OF_TYPE[type]}.` };
  }
  return { ok: true, type, mime: MIME_OF_TYPE[type] };
}
