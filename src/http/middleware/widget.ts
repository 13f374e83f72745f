/**
 * The public widget's gate, for every route under /api/v1/widget/{botId}/:
 * - `widgetOrigin()`: loads the bot (public bots only: a private or unknown id is a 404), checks
 *   the `Origin` header against the bot's allowed origins (missing, `null`, unparsable or not
 *   allowed: 403 `origin_not_allowed` and no data), answers the CORS preflight for that bot, and
 *   sets Access-Control-Allow-Origin on every response to an allowed origin, errors included.
 *   Never with credentials: the widget authenticates with a bearer visitor token, not cookies.
 * - `visitorAuth()`: a bearer visitor token (features/widget/visitor-token.ts) issued for this
 *   bot and this very origin; sets `visitor`.
 * The dashboard's CORS middleware skips these paths (app.ts), so the two never both answer.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { AppBindings } from '../types';
import { ApiError, problemResponse, unauthorized } from '../problem';
import { getPublicBot } from '../../features/bots/service';
import { normalizeOrigin, originAllowed } from '../../features/widget/origins';
import { verifyVisitorToken } from '../../features/widget/visitor-token';
import { WIDGET } from '../../limits';

const ALLOW_METHODS = 'GET, POST, OPTIONS';
const ALLOW_HEADERS = 'Authorization, Content-Type, Idempotency-Key';
const EXPOSE_HEADERS = 'X-Request-Id, Retry-After, RateLimit, RateLimit-Policy, Idempotent-Replayed';

function corsHeaders(origin: string): Record<string, string> {
  return { 'access-control-allow-origin': origin, 'access-control-expose-headers': EXPOSE_HEADERS, vary: 'Origin' };
}

export const widgetOrigin = (): MiddlewareHandler<AppBindings> =>
  async function widgetOrigin(c, next) {
    const botId = c.req.param('botId') ?? '';
    const bot = botId.length > 0 && botId.length <= 64 ? await getPublicBot(c.get('db'), botId) : null;
    if (!bot) {
      return problemResponse(c, { status: 404, code: 'bot_not_found', title: 'Not found', detail: 'Bot was not found.', headers: { vary: 'Origin' } });
    }
    const self = ownOrigin(c);
    const origin = normalizeOrigin(c.req.header('origin')) ?? sameOriginFetch(c, self);
    if (!origin || !(originAllowed(origin, bot.allowedOrigins) || origin === self)) {
      return problemResponse(c, {
        status: 403,
        code: 'origin_not_allowed',
        title: 'Forbidden',
        detail: origin
          ? 'This page\'s origin is not one of the bot\'s allowed origins.'
          : 'Send the Origin of the page that embeds the widget; it must be one of the bot\'s allowed origins.',
        headers: { vary: 'Origin' },
      });
    }
    if (c.req.method === 'OPTIONS') {
      return new Response(null, {
        status: 204,
        headers: {
          ...corsHeaders(origin),
          'access-control-allow-methods': ALLOW_METHODS,
          'access-control-allow-headers': ALLOW_HEADERS,
          'access-control-max-age': String(WIDGET.preflightMaxAgeSeconds),
        },
      });
    }
    c.set('widget', { bot, origin });
    await next();
    try {
      for (const [name, value] of Object.entries(corsHeaders(origin))) {
        if (name === 'vary') c.res.headers.append('vary', value);
        else c.res.headers.set(name, value);
      }
    } catch {
      // Immutable headers (a proxied response): nothing to add to.
    }
  };

/**
 * The Worker's own origin counts as allowed for every public bot, so the preview page
 * (GET /widget/preview/{botId}, features/widget/script-route.ts) can run the widget. Why this is
 * safe: the origin check exists so that *other* sites cannot put a bot in their visitors'
 * browsers; a browser sends this Origin only for pages this Worker serves itself, and those are
 * the API's own (the preview page has a nonce-only script CSP and cannot be framed). A public
 * bot answers any non-browser client anyway (Origin is forgeable outside browsers), and a
 * visitor token issued here is bound to this origin, so it is no use to another site.
 */
function ownOrigin(c: Context<AppBindings>): string | null {
  try {
    return new URL(c.req.url).origin;
  } catch {
    return null;
  }
}

/**
 * Browsers omit Origin on same-origin GETs (Fetch spec), so the preview page's config and history
 * requests arrive without one; `Sec-Fetch-Site: same-origin` (set by the browser, not by page
 * script, and which no other site's page can make it send) says they come from a page this
 * Worker served: `self`, its own origin. Same trust as ownOrigin above.
 */
function sameOriginFetch(c: Context<AppBindings>, self: string | null): string | null {
  return c.req.header('sec-fetch-site') === 'same-origin' ? self : null;
}

function bearer(c: Context<AppBindings>): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
  return match?.[1] ?? null;
}

export const visitorAuth = (): MiddlewareHandler<AppBindings> =>
  async function visitorAuth(c, next) {
    const token = bearer(c);
    if (!token) throw unauthorized('Send the visitor token from POST /api/v1/widget/{botId}/session as "Authorization: Bearer …".');
    const verified = await verifyVisitorToken(c.get('config'), token);
    if (!verified.ok) {
      throw verified.reason === 'expired'
        ? unauthorized('The visitor token has expired. Open a new session.', 'token_expired')
        : unauthorized('The visitor token is invalid.', 'invalid_token');
    }
    const { bot, origin } = c.get('widget');
    const claims = verified.claims;
    if (claims.botId !== bot.id || claims.orgId !== bot.orgId) {
      throw new ApiError({ status: 403, code: 'token_not_for_bot', title: 'Forbidden', detail: 'This visitor token was issued for another bot.' });
    }
    if (claims.origin !== origin) {
      throw new ApiError({ status: 403, code: 'origin_mismatch', title: 'Forbidden', detail: 'This visitor token was issued to a page on another origin.' });
    }
    c.set('visitor', claims);
    await next();
  };
