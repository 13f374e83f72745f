/**
 * The embeddable widget in a real browser (issue #9): Debian's chromium loads a customer's page
 * from one loopback origin (http://127.0.0.1:<port>), which embeds /widget.js from the Worker
 * running under `wrangler dev` on another (http://localhost:<port>). Answers come from the
 * offline extractive answerer quoting the seeded knowledge (test/e2e/harness/seed.ts), so they
 * are deterministic. Each test is a new browser context: a new visitor with empty storage.
 */
import { createHmac } from 'node:crypto';
import { statSync } from 'node:fs';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchBrowser, openPage, SCREENSHOTS } from './harness/browser';
import { EXPECTED, HOSTILE_MARKUP, ownerApi, QUESTIONS, SUGGESTED_QUESTIONS } from './harness/seed';
import { ask, computedStyles, finishedAnswer, focused, openWidget, storedConversationId, streamTrace, traceStreaming, ui } from './harness/widget';

const workerUrl = inject('workerUrl');
const hostOrigin = inject('hostOrigin');
const disallowedOrigin = inject('disallowedOrigin');
const seeded = inject('seeded');
const asOwner = ownerApi(workerUrl, seeded.owner.token);

let browser: Browser;

beforeAll(async () => {
  // A readable failure when the bundle was not built, rather than a timeout in every test.
  const bundle = await fetch(`${workerUrl}/widget.js`);
  await bundle.arrayBuffer();
  if (bundle.status !== 200) throw new Error(`the Worker answers ${bundle.status} for /widget.js: build the widget first (npm run build:widget; npm run test:e2e does it)`);
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
});

