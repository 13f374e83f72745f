/**
 * Starts the real Worker with `wrangler dev` in local mode for the browser tests: its own
 * persistence directory (so every run starts empty), the D1 migrations, a free port,
 * no metrics, and resolves once /health answers. The Worker's output is kept so a failed
 * start (or a failed test) can show it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
const BIN = path.join(ROOT, 'node_modules', '.bin');
/** wrangler needs Node >= 22: the `node` devDependency in node_modules/.bin comes first on PATH. */
const childEnv = () => ({ ...process.env, PATH: `${BIN}${path.delimiter}${process.env.PATH ?? ''}`, WRANGLER_SEND_METRICS: 'false', CI: '1', NO_COLOR: '1' });

export interface RunningWorker {
  url: string;
  /** Everything wrangler and the Worker printed so far (console.log of the Worker included). */
  output: () => string;
  stop: () => Promise<void>;
}

export interface StartWorkerOptions {
  port: number;
  inspectorPort: number;
  persistTo: string;
  vars: Record<string, string>;
  /** How long to wait for /health (a cold wrangler on a busy 2-core machine takes ~10 s). */
  timeoutMs?: number;
}

/**
 * `wrangler d1 migrations apply` on the local database in `persistTo`. It may run while `wrangler
 * dev` starts on the same directory (the usual local workflow), which saves a cold wrangler start.
 */
export function applyMigrations(persistTo: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(BIN, 'wrangler'), ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persistTo], {
      cwd: ROOT,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`wrangler d1 migrations apply failed (${code}):\n${output}`))));
  });
}

export async function startWorker(opts: StartWorkerOptions): Promise<RunningWorker> {
  const args = [
    'dev',
    '--port', String(opts.port),
    '--ip', '127.0.0.1',
    '--inspector-port', String(opts.inspectorPort),
    '--persist-to', opts.persistTo,
    '--show-interactive-dev-session=false',
    '--log-level', 'log',
    ...Object.entries(opts.vars).flatMap(([key, value]) => ['--var', `${key}:${value}`]),
  ];
  // detached: the child leads its own process group, so stop() ends wrangler and workerd together.
  const child: ChildProcess = spawn(path.join(BIN, 'wrangler'), args, { cwd: ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    // Bounded: a long run must not grow the harness's memory without end.
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited: number | null = null;
  // Its own process group is not the terminal's: if vitest exits without the teardown (Ctrl-C),
  // end wrangler and workerd here rather than leave them running.
  const killOnExit = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.on('exit', killOnExit);
  child.on('exit', (code) => {
    exited = code ?? -1;
    process.off('exit', killOnExit);
  });

  const url = `http://localhost:${opts.port}`;
  const stop = async () => {
    if (exited !== null || child.pid === undefined) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 5_000);
    await gone;
    clearTimeout(timer);
  };

  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (exited !== null) throw new Error(`wrangler dev exited with ${exited} before the Worker answered:\n${output}`);
    try {
      const res = await fetch(`${url}/health`);
      await res.arrayBuffer();
      if (res.ok) return { url, output: () => output, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await stop();
  throw new Error(`the Worker did not answer ${url}/health within ${opts.timeoutMs ?? 60_000} ms:\n${output}`);
}
