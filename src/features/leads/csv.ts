/**
 * CSV as RFC 4180 writes it (CRLF line ends; a field with a comma, quote, CR or LF quoted, quotes
 * doubled), with spreadsheet formula injection defused: a cell starting with = + - @ tab or CR
 * gets a leading apostrophe (OWASP "CSV Injection"), so `=HYPERLINK(…)` in a visitor's name is
 * shown as text, never evaluated. Phone numbers start with + and so are exported as '+4930…,
 * which spreadsheets also show as text instead of a number with the plus dropped.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(values: (string | number | null | undefined)[]): string {
  return values.map(csvCell).join(',') + '\r\n';
}
