/**
 * Builds the Hono app: middleware chain, feature routers, OpenAPI document and docs.
 */
import { Scalar } from '@scalar/hono-api-reference';
import { HTTPException } from 'hono/http-exception';
import { secureHeaders } from 'hono/secure-headers';
import { cors } from 'hono/cors';
import { bodyLimit } from 'hono/body-limit';
import type { Context, MiddlewareHandler } from 'hono';
import { createRouter, type Router } from './http/router';
import { ApiError, problemResponse, type ProblemInit } from './http/problem';
import { upstreamProblem } from './http/upstream-problems';
import { requestId, requestLog } from './http/middleware/request-context';
import { loadConfig } from './env';
import { createDb } from './db/client';
import type { AppBindings } from './http/types';
import { methodNotAllowed } from './http/method-not-allowed';
import { healthRoutes } from './features/health/routes';
import { authRoutes } from './features/auth/routes';
import { userRoutes } from './features/users/routes';
import { orgRoutes } from './features/orgs/routes';
import { apiKeyRoutes } from './features/api-keys/routes';
import { botRoutes } from './features/bots/routes';
import { settingsRoutes } from './features/settings/routes';
import { activityRoutes, personalActivityRoutes } from './features/activity/routes';
import { knowledgeRoutes } from './features/knowledge/routes';
import { usageRoutes } from './features/usage/routes';
import { bearerFromSubprotocol, CONVERSATION_SOCKET_PATH, conversationSocketRoutes } from './features/chat/ws-route';
import { chatRoutes } from './features/chat/routes';
import { conversationRoutes } from './features/conversations/routes';
import { feedbackRoutes } from './features/feedback/routes';
import { analyticsRoutes } from './features/analytics/routes';
import { leadRoutes } from './features/leads/routes';
import { chatbaseRoutes } from './features/chat/chatbase-route';
import { openAiErrors, openAiRoutes } from './features/chat/openai-route';
import { widgetDefaultsRoutes, widgetPublicRoutes } from './features/widget/routes';
import { USER_RATE_LIMIT_POLICY } from './features/usage/policies';
import { authenticate, requireUser, resolveOrg } from './http/middleware/auth';
import { clientIp, rateLimit } from './http/middleware/rate-limit';
import { visitorAuth, widgetOrigin } from './http/middleware/widget';
import { widgetVisitorRoutes } from './features/widget/visitor-route';
import { identitySecretRoutes } from './features/widget/identity-route';
import { widgetChatRoutes } from './features/chat/widget-route';
import { integrationRoutes } from './features/integrations/routes';
import { hookRoutes } from './features/integrations/hook-route';
import { widgetScriptRoutes } from './features/widget/script-route';
import { webhookRoutes } from './features/webhooks/routes';
import { registerEventWebhooks } from './features/webhooks/schemas';
// Actions and the tool-call loop (issue #11)
import { actionRoutes } from './features/actions/routes';
import { memberConfirmationRoutes, widgetConfirmationRoutes } from './features/chat/confirmation-route';
// Human handoff, inbox, escalation tickets (issue #10).
import { handoffRoutes } from './features/handoff/routes';
import { widgetHandoffRoutes } from './features/handoff/widget-route';
import { escalationRoutes } from './features/escalations/routes';
// The widget's live side: the visitor's WebSocket.
import { VISITOR_SOCKET_PATH, widgetSocketRoutes } from './features/chat/widget-socket-route';
import { ATTACHMENTS, MULTIPART_OVERHEAD_BYTES, RATE_LIMIT_WINDOW_SECONDS, SOURCE_CREATE_MAX_BODY_BYTES } from './limits';

const UPLOAD_PATH = /^\/api\/v1\/bots\/[^/]+\/sources\/files$/;
/** POST /bots/{botId}/sources: a text source's documented length does not fit in MAX_BODY_BYTES. */
const SOURCE_CREATE_PATH = /^\/api\/v1\/bots\/[^/]+\/sources$/;
/** POST /bots/{botId}/attachments: one chat attachment (ATTACHMENTS.maxBytes) plus multipart framing. */
const ATTACHMENT_UPLOAD_PATH = /^\/api\/v1\/bots\/[^/]+\/attachments$/;

/** The public widget's endpoints: per-bot origins and CORS, visitor tokens (src/http/middleware/widget.ts). */
const WIDGET_PREFIX = '/api/v1/widget';

