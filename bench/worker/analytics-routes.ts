/**
 * Benchmark-only routes for bench/analytics.mjs: build an org's rollups for a range of UTC days,
 * answer the overview with or without rollups (the baseline), and profile it: the same overview
 * with every statement of its batch run on its own and timed. Mounted only by the benchmark
 * entry (bench/worker/index.ts), never in production.
 */
import { createRouter } from '../../src/http/router';
import { createDb } from '../../src/db/client';
import { loadConfig } from '../../src/env';
import type { ServiceContext } from '../../src/context';
import { systemClock } from '../../src/lib/clock';
import { buildRollupDay } from '../../src/features/analytics/rollup';
import { overview, type OverviewInput } from '../../src/features/analytics/overview';
import { localRange } from '../../src/features/analytics/range';

const DAY = 86_400_000;

interface Timing {
  statement: string;
  ms: number;
  rows: number;
}

/**
 * A D1 binding whose batch runs its statements one by one and times each (workerd's clock moves
 * across I/O, so each D1 call's time is measured). Results are the same as the batch's.
 */
function profilingD1(db: D1Database, timings: Timing[]): D1Database {
  const label = (sql: string) => sql.replace(/\s+/g, ' ').trim().slice(0, 100);
  const wrap = (statement: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const timed = async <T>(run: () => Promise<T>, rows: (r: T) => number) => {
      const started = performance.now();
      const result = await run();
      timings.push({ statement: label(sql), ms: performance.now() - started, rows: rows(result) });
      return result;
    };
    return {
      bind: (...values: unknown[]) => wrap(statement.bind(...values), sql),
      all: () => timed(() => statement.all(), (r) => r.results.length),
      first: (column?: string) => timed(() => (column === undefined ? statement.first() : statement.first(column)), (r) => (r === null ? 0 : 1)),
      run: () => timed(() => statement.run(), () => 0),
      raw: () => timed(() => statement.raw(), (r) => r.length),
    } as unknown as D1PreparedStatement;
  };
  return {
    prepare: (sql: string) => wrap(db.prepare(sql), sql),
    batch: async (statements: D1PreparedStatement[]) => {
      const results = [];
      for (const s of statements) results.push(await s.all());
      return results;
    },
  } as unknown as D1Database;
}

export function analyticsBenchRoutes() {
  const router = createRouter();
  const context = (c: { env: ServiceContext['env'] }, env: ServiceContext['env'] = c.env): ServiceContext => {
    const config = loadConfig(c.env);
    if (!config.ok) throw new Error(config.problems.join('; '));
    return { db: createDb(c.env.DB), config: config.config, env, clock: systemClock, meta: { ip: null, userAgent: 'bench' }, waitUntil: () => undefined };
  };
  const input = (q: Record<string, string>): OverviewInput => ({
    orgId: q.orgId!,
    botId: null,
    range: localRange(q.tz ?? 'UTC', q.from!, q.to!),
    mode: q.mode === 'live' ? 'live' : 'rollups',
  });
  router.post('/__bench/analytics/rollup', async (c) => {
    const { orgId, from, to } = await c.req.json<{ orgId: string; from: number; to: number }>();
    const ctx = context(c);
    const started = performance.now();
    let days = 0;
    let hours = 0;
    for (let day = from; day < to; day += DAY) {
      const result = await buildRollupDay(ctx, orgId, day);
      if (result.status === 'built') days++;
      if (result.status === 'built_hours') hours = (result.builtTo - result.day) / 3_600_000;
    }
    return c.json({ days, hours, ms: performance.now() - started });
  });
  router.get('/__bench/analytics/overview', async (c) => {
    const started = performance.now();
    const result = await overview(context(c), input(c.req.query()));
    return c.json({ ms: performance.now() - started, totals: result.totals, rollups: result.rollups, topQuestions: result.topQuestions, topUnanswered: result.topUnanswered, topSources: result.topSources });
  });
  router.get('/__bench/analytics/profile', async (c) => {
    const timings: Timing[] = [];
    const started = performance.now();
    await overview(context(c, { ...c.env, DB: profilingD1(c.env.DB, timings) }), input(c.req.query()));
    return c.json({ ms: performance.now() - started, timings });
  });
  return router;
}
