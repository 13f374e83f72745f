import { createRoute } from '@hono/zod-openapi';
import { createRouter, jsonBody, jsonContent, commonErrors, errorResponses, IdParam } from '../../http/router';
import { notFound } from '../../http/problem';
import { requirePermission, serviceContext } from '../../http/context';
import {
  contentEtag,
  etagFor,
  etagResponseHeaders,
  IfMatchHeaders,
  IfNoneMatchHeaders,
  ifMatchRevisions,
  ifNoneMatchHits,
  preconditionFailed,
  preconditionFailedResponse,
} from '../../http/etag';
import { PublicWidgetConfigSchema, WidgetDefaultsPatch, WidgetDefaultsSchema } from './schemas';
import * as widget from './service';
import { WIDGET_SETTINGS } from '../../limits';

const tags = ['Widget'];
const security = [{ bearer: [] }];

/** Mounted under /api/v1 behind authenticate + resolveOrg. */
export function widgetDefaultsRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'get',
      path: '/widget-defaults',
      tags,
      security,
      summary: "The org's widget defaults (built-in values where the org set nothing)",
      responses: { 200: { ...jsonContent(WidgetDefaultsSchema, 'Widget defaults'), headers: etagResponseHeaders }, ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'widget.read');
      const defaults = await widget.getWidgetDefaults(c.get('db'), org.orgId);
      return c.json(widget.toWidgetDefaultsDto(defaults), 200, { etag: etagFor(defaults.revision) });
    },
  );

  router.openapi(
    createRoute({
      method: 'patch',
      path: '/widget-defaults',
      tags,
      security,
      summary: "Change the org's widget defaults (only the given fields; each group merges; null resets a group)",
      description:
        'Every bot of the org inherits these unless it overrides them (PATCH /bots/{id} {widget}). `branding` (whitelabel) is set here only. ' +
        'Send If-Match with the ETag from a GET to make the change conditional: a stale ETag gets 412 and nothing changes.',
      request: { headers: IfMatchHeaders, body: jsonBody(WidgetDefaultsPatch) },
      responses: {
        200: { ...jsonContent(WidgetDefaultsSchema, 'The updated defaults'), headers: etagResponseHeaders },
        ...commonErrors,
        ...preconditionFailedResponse,
      },
    }),
    async (c) => {
      const org = requirePermission(c, 'widget.update');
      const result = await widget.updateWidgetDefaults(serviceContext(c), c.get('actor'), org.orgId, c.req.valid('json'), ifMatchRevisions(c));
      if (result.status === 'precondition_failed') throw preconditionFailed('widget defaults');
      return c.json(widget.toWidgetDefaultsDto(result.defaults), 200, { etag: etagFor(result.defaults.revision) });
    },
  );

  return router;
}

const cacheControl = `public, max-age=${WIDGET_SETTINGS.configMaxAgeSeconds}`;
const configHeaders = {
  ETag: { description: 'Send it back in If-None-Match to get a 304 while the config is unchanged', schema: { type: 'string' as const } },
  'Cache-Control': { description: cacheControl, schema: { type: 'string' as const } },
};

/** Public: no authentication. Mounted under /api/v1. */
export function widgetPublicRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'get',
      path: '/widget/{botId}/config',
      tags,
      summary: "A public bot's widget config (built-in ← org defaults ← bot overrides)",
      description: 'No authentication. A private, unknown or deleted bot answers the same 404 `bot_not_found`.',
      request: {
        params: IdParam('botId', 'bot'),
        headers: IfNoneMatchHeaders,
      },
      responses: {
        200: { ...jsonContent(PublicWidgetConfigSchema, 'The effective widget config'), headers: configHeaders },
        304: { description: 'Not modified: If-None-Match names the current ETag', headers: configHeaders },
        400: errorResponses[400],
        403: { ...errorResponses[403], description: 'The Origin is missing or not one of the bot\'s allowed origins (`origin_not_allowed`)' },
        404: errorResponses[404],
      },
    }),
    async (c) => {
      const result = await widget.getPublicWidgetConfig(c.get('db'), c.req.valid('param').botId);
      if (result.status === 'not_found') throw notFound('Bot', 'bot_not_found');
      // The Origin was checked before this handler (widgetOrigin in app.ts), which also adds CORS and Vary: Origin.
      const etag = await contentEtag(JSON.stringify(result.config));
      const headers = { etag, 'cache-control': cacheControl };
      if (ifNoneMatchHits(c, etag)) return c.body(null, 304, headers);
      return c.json(result.config, 200, headers);
    },
  );

  return router;
}
