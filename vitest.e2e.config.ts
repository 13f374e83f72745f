import { defineConfig } from 'vitest/config';

/**
 * Browser tests (test/e2e): Node drives Debian's chromium through playwright-core against the
 * real Worker under `wrangler dev`, started once by the global setup. Not the Workers pool: the
 * tests themselves run in Node. One file, one browser, tests in order.
 */
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    environment: 'node',
    globalSetup: ['./test/e2e/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 30_000,
    // Starting wrangler, applying migrations and crawling the seed knowledge on a busy machine.
    hookTimeout: 120_000,
    // In CI (.ci/run) a JSON report feeds the one-line summary; `npm test` passes its arguments to
    // the unit run only (this run is its posttest), so the report is configured here.
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.ci/e2e-results.json' }]] : ['default'],
  },
});
