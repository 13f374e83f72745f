/**
 * RateLimiter: one object per limit key (`idFromName('<policy>:<key>')`), counting hits in
 * a sliding window kept as small time slices ("granules") in the object's SQLite storage.
 *
 * Invariants:
 * - Never admits more than `limit` cost units in any interval of `windowSeconds`. Each hit
 *   is booked in the granule it falls in and counted as long as that granule's *end* is
 *   inside the window, so a hit is counted at least as long as it really is: the check is
 *   exact or stricter, never looser (stricter by at most one granule = window / 60).
 * - The check and the increment of one `consume` call run synchronously, with no `await`
 *   between them, so concurrent calls cannot interleave and both see room for one last unit.
 * - A denied call books nothing: a client hammering while limited recovers once its
 *   admitted hits age out.
 * - Leases (`holdMs`, `partial`): an isolate may take several units at once to spend over the
 *   next `holdMs`; they are booked at the end of that span, so every unit is counted for at
 *   least a full window after it is spent and the limit still holds exactly.
 *
 * Survives hibernation and eviction: every admitted hit (SQLite rows, written before the
 * reply leaves the object, thanks to output gates), and the cleanup alarm. Kept in memory
 * only as caches rebuilt on demand: whether the table exists and when the alarm is set.
 * When every hit has aged out, the alarm deletes all storage so idle keys cost nothing.
 */
import { DurableObject } from 'cloudflare:workers';
import { systemClock, type Clock } from '../lib/clock';
import { RATE_LIMIT_GRANULES_PER_WINDOW } from '../limits';

export interface RateLimitPolicy {
  /** Cost units admitted per window (a positive integer). */
  limit: number;
  /** Length of the sliding window in seconds (a positive integer). */
  windowSeconds: number;
  /** Units this call takes; defaults to 1; must not exceed `limit` (it could never fit). */
  cost?: number;
  /**
   * Lease mode: the caller will spend the units within this many milliseconds, so they are
   * booked at the end of that span (counted at least as long as any of them is really used).
   */
  holdMs?: number;
  /** Grant as many units as fit (at least one) instead of all-or-nothing. */
  partial?: boolean;
}

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  /** Units booked by this call: `cost`, or fewer for a partial grant; 0 when denied. */
  granted: number;
  /** Units still available right after this call. */
  remaining: number;
  /** Seconds until every unit counted now has aged out (the quota is whole again). */
  resetSeconds: number;
  /** Seconds until a call of the same cost would be admitted; 0 when allowed. */
  retryAfterSeconds: number;
}

interface GranuleRow extends Record<string, SqlStorageValue> {
  granule_end_ms: number;
  hits: number;
}

export class RateLimiter extends DurableObject {
  /** Replaced by tests (through `runInDurableObject`) to move time without waiting. */
  clock: Clock = systemClock;
  private tableReady = false;
  /** Latest alarm time this instance has set; null when unknown (new instance) or none. */
  private alarmAt: number | null = null;

  async consume(policy: RateLimitPolicy): Promise<RateLimitDecision> {
    const { limit, windowSeconds, cost = 1, holdMs = 0, partial = false } = policy;
    assertPositiveInteger('limit', limit);
    assertPositiveInteger('windowSeconds', windowSeconds);
    assertPositiveInteger('cost', cost);
    if (!Number.isSafeInteger(holdMs) || holdMs < 0 || holdMs > windowSeconds * 1000) {
      throw new RangeError(`rate limiter: holdMs must be an integer from 0 to the window, got ${holdMs}`);
    }
    if (cost > limit) throw new RangeError(`rate limiter: cost ${cost} exceeds limit ${limit} and could never be admitted`);

    const now = this.clock.now();
    const windowMs = windowSeconds * 1000;
    const decision = this.checkAndBook(now, windowMs, limit, cost, holdMs, partial);
    if (decision.allowed) await this.ensureCleanupAlarm(granuleEnd(now + holdMs, windowMs) + windowMs);
    return decision;
  }

  /**
   * What a `consume` would see right now, booking nothing (for usage reports). Never creates
   * storage: a key that was never used stays free.
   */
  async peek(policy: { limit: number; windowSeconds: number }): Promise<{ used: number; remaining: number; resetSeconds: number }> {
    assertPositiveInteger('limit', policy.limit);
    assertPositiveInteger('windowSeconds', policy.windowSeconds);
    const exists = this.tableReady || this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'granules'").toArray().length > 0;
    if (!exists) return { used: 0, remaining: policy.limit, resetSeconds: 0 };
    const now = this.clock.now();
    const windowMs = policy.windowSeconds * 1000;
    const counted = this.sql
      .exec<GranuleRow>('SELECT granule_end_ms, hits FROM granules WHERE granule_end_ms > ? ORDER BY granule_end_ms', now - windowMs)
      .toArray();
    const used = counted.reduce((sum, row) => sum + row.hits, 0);
    const latestEnd = counted.at(-1)?.granule_end_ms;
    return {
      used,
      remaining: Math.max(0, policy.limit - used),
      resetSeconds: latestEnd === undefined ? 0 : secondsUntil(latestEnd + windowMs, now),
    };
  }

