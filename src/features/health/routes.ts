import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { createRouter, jsonContent } from '../../http/router';
import type { AppBindings } from '../../http/types';
import { authenticate, resolveOrg } from '../../http/middleware/auth';
import { authorize } from '../orgs/policy';

const Liveness = z.object({ status: z.literal('ok') }).openapi('Liveness');
const Readiness = z
  .object({
    status: z.enum(['ready', 'degraded']),
    checks: z.record(z.string(), z.object({ ok: z.boolean(), latencyMs: z.number() })).optional(),
  })
  .openapi('Readiness');

/** A dependency check; why it failed goes to the log, never to the response. */
async function timed(name: string, check: () => Promise<unknown>) {
  const started = Date.now();
  try {
    await check();
    return { ok: true, latencyMs: Date.now() - started };
  } catch (err) {
    console.error(JSON.stringify({ level: 'error', msg: 'readiness check failed', check: name, error: err instanceof Error ? err.message : String(err) }));
    return { ok: false, latencyMs: Date.now() - started };
  }
}

/** Details are for admins only; anyone else (including a bad token) gets just the verdict. */
async function callerIsAdmin(c: Context<AppBindings>): Promise<boolean> {
  if (!c.req.header('authorization')) return false;
  try {
    await authenticate()(c, async () => undefined);
    await resolveOrg()(c, async () => undefined);
    const org = c.get('org');
    return authorize({ role: org.role, scopes: org.scopes }, 'health.details').allowed;
  } catch {
    return false;
  }
}

export function healthRoutes() {
  const router = createRouter();
  router.openapi(
    createRoute({
      method: 'get',
      path: '/health',
      tags: ['Health'],
      summary: 'Liveness: answers while the Worker runs; reveals nothing else',
      responses: { 200: jsonContent(Liveness, 'Alive') },
    }),
    (c) => c.json({ status: 'ok' as const }, 200),
  );
  router.openapi(
    createRoute({
      method: 'get',
      path: '/health/ready',
      tags: ['Health'],
      summary: 'Readiness: checks D1 and R2 (per-check details for an authenticated admin)',
      responses: { 200: jsonContent(Readiness, 'Ready'), 503: jsonContent(Readiness, 'A dependency is failing') },
    }),
    async (c) => {
      const checks = {
        d1: await timed('d1', () => c.env.DB.prepare('SELECT 1').first()),
        r2: await timed('r2', () => c.env.FILES.head('health/probe')),
      };
      const ready = Object.values(checks).every((ch) => ch.ok);
      const status = ready ? ('ready' as const) : ('degraded' as const);
      const body = (await callerIsAdmin(c)) ? { status, checks } : { status };
      return c.json(body, ready ? 200 : 503);
    },
  );
  return router;
}
