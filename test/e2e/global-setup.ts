/**
 * Global setup of the browser tests (vitest.e2e.config.ts): the real Worker under `wrangler
 * dev` (local mode, a fresh temporary persistence directory, migrations applied), two "customer"
 * sites on other loopback origins (one allowed by the bots, one not), and the seed data. What
 * the tests need is handed to them with `provide` (read with `inject`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { applyMigrations, startWorker, type RunningWorker } from './harness/worker';
import { embedPage, startHostServer, type HostServer } from './harness/host-server';
import { freePort } from './harness/ports';
import { FAQ_HTML, seed, type Seeded } from './harness/seed';
import { HOSTILE_CSS } from './harness/pages';
import { startFakeModel, type FakeModel } from './harness/fake-model';
import { seedConfirmations, type SeededConfirmations } from './harness/seed-confirmations';

declare module 'vitest' {
  export interface ProvidedContext {
    workerUrl: string;
    hostOrigin: string;
    disallowedOrigin: string;
    seeded: Seeded;
    /** Action confirmations (issue #11): a bot on the fake model with a confirm-first action. */
    confirmations: SeededConfirmations;
  }
}

/** Secrets for this throwaway Worker only (its database is deleted after the run). */
const TEST_SECRETS = {
  JWT_SECRET: 'e2e-only-jwt-secret-that-is-at-least-32-bytes-long',
  ENCRYPTION_KEY: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=',
};

export default async function setup(project: TestProject) {
  const persistTo = mkdtempSync(path.join(tmpdir(), 'kyrochat-e2e-'));
  let worker: RunningWorker | undefined;
  const hosts: HostServer[] = [];
  let model: FakeModel | undefined;
  const removeStore = () => rmSync(persistTo, { recursive: true, force: true });
  // Interrupted runs (Ctrl-C) skip the teardown: the store goes anyway, after the Worker's own
  // exit hook (registered earlier, by startWorker) has ended wrangler.
  let exitHook = false;
  const teardown = async () => {
    await Promise.all([...hosts.map((h) => h.close()), model?.close()]);
    await worker?.stop();
    removeStore();
    if (exitHook) process.off('exit', removeStore);
  };
  const started = Date.now();
  const step = (what: string) => console.log(`[e2e] ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  try {
    const [workerPort, inspectorPort, hostPort, otherPort, modelPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    model = await startFakeModel(modelPort);
    const host = await startHostServer(hostPort);
    const disallowed = await startHostServer(otherPort);
    hosts.push(host, disallowed);
    // The FAQ page the bots crawl lives on the host site (its URL is what citations link to).
    host.page('/faq', FAQ_HTML);

    const migrated = applyMigrations(persistTo);
    const starting = startWorker({
      port: workerPort,
      inspectorPort,
      persistTo,
      vars: {
        ...TEST_SECRETS,
        APP_URL: `http://localhost:${workerPort}`,
        // The crawler may fetch the host site's FAQ page (loopback is refused by default).
        // …and the fake chat model and action endpoint of the confirmation test.
        EGRESS_ALLOW_HOSTS: `127.0.0.1:${hostPort},127.0.0.1:${modelPort}`,
        // Every test opens a new visitor from the same IP; the default per-IP limit is for the internet.
        WIDGET_IP_RATE_LIMIT: '10000',
        AUTH_RATE_LIMIT: '1000',
      },
    });
    // Both settle before anything else: a failed migration must not leave wrangler dev running.
    const [migration, workerStart] = await Promise.allSettled([migrated, starting]);
    if (workerStart.status === 'fulfilled') worker = workerStart.value;
    process.on('exit', removeStore);
    exitHook = true;
    if (migration.status === 'rejected') throw migration.reason;
    if (workerStart.status === 'rejected') throw workerStart.reason;
    const workerUrl = workerStart.value.url;
    step(`migrations applied, Worker up on ${workerUrl}`);
    const seeded = await seed({ workerUrl, hostOrigin: host.origin, faqUrl: `${host.origin}/faq` });

    const page = (botId: string, title: string, extra: { head?: string; body?: string; lang?: string } = {}) => embedPage({ workerUrl, botId, title, ...extra });
    host.page('/', page(seeded.lightBotId, 'Acme Turbines'));
    host.page('/dark', page(seeded.darkBotId, 'Acme Turbines (dark)', { head: '<style>html{color-scheme:dark;background:#0b1020;color:#e5e7eb}a{color:#93c5fd}</style>' }));
    host.page('/hostile-css', page(seeded.lightBotId, 'A host page with aggressive CSS', { head: `<style>${HOSTILE_CSS}</style>` }));
    host.page('/de', page(seeded.lightBotId, 'Acme Turbinen', { lang: 'de' }));
    host.page('/mascot', page(seeded.hostileBotId, 'Mascot'));
    host.page('/support', page(seeded.liveBotId, 'Acme Support'));
    disallowed.page('/', page(seeded.lightBotId, 'Not an allowed origin'));
    const confirmations = await seedConfirmations({ workerUrl, hostOrigin: host.origin, modelOrigin: model.origin, token: seeded.owner.token });
    host.page('/orders', page(confirmations.botId, 'Acme Orders'));

    step('seeded: owner, three public bots, knowledge ready');
    project.provide('workerUrl', workerUrl);
    project.provide('hostOrigin', host.origin);
    project.provide('disallowedOrigin', disallowed.origin);
    project.provide('seeded', seeded);
    project.provide('confirmations', confirmations);
  } catch (err) {
    if (worker) console.error(`[e2e] wrangler output:\n${worker.output()}`);
    await teardown();
    throw err;
  }
  return teardown;
}
