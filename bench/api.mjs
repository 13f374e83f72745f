/**
 * API overhead: an authenticated `GET /api/v1/bots` (API-key auth, org scoping, rate limit,
 * validation, the list query) next to a bare route doing one D1 read, in the same Worker and
 * the same run, so the ratio shows what the API layers cost. Target: ratio <= 1.3×.
 */
import { getJson, registerAndCreateApiKey } from './lib/api-client.mjs';
import { DEFAULT_LOAD, compare } from './lib/load.mjs';
import { printTable } from './lib/table.mjs';
import { startBenchWorker } from './lib/worker.mjs';

const TARGET_RATIO = 1.3;

let worker = null;
let exitCode = 0;
try {
  worker = await startBenchWorker();
  const bare = { name: 'bare: GET /__bench/bare (1 D1 read)', url: new URL('/__bench/bare', worker.url) };
  await getJson(worker.url, '/__bench/bare').catch((err) => {
    throw new Error(`${err.message}\nThe bare route is not mounted: bench/worker/index.ts mounts it.`);
  });

  // Set up through the public API, as a customer would; without it, still report the bare route.
  let api = null;
  try {
    const { apiKey } = await registerAndCreateApiKey(worker.url);
    api = { name: 'api:  GET /api/v1/bots (API key)', url: new URL('/api/v1/bots', worker.url), headers: { authorization: `Bearer ${apiKey}` } };
    await getJson(worker.url, '/api/v1/bots', api.headers);
  } catch (err) {
    console.error(`api target skipped: could not get an API key and list bots through the public API.\n  ${err.message}`);
    api = null;
    exitCode = 1;
  }

  const { durationSeconds, warmupSeconds, connections, rounds } = DEFAULT_LOAD;
  console.log(`${durationSeconds} s per target in ${rounds} alternating slices, after ${warmupSeconds} s warm-up; ${connections} connections; workerd direct at ${worker.url.host}`);
  const results = await compare(api ? [bare, api] : [bare]);
  const rows = [...results];
  let verdict = null;
  if (api) {
    const [b, a] = results;
    const ratios = { p50: a.p50 / b.p50, p95: a.p95 / b.p95, rps: b.rps / a.rps };
    rows.push({ name: 'ratio api/bare (rps: bare/api)', p50: times(ratios.p50), p95: times(ratios.p95), rps: times(ratios.rps) });
    const worst = Math.max(...Object.values(ratios));
    verdict = worst <= TARGET_RATIO ? `within target: worst ratio ${times(worst)} <= ${TARGET_RATIO}×` : `ABOVE TARGET: worst ratio ${times(worst)} > ${TARGET_RATIO}×`;
    // A missed target fails the case, so the summary of `npm run bench` shows it.
    if (worst > TARGET_RATIO) exitCode = 1;
  }
  printTable(
    [
      { key: 'name', title: 'target', align: 'left' },
      { key: 'requests', title: 'requests' },
      { key: 'rps', title: 'req/s' },
      { key: 'p50', title: 'p50 ms', digits: 2 },
      { key: 'p95', title: 'p95 ms', digits: 2 },
      { key: 'p99', title: 'p99 ms', digits: 2 },
    ],
    rows,
  );
  if (verdict) console.log(verdict);
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  exitCode = 1;
} finally {
  await worker?.dispose();
}
// workerd and autocannon can keep handles open for a moment; everything is printed by now.
process.exit(exitCode);

function times(ratio) {
  return `${ratio.toFixed(2)}×`;
}
