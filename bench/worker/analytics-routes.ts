/**
 * Benchmark-only routes for bench/analytics.mjs: build an org's rollups for a range of UTC days,
 * and answer the overview with or without rollups (the baseline). Mounted only by the benchmark
 * entry (bench/worker/index.ts), never in production.
 */
import { createRouter } from '../../src/http/router';
import { createDb } from '../../src/db/client';
import { loadConfig } from '../../src/env';
import type { ServiceContext } from '../../src/context';
import { systemClock } from '../../src/lib/clock';
import { buildRollupDay } from '../../src/features/analytics/rollup';
import { overview } from '../../src/features/analytics/overview';
import { localRange } from '../../src/features/analytics/range';

const DAY = 86_400_000;

export function analyticsBenchRoutes() {
  const router = createRouter();
  const context = (c: { env: ServiceContext['env'] }): ServiceContext => {
    const config = loadConfig(c.env);
    if (!config.ok) throw new Error(config.problems.join('; '));
    return { db: createDb(c.env.DB), config: config.config, env: c.env, clock: systemClock, meta: { ip: null, userAgent: 'bench' }, waitUntil: () => undefined };
  };
  router.post('/__bench/analytics/rollup', async (c) => {
    const { orgId, from, to } = await c.req.json<{ orgId: string; from: number; to: number }>();
    const ctx = context(c);
    const started = performance.now();
    let days = 0;
    for (let day = from; day < to; day += DAY) if ((await buildRollupDay(ctx, orgId, day)).status === 'built') days++;
    return c.json({ days, ms: performance.now() - started });
  });
  router.get('/__bench/analytics/overview', async (c) => {
    const q = c.req.query();
    const started = performance.now();
    const result = await overview(context(c), { orgId: q.orgId!, botId: null, range: localRange(q.tz ?? 'UTC', q.from!, q.to!), mode: q.mode === 'live' ? 'live' : 'rollups' });
    return c.json({ ms: performance.now() - started, totals: result.totals, rollups: result.rollups });
  });
  return router;
}