describe('a visitor on an allowed host page', () => {
  it('opens the widget, asks (suggestions give way), and the answer streams in (busy, then complete) with a citation linking to the source URL, with no console error', async (test) => {
    const { page, console: output } = await openPage(browser, test);
    await page.goto(`${hostOrigin}/`);
    const w = ui(page);
    await expect.poll(() => w.launcher.getAttribute('aria-label')).toBe('Open chat');
    await openWidget(page);
    expect(await w.launcher.getAttribute('aria-expanded')).toBe('true');
    expect(await w.suggestions.allTextContents()).toEqual(SUGGESTED_QUESTIONS);

    await traceStreaming(page);
    await ask(page, QUESTIONS.warranty);
    await expect.poll(() => w.userMessages.last().textContent()).toContain(QUESTIONS.warranty);
    // Suggestions are offered until the first message only.
    await expect.poll(() => w.suggestions.first().isVisible()).toBe(false);
    const answer = await finishedAnswer(page, EXPECTED.warranty);
    expect(answer.body).toContain('The Acme Turbine warranty lasts three years from the date of purchase');

    // Streaming: the answer's bubble was marked busy while its text was still shorter than the whole answer.
    const trace = await streamTrace(page);
    const finalLength = answer.body.length;
    expect(trace.some((s) => s.busy && s.length < finalLength), JSON.stringify(trace)).toBe(true);
    expect(trace.at(-1)).toEqual({ busy: false, length: finalLength });

    const citation = answer.locator.locator('.kc-citations a');
    await expect.poll(() => citation.count()).toBe(1);
    expect(await citation.getAttribute('href')).toBe(seeded.faqUrl);
    expect(output.filter((line) => line.startsWith('[error]') || line.startsWith('[pageerror]'))).toEqual([]);
  });

  it("thumbs up on an answer is stored as the visitor's rating, which the owner reads and another org cannot; copy puts the answer on the clipboard", async (test) => {
    const { page, context } = await openPage(browser, test);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: hostOrigin });
    await page.goto(`${hostOrigin}/`);
    await openWidget(page);
    await ask(page, QUESTIONS.refunds);
    const answer = await finishedAnswer(page, EXPECTED.refunds);
    const up = answer.locator.locator('.kc-feedback-up');
    expect(await up.getAttribute('aria-pressed')).toBe('false');
    await up.click();
    await expect.poll(() => up.getAttribute('aria-pressed')).toBe('true');
    expect(await answer.locator.locator('.kc-feedback-down').getAttribute('aria-pressed')).toBe('false');

    await answer.locator.locator('.kc-copy').click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toContain('Refunds are paid back to the original card within five working days');

    const conversationId = await storedConversationId(page, seeded.lightBotId);
    const feedbackPath = `/api/v1/conversations/${conversationId}/messages/${answer.messageId}/feedback`;
    await expect
      .poll(async () => (await asOwner('GET', feedbackPath)).data.map((f: { rating: string; author: { kind: string } }) => ({ rating: f.rating, author: f.author.kind })))
      .toEqual([{ rating: 'up', author: 'visitor' }]);

    // Another tenant's owner does not even learn that the conversation exists.
    const outsider = await fetch(`${workerUrl}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `e2e-outsider-${Date.now().toString(36)}@example.com`, password: 'outsider-password-123', name: 'Outsider' }),
    }).then((r) => r.json());
    const crossTenant = await fetch(`${workerUrl}${feedbackPath}`, { headers: { authorization: `Bearer ${outsider.accessToken}` } });
    expect(crossTenant.status).toBe(404);
    expect(crossTenant.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    await crossTenant.arrayBuffer();
  });

  it('the lead form refuses an invalid email without storing anything, then stores a valid lead the owner can list', async (test) => {
    const { page } = await openPage(browser, test);
    await page.goto(`${hostOrigin}/`);
    await openWidget(page);
    await ask(page, QUESTIONS.noise);
    await finishedAnswer(page, EXPECTED.noise);

    // The bot's lead form asks after the first answer.
    const w = ui(page);
    await w.leadForm.waitFor({ state: 'visible' });
    const email = `lead-${Date.now().toString(36)}@example.com`;
    const leadsFor = async (q: string) => (await asOwner('GET', `/api/v1/leads?botId=${seeded.lightBotId}&q=${encodeURIComponent(q)}`)).data;

    await w.leadForm.locator('input[name=name]').fill('Ada Visitor');
    await w.leadForm.locator('input[name=email]').fill('not-an-email');
    await w.leadForm.locator('button[type=submit]').click();
    expect(await w.leadDone.count()).toBe(0);
    expect(await w.leadForm.isVisible()).toBe(true);
    expect(await leadsFor('Ada Visitor')).toEqual([]);

    await w.leadForm.locator('input[name=email]').fill(email);
    await w.leadForm.locator('input[name=phone]').fill('+4930123456');
    await w.leadForm.locator('button[type=submit]').click();
    await w.leadDone.waitFor({ state: 'visible' });

    const conversationId = await storedConversationId(page, seeded.lightBotId);
    const leads = await leadsFor(email);
    expect(leads).toHaveLength(1);
    expect(leads[0]).toMatchObject({ botId: seeded.lightBotId, conversationId, name: 'Ada Visitor', email, phone: '+4930123456' });
  });

  it('a reload keeps the conversation: the same question and answer are shown again, with the thumb the visitor pressed', async (test) => {
    const { page } = await openPage(browser, test);
    await page.goto(`${hostOrigin}/`);
    await openWidget(page);
    await ask(page, QUESTIONS.warranty);
    const before = await finishedAnswer(page, EXPECTED.warranty);
    const conversationId = await storedConversationId(page, seeded.lightBotId);
    const down = before.locator.locator('.kc-feedback-down');
    await down.click();
    await expect.poll(() => down.getAttribute('aria-pressed')).toBe('true');

    await page.reload();
    const w = ui(page);
    await w.launcher.waitFor({ state: 'visible' });
    if ((await w.launcher.getAttribute('aria-expanded')) !== 'true') await openWidget(page);
    const after = await finishedAnswer(page, EXPECTED.warranty);
    expect(after.messageId).toBe(before.messageId);
    expect(after.body).toBe(before.body);
    expect(await after.locator.locator('.kc-feedback-down').getAttribute('aria-pressed')).toBe('true');
    expect(await after.locator.locator('.kc-feedback-up').getAttribute('aria-pressed')).toBe('false');
    expect(await w.userMessages.allTextContents()).toEqual([expect.stringContaining(QUESTIONS.warranty)]);
    expect(await storedConversationId(page, seeded.lightBotId)).toBe(conversationId);
  });

  it('keyboard only: Tab reaches the launcher, Enter opens with focus in the message box, Enter sends, Escape closes and focus returns to the launcher', async (test) => {
    const { page } = await openPage(browser, test);
    await page.goto(`${hostOrigin}/`);
    const w = ui(page);
    await w.launcher.waitFor({ state: 'visible' });

    const seen: string[] = [];
    for (let i = 0; i < 10 && seen.at(-1) !== 'BUTTON.kc-launcher'; i++) {
      await page.keyboard.press('Tab');
      seen.push(await focused(page));
    }
    expect(seen.at(-1), `focus went through ${seen.join(' → ')}`).toBe('BUTTON.kc-launcher');

    await page.keyboard.press('Enter');
    await w.panel.waitFor({ state: 'visible' });
    await expect.poll(() => focused(page)).toBe('TEXTAREA.kc-input');

    await page.keyboard.type(QUESTIONS.refunds);
    await page.keyboard.press('Enter');
    await finishedAnswer(page, EXPECTED.refunds);

    await page.keyboard.press('Escape');
    await w.panel.waitFor({ state: 'hidden' });
    expect(await w.launcher.getAttribute('aria-expanded')).toBe('false');
    await expect.poll(() => focused(page)).toBe('BUTTON.kc-launcher');
  });

  it('the host page drives it with KyroChat.open(), .close() and .on(), and listeners stop after unsubscribing', async (test) => {
    const { page } = await openPage(browser, test);
    await page.goto(`${hostOrigin}/`);
    const w = ui(page);
    await w.launcher.waitFor({ state: 'visible' });
    await page.evaluate(() => {
      const events: string[] = [];
      (window as unknown as { __kcEvents: string[] }).__kcEvents = events;
      const api = (window as unknown as { KyroChat: { on(e: string, fn: () => void): () => void } }).KyroChat;
      api.on('open', () => events.push('open'));
      const offClose = api.on('close', () => {
        events.push('close');
        offClose();
      });
    });
    const events = () => page.evaluate(() => (window as unknown as { __kcEvents: string[] }).__kcEvents);
    const kyro = (call: 'open' | 'close') => page.evaluate((c) => (window as unknown as { KyroChat: Record<string, () => void> }).KyroChat[c]!(), call);

    await kyro('open');
    await w.panel.waitFor({ state: 'visible' });
    await kyro('close');
    await w.panel.waitFor({ state: 'hidden' });
    await kyro('open');
    await w.panel.waitFor({ state: 'visible' });
    await kyro('close');
    await w.panel.waitFor({ state: 'hidden' });
    expect(await events()).toEqual(['open', 'close', 'open']);
  });

  it("KyroChat.identify() with the host's HMAC brings a verified user's conversation to a second device; a bad hash is refused with an error and shows none of it", async (test) => {
    const { secret } = await asOwner<{ secret: string }>('POST', `/api/v1/bots/${seeded.darkBotId}/identity-secret/rotate`);
    const userId = `host-user-${Date.now().toString(36)}`;
    const hash = createHmac('sha256', secret).update(userId).digest('hex');
    const identify = (page: Page, h: string) =>
      page.evaluate(
        ([u, h]) => (window as unknown as { KyroChat: { identify(i: { userId: string; hash: string }): Promise<void> } }).KyroChat.identify({ userId: u!, hash: h! }),
        [userId, h],
      );

    const laptop = await openPage(browser, test);
    await laptop.page.goto(`${hostOrigin}/dark`);
    await identify(laptop.page, hash);
    await openWidget(laptop.page);
    await ask(laptop.page, QUESTIONS.noise);
    const asked = await finishedAnswer(laptop.page, EXPECTED.noise);

    const phone = await openPage(browser, test);
    await phone.page.goto(`${hostOrigin}/dark`);
    await identify(phone.page, hash);
    await openWidget(phone.page);
    const resumed = await finishedAnswer(phone.page, EXPECTED.noise);
    expect(resumed.messageId).toBe(asked.messageId);

    const forged = await openPage(browser, test);
    await forged.page.goto(`${hostOrigin}/dark`);
    await identify(forged.page, hash.replace(/^./, (c) => (c === '0' ? '1' : '0')));
    await openWidget(forged.page);
    await ui(forged.page).error.first().waitFor({ state: 'visible' });
    expect(await ui(forged.page).answers.count()).toBe(0);
  });

  it('data-lang="de" shows the German strings (launcher, message box, send)', async (test) => {
    const { page } = await openPage(browser, test);
    await page.goto(`${hostOrigin}/de`);
    const w = ui(page);
    await expect.poll(() => w.launcher.getAttribute('aria-label')).toBe('Chat öffnen');
    await openWidget(page);
    expect(await w.input.getAttribute('aria-label')).toBe('Nachricht');
    expect(await w.send.getAttribute('aria-label')).toBe('Senden');
  });

  it('on a phone-sized viewport the open panel fills the screen', async (test) => {
    const viewport = { width: 375, height: 700 };
    const { page } = await openPage(browser, test, { viewport, isMobile: true, hasTouch: true });
    await page.goto(`${hostOrigin}/`);
    await openWidget(page);
    expect(await ui(page).panel.boundingBox()).toEqual({ x: 0, y: 0, ...viewport });
  });
});

describe('the preview page', () => {
  it("GET /widget/preview/{botId} shows the embed snippet and a working, styled widget with no CSP violation", async (test) => {
    const { page, console: output } = await openPage(browser, test);
    const res = await page.goto(`${workerUrl}/widget/preview/${seeded.lightBotId}`);
    expect(res?.status()).toBe(200);
    expect(await page.locator('body').innerText()).toContain(`<script src="${workerUrl}/widget.js" data-bot-id="${seeded.lightBotId}" defer></script>`);

    await openWidget(page);
    // The widget's own styles applied (a stylesheet blocked by the page's CSP would leave a static, unstyled button).
    expect((await computedStyles(page, ['.kc-launcher', '.kc-panel']))['.kc-panel']!.position).toBe('fixed');
    await ask(page, QUESTIONS.noise);
    await finishedAnswer(page, EXPECTED.noise);
    expect(output.filter((line) => /Content Security Policy|Refused to/i.test(line))).toEqual([]);
  });
});

describe('a hostile host page', () => {
  it("host CSS does not leak in: the widget's computed styles on a page with !important rules on every element equal those on a plain page", async (test) => {
    const selectors = ['.kc-launcher', '.kc-panel', '.kc-messages', '.kc-msg--assistant', '.kc-msg-body', 'textarea.kc-input', 'button.kc-send', '.kc-close', '.kc-powered'];
    const stylesOn = async (pathname: string) => {
      const { page } = await openPage(browser, test);
      await page.goto(`${hostOrigin}${pathname}`);
      await openWidget(page);
      const styles = await computedStyles(page, selectors);
      const boxes = { launcher: await ui(page).launcher.boundingBox(), panel: await ui(page).panel.boundingBox() };
      const hostHeading = await page.locator('h1').evaluate((h) => ({ color: getComputedStyle(h).color, fontSize: getComputedStyle(h).fontSize }));
      return { styles, boxes, hostHeading };
    };
    const plain = await stylesOn('/');
    const hostile = await stylesOn('/hostile-css');

    // The hostile rules are in force on the host's own elements…
    expect(hostile.hostHeading).toEqual({ color: 'rgb(255, 0, 0)', fontSize: '40px' });
    // …and change nothing inside the widget.
    for (const selector of selectors) expect(plain.styles[selector], `${selector} is missing`).not.toBeNull();
    expect(hostile.styles).toEqual(plain.styles);
    expect(hostile.boxes).toEqual(plain.boxes);
    expect(hostile.styles['.kc-msg-body']!.color).not.toBe('rgb(255, 0, 0)');
    expect(hostile.styles['textarea.kc-input']!['font-size']).not.toBe('40px');
  });

  it('an answer quoting <img onerror=…> renders as text: no img element, no request for its src, no script run', async (test) => {
    const { page, requests, dialogs } = await openPage(browser, test);
    await page.goto(`${hostOrigin}/mascot`);
    await openWidget(page);
    await ask(page, QUESTIONS.mascot);
    const answer = await finishedAnswer(page, 'support mascot');
    expect(answer.body).toContain(`The support mascot is called ${HOSTILE_MARKUP}`);
    expect(await answer.locator.locator('.kc-msg-body').innerText()).toContain(HOSTILE_MARKUP);

    // Had the markup become an element, its src would resolve against the page and be requested at once.
    await page.waitForLoadState('networkidle');
    expect(await page.evaluate(() => document.getElementById('kyrochat-widget')!.shadowRoot!.querySelectorAll('img, [onerror]').length)).toBe(0);
    expect(requests.filter((url) => new URL(url).pathname === '/x')).toEqual([]);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)).toBeUndefined();
    expect(dialogs).toEqual([]);
  });

  it('a page on an origin the bot does not allow shows an error and cannot chat; the Worker refuses it (403) and stores no conversation', async (test) => {
    const conversationsOfBot = async () => (await asOwner('GET', `/api/v1/conversations?botId=${seeded.lightBotId}&limit=100`)).data.length as number;
    const before = await conversationsOfBot();

    const { page, responses, requests } = await openPage(browser, test);
    await page.goto(`${disallowedOrigin}/`);
    const w = ui(page);
    await openWidget(page);
    await w.error.first().waitFor({ state: 'visible' });
    expect(((await w.error.first().textContent()) ?? '').trim()).not.toBe('');
    expect(await w.input.isDisabled()).toBe(true);
    expect(await w.send.isDisabled()).toBe(true);

    // The widget did ask the Worker, and got nothing it could read.
    expect(requests.filter((url) => url.startsWith(`${workerUrl}/api/v1/widget/${seeded.lightBotId}/`)).length).toBeGreaterThan(0);
    expect(responses.filter((r) => r.url.startsWith(`${workerUrl}/api/`) && r.status < 300 && r.method !== 'OPTIONS')).toEqual([]);
    expect(await w.answers.count()).toBe(0);
    expect(await w.userMessages.count()).toBe(0);

    // The refusal is the Worker's, not only the browser's CORS check: a 403 problem for this Origin.
    for (const [method, rest] of [['GET', 'config'], ['POST', 'session']] as const) {
      const res = await fetch(`${workerUrl}/api/v1/widget/${seeded.lightBotId}/${rest}`, {
        method,
        headers: { origin: disallowedOrigin, 'content-type': 'application/json' },
        body: method === 'POST' ? '{}' : undefined,
      });
      expect(res.status, `${method} ${rest}`).toBe(403);
      expect((await res.json()).code).toBe('origin_not_allowed');
    }
    expect(await conversationsOfBot()).toBe(before);
  });
});

describe('accessibility and screenshots of the open widget', () => {
  for (const theme of ['light', 'dark'] as const) {
    it(`axe-core finds no serious or critical violations in the open ${theme} widget with an answer (screenshot saved)`, async (test) => {
      const { page } = await openPage(browser, test);
      await page.goto(`${hostOrigin}${theme === 'dark' ? '/dark' : '/'}`);
      await openWidget(page);
      await ask(page, QUESTIONS.warranty);
      await finishedAnswer(page, EXPECTED.warranty);
      await ui(page).leadForm.waitFor({ state: 'visible' });

      const results = await new AxeBuilder({ page }).include('#kyrochat-widget').analyze();
      const severe = results.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
      expect(severe).toEqual([]);
      // axe did look at the widget: it passed rules on its elements.
      expect(results.passes.length).toBeGreaterThan(0);

      // The question and its answer in view (the lead form that follows the first answer scrolls them up).
      await ui(page).userMessages.last().scrollIntoViewIfNeeded();
      const file = path.join(SCREENSHOTS, `widget-${theme}.png`);
      await page.screenshot({ path: file });
      expect(statSync(file).size).toBeGreaterThan(10_000);
    });
  }
});
