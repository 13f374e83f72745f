/**
 * Storage behind the Idempotency-Key header (http/middleware/idempotency.ts). No Hono here, so
 * a queue consumer or a future chat route can claim keys the same way.
 *
 * A key's life: `claim` inserts it `in_progress` with a guarded INSERT … ON CONFLICT DO NOTHING
 * (D1 has no transactions: whoever's insert changed a row owns the key); the owner either
 * `complete`s it with the response to replay, or `release`s it (5xx, rate limits) so a retry
 * runs afresh. Expired rows and rows abandoned in progress are cleared by the next claim.
 */
import { and, eq, lte, or, sql } from 'drizzle-orm';
import { idempotencyKeys } from '../../db/schema';
import type { Db } from '../../db/client';
import type { Clock } from '../../lib/clock';
import { sha256Hex, toHex } from '../../lib/crypto';
import { IDEMPOTENCY } from '../../limits';

export interface IdempotencyScope {
  orgId: string;
  actorId: string;
  /** Method and path, e.g. `POST /api/v1/bots`. */
  route: string;
  key: string;
}

export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type Claim =
  | { status: 'claimed' }
  | { status: 'replay'; response: StoredResponse }
  | { status: 'in_progress' }
  | { status: 'mismatch' };

/** Printable ASCII (space to tilde), as the Idempotency-Key draft's examples and Stripe allow. */
export const IDEMPOTENCY_KEY_PATTERN = new RegExp(`^[\\x20-\\x7e]{1,${IDEMPOTENCY.maxKeyLength}}$`);

const byScope = (s: IdempotencyScope) =>
  and(
    eq(idempotencyKeys.orgId, s.orgId),
    eq(idempotencyKeys.actorId, s.actorId),
    eq(idempotencyKeys.route, s.route),
    eq(idempotencyKeys.key, s.key),
  );

export async function claimIdempotencyKey(db: Db, clock: Clock, scope: IdempotencyScope, fingerprint: string): Promise<Claim> {
  // Two rounds: a row seen missing after our insert lost was released in between; try again.
  for (let round = 0; round < 2; round++) {
    const now = clock.now();
    const [, inserted] = await db.batch([
      db
        .delete(idempotencyKeys)
        .where(
          and(
            byScope(scope),
            or(
              lte(idempotencyKeys.expiresAt, now),
              and(eq(idempotencyKeys.state, 'in_progress'), lte(idempotencyKeys.createdAt, now - IDEMPOTENCY.abandonedAfterMs)),
            ),
          ),
        ),
      db
        .insert(idempotencyKeys)
        .values({ ...scope, fingerprint, state: 'in_progress', createdAt: now, expiresAt: now + IDEMPOTENCY.ttlMs })
        .onConflictDoNothing()
        .returning({ key: idempotencyKeys.key }),
    ]);
    if (inserted.length > 0) return { status: 'claimed' };

    const existing = await db.select().from(idempotencyKeys).where(byScope(scope)).get();
    if (!existing) continue;
    if (existing.fingerprint !== fingerprint) return { status: 'mismatch' };
    if (existing.state === 'in_progress' || existing.status === null) return { status: 'in_progress' };
    return { status: 'replay', response: { status: existing.status, headers: existing.headers ?? {}, body: existing.body ?? '' } };
  }
  return { status: 'in_progress' };
}

export async function completeIdempotencyKey(db: Db, scope: IdempotencyScope, fingerprint: string, response: StoredResponse) {
  await db
    .update(idempotencyKeys)
    .set({ state: 'completed', status: response.status, headers: response.headers, body: response.body })
    .where(and(byScope(scope), eq(idempotencyKeys.fingerprint, fingerprint), eq(idempotencyKeys.state, 'in_progress')));
}

export async function releaseIdempotencyKey(db: Db, scope: IdempotencyScope, fingerprint: string) {
  await db
    .delete(idempotencyKeys)
    .where(and(byScope(scope), eq(idempotencyKeys.fingerprint, fingerprint), eq(idempotencyKeys.state, 'in_progress')));
}

