export type KnowledgeFileType = 'pdf' | 'docx' | 'txt' | 'md' | 'csv' | 'json' | 'html';

/** The upload MIME allowlist (exact essence, parameters ignored) and what each one means. */
export const ACCEPTED_UPLOAD_TYPES = {
  'application/pdf': 'pdf',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'text/plain': 'txt',
  'text/markdown': 'md',
  'text/x-markdown': 'md',
  'text/csv': 'csv',
  'application/json': 'json',
  'text/html': 'html',
} as const satisfies Record<string, KnowledgeFileType>;

export type AcceptedUploadMime = keyof typeof ACCEPTED_UPLOAD_TYPES;

/** For the 415 problem's `accepted` list. */
export const ACCEPTED_UPLOAD_MIME_TYPES = Object.keys(ACCEPTED_UPLOAD_TYPES) as AcceptedUploadMime[];

/** Canonical MIME type stored for each detected type. */
export const MIME_OF_TYPE: Record<KnowledgeFileType, AcceptedUploadMime> = {
  pdf: 'application/pdf',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  txt: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
  json: 'application/json',
  html: 'text/html',
};

export type FileTypeRejection =
  /** Nothing uploaded. */
  | 'empty'
  /** The declared MIME type (or, without one, the file name) is not on the allowlist. */
  | 'unsupported_type'
  /** The bytes are not what the declared type says (a spoofed or mislabelled file). */
  | 'content_mismatch';

export type FileTypeDetection =
  | { ok: true; type: KnowledgeFileType; mime: AcceptedUploadMime }
  | { ok: false; reason: FileTypeRejection; detail: string };

export type ExtractionFailure =
  /** The file cannot be parsed (broken PDF or zip, invalid JSON). */
  | 'corrupt'
  /** A password-protected PDF. */
  | 'encrypted'
  /** The file parses but holds no text (a scanned PDF without a text layer, an empty sheet). */
  | 'no_text'
  /** Inflating the file would exceed a size limit. */
  | 'too_large';

export interface ExtractedDocument {
  ok: true;
  /** Normalized: "\n" line breaks, no NUL or other control characters, no BOM, trimmed. */
  text: string;
  title?: string;
  /** PDF: number of pages, and where each page starts in `text` (for citations). */
  pages?: number;
  pageStarts?: number[];
}

export type Extraction = ExtractedDocument | { ok: false; reason: ExtractionFailure; detail: string };

/** The caps an extraction runs under (limits.ts); tests may pass smaller ones. */
export interface ExtractionLimits {
  maxTextChars: number;
  maxPdfPages: number;
  maxDocxXmlBytes: number;
}
