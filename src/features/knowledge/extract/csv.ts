/**
 * CSV (RFC 4180: quoted fields, "" escapes, line breaks inside quotes, CRLF or LF rows). The
 * first row is the header; each data row is rendered as "header: value" lines and rows are
 * separated by blank lines, so a row is a paragraph the chunker keeps together and a question
 * about one row finds it with its column names. Comma is the default delimiter; a semicolon,
 * tab or pipe is used instead when the header line has more of it (spreadsheet exports in
 * many locales).
 */
import { decodeUtf8Text, normalizeExtractedText } from './text';
import type { Extraction } from './types';

const CANDIDATE_DELIMITERS = [',', ';', '\t', '|'];

/** The candidate occurring most often outside quotes in the first line. */
export function sniffDelimiter(text: string): string {
  const counts = new Map(CANDIDATE_DELIMITERS.map((delimiter) => [delimiter, 0]));
  let quoted = false;
  for (const char of text) {
    if (char === '"') quoted = !quoted;
    else if (!quoted && (char === '\n' || char === '\r')) break;
    else if (!quoted && counts.has(char)) counts.set(char, counts.get(char)! + 1);
  }
  let best = ',';
  for (const [delimiter, count] of counts) if (count > counts.get(best)!) best = delimiter;
  return best;
}

/**
 * Rows of fields. Lenient where RFC 4180 is strict, so a slightly broken export still reads:
 * a quote inside an unquoted field is kept as a character, text after a closing quote is
 * appended, and an unterminated quoted field runs to the end of the input.
 */
export function parseCsv(text: string, delimiter = ','): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let fieldStarted = false;
  const endField = () => {
    row.push(field);
    field = '';
    fieldStarted = false;
  };
  const endRow = () => {
    endField();
    if (row.length > 1 || row[0] !== '') rows.push(row);
    row = [];
  };
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quoted) {
      if (char !== '"') field += char;
      else if (text[i + 1] === '"') {
        field += '"';
        i++;
      } else quoted = false;
      continue;
    }
    if (char === '"' && !fieldStarted) {
      quoted = true;
      fieldStarted = true;
    } else if (char === delimiter) endField();
    else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[i + 1] === '\n') i++;
      endRow();
    } else {
      field += char;
      fieldStarted = true;
    }
  }
  if (field !== '' || fieldStarted || row.length > 0) endRow();
  return rows;
}

/** Header names, with blanks and repeats made unique so every value keeps a label. */
function columnNames(header: string[], width: number): string[] {
  const seen = new Map<string, number>();
  return Array.from({ length: width }, (_, i) => {
    const base = header[i]?.trim() || `column ${i + 1}`;
    const count = (seen.get(base) ?? 0) + 1;
    seen.set(base, count);
    return count === 1 ? base : `${base} (${count})`;
  });
}

export function renderCsv(text: string): string {
  const rows = parseCsv(text, sniffDelimiter(text));
  const [header, ...data] = rows;
  if (!header) return '';
  if (data.length === 0) return header.join(', ');
  const width = Math.max(header.length, ...data.map((row) => row.length));
  const names = columnNames(header, width);
  return data
    .map((row) =>
      row
        .map((value, i) => [names[i], value.replace(/\s*\r?\n\s*/g, ' ').trim()] as const)
        .filter(([, value]) => value !== '')
        .map(([name, value]) => `${name}: ${value}`)
        .join('\n'),
    )
    .filter(Boolean)
    .join('\n\n');
}

export function extractCsv(bytes: Uint8Array): Extraction {
  const decoded = decodeUtf8Text(bytes);
  if (decoded === null) return { ok: false, reason: 'corrupt', detail: 'The CSV file is not UTF-8 text.' };
  const text = normalizeExtractedText(renderCsv(decoded.replace(/^\ufeff/, '')));
  if (!text) return { ok: false, reason: 'no_text', detail: 'The CSV file has no values.' };
  return { ok: true, text };
}
