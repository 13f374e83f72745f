import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, jsonContent } from '../../http/router';

const Liveness = z.object({ status: z.literal('ok') }).openapi('Liveness');

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
  return router;
}
