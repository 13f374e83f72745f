/**
 * Worker entry: the HTTP app, the queue consumer and the cron trigger, plus the Durable
 * Object classes the bindings in wrangler.toml point at.
 */
import { buildApp } from './app';
import type { Env } from './env';
import { handleQueueBatch } from './jobs/dispatch';
import { runScheduled } from './jobs/scheduled';

export { ConversationRoom } from './durable/ConversationRoom';
export { RateLimiter } from './durable/RateLimiter';
export { LocalVectorStore } from './durable/LocalVectorStore';

const app = buildApp();
const OVERRIDABLE = new Set(['PUT', 'PATCH', 'DELETE']);

/**
 * Clients that can only send GET and POST tunnel other verbs through a POST with
 * X-HTTP-Method-Override. Only POST may be overridden, so nothing destructive rides on a GET.
 */
export function applyMethodOverride(request: Request): Request {
  const override = request.headers.get('x-http-method-override')?.toUpperCase();
  if (request.method !== 'POST' || !override || !OVERRIDABLE.has(override)) return request;
  const headers = new Headers(request.headers);
  headers.delete('x-http-method-override');
  return new Request(request.url, { method: override, headers, body: request.body, redirect: request.redirect });
}

export default {
  fetch(request, env, ctx) {
    return app.fetch(applyMethodOverride(request), env, ctx);
  },
  queue(batch, env, ctx) {
    return handleQueueBatch(batch, env, ctx);
  },
  scheduled(controller, env, ctx) {
    return runScheduled(controller, env, ctx);
  },
} satisfies ExportedHandler<Env>;
