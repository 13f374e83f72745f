/**
 * The widget's live side in a real browser (issues #9 and #10): a visitor on the customer's page
 * presses "Talk to a human", a team member joins the conversation's room over the member
 * WebSocket from Node (the token as a subprotocol, as a dashboard would), takes over and
 * replies, and the reply appears in the widget without a reload, together with the status
 * notice and the member's typing; handing back brings the notice that the bot is back.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchBrowser, openPage } from './harness/browser';
import { ask, openWidget, storedConversationId, ui } from './harness/widget';

const workerUrl = inject('workerUrl');
const hostOrigin = inject('hostOrigin');
const seeded = inject('seeded');

let browser: Browser;

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
});

type Frame = Record<string, any>;

/** A team member in the conversation's room, over Node's own WebSocket (undici). */
async function memberSocket(conversationId: string, token: string) {
  const ws = new WebSocket(`${workerUrl.replace(/^http/, 'ws')}/api/v1/conversations/${conversationId}/ws`, ['kyrochat', `kyrochat.bearer.${token}`]);
  const frames: Frame[] = [];
  ws.addEventListener('message', (e) => frames.push(JSON.parse(String(e.data))));
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error('the member socket did not open')), { once: true });
  });
  return {
    frames,
    send: (f: unknown) => ws.send(JSON.stringify(f)),
    next: async (match: (f: Frame) => boolean) => {
      let found: Frame | undefined;
      await expect.poll(() => (found = frames.find(match)), { timeout: 10_000 }).toBeDefined();
      return found!;
    },
    close: () => ws.close(1000, 'done'),
  };
}

describe('a visitor talks to a human through the widget', () => {
  it('presses "Talk to a human"; a member takes over and replies over the WebSocket; the reply shows as the team\'s without a reload', async (test) => {
    const { page } = await openPage(browser, test);
    await page.goto(`${hostOrigin}/support`);
    const w = ui(page);
    const handoff = page.locator('button.kc-handoff');
    const agentMessages = page.locator('.kc-msg.kc-msg--agent');
    await openWidget(page);
    // No conversation yet: nothing to hand over.
    expect(await handoff.isVisible()).toBe(false);

    await ask(page, 'Can I get my order number changed?');
    await expect.poll(() => w.answers.count(), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => handoff.isVisible()).toBe(true);
    expect((await handoff.textContent())?.trim()).toBe('Talk to a human');
    const conversationId = await storedConversationId(page, seeded.liveBotId);

    await handoff.click();
    // The notice the route returned; the button hides while a person is asked for.
    await expect.poll(() => w.answers.last().textContent()).toContain('I have asked a team member to join');
    await expect.poll(() => handoff.isVisible()).toBe(false);

    const member = await memberSocket(conversationId, seeded.owner.token);
    try {
      member.send({ type: 'resume', lastMessageId: null });
      await member.next((f) => f.type === 'status' && f.status === 'handoff_requested');
      member.send({ type: 'takeover' });
      await member.next((f) => f.type === 'status' && f.status === 'human');
      await expect.poll(() => page.locator('.kc-status').last().textContent(), { timeout: 10_000 }).toBe('A person has joined');

      member.send({ type: 'typing' });
      await expect.poll(() => page.locator('.kc-live-typing').count(), { timeout: 10_000 }).toBe(1);

      const reply = 'Hi, this is Sam from Acme support. I can change it for you.';
      member.send({ type: 'message', text: reply });
      await expect.poll(() => agentMessages.count(), { timeout: 10_000 }).toBe(1);
      expect(await agentMessages.locator('.kc-msg-body').textContent()).toBe(reply);
      expect(await agentMessages.locator('.kc-msg-label').textContent()).toBe('Team');
      expect(await agentMessages.getAttribute('data-message-id')).toMatch(/^msg_/);
      // The team's typing indicator gives way to the message.
      expect(await page.locator('.kc-live-typing').count()).toBe(0);
      // The widget tells the room it was read.
      const receipt = await member.next((f) => f.type === 'read' && f.role === 'visitor');
      expect(receipt.messageId).toBe(await agentMessages.getAttribute('data-message-id'));

      // The visitor types: the member sees it.
      await w.input.pressSequentially('Gr');
      await member.next((f) => f.type === 'typing' && f.role === 'visitor');

      // Hand back: the widget says the bot is back and offers the button again.
      member.send({ type: 'handback' });
      await expect.poll(() => page.locator('.kc-status').last().textContent(), { timeout: 10_000 }).toBe('The bot is back');
      await expect.poll(() => handoff.isVisible()).toBe(true);
      // The bot answers again; its turn (HTTP) is mirrored into the room too, and shown once.
      await w.input.fill('');
      await ask(page, 'And who changes the delivery address?');
      await expect.poll(() => w.answers.count(), { timeout: 15_000 }).toBe(3);
      await expect.poll(() => w.answers.last().getAttribute('aria-busy'), { timeout: 15_000 }).toBeNull();
      const answerId = await w.answers.last().getAttribute('data-message-id');
      const mirrored = await member.next((f) => f.type === 'message' && f.message.id === answerId);
      expect(mirrored.message.role).toBe('assistant');
      // Each message once, whichever channel brought it.
      const ids = await page.locator('.kc-msg[data-message-id]').evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.messageId));
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      member.close();
    }
  });
});
