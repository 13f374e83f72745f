/**
 * API overhead: an authenticated `GET /api/v1/bots` (API-key auth, org scoping, rate limit,
 * validation, the list query) next to a bare route doing one D1 read, in the same Worker and
 * the same run, so the ratio shows what the API layers cost. Target: ratio <= 1.3×.
 */
import { registerAndCreateApiKey, getJson } from './lib/api-client.mjs';
import { DEFAULT_LOAD, measure } from './lib/load.mjs';
import { printTable } from './lib/table.mjs';
import { startBenchWorker } from './lib/worker.mjs';

const TARGET_RATIO = 1.3;

const worker = await startBenchWorker();
let exitCode = 0;
try {
  await getJson(worker.url, '/__bench/bare').catch((err) => {
    throw new Error(`${err.message}\nThe bare route is not mounted: app.ts should mount benchRoutes() when config.benchRoutes is true.`);
  });

  // Setup through the public API; if it is not there yet, still report the bare route.
  let apiHeaders = null;
  try {
    const { apiKey } = await registerAndCreateApiKey(worker.url);
    apiHeaders = { authorization: `Bearer ${apiKey}` };
    await getJson(worker.url, '/api/v1/bots', apiHeaders);
  } catch (err) {
    console.error(`api case skipped: could not get an API key and list bots through the public API.\n  ${err.message}`);
    exitCode = 1;
  }

  console.log(`load: ${DEFAULT_LOAD.durationSeconds} s per target after ${DEFAULT_LOAD.warmupSeconds} s warm-up, ${DEFAULT_LOAD.connections} connections, workerd direct (${worker.url.host})`);
  const rows = [{ target: 'bare: GET /__bench/bare (1 D1 read)', ...(await measure({ url: new URL('/__bench/bare', worker.url) })) }];
  if (apiHeaders) {
    rows.push({ target: 'api:  GET /api/v1/bots (API key)', ...(await measure({ url: new URL('/api/v1/bots', worker.url), headers: apiHeaders })) });
  }

  const [bare, api] = rows;
  if (api) {
    rows.push({ target: `ratio api / bare (target <= ${TARGET_RATIO}×)`, p50: api.p50 / bare.p50, p95: api.p95 / bare.p95, rps: bare.rps / api.rps, ratio: true });
  }
  printTable(
    [
      { key: 'target', title: 'target', align: 'left' },
      { key: 'requests', title: 'requests' },
      { key: 'rps', title: 'req/s (ratio: bare/api)', digits: 0 },
      { key: 'p50', title: 'p50 ms', digits: 2 },
      { key: 'p95', title: 'p95 ms', digits: 2 },
      { key: 'p99', title: 'p99 ms', digits: 2 },
    ],
    rows.map((row) => (row.ratio ? { ...row, rps: fixed(row.rps), p50: fixed(row.p50), p95: fixed(row.p95) } : row)),
  );
  if (api) {
    const worst = Math.max(api.p50 / bare.p50, api.p95 / bare.p95, bare.rps / api.rps);
    console.log(worst <= TARGET_RATIO ? `within target: worst ratio ${worst.toFixed(2)}×` : `ABOVE TARGET: worst ratio ${worst.toFixed(2)}× > ${TARGET_RATIO}×`);
  }
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  exitCode = 1;
} finally {
  await worker.dispose();
}
// workerd and autocannon can leave handles behind for a moment; the result is already printed.
process.exit(exitCode);

function fixed(ratio) {
  return `${ratio.toFixed(2)}×`;
}
