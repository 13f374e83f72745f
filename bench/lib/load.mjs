/**
 * Load driver: autocannon with a fixed duration and connection count. Latency percentiles
 * come from every response time recorded here, because autocannon's summary has p50 and p99
 * but no p95.
 */
import autocannon from 'autocannon';

export const DEFAULT_LOAD = { durationSeconds: 5, connections: 10, warmupSeconds: 1 };

/**
 * @param {{ url: string | URL, headers?: Record<string, string>, durationSeconds?: number,
 *           connections?: number, warmupSeconds?: number }} target
 * @returns {Promise<{ requests: number, rps: number, p50: number, p95: number, p99: number }>}
 *   latencies in milliseconds. Throws if any response was not 2xx or any request failed,
 *   since a benchmark of error responses measures the wrong thing.
 */
export async function measure(target) {
  const { durationSeconds, connections, warmupSeconds } = { ...DEFAULT_LOAD, ...target };
  const url = String(target.url);
  if (warmupSeconds > 0) await run(url, target.headers, warmupSeconds, connections);
  const latencies = await run(url, target.headers, durationSeconds, connections);
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    rps: latencies.length / durationSeconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
  };
}

async function run(url, headers = {}, durationSeconds, connections) {
  const latencies = [];
  const statuses = new Map();
  const instance = autocannon({ url, headers, duration: durationSeconds, connections });
  instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
    latencies.push(responseTimeMs);
    statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1);
  });
  const result = await instance;
  const failures = [...statuses].filter(([status]) => status < 200 || status >= 300);
  if (failures.length > 0 || result.errors > 0 || result.timeouts > 0) {
    const byStatus = failures.map(([status, count]) => `${count}× ${status}`).join(', ');
    throw new Error(`load on ${url} got failures: ${[byStatus, result.errors && `${result.errors} errors`, result.timeouts && `${result.timeouts} timeouts`].filter(Boolean).join(', ')}`);
  }
  return latencies;
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
