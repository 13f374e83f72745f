import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { AppBindings } from '../types';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Request id: Cloudflare's ray id when present, else a caller-sent X-Request-Id, else random. */
export const requestId = (): MiddlewareHandler<AppBindings> =>
  async function requestId(c, next) {
    const candidate = c.req.header('cf-ray') ?? c.req.header('x-request-id');
    const id = candidate && REQUEST_ID.test(candidate) ? candidate : crypto.randomUUID();
    c.set('requestId', id);
    await next();
    if (!c.res.headers.has('x-request-id') && c.res.status !== 101) {
      try {
        c.res.headers.set('x-request-id', id);
      } catch {
        // immutable headers (e.g. a proxied response); the id is still in the log line
      }
    }
  };

/** One structured JSON line per request. */
export const requestLog = (): MiddlewareHandler<AppBindings> =>
  async function requestLog(c, next) {
    const started = Date.now();
    await next();
    const org = c.get('org');
    console.log(
      JSON.stringify({
        level: c.res.status >= 500 ? 'error' : 'info',
        msg: 'request',
        method: c.req.method,
        route: routePath(c, -1) || c.req.path,
        status: c.res.status,
        durationMs: Date.now() - started,
        orgId: org?.orgId ?? null,
        requestId: c.get('requestId'),
      }),
    );
  };
