/**
 * Starts the Worker in workerd for benchmarks, the way `wrangler dev` would but measured
 * WITHOUT its proxy: wrangler's dev server puts a second workerd (the ProxyWorker) in front
 * of the user Worker, and on a small machine that hop, not the app, is what you measure.
 * `unstable_startWorker().url` is that proxy's address, so we listen on wrangler's event bus
 * for the runtime's own address and send load there.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { unstable_DevEnv as DevEnv } from 'wrangler';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const wranglerBin = path.join(projectRoot, 'node_modules/wrangler/bin/wrangler.js');
const wranglerConfig = path.join(projectRoot, 'wrangler.toml');

/** Vars every benchmark run needs; limits are raised so the benchmark measures work, not 429s. */
function benchVars() {
  return {
    ENVIRONMENT: 'development',
    BENCH_ROUTES: '1',
    JWT_SECRET: randomBytes(32).toString('base64url'),
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    AUTH_RATE_LIMIT: '10000',
    API_KEY_RATE_LIMIT: '1000000',
  };
}

/**
 * @returns {Promise<{ url: URL, proxyUrl: URL, dispose: () => Promise<void> }>}
 *   `url` reaches workerd directly; `proxyUrl` goes through wrangler's dev proxy.
 */
export async function startBenchWorker({ vars = {} } = {}) {
  const persistTo = await mkdtemp(path.join(tmpdir(), 'kyrochat-bench-'));
  try {
    applyMigrations(persistTo);
    const devEnv = new DevEnv();
    const directUrl = captureRuntimeUrl(devEnv);
    const bindings = Object.fromEntries(
      Object.entries({ ...benchVars(), ...vars }).map(([name, value]) => [name, { type: 'plain_text', value }]),
    );
    const worker = await devEnv.startWorker({
      config: wranglerConfig,
      bindings,
      sendMetrics: false,
      dev: { persist: persistTo, watch: false, inspector: false, logLevel: 'warn', server: { hostname: '127.0.0.1' } },
    });
    const [proxyUrl, url] = await Promise.all([worker.url, withTimeout(directUrl, 60_000, 'the Worker did not start within 60 s')]);
    return {
      url,
      proxyUrl,
      async dispose() {
        await worker.dispose();
        await rm(persistTo, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(persistTo, { recursive: true, force: true });
    throw err;
  }
}

/** Same command a developer runs, against the same persistence directory the Worker will use. */
function applyMigrations(persistTo) {
  const result = spawnSync(process.execPath, [wranglerBin, 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persistTo], {
    cwd: projectRoot,
    encoding: 'utf8',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (result.status !== 0) {
    throw new Error(`applying D1 migrations failed (exit ${result.status}):\n${result.stderr || result.stdout}`);
  }
}

/** Resolves with the runtime's address from its first `reloadComplete` event. */
function captureRuntimeUrl(devEnv) {
  return new Promise((resolve) => {
    const dispatch = devEnv.dispatch.bind(devEnv);
    devEnv.dispatch = (event) => {
      if (event.type === 'reloadComplete' && event.proxyData?.userWorkerUrl) {
        const { protocol, hostname, port } = event.proxyData.userWorkerUrl;
        resolve(new URL(`${protocol}//${hostname}:${port}`));
      }
      dispatch(event);
    };
  });
}

function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
