/**
 * Calendar ranges in a time zone: `from` and `to` are local dates (inclusive), turned into the
 * UTC instants [start, end) of local midnights, and the zone's UTC offsets over that span so SQL
 * can put each UTC hour on its local day and hour of the week (DST included).
 */
export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterFor(tz: string) {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(tz, f);
  }
  return f;
}

/** The zone's offset from UTC at instant `utcMs`, in ms (Berlin in winter: +3,600,000). */
export function offsetAt(tz: string, utcMs: number): number {
  const parts: Record<string, number> = {};
  for (const p of formatterFor(tz).formatToParts(new Date(utcMs))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const local = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return local - Math.floor(utcMs / 1000) * 1000;
}

/** The UTC instant of local midnight starting `date` (YYYY-MM-DD) in `tz`. */
export function localMidnight(tz: string, date: string): number {
  const wall = Date.parse(`${date}T00:00:00Z`);
  let utc = wall - offsetAt(tz, wall);
  // Once more with the offset at the guess: right across a DST change near midnight.
  utc = wall - offsetAt(tz, utc);
  return utc;
}

/** YYYY-MM-DD of a real calendar date, or null. */
export function parseDate(value: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return null;
  const ms = Date.parse(`${value}T00:00:00Z`);
  return Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value ? null : value;
}

export const addDays = (date: string, days: number) => new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
export const daysBetween = (from: string, to: string) => Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
export const localDate = (tz: string, utcMs: number) => new Date(utcMs + offsetAt(tz, utcMs)).toISOString().slice(0, 10);

export interface LocalRange {
  from: string;
  to: string;
  tz: string;
  start: number;
  end: number;
  /** Local dates from..to, the series' x axis. */
  days: string[];
  /** Offset changes within [start, end): the offset that applies from `at` on. */
  offsets: { at: number; offset: number }[];
}

export function localRange(tz: string, from: string, to: string): LocalRange {
  const start = localMidnight(tz, from);
  const end = localMidnight(tz, addDays(to, 1));
  const days: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) days.push(d);
  const offsets = [{ at: start, offset: offsetAt(tz, start) }];
  // Offsets change at most a few times a year: probe daily, and find the hour of each change.
  for (let t = start + DAY_MS; t < end + DAY_MS; t += DAY_MS) {
    const probe = Math.min(t, end);
    const current = offsets[offsets.length - 1]!.offset;
    if (offsetAt(tz, probe) === current) continue;
    // The change lies within the day before the probe: walk it hour by hour (at most 24 probes).
    let hi = probe - DAY_MS + HOUR_MS;
    while (hi < probe && offsetAt(tz, hi) === current) hi += HOUR_MS;
    offsets.push({ at: hi, offset: offsetAt(tz, hi) });
  }
  return { from, to, tz, start, end, days, offsets };
}

/**
 * SQL for the local offset of the UTC hour in `column` (a CASE over the range's offset changes).
 * Only numbers go into the text, never input.
 */
export function offsetSql(range: LocalRange, column: string): string {
  if (range.offsets.length === 1) return String(range.offsets[0]!.offset);
  const cases = range.offsets.slice(1).map((o, i) => `WHEN ${column} < ${o.at} THEN ${range.offsets[i]!.offset}`);
  return `CASE ${cases.join(' ')} ELSE ${range.offsets.at(-1)!.offset} END`;
}

/** SQL: index into range.days of the local day `column` (a UTC hour) falls in. */
export function localDayIndexSql(range: LocalRange, column: string): string {
  const firstDay = Date.parse(`${range.from}T00:00:00Z`);
  return `((${column} + ${offsetSql(range, column)} - ${firstDay}) / ${DAY_MS})`;
}

/** The same index as localDayIndexSql, in JavaScript (SQLite's integer division truncates toward zero). */
export function localDayIndex(range: LocalRange, utcMs: number): number {
  let offset = range.offsets[0]!.offset;
  for (const o of range.offsets.slice(1)) if (utcMs >= o.at) offset = o.offset;
  return Math.trunc((utcMs + offset - Date.parse(`${range.from}T00:00:00Z`)) / DAY_MS);
}

/** SQL: hour of the week, Monday 00:00 local = 0 … Sunday 23:00 = 167 (1970-01-01 was a Thursday). */
export function hourOfWeekSql(range: LocalRange, column: string): string {
  return `(((${column} + ${offsetSql(range, column)}) / ${HOUR_MS} + 72) % 168)`;
}
