/**
 * Action confirmations in a real browser (issues #9 and #11): the bot's model (a fake
 * OpenAI-compatible server on loopback, harness/fake-model.ts) calls an action that needs the
 * visitor's confirmation. The widget shows a card, nothing runs until "Allow", and the resumed
 * answer streams in; after a reload a pending card comes back through the socket's catch-up,
 * and one decided meanwhile by a team member says so and runs nothing more.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchBrowser, openPage } from './harness/browser';
import { ask, finishedAnswer, openWidget, storedConversationId, ui } from './harness/widget';
import { ownerApi } from './harness/seed';

const workerUrl = inject('workerUrl');
const hostOrigin = inject('hostOrigin');
const seeded = inject('seeded');
const { botId, actionId, actionName } = inject('confirmations');
const owner = ownerApi(workerUrl, seeded.owner.token);

let browser: Browser;

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
});

const runsOf = async (conversationId: string) =>
  (await owner<{ data: { status: string; conversationId: string | null }[] }>('GET', `/api/v1/actions/${actionId}/runs`)).data.filter((r) => r.conversationId === conversationId);

describe('action confirmations in the widget', () => {
  it('shows a card for an action that needs confirmation; nothing runs until "Allow", then the resumed answer streams in', async (test) => {
    const { page } = await openPage(browser, test);
    await page.goto(`${hostOrigin}/orders`);
    const w = ui(page);
    await openWidget(page);
    await ask(page, 'Please cancel my order {"orderId": "77"}');
    const card = page.locator('.kc-confirm');
    await card.waitFor({ state: 'visible', timeout: 15_000 });
    expect(await card.getAttribute('role')).toBe('group');
    expect(await card.getAttribute('data-confirmation-id')).toMatch(/^cfm_/);
    expect(await card.locator('.kc-confirm-action').textContent()).toBe(actionName);
    expect(await card.locator('.kc-confirm-args').textContent()).toBe('orderId: 77');
    const approve = card.locator('button.kc-confirm-approve');
    const reject = card.locator('button.kc-confirm-reject');
    expect(await approve.textContent()).toBe('Allow');
    expect(await approve.getAttribute('aria-label')).toBe(`Allow: ${actionName}`);
    expect(await reject.textContent()).toBe("Don't allow");
    // Paused: no answer bubble, and the action has not run.
    expect(await w.answers.count()).toBe(0);
    const conversationId = await storedConversationId(page, botId);
    expect(await runsOf(conversationId)).toHaveLength(0);

    await approve.click();
    const answer = await finishedAnswer(page, 'Tool results');
    expect(answer.body).toContain('"cancelled":"77"');
    expect(await card.locator('.kc-confirm-outcome').textContent()).toBe('Allowed. The assistant continues.');
    expect(await approve.isDisabled()).toBe(true);
    expect(await reject.isDisabled()).toBe(true);
    expect((await runsOf(conversationId)).map((r) => r.status)).toEqual(['ok']);
    // One card, and each message once, whichever channel (HTTP stream or socket) brought it.
    expect(await card.count()).toBe(1);
    await page.waitForTimeout(500);
    const ids = await page.locator('.kc-msg[data-message-id]').evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.messageId));
    expect(new Set(ids).size).toBe(ids.length);
    expect(await w.answers.count()).toBe(1);
  });

  it('a pending card comes back after a reload (the socket catch-up); decided meanwhile by a team member, "Allow" says it was already decided and runs nothing', async (test) => {
    const { page } = await openPage(browser, test);
    await page.goto(`${hostOrigin}/orders`);
    await openWidget(page);
    await ask(page, 'Cancel this one too {"orderId": "12"}');
    await page.locator('.kc-confirm').waitFor({ state: 'visible', timeout: 15_000 });
    const confirmationId = await page.locator('.kc-confirm').getAttribute('data-confirmation-id');
    const conversationId = await storedConversationId(page, botId);

    await page.reload();
    await openWidget(page);
    const card = page.locator(`.kc-confirm[data-confirmation-id="${confirmationId}"]`);
    await card.waitFor({ state: 'visible', timeout: 15_000 });
    expect(await page.locator('.kc-confirm').count()).toBe(1);
    expect(await card.locator('.kc-confirm-args').textContent()).toBe('orderId: 12');

    // A team member rejects it from the dashboard's side.
    await owner('POST', `/api/v1/conversations/${conversationId}/confirmations/${confirmationId}`, { approve: false });
    await card.locator('button.kc-confirm-approve').click();
    await expect.poll(() => card.locator('.kc-confirm-outcome').textContent(), { timeout: 15_000 }).toBe('This request was already decided.');
    expect(await card.locator('button.kc-confirm-approve').isDisabled()).toBe(true);
    expect(await ui(page).error.isVisible()).toBe(false);
    expect((await runsOf(conversationId)).map((r) => r.status)).toEqual(['rejected']);
  });
});