/** For the cron trigger: expired keys would otherwise only go when the same key comes back. */
export async function deleteExpiredIdempotencyKeys(db: Db, now: number, limit: number): Promise<number> {
  const rows = await db
    .delete(idempotencyKeys)
    .where(
      sql`rowid IN (SELECT rowid FROM ${idempotencyKeys} WHERE ${idempotencyKeys.expiresAt} <= ${now} LIMIT ${limit})`,
    )
    .returning({ key: idempotencyKeys.key });
  return rows.length;
}

// --- Fingerprints ---------------------------------------------------------------------------

/** Beyond this many multipart segments the raw bytes are hashed instead (a real upload has ≤ 21). */
const MAX_MULTIPART_SEGMENTS = 1000;

/**
 * What "the same request" means: the method, the path and the body, where a JSON body counts
 * by its value (key order and whitespace do not matter) and a multipart body by its bytes with
 * the boundary taken out (clients draw a new random boundary on every retry).
 */
export async function fingerprintRequest(method: string, path: string, contentType: string, body: Uint8Array): Promise<string> {
  const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
  let bodyDigest: string;
  if (mediaType === 'application/json') bodyDigest = await sha256Hex(canonicalJson(body) ?? body);
  else if (mediaType === 'multipart/form-data') bodyDigest = await multipartDigest(body, boundaryOf(contentType));
  else bodyDigest = await sha256Hex(body);
  return sha256Hex(`${method.toUpperCase()}\n${path}\n${mediaType}\n${bodyDigest}`);
}

/** The body as JSON with sorted keys, or null when it is not JSON (then the bytes count). */
function canonicalJson(body: Uint8Array): string | null {
  try {
    return JSON.stringify(sortKeys(JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(body))));
  } catch {
    // Not UTF-8, not JSON, or nested deeper than the stack allows: hash the bytes as sent.
    return null;
  }
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) sorted[k] = sortKeys((value as Record<string, unknown>)[k]);
    return sorted;
  }
  return value;
}

function boundaryOf(contentType: string): string | null {
  const match = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return match ? (match[1] ?? match[2] ?? null) : null;
}

/** SHA-256 over the digests of the segments between boundary occurrences. */
async function multipartDigest(body: Uint8Array, boundary: string | null): Promise<string> {
  if (!boundary) return sha256Hex(body);
  const segments: Uint8Array[] = [];
  let start = 0;
  for (const at of occurrences(body, new TextEncoder().encode(boundary))) {
    segments.push(body.subarray(start, at.start));
    start = at.end;
    if (segments.length > MAX_MULTIPART_SEGMENTS) return sha256Hex(body);
  }
  segments.push(body.subarray(start));
  const digests = await Promise.all(segments.map(async (s) => new Uint8Array(await crypto.subtle.digest('SHA-256', s))));
  return sha256Hex(digests.map(toHex).join(''));
}

/**
 * Non-overlapping occurrences of `needle`, by Knuth–Morris–Pratt: linear in the body even when
 * a hostile body repeats the boundary's prefix (a naive search would be body × boundary).
 */
function* occurrences(haystack: Uint8Array, needle: Uint8Array): Generator<{ start: number; end: number }> {
  const fallback = new Int32Array(needle.length);
  for (let i = 1, k = 0; i < needle.length; i++) {
    while (k > 0 && needle[i] !== needle[k]) k = fallback[k - 1]!;
    if (needle[i] === needle[k]) k++;
    fallback[i] = k;
  }
  for (let i = 0, k = 0; i < haystack.length; i++) {
    while (k > 0 && haystack[i] !== needle[k]) k = fallback[k - 1]!;
    if (haystack[i] === needle[k]) k++;
    if (k === needle.length) {
      yield { start: i + 1 - k, end: i + 1 };
      k = 0;
    }
  }
}
