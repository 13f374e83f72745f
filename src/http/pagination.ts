/**
 * Cursor pagination over time-sortable ids: newest first, the cursor is the last id seen.
 * New rows sort before the cursor, so inserts never shift or repeat a page.
 */
import { badRequest } from './problem';
import { base64url, bytesFromBase64 } from '../lib/crypto';
import { looksLikeId } from '../lib/ids';

export function encodeCursor(id: string): string {
  return base64url(new TextEncoder().encode(id));
}

export function decodeCursor(cursor: string | undefined): string | null {
  if (!cursor) return null;
  try {
    const id = new TextDecoder().decode(bytesFromBase64(cursor));
    if (looksLikeId(id)) return id;
  } catch {
    // fall through to the problem below
  }
  throw badRequest('The cursor is not one this API returned.', 'invalid_cursor', [
    { path: 'query.cursor', message: 'Invalid cursor' },
  ]);
}

/** Callers fetch limit + 1 rows; the extra row only tells whether another page exists. */
export function toPage<T extends { id: string }>(rows: T[], limit: number) {
  const hasMore = rows.length > limit;
  const data = hasMore ? rows.slice(0, limit) : rows;
  const last = data[data.length - 1];
  return { data, nextCursor: hasMore && last ? encodeCursor(last.id) : null };
}
