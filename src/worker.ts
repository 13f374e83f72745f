/** Turns a built app into the Worker's handlers: HTTP, the queue consumer and the cron trigger. */
import type { Env } from './env';
import type { Router } from './http/router';
import { handleQueueBatch } from './jobs/dispatch';
import { runScheduled } from './jobs/scheduled';

const OVERRIDABLE = new Set(['PUT', 'PATCH', 'DELETE']);

/**
 * Clients that can only send GET and POST tunnel other verbs through a POST with
 * X-HTTP-Method-Override. Only POST may be overridden, so nothing destructive rides on a GET.
 */
function applyMethodOverride(request: Request): Request {
  const override = request.headers.get('x-http-method-override')?.toUpperCase();
  if (request.method !== 'POST' || !override || !OVERRIDABLE.has(override)) return request;
  const headers = new Headers(request.headers);
  headers.delete('x-http-method-override');
  return new Request(request.url, { method: override, headers, body: request.body, redirect: request.redirect });
}

export function createWorker(app: Router) {
  return {
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
}
