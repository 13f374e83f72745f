/** `from` / `to` query bounds (ISO 8601) as epoch ms, for every list filtered by creation time. */
import { ApiError } from './problem';

const invalidRange = (detail: string, errors?: { path: string; message: string; code: string }[]) =>
  new ApiError({ status: 422, code: 'invalid_time_range', title: 'Unprocessable time range', detail, errors });

/** An ISO 8601 time (with a date at least) as epoch ms; a 422 naming the field otherwise. */
export function parseTimeBound(value: string | undefined, field: 'from' | 'to'): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) {
    throw invalidRange(`${field} must be an ISO 8601 time such as 2026-12-01T00:00:00Z.`, [
      { path: `query.${field}`, message: 'Not an ISO 8601 time', code: 'invalid_date' },
    ]);
  }
  return ms;
}

/** Both bounds, and a 422 when `from` is after `to`. */
export function parseTimeRange(q: { from?: string; to?: string }): { from?: number; to?: number } {
  const from = parseTimeBound(q.from, 'from');
  const to = parseTimeBound(q.to, 'to');
  if (from !== undefined && to !== undefined && from > to) throw invalidRange('`from` is after `to`.');
  return { from, to };
}
