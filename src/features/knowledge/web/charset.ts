/**
 * Text of a fetched page in the encoding it declares. Precedence, as browsers do it (WHATWG
 * HTML "determining the character encoding", simplified): a byte order mark, then the
 * Content-Type header's charset, then a <meta charset> or <meta http-equiv="Content-Type">
 * in the first 1024 bytes, then UTF-8. An unknown label falls back to UTF-8; TextDecoder knows
 * every label of the WHATWG Encoding Standard (windows-1252, iso-8859-x, shift_jis, euc-kr, gbk…).
 */

/** The HTML spec's pre-scan window for a <meta> charset declaration. */
const META_PRESCAN_BYTES = 1024;
const META_CHARSET = /<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([^\s"'>;/]+)/i;
const HEADER_CHARSET = /;\s*charset\s*=\s*"?([^\s";]+)/i;

function decoderFor(label: string | undefined): TextDecoder | null {
  if (!label) return null;
  try {
    const decoder = new TextDecoder(label.trim());
    // A page cannot meaningfully claim UTF-16 in an ASCII-compatible <meta> (HTML spec: use UTF-8).
    return decoder.encoding.startsWith('utf-16') ? new TextDecoder('utf-8') : decoder;
  } catch {
    return null;
  }
}

function bomEncoding(bytes: Uint8Array): string | undefined {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return 'utf-8';
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf-16be';
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le';
  return undefined;
}

/** The charset a page declares (header first, then <meta>), or undefined. */
export function declaredCharset(bytes: Uint8Array, contentType: string | null | undefined): string | undefined {
  const fromHeader = contentType ? HEADER_CHARSET.exec(contentType)?.[1] : undefined;
  if (fromHeader && decoderFor(fromHeader)) return fromHeader;
  // latin1 maps every byte to one character, so the ASCII of the <meta> reads the same in any
  // ASCII-compatible encoding.
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, META_PRESCAN_BYTES));
  const fromMeta = META_CHARSET.exec(head)?.[1];
  return fromMeta && decoderFor(fromMeta) ? fromMeta : undefined;
}

/** The page's bytes as text, in the encoding it declares (UTF-8 when it declares none we know). */
export function decodeWebText(bytes: Uint8Array, contentType?: string | null): string {
  const bom = bomEncoding(bytes);
  if (bom) return new TextDecoder(bom).decode(bytes);
  const decoder = decoderFor(declaredCharset(bytes, contentType)) ?? new TextDecoder('utf-8');
  return decoder.decode(bytes);
}
