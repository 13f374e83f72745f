import path from 'node:path';
import { defineConfig } from 'vitest/config';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { buildWidget } from './scripts/build-widget.mjs';

export default defineConfig(async () => {
  // The Worker imports the widget bundle (src/features/widget/bundle.generated.ts, not committed):
  // build it here too, so `npx vitest run <file>` works on a fresh clone without `npm test`.
  await buildWidget();
  const migrations = await readD1Migrations(path.join(import.meta.dirname, 'migrations'));
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: './wrangler.toml' },
        miniflare: {
          // The crawler's egress goes to a small test website instead of the network, and
          // mail (in MAILER=http tests) to a fake provider.
          serviceBindings: { WEB_FETCHER: 'test-site', MAIL_FETCHER: 'test-mail-provider' },
          workers: [
            {
              name: 'test-site',
              modules: true,
              scriptPath: './test/fixtures/site/worker.js',
              compatibilityDate: '2026-11-01',
            },
            {
              name: 'test-mail-provider',
              modules: true,
              scriptPath: './test/fixtures/mail-provider/worker.js',
              compatibilityDate: '2026-11-01',
            },
          ],
          bindings: {
            ENVIRONMENT: 'test',
            TEST_MIGRATIONS: migrations,
            JWT_SECRET: 'test-secret-that-is-at-least-32-bytes-long!!',
            ENCRYPTION_KEY: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=',
            ENCRYPTION_KEY_ID: 'test1',
            DASHBOARD_ORIGINS: 'https://dashboard.test',
            AUTH_RATE_LIMIT: '1000',
            // A self-hosted model server (Ollama's port) the egress guard lets through.
            EGRESS_ALLOW_HOSTS: 'localhost:11434',
          },
        },
      }),
    ],
    test: {
      include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
      exclude: ['test/e2e/**', 'node_modules/**'],
      setupFiles: ['./test/setup/d1-bound-parameter-guard.ts', './test/setup/apply-migrations.ts'],
      // Each test file gets its own workerd with isolated storage; starting one costs seconds, so
      // two files at a time use both cores of a small CI machine (measured: 1.6x faster).
      maxWorkers: 2,
      testTimeout: 20_000,
      silent: 'passed-only' as const,
      hookTimeout: 30_000,
    },
  };
});