/** Path prefixes under /api/v1 whose routes act inside one org. */
const ORG_SCOPED_PREFIXES = ['bots', 'api-keys', 'settings', 'activity', 'sources', 'documents', 'usage', 'conversations', 'chat', 'leads', 'widget-defaults', 'integrations', 'webhooks', 'deliveries', 'inbox', 'escalations', 'actions', 'feedback', 'analytics'];

// One CORS middleware per origin list (config is per isolate, so this is built once).
const corsByOrigins = new WeakMap<string[], MiddlewareHandler>();
function corsFor(origins: string[]): MiddlewareHandler {
  let handler = corsByOrigins.get(origins);
  if (!handler) {
    handler = cors({
      origin: (origin) => (origins.includes(origin) ? origin : null),
      allowMethods: ['GET', 'POST', 'PATCH', 'PUT', 'DELETE', 'OPTIONS'],
      allowHeaders: ['Authorization', 'Content-Type', 'X-Org-Id', 'X-HTTP-Method-Override', 'X-Request-Id', 'Idempotency-Key', 'If-Match'],
      exposeHeaders: ['X-Request-Id', 'Retry-After', 'RateLimit', 'RateLimit-Policy', 'ETag', 'Idempotent-Replayed', 'Location'],
      credentials: true,
      maxAge: 600,
    });
    corsByOrigins.set(origins, handler);
  }
  return handler;
}

export interface AppOptions {
  /** Extra routes mounted after health and before the API (the benchmark entry's baselines). */
  mountExtraRoutes?: (app: Router) => void;
}

