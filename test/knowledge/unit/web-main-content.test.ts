import { describe, expect, it } from 'vitest';
import { declaredCharset, decodeWebText } from '../../../src/features/knowledge/web/charset';
import { extractMainContent } from '../../../src/features/knowledge/web/main-content';

const PAGE_URL = 'https://kyro.test/docs/install';

const htmlResponse = (html: string) => new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } });

/** The same page delivered a few bytes at a time, so text nodes and entities are split across chunks. */
function trickledResponse(html: string, size = 5): Response {
  const bytes = new TextEncoder().encode(html);
  let offset = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, (offset += size)));
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/html' } });
}

const DOCS_PAGE = `<!doctype html><html lang="en"><head>
<title>Install &amp; Setup &mdash; Docs</title>
<link rel="canonical" href="/docs/install#top"><meta name="description" content="How to install KyroChat">
<style>.x { color: red }</style><script>var html = "<p>not text</p>";</script>
</head><body class="page no-sidebar">
<header class="site-header"><a href="/">Home</a><nav><a href="/docs/">Docs</a> <a href="https://other.example/x">Elsewhere</a></nav></header>
<div id="cookie-banner">We use cookies. <button>Accept</button></div>
<aside class="sidebar"><a href="/docs/faq">FAQ</a></aside>
<main><article><header><h1>Install KyroChat</h1></header>
<div class="content"><p>Download   the
  package.</p>
<h2>Linux</h2><ul><li>Run <code>apt&nbsp;install</code><li>Done</ul>
<pre>line 1
  line &lt;2&gt;</pre>
<table><tr><th>OS</th><th>Command</th></tr><tr><td>macOS</td><td>brew</td></tr></table>
<p>See <a href="faq?x=1#a">the FAQ</a> or <a href="/login" rel="nofollow">log in</a>.<br>Thanks.</p>
<svg><title>icon</title><path d="M0"/></svg><div class="share-buttons">Share this</div>
</div></article></main>
<footer>&copy; 2026 <a href="/privacy">Privacy</a></footer></body></html>`;

const EXPECTED_DOCS_TEXT = `# Install KyroChat

Download the package.

## Linux

- Run apt install
- Done

\`\`\`
line 1
  line <2>
\`\`\`

OS | Command
macOS | brew

See the FAQ or log in.
Thanks.`;

