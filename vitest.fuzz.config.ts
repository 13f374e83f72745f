/**
 * `npm run fuzz`: the OpenAPI fuzz suite alone, for a long run. The same Workers setup as
 * vitest.config.ts; the budget reaches the test through vitest's provide/inject (workerd
 * sees no process.env):
 *   FUZZ_SECONDS  total wall time spread over the operations (default 600)
 *   FUZZ_RUNS     optional cap on runs per operation
 *   FUZZ_SEED     replays a run (every failure and the suite title print the seed)
 */
import { defineConfig, mergeConfig, type ViteUserConfig } from 'vitest/config';
import base from './vitest.config';

const numberFromEnv = (name: string): number | undefined => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got ${JSON.stringify(raw)}`);
  return value;
};

const seconds = numberFromEnv('FUZZ_SECONDS') ?? 600;

export default defineConfig(async (env) => {
  const merged = mergeConfig(await (base as (e: typeof env) => Promise<ViteUserConfig>)(env), {
    test: {
      provide: { FUZZ_SECONDS: seconds, FUZZ_RUNS: numberFromEnv('FUZZ_RUNS'), FUZZ_SEED: numberFromEnv('FUZZ_SEED') },
      hookTimeout: 120_000,
    },
  });
  // mergeConfig concatenates arrays; the fuzz run takes exactly one file.
  merged.test!.include = ['test/platform/openapi-fuzz.test.ts'];
  return merged;
});
