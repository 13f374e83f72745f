/**
 * Business hours in a bot's IANA timezone: whether it is open now, when it opens next, and
 * the SLA walk (a number of business minutes from a moment). Minute precision; local times come
 * from Intl (the runtime's tz database), so DST is the zone's, not ours.
 */
import type { BotHandoffSettings } from '../../db/schema';
import { HANDOFF } from '../../limits';

export type BusinessHours = NonNullable<BotHandoffSettings['businessHours']>;

const MINUTE = 60_000;
const DAY_MINUTES = 24 * 60;
const WEEKDAYS: Record<string, number> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };

const formatters = new Map<string, Intl.DateTimeFormat>();
function partsFormatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(tz, f);
  }
  return f;
}

/** The local weekday (0 = Monday) and minute of the day at `ms` in `tz`. */
export function localTime(ms: number, tz: string): { day: number; minute: number } {
  const parts = partsFormatter(tz).formatToParts(new Date(ms));
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '0';
  return { day: WEEKDAYS[get('weekday')] ?? 0, minute: (Number(get('hour')) % 24) * 60 + Number(get('minute')) };
}

const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** The interval open at local (day, minute), as minutes left until it closes; null when closed. */
function openFor(hours: BusinessHours, day: number, minute: number): number | null {
  let best: number | null = null;
  for (const i of hours.intervals) {
    if (i.day === day && toMinutes(i.from) <= minute && minute < toMinutes(i.to)) best = Math.max(best ?? 0, toMinutes(i.to) - minute);
  }
  return best;
}

export function isOpen(hours: BusinessHours | null, ms: number): boolean {
  if (!hours) return true;
  const t = localTime(ms, hours.timezone);
  return openFor(hours, t.day, t.minute) !== null;
}

/**
 * The next moment the hours open at or after `ms` (`ms` itself when open), or null for a schedule
 * that never opens. A DST change between now and the opening is corrected by re-reading the local
 * time of the candidate once.
 */
export function nextOpening(hours: BusinessHours, ms: number): number | null {
  const start = ms - (ms % MINUTE);
  const now = localTime(start, hours.timezone);
  if (openFor(hours, now.day, now.minute) !== null) return ms;
  let best: number | null = null;
  for (let offset = 0; offset < HANDOFF.businessSearchDays; offset++) {
    const day = (now.day + offset) % 7;
    for (const i of hours.intervals) {
      if (i.day !== day) continue;
      const delta = offset * DAY_MINUTES + toMinutes(i.from) - now.minute;
      if (delta > 0 && (best === null || delta < best)) best = delta;
    }
    if (best !== null) break;
  }
  if (best === null) return null;
  const candidate = start + best * MINUTE;
  // Across a DST change the local clock moved by the shift: move the candidate back by it.
  const wanted = (now.minute + best) % DAY_MINUTES;
  const got = localTime(candidate, hours.timezone).minute;
  let drift = got - wanted;
  if (drift > DAY_MINUTES / 2) drift -= DAY_MINUTES;
  if (drift < -DAY_MINUTES / 2) drift += DAY_MINUTES;
  return candidate - drift * MINUTE;
}

/** Bounds the SLA walk: a sparse schedule with a long target falls back to wall-clock for the rest. */
const MAX_WALK_STEPS = 1000;

/** `from` plus `minutes` of open business time (plain wall-clock minutes without hours). */
export function addBusinessMinutes(hours: BusinessHours | null, from: number, minutes: number): number {
  if (!hours) return from + minutes * MINUTE;
  let t = from - (from % MINUTE);
  let remaining = minutes;
  for (let step = 0; step < MAX_WALK_STEPS; step++) {
    const local = localTime(t, hours.timezone);
    const left = openFor(hours, local.day, local.minute);
    if (left === null) {
      const next = nextOpening(hours, t);
      if (next === null) break;
      t = next;
      continue;
    }
    if (remaining <= left) return t + remaining * MINUTE;
    remaining -= left;
    t += left * MINUTE;
  }
  return t + remaining * MINUTE;
}

/** The opening time as a visitor reads it: weekday and time in the bot's zone, in their language. */
export function formatOpening(ms: number, tz: string, lang: string): string {
  return new Intl.DateTimeFormat(lang, { timeZone: tz, weekday: 'long', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' }).format(new Date(ms));
}
