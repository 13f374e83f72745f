/**
 * Rollups. A UTC day of one org is rebuilt in one D1 batch: its hourly and daily rows, its
 * visitor sketches and its 7-day block of daily rows are deleted and recomputed from the raw tables by the facts queries
 * (facts.ts), and the day is marked built up to where it was computed. The batch is atomic and
 * the result depends only on the raw rows, so a re-run (a retried queue message, the next cron)
 * replaces the day with the same rows: nothing is ever counted twice.
 *
 * The current UTC day is built up to the end of its last closed hour (every cron run rebuilds
 * it), so a reader counts only the hour in progress live: the figures still include everything
 * up to now, without reading a day's worth of raw rows on every request.
 *
 * Late events: every cron run rebuilds the current day and the last ANALYTICS.recomputeDays
 * closed days of each org with recent activity, so a rating, a handoff reply or more visitor
 * words that arrive later land in their own hour and day.
 */
import type { ServiceContext } from '../../context';
import { splitForStatements } from '../../db/bound-parameters';
import { enqueueMany } from '../../jobs/messages';
import { ANALYTICS } from '../../limits';
import { DAILY_FACTS, HOURLY_FACTS, withRange } from './facts';
import { addToSketch, emptySketch, encodeSketch } from './hll';
import { DAY_MS, HOUR_MS } from './range';

export const utcDayStart = (ms: number) => ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS);
export const utcHourStart = (ms: number) => ms - (((ms % HOUR_MS) + HOUR_MS) % HOUR_MS);
export const WEEK_MS = 7 * DAY_MS;
/** Start of the epoch-aligned 7-day block holding `ms` (analytics_weekly). */
export const weekStart = (ms: number) => ms - (((ms % WEEK_MS) + WEEK_MS) % WEEK_MS);

export type RollupResult =
  | { status: 'built'; day: number }
  /** The current day, built up to the end of its last closed hour. */
  | { status: 'built_hours'; day: number; builtTo: number }
  | { status: 'open_day' }
  | { status: 'invalid_day' };

export async function buildRollupDay(ctx: ServiceContext, orgId: string, day: number): Promise<RollupResult> {
  if (day !== utcDayStart(day)) return { status: 'invalid_day' };
  // Only whole hours that have ended: the hour in progress (and any later day) is read live.
  const to = Math.min(day + DAY_MS, utcHourStart(ctx.clock.now()));
  if (to <= day) return { status: 'open_day' };
  const db = ctx.env.DB;
  const sketches = await visitorSketches(ctx, orgId, day, to);
  const dayEnd = day + DAY_MS;
  await db.batch([
    db.prepare('DELETE FROM analytics_hourly WHERE org_id = ?1 AND hour >= ?2 AND hour < ?3').bind(orgId, day, dayEnd),
    db.prepare(`INSERT INTO analytics_hourly (org_id, hour, bot_id, metric, dim, value) SELECT ?1, hour, bot_id, metric, dim, value FROM (${withRange(HOURLY_FACTS, 2, 3)})`).bind(orgId, day, to),
    db.prepare('DELETE FROM analytics_days WHERE org_id = ?1 AND day = ?2').bind(orgId, day),
    db.prepare(
      `INSERT INTO analytics_days (org_id, day, bot_id, metric, dim, value)
       SELECT org_id, ?2, bot_id, metric, dim, SUM(value) FROM analytics_hourly WHERE org_id = ?1 AND hour >= ?2 AND hour < ?3 GROUP BY bot_id, metric, dim`,
    ).bind(orgId, day, dayEnd),
    db.prepare('DELETE FROM analytics_daily WHERE org_id = ?1 AND day = ?2').bind(orgId, day),
    db.prepare(`INSERT INTO analytics_daily (org_id, day, bot_id, kind, key, sample, count, unanswered) SELECT ?1, day, bot_id, kind, key, sample, count, unanswered FROM (${withRange(DAILY_FACTS, 2, 3)})`).bind(orgId, day, to),
    // The day's 7-day block, summed again from the daily rows of its days as they now stand.
    db.prepare('DELETE FROM analytics_weekly WHERE org_id = ?1 AND week = ?2').bind(orgId, weekStart(day)),
    db
      .prepare(
        `INSERT INTO analytics_weekly (org_id, week, bot_id, kind, key, sample, count, unanswered)
         SELECT ?1, ?2, bot_id, kind, key, sample, n, u FROM (
           SELECT bot_id, kind, key, sample, SUM(count) AS n, SUM(unanswered) AS u, MAX(day) FROM analytics_daily
            WHERE org_id = ?1 AND day >= ?2 AND day < ?3 GROUP BY bot_id, kind, key
         )`,
      )
      .bind(orgId, weekStart(day), weekStart(day) + WEEK_MS),
    db.prepare('DELETE FROM analytics_visitor_sketches WHERE org_id = ?1 AND day = ?2').bind(orgId, day),
    // Four bound values per sketch row and no others, so each INSERT stays within D1's limit.
    ...splitForStatements(sketches, 4).map((rows) =>
      db
        .prepare(`INSERT INTO analytics_visitor_sketches (org_id, day, bot_id, registers) VALUES ${rows.map(() => '(?, ?, ?, ?)').join(', ')}`)
        .bind(...rows.flatMap((r) => [orgId, day, r.botId, r.registers])),
    ),
    db
      .prepare(
        `INSERT INTO analytics_rollup_days (org_id, day, built_at, built_to) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (org_id, day) DO UPDATE SET built_at = excluded.built_at, built_to = excluded.built_to`,
      )
      .bind(orgId, day, ctx.clock.now(), to),
  ]);
  return to === dayEnd ? { status: 'built', day } : { status: 'built_hours', day, builtTo: to };
}