describe('extractMainContent', () => {
  it('keeps the main content as markdown-ish text and drops the page chrome', async () => {
    const page = await extractMainContent(htmlResponse(DOCS_PAGE), PAGE_URL);
    expect(page.text).toBe(EXPECTED_DOCS_TEXT);
    expect(page.title).toBe('Install & Setup — Docs');
    expect(page.canonical).toBe('https://kyro.test/docs/install');
    expect(page.description).toBe('How to install KyroChat');
    expect(page.lang).toBe('en');
    expect(page.robots).toEqual({ noindex: false, nofollow: false });
    expect(page.truncated).toBe(false);
  });

  it('returns same-origin links from the whole page, absolute, normalized, without nofollow ones', async () => {
    const page = await extractMainContent(htmlResponse(DOCS_PAGE), PAGE_URL);
    expect(page.links).toEqual([
      'https://kyro.test/',
      'https://kyro.test/docs/',
      'https://kyro.test/docs/faq',
      'https://kyro.test/docs/faq?x=1',
      'https://kyro.test/privacy',
    ]);
  });

  it('gives the same result when the body arrives in tiny chunks', async () => {
    const whole = await extractMainContent(htmlResponse(DOCS_PAGE), PAGE_URL);
    const trickled = await extractMainContent(trickledResponse(DOCS_PAGE, 3), PAGE_URL);
    expect(trickled).toEqual(whole);
  });

  it('uses the whole page minus boilerplate when there is no <main> or <article>', async () => {
    const html = `<html><body>
      <div class="navbar"><a href="/a">A</a> Menu</div>
      <div id="main-content" class="content"><h1>Pricing</h1><p>Plans start at $9.</p></div>
      <div class="nav-content-wrapper">Kept: names content too.</div>
      <div role="navigation">Skip me</div><div hidden>Hidden</div><div style="display: none">Invisible</div>
      <div class="footer-links">Links</div><p aria-hidden="true">Decoration</p>
      <p>Contact sales.</p></body></html>`;
    const page = await extractMainContent(htmlResponse(html), 'https://kyro.test/pricing');
    expect(page.text).toBe('# Pricing\n\nPlans start at $9.\n\nKept: names content too.\n\nContact sales.');
    expect(page.title).toBe('Pricing');
    expect(page.links).toEqual(['https://kyro.test/a']);
  });

  it('falls back to the text inside forms for pages wrapped in one <form>', async () => {
    const html = '<html><body><form id="aspnetForm"><div><p>All content lives in a form.</p><input name="q"><button>Go</button></div></form></body></html>';
    const page = await extractMainContent(htmlResponse(html), 'https://kyro.test/');
    expect(page.text).toBe('All content lives in a form.');
  });

  it('reports robots meta and returns no links under nofollow', async () => {
    const html = '<html><head><meta name="robots" content="noindex, nofollow"><base href="https://kyro.test/sub/"></head><body><p>Secret <a href="x">x</a></p></body></html>';
    const page = await extractMainContent(htmlResponse(html), 'https://kyro.test/');
    expect(page.robots).toEqual({ noindex: true, nofollow: true });
    expect(page.links).toEqual([]);
  });

  it('resolves links against <base href> and decodes entities in them', async () => {
    const html = '<html><head><base href="/guide/"></head><body><a href="step?a=1&amp;b=2">Next</a></body></html>';
    const page = await extractMainContent(htmlResponse(html), 'https://kyro.test/index.html');
    expect(page.links).toEqual(['https://kyro.test/guide/step?a=1&b=2']);
  });

  it('renders nested lists with indentation and numeric entities', async () => {
    const html = '<main><ol><li>One<ul><li>Sub &#8212; &#x41;</li></ul></li><li>Two</li></ol></main>';
    const page = await extractMainContent(htmlResponse(html), PAGE_URL);
    expect(page.text).toBe('- One\n  - Sub — A\n- Two');
  });

  it('survives self-closing SVG and unclosed paragraphs without losing the rest', async () => {
    const html = '<main><p>Before <svg/> after<p>Next paragraph<p>Last</main><p>outside</p>';
    const page = await extractMainContent(htmlResponse(html), PAGE_URL);
    expect(page.text).toBe('Before after\n\nNext paragraph\n\nLast');
  });
});

describe('page charset', () => {
  const latin1 = (text: string) => Uint8Array.from(text, (char) => char.charCodeAt(0));

  it('prefers a BOM, then the header charset, then a <meta> charset', () => {
    const html = '<html><head><meta charset="windows-1252"></head><body>caf\u00e9</body></html>';
    expect(decodeWebText(latin1(html), 'text/html')).toContain('café');
    expect(decodeWebText(latin1(html), 'text/html; charset="iso-8859-2"')).toContain('café');
    expect(declaredCharset(latin1(html), 'text/html; charset=utf-8')).toBe('utf-8');
    expect(declaredCharset(latin1(html), null)).toBe('windows-1252');
    const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('<p>caf\u00e9</p>')]);
    expect(decodeWebText(withBom, 'text/html; charset=iso-8859-1')).toBe('<p>café</p>');
  });

  it('decodes multi-byte legacy charsets and falls back to UTF-8 for unknown labels', () => {
    // "日本" in Shift_JIS.
    expect(decodeWebText(new Uint8Array([0x93, 0xfa, 0x96, 0x7b]), 'text/plain; charset=shift_jis')).toBe('日本');
    const utf8 = new TextEncoder().encode('<meta charset="x-no-such-charset"><p>naïve</p>');
    expect(declaredCharset(utf8, 'text/html; charset=bogus')).toBeUndefined();
    expect(decodeWebText(utf8, 'text/html; charset=bogus')).toContain('naïve');
  });
});
