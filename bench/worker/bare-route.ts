/**
 * Benchmark baseline: the cheapest useful request this Worker can serve (routing, the
 * app's middleware chain and one D1 round trip). `npm run bench` reports real endpoints as
 * a ratio against it. Mounted only by the benchmark entry (bench/worker/index.ts), never in production.
 */
import { createRouter } from '../../src/http/router';

export function benchRoutes() {
  const router = createRouter();
  // Raw D1 on purpose (no service layer): the baseline must not grow with the features.
  router.get('/__bench/bare', async (c) => {
    const row = await c.env.DB.prepare('SELECT 1 AS one').first<{ one: number }>();
    return c.json({ ok: row?.one === 1 });
  });
  return router;
}
