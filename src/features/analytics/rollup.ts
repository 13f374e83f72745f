/**
 * Daily rollups. A UTC day of one org is rebuilt in one D1 batch: its hourly and daily rows are
 * deleted and recomputed from the raw tables by the facts queries (facts.ts), and the day is
 * marked built. The batch is atomic and the result depends only on the raw rows, so a re-run (a
 * retried queue message, the next cron) replaces the day with the same rows: nothing is ever
 * counted twice.
 *
 * Late events: every cron run rebuilds the last ANALYTICS.recomputeDays closed days of each org
 * with recent activity, so a rating, a handoff reply or more visitor words that arrive after
 * midnight land in their own day. The current UTC day is never rolled up; readers count it live.
 */
import type { ServiceContext } from '../../context';
import { enqueueMany } from '../../jobs/messages';
import { ANALYTICS } from '../../limits';
import { DAILY_FACTS, HOURLY_FACTS, withRange } from './facts';
import { DAY_MS } from './range';

export const utcDayStart = (ms: number) => ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS);

export type RollupResult = { status: 'built'; day: number } | { status: 'open_day' } | { status: 'invalid_day' };

export async function buildRollupDay(ctx: ServiceContext, orgId: string, day: number): Promise<RollupResult> {
  if (day !== utcDayStart(day)) return { status: 'invalid_day' };
  // Today (or later) is still being written: it is read live until it has ended.
  if (day + DAY_MS > ctx.clock.now()) return { status: 'open_day' };
  const db = ctx.env.DB;
  const to = day + DAY_MS;
  await db.batch([
    db.prepare('DELETE FROM analytics_hourly WHERE org_id = ?1 AND hour >= ?2 AND hour < ?3').bind(orgId, day, to),
    db.prepare(`INSERT INTO analytics_hourly (org_id, hour, bot_id, metric, dim, value) SELECT ?1, hour, bot_id, metric, dim, value FROM (${withRange(HOURLY_FACTS, 2, 3)})`).bind(orgId, day, to),
    db.prepare('DELETE FROM analytics_days WHERE org_id = ?1 AND day >= ?2 AND day < ?3').bind(orgId, day, to),
    db.prepare(
      `INSERT INTO analytics_days (org_id, day, bot_id, metric, dim, value)
       SELECT org_id, ?2, bot_id, metric, dim, SUM(value) FROM analytics_hourly WHERE org_id = ?1 AND hour >= ?2 AND hour < ?3 GROUP BY bot_id, metric, dim`,
    ).bind(orgId, day, to),
    db.prepare('DELETE FROM analytics_daily WHERE org_id = ?1 AND day >= ?2 AND day < ?3').bind(orgId, day, to),
    db.prepare(`INSERT INTO analytics_daily (org_id, day, bot_id, kind, key, sample, count, unanswered) SELECT ?1, day, bot_id, kind, key, sample, count, unanswered FROM (${withRange(DAILY_FACTS, 2, 3)})`).bind(orgId, day, to),
    db.prepare('INSERT INTO analytics_rollup_days (org_id, day, built_at) VALUES (?1, ?2, ?3) ON CONFLICT (org_id, day) DO UPDATE SET built_at = excluded.built_at').bind(orgId, day, ctx.clock.now()),
  ]);
  return { status: 'built', day };
}

/**
 * Cron: one `analytics.rollup` job per (org with activity in the window, closed day in the
 * window). Activity: a message, rating, lead or outbox event since the window began.
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
    Array.from({ length: ANALYTICS.recomputeDays }, (_, i) => ({ type: 'analytics.rollup' as const, orgId: org.id, day: today - (i + 1) * DAY_MS })),
  );
  await enqueueMany(ctx.env, jobs);
  return jobs.length;
}