/**
 * One sketch per bot of the distinct visitors (or signed-in users) whose conversations began in
 * [from, to). Read before the batch: conversations are created at the time they begin, so the
 * closed hours this covers gain none in between.
 */
async function visitorSketches(ctx: ServiceContext, orgId: string, from: number, to: number) {
  const { results } = await ctx.env.DB.prepare(
    `SELECT bot_id AS botId, COALESCE(visitor_id, user_id) AS visitor FROM conversations
      WHERE org_id = ?1 AND created_at >= ?2 AND created_at < ?3 AND COALESCE(visitor_id, user_id) IS NOT NULL
      GROUP BY 1, 2`,
  )
    .bind(orgId, from, to)
    .all<{ botId: string; visitor: string }>();
  const byBot = new Map<string, Uint8Array>();
  for (const row of results) {
    let sketch = byBot.get(row.botId);
    if (!sketch) byBot.set(row.botId, (sketch = emptySketch()));
    addToSketch(sketch, row.visitor);
  }
  return [...byBot].map(([botId, registers]) => ({ botId, registers: encodeSketch(registers) }));
}

/**
 * Cron: one `analytics.rollup` job per (org with activity in the window, day): the current day
 * (its closed hours) and the closed days of the window. Activity: a message, rating, lead or
 * outbox event since the window began.
 */
export async function enqueueRecentRollups(ctx: ServiceContext, now: number): Promise<number> {
  const today = utcDayStart(now);
  const since = today - ANALYTICS.recomputeDays * DAY_MS;
  const { results } = await ctx.env.DB.prepare(
    `SELECT o.id FROM organizations o
      WHERE EXISTS (SELECT 1 FROM messages m WHERE m.org_id = o.id AND m.created_at >= ?1)
         OR EXISTS (SELECT 1 FROM message_feedback f WHERE f.org_id = o.id AND f.created_at >= ?1)
         OR EXISTS (SELECT 1 FROM leads l WHERE l.org_id = o.id AND l.created_at >= ?1)
         OR EXISTS (SELECT 1 FROM outbox_events e WHERE e.org_id = o.id AND e.created_at >= ?1)
      LIMIT ?2`,
  )
    .bind(since, ANALYTICS.maxOrgsPerCron)
    .all<{ id: string }>();
  const jobs = results.flatMap((org) =>
    Array.from({ length: ANALYTICS.recomputeDays + 1 }, (_, i) => ({ type: 'analytics.rollup' as const, orgId: org.id, day: today - i * DAY_MS })),
  );
  await enqueueMany(ctx.env, jobs);
  return jobs.length;
}
