/**
 * The preview page's HTML (GET /widget/preview/{botId}): the widget for one public bot plus its
 * embed snippet. Every value placed in the page is HTML-escaped; the only scripts are the widget
 * and the copy button's few lines, both under a per-response nonce (CSP below: no inline script
 * or style without it, no framing, connections to this origin only).
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => ESCAPES[ch]!);
}

function embedSnippet(origin: string, botId: string): string {
  return `<script src="${origin}/widget.js" data-bot-id="${botId}" defer></script>`;
}

function nonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes));
}

export function previewPage(input: { origin: string; botId: string; title: string; version: string }): { html: string; csp: string } {
  const n = nonce();
  const csp = [
    "default-src 'none'",
    `script-src 'self' 'nonce-${n}'`,
    `style-src 'nonce-${n}'`,
    "connect-src 'self'",
    // The bot's avatar is any https image (validated by the settings schema).
    "img-src 'self' https: data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  const snippet = embedSnippet(input.origin, input.botId);
  const e = escapeHtml;
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${e(input.title)} · KyroChat widget preview</title>
<style nonce="${n}">
body{margin:0;font:16px/1.6 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2937;background:#f9fafb}
main{max-width:720px;margin:0 auto;padding:40px 20px}
h1{font-size:26px;margin:0 0 8px}
pre{background:#111827;color:#f3f4f6;padding:14px;border-radius:8px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
button{font:inherit;padding:6px 14px;border-radius:6px;border:1px solid #1f2937;background:#fff;color:#1f2937;cursor:pointer}
button:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}
.muted{color:#4b5563;font-size:14px}
</style>
</head>
<body>
<main>
<h1>${e(input.title)}</h1>
<p>This page runs the chat widget of <strong>${e(input.title)}</strong>. Open it with the chat bubble in the corner and ask a question.</p>
<h2>Embed it on your site</h2>
<p>Paste this before <code>&lt;/body&gt;</code> on a page whose origin is one of the bot's allowed origins:</p>
<pre><code id="kc-snippet">${e(snippet)}</code></pre>
<p><button type="button" id="kc-copy-snippet">Copy snippet</button> <span id="kc-copy-status" class="muted" role="status"></span></p>
<p class="muted">Widget version ${e(input.version)} · bot ${e(input.botId)}</p>
</main>
<script nonce="${n}">
document.getElementById('kc-copy-snippet').addEventListener('click', function () {
  var status = document.getElementById('kc-copy-status');
  navigator.clipboard.writeText(document.getElementById('kc-snippet').textContent).then(
    function () { status.textContent = 'Copied.'; },
    function () { status.textContent = 'Copy failed: select the snippet and copy it by hand.'; }
  );
});
</script>
<script src="${e(input.origin)}/widget.js" data-bot-id="${e(input.botId)}" nonce="${n}" defer></script>
</body>
</html>
`;
  return { html, csp };
}
