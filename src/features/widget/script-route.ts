/**
 * The embeddable script and the preview page, served by the Worker itself (no auth):
 * - GET /widget.js: the current bundle; customers paste this URL once, so it is cached briefly
 *   (WIDGET_CLIENT.scriptMaxAgeSeconds) and revalidated with its ETag (the content hash).
 * - GET /widget/v/{version}/widget.js: the same bytes under their hash, cached for a year and
 *   `immutable`; any other version is a 404 (only the current build is kept).
 * - GET /widget/preview/{botId}: an HTML page that embeds the widget for a public bot and shows
 *   the embed snippet. The page's origin (this Worker's) may use any public bot's widget
 *   (http/middleware/widget.ts `ownOrigin` argues why that is safe).
 * The bundle comes from bundle.generated.ts, written by scripts/build-widget.mjs.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { createRouter, errorResponses, IdParam } from '../../http/router';
import { notFound } from '../../http/problem';
import { ifNoneMatchHits, IfNoneMatchHeaders } from '../../http/etag';
import { WIDGET_CLIENT } from '../../limits';
import { WIDGET_BUNDLE } from './bundle.generated';
import { getPublicWidgetConfig } from './service';
import { previewPage } from './preview';

const tags = ['Widget'];
const JS = 'application/javascript; charset=utf-8';
const etag = `"${WIDGET_BUNDLE.version}"`;

const scriptHeaders = (cacheControl: string) => ({
  'content-type': JS,
  'cache-control': cacheControl,
  etag,
  'access-control-allow-origin': '*',
  'x-content-type-options': 'nosniff',
});

/** The bundle with `cacheControl`, or a 304 when If-None-Match names its version. */
function serveScript(c: Context, cacheControl: string) {
  const headers = scriptHeaders(cacheControl);
  if (ifNoneMatchHits(c, etag)) return c.body(null, 304, headers);
  return c.body(WIDGET_BUNDLE.js, 200, headers);
}

const scriptResponse = { description: 'The widget script (an IIFE)', content: { 'application/javascript': { schema: { type: 'string' as const } } } };

export function widgetScriptRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'get',
      path: '/widget.js',
      tags,
      summary: 'The embeddable widget script (current version)',
      description:
        `Embed with \`<script src="https://HOST/widget.js" data-bot-id="bot_…" defer></script>\`. ` +
        `Cache-Control: public, max-age=${WIDGET_CLIENT.scriptMaxAgeSeconds}; send the ETag back in If-None-Match for a 304.`,
      request: { headers: IfNoneMatchHeaders },
      responses: { 200: scriptResponse, 304: { description: 'Not modified: If-None-Match names the current version' } },
    }),
    (c) => serveScript(c, `public, max-age=${WIDGET_CLIENT.scriptMaxAgeSeconds}`),
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/widget/v/{version}/widget.js',
      tags,
      summary: 'The widget script under its version (immutable)',
      description: 'The version is the content hash of the current build (the ETag of /widget.js). Only the current version is served; others are 404.',
      request: {
        params: z.object({ version: z.string().min(1).max(64).openapi({ param: { name: 'version', in: 'path' }, example: WIDGET_BUNDLE.version }) }),
        headers: IfNoneMatchHeaders,
      },
      responses: { 200: scriptResponse, 304: { description: 'Not modified' }, 400: errorResponses[400], 404: errorResponses[404] },
    }),
    (c) => {
      if (c.req.valid('param').version !== WIDGET_BUNDLE.version) throw notFound('Widget version', 'widget_version_not_found');
      return serveScript(c, `public, max-age=${WIDGET_CLIENT.versionedMaxAgeSeconds}, immutable`);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/widget/preview/{botId}',
      tags,
      summary: "A page to try a public bot's widget, with its embed snippet",
      description: 'HTML. A private, unknown or deleted bot is a 404 `bot_not_found`.',
      request: { params: IdParam('botId', 'bot') },
      responses: {
        200: { description: 'The preview page', content: { 'text/html': { schema: { type: 'string' as const } } } },
        400: errorResponses[400],
        404: errorResponses[404],
      },
    }),
    async (c) => {
      const { botId } = c.req.valid('param');
      const result = await getPublicWidgetConfig(c.get('db'), botId);
      if (result.status === 'not_found') throw notFound('Bot', 'bot_not_found');
      const page = previewPage({ origin: new URL(c.req.url).origin, botId, title: result.config.appearance.title || result.config.name, version: WIDGET_BUNDLE.version });
      return c.body(page.html, 200, {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': page.csp,
        // A fresh nonce per response: never cached, never framed.
        'cache-control': 'no-store',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
        'x-content-type-options': 'nosniff',
      });
    },
  );

  return router;
}
