/** Prints rows as an aligned plain-text table; numbers are right-aligned. */
export function printTable(columns, rows) {
  const cells = rows.map((row) => columns.map((col) => format(row[col.key], col)));
  const widths = columns.map((col, i) => Math.max(col.title.length, ...cells.map((r) => r[i].length)));
  const line = (values) => values.map((v, i) => (columns[i].align === 'left' ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  console.log(line(columns.map((c) => c.title)));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of cells) console.log(line(row));
}

function format(value, col) {
  if (value === undefined || value === null) return '-';
  if (typeof value === 'number') return value.toFixed(col.digits ?? 0);
  return String(value);
}
