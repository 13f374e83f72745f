/**
 * Debian's chromium driven by playwright-core, and what each test needs around a page: the
 * widget's console output and page errors (printed, with a screenshot, when the test fails),
 * and the network traffic (so tests can assert what the widget asked the Worker).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import type { TestContext } from 'vitest';
import { ROOT } from './worker';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.join(ROOT, 'test', 'e2e', '__screenshots__');
export const FAILURES = path.join(ROOT, 'test', 'e2e', '__failures__');

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface Traffic {
  url: string;
  method: string;
  status: number;
  /** The Origin header the browser sent (null when it sent none, as on same-origin GETs). */
  origin: string | null;
}

export interface TestPage {
  page: Page;
  context: BrowserContext;
  /** Console messages and uncaught page errors, in order. */
  console: string[];
  /** Every response the page received. */
  responses: Traffic[];
  /** Every URL the page requested (also those that never got a response). */
  requests: string[];
  /** Requests that got no response the page could read (network or CORS failure). */
  failedRequests: string[];
  /** Native dialogs (alert, confirm, prompt) the page opened; each is dismissed. */
  dialogs: string[];
}

/**
 * A fresh browser context (its own storage: a new visitor) and page, closed when the test ends.
 * When the test fails, a screenshot and the console output go to test/e2e/__failures__/ and the
 * console to stderr.
 */
export async function openPage(browser: Browser, test: TestContext, options: BrowserContextOptions = {}): Promise<TestPage> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 }, ...options });
  // Under the test's own timeout, so a stuck step fails with Playwright's message (what it waited for).
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const result: TestPage = { page, context, console: [], responses: [], requests: [], failedRequests: [], dialogs: [] };
  page.on('console', (m) => result.console.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => result.console.push(`[pageerror] ${e.message}`));
  page.on('request', (r) => result.requests.push(r.url()));
  page.on('requestfailed', (r) => result.failedRequests.push(r.url()));
  page.on('response', async (r) => {
    const entry: Traffic = { url: r.url(), method: r.request().method(), status: r.status(), origin: null };
    result.responses.push(entry);
    entry.origin = await r.request().headerValue('origin').catch(() => null);
  });
  page.on('dialog', (d) => {
    result.dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  // One hook, in this order: onTestFinished runs before onTestFailed, and the page must still be open for the screenshot.
  test.onTestFinished(async () => {
    if (test.task.result?.state === 'fail') await saveFailure(test, result);
    await context.close();
  });
  return result;
}

async function saveFailure(test: TestContext, tp: TestPage): Promise<void> {
  const name = test.task.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 80);
  mkdirSync(FAILURES, { recursive: true });
  const log = [
    `test: ${test.task.name}`,
    `page: ${tp.page.url()}`,
    '--- console ---',
    ...tp.console,
    '--- responses ---',
    ...tp.responses.map((r) => `${r.status} ${r.method} ${r.url} (Origin: ${r.origin ?? 'none'})`),
    '--- failed requests ---',
    ...tp.failedRequests,
  ].join('\n');
  writeFileSync(path.join(FAILURES, `${name}.log`), log);
  try {
    await tp.page.screenshot({ path: path.join(FAILURES, `${name}.png`), fullPage: true });
  } catch {
    // the page may be gone already
  }
  process.stderr.write(`\n[e2e] "${test.task.name}" failed; screenshot and log in ${path.relative(ROOT, FAILURES)}/${name}.*\n${log}\n`);
}
