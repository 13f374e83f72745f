/** UTF-8 decoding and the text normalization every extractor applies to its output. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** The text, if the bytes are valid UTF-8 holding no NUL (NUL means a binary file). BOM dropped. */
export function decodeUtf8Text(bytes: Uint8Array): string | null {
  if (bytes.includes(0)) return null;
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * Line breaks to "\n", control characters other than tab and newline removed, trailing spaces
 * and runs of blank lines collapsed. Chunk offsets point into this text, so it is what gets
 * stored.
 */
export function normalizeExtractedText(text: string): string {
  return text
    .replace(/^\ufeff/, '')
    .replace(/\r\n?/g, '\n')
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '')
    .replace(/[ \t]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
