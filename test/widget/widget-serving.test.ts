/**
 * Serving the embeddable widget: /widget.js (short cache, ETag, 304), the immutable versioned
 * URL, and the preview page (public bots only, escaped snippet, nonce CSP), plus the rule that
 * lets the preview page's own origin use a public bot's widget. Through the real Worker.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { WIDGET_BUNDLE } from '../../src/features/widget/bundle.generated';
import { WIDGET_CLIENT } from '../../src/limits';
import { SseParser, type SseEvent } from '../../widget/src/sse';
import { BASE, call, expectProblem, register, type Account } from '../support/api';

const SHOP = 'https://shop.example';
const HOSTILE_TITLE = '<img src=x onerror=alert(1)> "Support" & co';

let owner: Account;
let outsider: Account;
let privateBotId: string;

beforeAll(async () => {
  owner = await register('serving-owner');
  outsider = await register('serving-outsider');
  const made = await call('PATCH', `/api/v1/bots/${owner.botId}`, {
    token: owner.token,
    body: { visibility: 'public', allowedOrigins: [SHOP], widget: { appearance: { title: HOSTILE_TITLE } } },
  });
  expect(made.status, JSON.stringify(made.body)).toBe(200);
  const hidden = await call('POST', '/api/v1/bots', { token: owner.token, body: { name: 'internal', allowedOrigins: [SHOP] } });
  expect(hidden.status).toBe(201);
  privateBotId = hidden.body.id;
});

describe('GET /widget.js', () => {
  it('serves the built bundle as JavaScript with a 5-minute public cache, its version as ETag, nosniff and CORS *', async () => {
    const res = await call('GET', '/widget.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/javascript; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe(`public, max-age=${WIDGET_CLIENT.scriptMaxAgeSeconds}`);
    expect(res.headers.get('etag')).toBe(`"${WIDGET_BUNDLE.version}"`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.body).toBe(WIDGET_BUNDLE.js);
    expect(res.body).toMatch(/^"use strict";\(\(\)=>\{/);
  });

  it('answers 304 with no body when If-None-Match names the current version (strong, weak or in a list)', async () => {
    for (const tag of [`"${WIDGET_BUNDLE.version}"`, `W/"${WIDGET_BUNDLE.version}"`, `"old", "${WIDGET_BUNDLE.version}"`]) {
      const res = await call('GET', '/widget.js', { headers: { 'if-none-match': tag } });
      expect(res.status, tag).toBe(304);
      expect(res.body).toBe('');
      expect(res.headers.get('etag')).toBe(`"${WIDGET_BUNDLE.version}"`);
    }
    const stale = await call('GET', '/widget.js', { headers: { 'if-none-match': '"0000000000000000"' } });
    expect(stale.status).toBe(200);
  });

  it('is within the gzip size budget', () => {
    expect(WIDGET_BUNDLE.gzipBytes).toBeLessThan(WIDGET_CLIENT.bundleGzipBudgetBytes);
  });
});

describe('GET /widget/v/{version}/widget.js', () => {
  it('serves the same bytes under the current version, cached for a year and immutable', async () => {
    const res = await call('GET', `/widget/v/${WIDGET_BUNDLE.version}/widget.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/javascript; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.body).toBe(WIDGET_BUNDLE.js);
    const revalidated = await call('GET', `/widget/v/${WIDGET_BUNDLE.version}/widget.js`, { headers: { 'if-none-match': `"${WIDGET_BUNDLE.version}"` } });
    expect(revalidated.status).toBe(304);
  });

  it('answers an unknown or malformed version with a 404 problem', async () => {
    expectProblem(await call('GET', '/widget/v/0123456789abcdef/widget.js'), 404, 'widget_version_not_found');
    expectProblem(await call('GET', `/widget/v/${'a'.repeat(65)}/widget.js`), 400, 'validation_failed');
  });
});

describe('GET /widget/preview/{botId}', () => {
  it('embeds the widget for a public bot, shows the escaped snippet, and allows only nonce scripts and styles', async () => {
    const res = await call('GET', `/widget/preview/${owner.botId}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const csp = res.headers.get('content-security-policy')!;
    const nonce = /script-src 'self' 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain(`style-src 'nonce-${nonce}'`);
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    const html = res.body as string;
    // Every <script> and <style> carries the nonce; the widget is loaded from this origin for this bot.
    const tags = [...html.matchAll(/<(script|style)\b[^>]*>/g)].map((m) => m[0]);
    expect(tags.length).toBe(3);
    for (const tag of tags) expect(tag).toContain(`nonce="${nonce}"`);
    expect(html).toContain(`<script src="${BASE}/widget.js" data-bot-id="${owner.botId}" nonce="${nonce}" defer></script>`);
    // The snippet is shown as text, escaped.
    expect(html).toContain(`&lt;script src=&quot;${BASE}/widget.js&quot; data-bot-id=&quot;${owner.botId}&quot; defer&gt;&lt;/script&gt;`);
    expect(html).toContain('id="kc-copy-snippet"');
  });

  it('escapes the bot title: a hostile title is text, not markup', async () => {
    const html = (await call('GET', `/widget/preview/${owner.botId}`)).body as string;
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt; &quot;Support&quot; &amp; co');
  });

  it('uses a fresh nonce per response', async () => {
    const nonces = await Promise.all(
      [1, 2].map(async () => /'nonce-([^']+)'/.exec((await call('GET', `/widget/preview/${owner.botId}`)).headers.get('content-security-policy')!)![1]),
    );
    expect(nonces[0]).not.toBe(nonces[1]);
  });

  it("answers a private bot, an unknown id and another org's private bot with the same 404 problem", async () => {
    const theirs = await call('POST', '/api/v1/bots', { token: outsider.token, body: { name: 'theirs' } });
    expect(theirs.status).toBe(201);
    for (const id of [privateBotId, 'bot_01JD3X0000000000000000000', theirs.body.id, outsider.botId]) {
      expectProblem(await call('GET', `/widget/preview/${id}`), 404, 'bot_not_found');
    }
  });
});

describe("the preview page's origin", () => {
  const session = (botId: string, origin: string) => call('POST', `/api/v1/widget/${botId}/session`, { body: {}, headers: { origin } });

  it("may use a public bot's widget although it is not among the bot's allowed origins", async () => {
    const config = await call('GET', `/api/v1/widget/${owner.botId}/config`, { headers: { origin: BASE } });
    expect(config.status).toBe(200);
    expect(config.headers.get('access-control-allow-origin')).toBe(BASE);
    const res = await session(owner.botId, BASE);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(BASE);
  });

  it('gets a streamed widget answer there that the widget\'s own stream parser reads (meta, then done)', async () => {
    const { token } = (await session(owner.botId, BASE)).body as { token: string };
    const res = await call('POST', `/api/v1/widget/${owner.botId}/chat`, {
      token,
      headers: { origin: BASE, 'idempotency-key': crypto.randomUUID() },
      body: { message: 'Hello there?', stream: true },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const parser = new SseParser();
    const bytes = new TextEncoder().encode(res.body as string);
    const events: SseEvent[] = [];
    // Fed in 7-byte pieces, as a slow network might deliver it.
    for (let i = 0; i < bytes.length; i += 7) events.push(...parser.push(bytes.slice(i, i + 7)));
    events.push(...parser.end());
    expect(events[0]!.event).toBe('meta');
    expect(events.at(-1)!.event).toBe('done');
    const done = JSON.parse(events.at(-1)!.data);
    expect(done.role).toBe('assistant');
    expect(done.id).toBe(JSON.parse(events[0]!.data).assistantMessageId);
  });

  it('reads the config without an Origin header when the browser marks the GET same-origin, as the preview page sends it', async () => {
    // Browsers send no Origin on a same-origin GET; Sec-Fetch-Site tells the Worker it is its own page.
    const config = await call('GET', `/api/v1/widget/${owner.botId}/config`, { headers: { 'sec-fetch-site': 'same-origin' } });
    expect(config.status, JSON.stringify(config.body)).toBe(200);
    expect(config.headers.get('access-control-allow-origin')).toBe(BASE);
    // Without that mark (another site, or a client saying nothing), a missing Origin is still refused.
    expectProblem(await call('GET', `/api/v1/widget/${owner.botId}/config`, { headers: { 'sec-fetch-site': 'cross-site' } }), 403, 'origin_not_allowed');
    expectProblem(await call('GET', `/api/v1/widget/${owner.botId}/config`), 403, 'origin_not_allowed');
  });

  it('does not open private bots, and other origins are still refused', async () => {
    expectProblem(await session(privateBotId, BASE), 404, 'bot_not_found');
    expectProblem(await session(owner.botId, 'https://evil.example'), 403, 'origin_not_allowed');
    // A look-alike of the Worker's origin is not it.
    expectProblem(await session(owner.botId, 'https://kc.test.evil.example'), 403, 'origin_not_allowed');
    expectProblem(await session(owner.botId, 'http://kc.test'), 403, 'origin_not_allowed');
  });
});
