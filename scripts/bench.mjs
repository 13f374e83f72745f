/**
 * `npm run bench [-- name…]`: runs every bench/*.mjs case (or those whose file name contains
 * one of the given names) one after another, each in its own Node process so a crash or a
 * leaked handle in one case cannot touch the next. Output passes straight through; a failing
 * case is reported and the rest still run; the exit code is non-zero if any case failed.
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const benchDir = path.join(root, 'bench');
const filters = process.argv.slice(2);

const cases = (await readdir(benchDir, { withFileTypes: true }))
  .filter((entry) => entry.isFile() && entry.name.endsWith('.mjs'))
  .map((entry) => entry.name)
  .filter((name) => filters.length === 0 || filters.some((f) => name.includes(f)))
  .sort();

if (cases.length === 0) {
  console.error(filters.length ? `no bench case matches: ${filters.join(', ')}` : 'no bench cases in bench/');
  process.exit(1);
}

const outcomes = [];
for (const name of cases) {
  console.log(`\n=== ${name} ===`);
  const started = Date.now();
  const exit = await runCase(path.join(benchDir, name));
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  outcomes.push({ name, ok: exit.code === 0, exit, seconds });
  if (exit.code !== 0) console.error(`--- ${name} FAILED (${describe(exit)}) after ${seconds} s`);
}

console.log('\n=== summary ===');
for (const { name, ok, exit, seconds } of outcomes) {
  console.log(`${ok ? 'ok    ' : 'FAILED'}  ${name}  ${seconds} s${ok ? '' : `  (${describe(exit)})`}`);
}
process.exit(outcomes.every((o) => o.ok) ? 0 : 1);

function runCase(file) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    });
    child.on('error', (error) => resolve({ code: 1, error }));
    child.on('exit', (code, signal) => resolve({ code: code ?? 1, signal }));
  });
}

function describe(exit) {
  if (exit.error) return exit.error.message;
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}