export function buildApp(options: AppOptions = {}): Router {
  const app = createRouter();

  app.use('*', requestId());
  app.use('*', requestLog());
  app.use('*', async function configGate(c, next) {
    const result = loadConfig(c.env);
    if (!result.ok) {
      throw new ApiError({
        status: 500,
        code: 'misconfigured',
        title: 'Service misconfigured',
        detail: 'The service is not configured correctly. The operator has been told why in the logs.',
        internal: result.problems.join('; '),
      });
    }
    c.set('config', result.config);
    c.set('db', createDb(c.env.DB));
    await next();
  });
  app.use('*', secureHeaders({ crossOriginResourcePolicy: false, crossOriginOpenerPolicy: false }));
  // The public widget answers CORS per bot (its allowed origins); the dashboard's list is not asked there.
  app.use(`${WIDGET_PREFIX}/:botId/*`, widgetOrigin());
  app.use('/api/*', async function dashboardCors(c, next) {
    if (c.req.path.startsWith(`${WIDGET_PREFIX}/`)) return next();
    return corsFor(c.get('config').dashboardOrigins)(c, next);
  });
  const limitBody: MiddlewareHandler<AppBindings> = async function limitBody(c, next) {
    // Bodiless requests skip the check (and its stream wrapping) entirely.
    if (c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'OPTIONS') return next();
    const config = c.get('config');
    // File uploads get the upload limit (plus room for multipart framing), source creation room
    // for the longest text source; every other JSON body gets MAX_BODY_BYTES.
    const maxSize = UPLOAD_PATH.test(c.req.path)
      ? config.maxUploadBytes + MULTIPART_OVERHEAD_BYTES
      : SOURCE_CREATE_PATH.test(c.req.path)
        ? Math.max(config.maxBodyBytes, SOURCE_CREATE_MAX_BODY_BYTES)
        : ATTACHMENT_UPLOAD_PATH.test(c.req.path)
          ? ATTACHMENTS.maxBytes + MULTIPART_OVERHEAD_BYTES
          : config.maxBodyBytes;
    return bodyLimit({
      maxSize,
      onError: () => {
        throw new ApiError({
          status: 413,
          code: 'payload_too_large',
          title: 'Payload too large',
          detail: `The request body is larger than ${maxSize} bytes.`,
        });
      },
    })(c, next);
  };
  app.use('/api/*', limitBody);
  // The OpenAI-compatible surface answers every error in OpenAI's shape, its own included.
  app.use('/v1/*', openAiErrors(), limitBody);

  app.route('/', healthRoutes());
  // Inbound webhooks: public, signed per integration; outside /api (no CORS, body limit or auth there).
  app.route('/', hookRoutes());
  // The embeddable widget script and the preview page (public, outside /api).
  app.route('/', widgetScriptRoutes());

  // The public widget: per-IP on everything (a new session is a new visitor id), per visitor behind the token.
  app.use(
    `${WIDGET_PREFIX}/:botId/*`,
    rateLimit({
      name: 'widget-ip',
      limit: (c) => c.get('config').widget.ipRateLimitPerMinute,
      windowSeconds: RATE_LIMIT_WINDOW_SECONDS,
      key: (c) => clientIp(c),
      problem: { code: 'rate_limited', quota: 'widget_requests_per_minute_per_ip' },
    }),
  );
  const perVisitor = rateLimit({
    name: 'widget-visitor',
    limit: (c) => c.get('config').widget.visitorRateLimitPerMinute,
    windowSeconds: RATE_LIMIT_WINDOW_SECONDS,
    key: (c) => `${c.get('visitor').botId}:${c.get('visitor').visitorId}`,
    problem: { code: 'rate_limited', quota: 'widget_requests_per_minute_per_visitor' },
  });
  // The visitor's WebSocket (live side of the widget): its token arrives as a subprotocol.
  app.use(VISITOR_SOCKET_PATH, bearerFromSubprotocol());
  app.use(`${WIDGET_PREFIX}/:botId/chat`, visitorAuth(), perVisitor);
  app.use(`${WIDGET_PREFIX}/:botId/conversations/*`, visitorAuth(), perVisitor);
  app.use(`${WIDGET_PREFIX}/:botId/leads`, visitorAuth(), perVisitor);
  app.route('/api/v1', widgetVisitorRoutes());
  app.route('/api/v1', widgetChatRoutes());
  app.route('/api/v1', widgetConfirmationRoutes());
  app.route('/api/v1', widgetHandoffRoutes());
  app.route('/api/v1', widgetSocketRoutes());

  // Benchmarks build their own entry (bench/worker) that mounts baselines here; production never ships them.
  options.mountExtraRoutes?.(app);
  app.route('/api/v1/auth', authRoutes());

  app.use('/api/v1/users/*', authenticate(), requireUser());
  app.route('/api/v1', userRoutes());
  app.route('/api/v1', personalActivityRoutes());
  app.route('/api/v1', orgRoutes());

  // Everything that acts inside one org: authenticate, pick the org, meter API keys.
  const perApiKey = rateLimit({
    name: 'api-key',
    limit: (c) => c.get('config').apiKeyRateLimitPerMinute,
    windowSeconds: RATE_LIMIT_WINDOW_SECONDS,
    key: (c) => {
      const actor = c.get('actor');
      return actor.kind === 'api_key' ? `api-key:${actor.keyId}` : null;
    },
  });
  // People get their own limit: a logged-in script is as much an amplifier as an API key.
  const perUser = rateLimit({
    name: USER_RATE_LIMIT_POLICY,
    limit: (c) => c.get('config').userRateLimitPerMinute,
    windowSeconds: RATE_LIMIT_WINDOW_SECONDS,
    key: (c) => {
      const actor = c.get('actor');
      return actor.kind === 'user' ? actor.userId : null;
    },
    problem: { code: 'rate_limited', quota: 'user_requests_per_minute' },
  });
  // Browsers send a WebSocket's token as a subprotocol: it must become a header before authenticate().
  app.use(CONVERSATION_SOCKET_PATH, bearerFromSubprotocol());
  // `/x/*` also matches `/x` itself in Hono, so one registration per prefix covers both.
  for (const prefix of ORG_SCOPED_PREFIXES) {
    app.use(`/api/v1/${prefix}/*`, authenticate(), resolveOrg(), perApiKey, perUser);
  }
  app.route('/api/v1', botRoutes());
  app.route('/api/v1', identitySecretRoutes());
  app.route('/api/v1', apiKeyRoutes());
  app.route('/api/v1', settingsRoutes());
  app.route('/api/v1', activityRoutes());
  app.route('/api/v1', knowledgeRoutes());
  app.route('/api/v1', usageRoutes());
  app.route('/api/v1', conversationSocketRoutes());
  app.route('/api/v1', chatRoutes());
  app.route('/api/v1', conversationRoutes());
  app.route('/api/v1', feedbackRoutes());
  app.route('/api/v1', leadRoutes());
  app.route('/api/v1', actionRoutes());
  app.route('/api/v1', memberConfirmationRoutes());
  app.route('/api/v1', analyticsRoutes());
  app.route('/api/v1', chatbaseRoutes());
  app.route('/api/v1', widgetDefaultsRoutes());
  app.route('/api/v1', integrationRoutes());
  // Outbound webhooks: endpoints, deliveries, the event catalog (issue #11).
  app.route('/api/v1', webhookRoutes());
  app.route('/api/v1', handoffRoutes());
  app.route('/api/v1', escalationRoutes());
  // The widget's public endpoints: no authentication (a bot's visibility and origins decide).
  app.route('/api/v1', widgetPublicRoutes());
  // OpenAI clients append /chat/completions to a base URL ending in /v1: mounted at the root.
  app.use('/v1/*', authenticate(), resolveOrg(), perApiKey, perUser);
  app.route('/v1', openAiRoutes());

  app.doc31('/openapi.json', (c) => ({
    openapi: '3.1.0',
    info: {
      title: 'KyroChat API',
      version: '1.0.0',
      description: 'Multi-tenant chat-with-your-docs platform. Errors are RFC 9457 problem+json.',
    },
    servers: [{ url: new URL(c.req.url).origin }],
  }));
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'A user access token (JWT) or an org API key (kc_live_…).',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'visitorToken', {
    type: 'http',
    scheme: 'bearer',
    description: 'A widget visitor token from POST /api/v1/widget/{botId}/session, sent from the Origin it was issued to.',
  });
  // Every event type as an OpenAPI 3.1 webhook: the body KyroChat POSTs for it.
  registerEventWebhooks(app.openAPIRegistry);
  app.get('/docs', Scalar({ url: '/openapi.json', pageTitle: 'KyroChat API' }));

  app.notFound((c) => {
    const allowed = methodNotAllowed(app, c.req.method, c.req.path);
    if (allowed.length > 0) {
      return problemResponse(c, {
        status: 405,
        code: 'method_not_allowed',
        title: 'Method not allowed',
        detail: `${c.req.method} is not allowed here. Allowed: ${allowed.join(', ')}.`,
        headers: { allow: allowed.join(', ') },
      });
    }
    return problemResponse(c, {
      status: 404,
      code: 'route_not_found',
      title: 'Not found',
      detail: `No route matches ${c.req.method} ${c.req.path}.`,
    });
  });
  app.onError((err, c) => errorToResponse(err, c));
  return app;
}