  override async alarm(): Promise<void> {
    const now = this.clock.now();
    this.ensureTable();
    this.sql.exec('DELETE FROM granules WHERE expires_at_ms <= ?', now);
    const latest = this.sql.exec<{ latest: number | null }>('SELECT MAX(expires_at_ms) AS latest FROM granules').one().latest;
    if (latest !== null) {
      // A hit arrived after this alarm was planned: come back when it has aged out too.
      this.alarmAt = latest;
      await this.ctx.storage.setAlarm(latest);
      return;
    }
    this.tableReady = false;
    this.alarmAt = null;
    await this.ctx.storage.deleteAll();
  }

  /** Everything between reading the count and booking the hit is synchronous: see invariants. */
  private checkAndBook(now: number, windowMs: number, limit: number, wanted: number, holdMs: number, partial: boolean): RateLimitDecision {
    this.ensureTable();
    const counted = this.sql
      .exec<GranuleRow>('SELECT granule_end_ms, hits FROM granules WHERE granule_end_ms > ? ORDER BY granule_end_ms', now - windowMs)
      .toArray();
    const used = counted.reduce((sum, row) => sum + row.hits, 0);
    const cost = partial ? Math.max(1, Math.min(wanted, limit - used)) : wanted;

    if (used + cost <= limit) {
      // A lease is booked where its last unit may be spent, so it is counted at least as long.
      const end = granuleEnd(now + holdMs, windowMs);
      this.sql.exec(
        `INSERT INTO granules (granule_end_ms, hits, expires_at_ms) VALUES (?, ?, ?)
         ON CONFLICT (granule_end_ms) DO UPDATE SET
           hits = hits + excluded.hits,
           expires_at_ms = MAX(expires_at_ms, excluded.expires_at_ms)`,
        end,
        cost,
        end + windowMs,
      );
      const latestEnd = Math.max(end, counted.at(-1)?.granule_end_ms ?? end);
      return {
        allowed: true,
        limit,
        granted: cost,
        remaining: limit - used - cost,
        resetSeconds: secondsUntil(latestEnd + windowMs, now),
        retryAfterSeconds: 0,
      };
    }

    // Denied with cost <= limit means used > 0, so `counted` has at least one row.
    const latestEnd = counted.at(-1)!.granule_end_ms;
    return {
      allowed: false,
      limit,
      granted: 0,
      remaining: Math.max(0, limit - used),
      resetSeconds: secondsUntil(latestEnd + windowMs, now),
      retryAfterSeconds: secondsUntil(whenCostFits(counted, used, cost, limit, windowMs), now),
    };
  }

  private ensureTable(): void {
    if (this.tableReady) return;
    // expires_at_ms is kept per row because one key may be used with different windows;
    // the alarm needs to know when each row stops mattering to any of them.
    this.sql.exec(`CREATE TABLE IF NOT EXISTS granules (
      granule_end_ms INTEGER PRIMARY KEY,
      hits INTEGER NOT NULL,
      expires_at_ms INTEGER NOT NULL
    )`);
    this.tableReady = true;
  }

  /** One alarm per object: only ever move it later, so a single alarm covers every row. */
  private async ensureCleanupAlarm(at: number): Promise<void> {
    if (this.alarmAt !== null && this.alarmAt >= at) return;
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  private get sql() {
    return this.ctx.storage.sql;
  }
}

/**
 * Granules are a fixed fraction of the window, aligned to the epoch, so every hit in the
 * same slice shares one row. A hit is treated as happening at its granule's end (the latest
 * it could have happened), which is what makes the count conservative.
 */
function granuleEnd(now: number, windowMs: number): number {
  const granuleMs = Math.max(1, Math.ceil(windowMs / RATE_LIMIT_GRANULES_PER_WINDOW));
  return (Math.floor(now / granuleMs) + 1) * granuleMs;
}

/** The earliest moment enough of the oldest granules have aged out for `cost` to fit. */
function whenCostFits(counted: GranuleRow[], used: number, cost: number, limit: number, windowMs: number): number {
  const mustAgeOut = used + cost - limit;
  let agedOut = 0;
  for (const row of counted) {
    agedOut += row.hits;
    if (agedOut >= mustAgeOut) return row.granule_end_ms + windowMs;
  }
  // Unreachable while cost <= limit: ageing out every row frees `used` >= mustAgeOut units.
  throw new Error('rate limiter: no granule frees enough units');
}

function secondsUntil(at: number, now: number): number {
  return Math.max(1, Math.ceil((at - now) / 1000));
}

function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`rate limiter: ${name} must be a positive integer, got ${value}`);
  }
}
