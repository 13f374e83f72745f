/**
 * The "customer's website" of the browser tests: a tiny static server on its own loopback
 * origin (http://127.0.0.1:<port>), so the widget runs cross-origin from the Worker exactly as
 * on a real site. Pages are plain strings registered by path; anything else is a 404.
 */
import { createServer, type Server } from 'node:http';

export interface HostServer {
  origin: string;
  /** Registers (or replaces) the HTML answered at `path`. */
  page: (path: string, html: string) => void;
  close: () => Promise<void>;
}

export async function startHostServer(port: number): Promise<HostServer> {
  const pages = new Map<string, string>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://host').pathname;
    const html = pages.get(path);
    if (html === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    origin: `http://127.0.0.1:${port}`,
    page: (path, html) => void pages.set(path, html),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A host page that embeds the widget the way the README tells customers to. */
export function embedPage(opts: { workerUrl: string; botId: string; title: string; head?: string; body?: string; lang?: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${opts.title}</title>
${opts.head ?? ''}
</head>
<body>
<main>
<h1>${opts.title}</h1>
<p>A host page for the KyroChat widget's browser tests.</p>
<a href="#top" id="host-link">A link of the host page</a>
${opts.body ?? ''}
</main>
<script src="${opts.workerUrl}/widget.js" data-bot-id="${opts.botId}"${opts.lang ? ` data-lang="${opts.lang}"` : ''} defer></script>
</body>
</html>
`;
}