export function errorToResponse(err: unknown, c: Context<AppBindings>): Response {
  if (err instanceof ApiError) {
    if (err.status >= 500 || err.init.internal) {
      console.error(JSON.stringify({ level: 'error', msg: err.init.title, code: err.code, reason: err.init.internal, requestId: c.get('requestId') }));
    }
    return problemResponse(c, err.init);
  }
  if (err instanceof HTTPException) {
    return problemResponse(c, fromHttpException(err));
  }
  // Providers, the vector index and stored secrets fail in expected ways: 502/503, never 500.
  const upstream = upstreamProblem(err);
  if (upstream) return errorToResponse(upstream, c);
  console.error(
    JSON.stringify({
      level: 'error',
      msg: 'unhandled exception',
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      stack: err instanceof Error ? err.stack : undefined,
      requestId: c.get('requestId'),
    }),
  );
  return problemResponse(c, {
    status: 500,
    code: 'internal_error',
    title: 'Internal server error',
    detail: 'Something went wrong on our side. Quote the request id if you contact support.',
  });
}

function fromHttpException(err: HTTPException): ProblemInit {
  switch (err.status) {
    case 400:
      return {
        status: 400,
        code: err.message.includes('JSON') ? 'malformed_json' : 'bad_request',
        title: 'Bad request',
        detail: err.message.includes('JSON') ? 'The request body is not valid JSON.' : err.message || 'Bad request.',
      };
    case 413:
      return { status: 413, code: 'payload_too_large', title: 'Payload too large', detail: 'The request body is too large.' };
    case 415:
      return {
        status: 415,
        code: 'unsupported_media_type',
        title: 'Unsupported media type',
        detail: 'This endpoint takes a JSON body: send Content-Type: application/json.',
      };
    default: {
      const status = err.status >= 400 && err.status < 600 ? err.status : 500;
      return {
        status: status as ProblemInit['status'],
        code: status === 401 ? 'unauthorized' : status >= 500 ? 'internal_error' : 'http_error',
        title: err.message || 'Error',
        detail: status >= 500 ? 'Something went wrong on our side.' : err.message || 'Error',
      };
    }
  }
}
