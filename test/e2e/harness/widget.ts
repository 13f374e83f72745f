/**
 * The widget as a visitor sees it, through its DOM contract (widget/README.md). Playwright's
 * CSS locators pierce open shadow roots, so `.kc-launcher` finds the button inside
 * `#kyrochat-widget`'s shadow root; page.evaluate code goes through `shadowRoot` explicitly.
 */
import { expect } from 'vitest';
import type { Locator, Page } from 'playwright-core';

export const ui = (page: Page) => ({
  launcher: page.locator('.kc-launcher'),
  panel: page.locator('.kc-panel[role=dialog]'),
  close: page.locator('.kc-close'),
  log: page.locator('.kc-messages[role=log]'),
  input: page.locator('textarea.kc-input'),
  send: page.locator('button.kc-send'),
  userMessages: page.locator('.kc-msg.kc-msg--user'),
  /** Stored answers (greetings have no message id). */
  answers: page.locator('.kc-msg.kc-msg--assistant[data-message-id]'),
  error: page.locator('.kc-error'),
  leadForm: page.locator('form.kc-lead'),
  leadDone: page.locator('.kc-lead-done'),
  suggestions: page.locator('.kc-suggestions button'),
});

const STREAM_TIMEOUT_MS = 15_000;

export async function openWidget(page: Page): Promise<void> {
  const w = ui(page);
  await w.launcher.click();
  await w.panel.waitFor({ state: 'visible' });
}

/** Types the question and sends it with Enter, as a visitor does. */
export async function ask(page: Page, question: string): Promise<void> {
  const w = ui(page);
  // A readable failure instead of waiting for a disabled message box.
  if (await w.error.isVisible()) throw new Error(`the widget shows an error instead of taking a message: ${(await w.error.textContent())?.trim()}`);
  await w.input.fill(question);
  await w.input.press('Enter');
}

/** The newest stored answer once it finished streaming (no aria-busy) and holds `text`. */
export async function finishedAnswer(page: Page, text: string): Promise<{ locator: Locator; messageId: string; body: string }> {
  const locator = ui(page).answers.filter({ hasText: text }).last();
  await locator.waitFor({ state: 'visible', timeout: STREAM_TIMEOUT_MS });
  await expect.poll(() => locator.getAttribute('aria-busy'), { timeout: STREAM_TIMEOUT_MS }).toBeNull();
  const messageId = (await locator.getAttribute('data-message-id'))!;
  expect(messageId).toMatch(/^msg_/);
  const body = (await locator.locator('.kc-msg-body').textContent()) ?? '';
  return { locator, messageId, body };
}

/** `TAG.class` of the focused element, looking inside the widget's shadow root. */
export function focused(page: Page): Promise<string> {
  return page.evaluate(() => {
    let el: Element | null = document.activeElement;
    while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
    if (!el) return 'none';
    return `${el.tagName}${el.classList.length ? '.' + [...el.classList].join('.') : ''}`;
  });
}

/** The visitor's conversation as the widget stores it (localStorage["kyrochat:<botId>"]). */
export async function storedConversationId(page: Page, botId: string): Promise<string> {
  const raw = await page.evaluate((key) => localStorage.getItem(key), `kyrochat:${botId}`);
  const conversationId = raw ? (JSON.parse(raw) as { conversationId?: string }).conversationId : undefined;
  if (!conversationId) throw new Error(`no conversation in localStorage["kyrochat:${botId}"]: ${raw}`);
  return conversationId;
}

export interface StreamSample {
  busy: boolean;
  length: number;
}

/**
 * Records, on every change inside the widget, whether the newest answer is marked busy and how
 * long its text is: the trace of an answer arriving. Read it back with streamTrace().
 */
export async function traceStreaming(page: Page): Promise<void> {
  await page.evaluate(() => {
    const root = document.getElementById('kyrochat-widget')!.shadowRoot!;
    const trace: { busy: boolean; length: number }[] = [];
    (window as unknown as { __kcTrace: typeof trace }).__kcTrace = trace;
    const sample = () => {
      const answers = root.querySelectorAll('.kc-msg--assistant');
      const last = answers[answers.length - 1];
      if (!last) return;
      const body = last.querySelector('.kc-msg-body');
      trace.push({ busy: last.getAttribute('aria-busy') === 'true', length: body?.textContent?.length ?? 0 });
    };
    new MutationObserver(sample).observe(root, { subtree: true, childList: true, attributes: true, characterData: true });
  });
}

export function streamTrace(page: Page): Promise<StreamSample[]> {
  return page.evaluate(() => (window as unknown as { __kcTrace: { busy: boolean; length: number }[] }).__kcTrace);
}

/** The computed styles the host page would most likely break, for every element of `selectors`. */
export function computedStyles(page: Page, selectors: string[]): Promise<Record<string, Record<string, string> | null>> {
  const properties = [
    'color', 'background-color', 'font-size', 'font-family', 'line-height', 'letter-spacing', 'text-transform',
    'display', 'visibility', 'position', 'width', 'height', 'padding-top', 'margin-top', 'border-top-width', 'border-top-style', 'transform',
  ];
  return page.evaluate(
    ({ selectors, properties }) => {
      const root = document.getElementById('kyrochat-widget')!.shadowRoot!;
      const out: Record<string, Record<string, string> | null> = {};
      for (const selector of selectors) {
        const el = root.querySelector(selector);
        if (!el) {
          out[selector] = null;
          continue;
        }
        const style = getComputedStyle(el);
        out[selector] = Object.fromEntries(properties.map((p) => [p, style.getPropertyValue(p)]));
      }
      return out;
    },
    { selectors, properties },
  );
}
