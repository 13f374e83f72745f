/**
 * Load driver: autocannon with a fixed duration and connection count. Latency percentiles
 * come from every response time recorded here, because autocannon's summary has p50 and p99
 * but no p95.
 */
import autocannon from 'autocannon';

export const DEFAULT_LOAD = { durationSeconds: 5, connections: 10, warmupSeconds: 1, rounds: 2 };

/**
 * Measures several targets against each other. Each target gets `durationSeconds` in total,
 * split into `rounds` slices taken in turn (A B A B), so a change in background load on a
 * shared machine hits every target alike instead of skewing their ratio.
 *
 * @param {Array<{ name: string, url: string | URL, headers?: Record<string, string> }>} targets
 * @param {Partial<typeof DEFAULT_LOAD>} [options]
 * @returns {Promise<Array<{ name: string, requests: number, rps: number, p50: number, p95: number, p99: number }>>}
 *   latencies in milliseconds. Throws if any response was not 2xx or any request failed:
 *   a benchmark of error responses measures the wrong thing.
 */
export async function compare(targets, options = {}) {
  const { durationSeconds, connections, warmupSeconds, rounds } = { ...DEFAULT_LOAD, ...options };
  const slice = durationSeconds / rounds;
  if (warmupSeconds > 0) {
    for (const target of targets) await run(target, warmupSeconds, connections);
  }
  const latencies = targets.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const [i, target] of targets.entries()) latencies[i].push(...(await run(target, slice, connections)));
  }
  return targets.map((target, i) => summarize(target.name, latencies[i], durationSeconds));
}

async function run(target, durationSeconds, connections) {
  const url = String(target.url);
  const latencies = [];
  const statuses = new Map();
  const instance = autocannon({ url, headers: target.headers ?? {}, duration: durationSeconds, connections });
  instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
    latencies.push(responseTimeMs);
    statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1);
  });
  const result = await instance;
  const failures = [...statuses].filter(([status]) => status < 200 || status >= 300).map(([status, n]) => `${n}× HTTP ${status}`);
  if (result.errors > 0) failures.push(`${result.errors} connection errors`);
  if (result.timeouts > 0) failures.push(`${result.timeouts} timeouts`);
  if (failures.length > 0) throw new Error(`load on ${url} got failures: ${failures.join(', ')}`);
  return latencies;
}

function summarize(name, latencies, durationSeconds) {
  const sorted = latencies.toSorted((a, b) => a - b);
  return {
    name,
    requests: sorted.length,
    rps: sorted.length / durationSeconds,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
  };
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
