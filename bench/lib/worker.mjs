/**
 * Starts the Worker in workerd for benchmarks through Miniflare's API, with no dev proxy.
 *
 * Why not `wrangler dev` / `unstable_startWorker`: both put a second workerd (wrangler's
 * ProxyWorker) in front of the Worker, and `unstable_startWorker().url` is that proxy's
 * address, so a benchmark through it measures the hop. Wrangler still does what it is good
 * at here: bundling (`deploy --dry-run`, the bundle production gets) and turning
 * wrangler.toml into binding options. The Miniflare imported here is the one the test runner
 * uses, so benchmarks and tests run the same workerd.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';

// Wrangler reads its log level once, when imported: keep its local-dev notices (.dev.vars in
// use, Vectorize not simulated) out of benchmark output. Errors still show.
process.env.WRANGLER_LOG ??= 'error';
const { unstable_getMiniflareWorkerOptions, unstable_splitSqlQuery } = await import('wrangler');

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const wranglerBin = path.join(projectRoot, 'node_modules/wrangler/bin/wrangler.js');
const wranglerConfig = path.join(projectRoot, 'wrangler.toml');
const migrationsDir = path.join(projectRoot, 'migrations');

/** Vars every benchmark run needs; limits are raised so the benchmark measures work, not 429s. */
function benchVars() {
  return {
    ENVIRONMENT: 'development',
    JWT_SECRET: randomBytes(32).toString('base64url'),
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    AUTH_RATE_LIMIT: '10000',
    API_KEY_RATE_LIMIT: '1000000',
  };
}

/**
 * Bundles the Worker, starts it on a random local port with fresh in-memory storage and
 * applies the D1 migrations. `webFetcher` (Request → Response, run in Node) answers the
 * Worker's outbound fetches, as the test site does in tests.
 * @returns {Promise<{ url: URL, db: D1Database, dispose: () => Promise<void> }>}
 */
export async function startBenchWorker({ vars = {}, webFetcher } = {}) {
  const buildDir = await mkdtemp(path.join(tmpdir(), 'kyrochat-bench-'));
  let mf;
  try {
    const scriptPath = bundleWorker(buildDir);
    // Module rules only matter for unbundled sources; the bundle is one ES module.
    const { modulesRules: _forUnbundledSources, ...workerOptions } = unstable_getMiniflareWorkerOptions(wranglerConfig).workerOptions;
    // Wrangler (4.86 and 4.15x alike) describes bindings in Miniflare 4's option shape.
    mf = new Miniflare(
      convertV4MiniflareOptions({
        ...workerOptions,
        name: 'kyrochat',
        modules: true,
        scriptPath,
        // Module names are paths relative to this root; the bundle lives outside the project.
        modulesRoot: buildDir,
        // No local simulator exists; the Worker uses its local vector index (VECTOR_BACKEND=local).
        vectorize: undefined,
        bindings: { ...workerOptions.bindings, ...benchVars(), ...vars },
        // Outbound requests (crawler, reranker) go to an in-process fake when one is given.
        ...(webFetcher ? { serviceBindings: { ...workerOptions.serviceBindings, WEB_FETCHER: webFetcher } } : {}),
        host: '127.0.0.1',
        port: 0,
        // The log line per request is part of the measured work; printing 50,000 of them is not.
        handleStructuredLogs: ({ level, message }) => {
          if (level === 'warn' || level === 'error') process.stderr.write(`[worker ${level}] ${message}\n`);
        },
      }),
    );
    const url = await mf.ready;
    const db = await mf.getD1Database('DB');
    await applyMigrations(db);
    return {
      url,
      /** The Worker's D1, for scripts that inspect what was stored (the eval's --dump). */
      db,
      async dispose() {
        await mf.dispose();
        await rm(buildDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await mf?.dispose().catch(() => {});
    await rm(buildDir, { recursive: true, force: true });
    throw err;
  }
}

/** The same bundle `wrangler deploy` would upload. */
function bundleWorker(outdir) {
  const result = spawnSync(process.execPath, [wranglerBin, 'deploy', 'bench/worker/index.ts', '--dry-run', '--outdir', outdir], {
    cwd: projectRoot,
    encoding: 'utf8',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (result.status !== 0) {
    throw new Error(`bundling the Worker failed (exit ${result.status}):\n${result.stderr || result.stdout}`);
  }
  return path.join(outdir, 'index.js');
}

/** Every migration in order, split the way `wrangler d1 migrations apply` splits them. */
async function applyMigrations(db) {
  const files = (await readdir(migrationsDir)).filter((name) => name.endsWith('.sql')).sort();
  for (const file of files) {
    const statements = unstable_splitSqlQuery(await readFile(path.join(migrationsDir, file), 'utf8'));
    try {
      await db.batch(statements.map((sql) => db.prepare(sql)));
    } catch (err) {
      throw new Error(`migration ${file} failed: ${err instanceof Error ? err.message : err}`);
    }
  }
}
