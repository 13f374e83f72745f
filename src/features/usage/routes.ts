import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, jsonContent, commonErrors } from '../../http/router';
import { requirePermission, serviceContext } from '../../http/context';
import { orgUsage, windowUsage, type QuotaUsage } from './quotas';
import { RATE_LIMIT_WINDOW_SECONDS } from '../../limits';
import { USER_RATE_LIMIT_POLICY } from './policies';

const Usage = z
  .object({
    used: z.number().int(),
    limit: z.number().int(),
    windowSeconds: z.number().int().nullable().openapi({ description: 'null: the quota does not renew with time' }),
    resetSeconds: z.number().int().nullable().openapi({ description: 'Seconds until what is counted now has aged out' }),
  })
  .openapi('QuotaUsage');

const UsageReport = z
  .object({
    orgId: z.string(),
    quotas: z.object({
      sources: Usage,
      crawl_pages_per_day: Usage,
      upload_bytes_per_day: Usage,
      searches_per_minute: Usage,
      messages_per_month: Usage,
    }),
    rateLimits: z.object({
      user_requests_per_minute: Usage.nullable().openapi({ description: "The calling person's own request rate (null for API keys)" }),
    }),
  })
  .openapi('UsageReport');

export function usageRoutes() {
  const router = createRouter();
  router.openapi(
    createRoute({
      method: 'get',
      path: '/usage',
      tags: ['Usage'],
      security: [{ bearer: [] }],
      summary: "The org's use against each quota (every role may read it)",
      description:
        'A 429 with code `quota_exceeded` names the quota in `quota`. Windowed counts include units an isolate has reserved but not spent yet, so they may read slightly high.',
      responses: { 200: jsonContent(UsageReport, 'Use against each limit'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'org.read');
      const ctx = serviceContext(c);
      const actor = c.get('actor');
      let perUser: QuotaUsage | null = null;
      if (actor.kind === 'user') {
        perUser = await windowUsage(ctx, `${USER_RATE_LIMIT_POLICY}:${actor.userId}`, ctx.config.userRateLimitPerMinute, RATE_LIMIT_WINDOW_SECONDS);
      }
      return c.json({ orgId: org.orgId, quotas: await orgUsage(ctx, org.orgId), rateLimits: { user_requests_per_minute: perUser } }, 200);
    },
  );
  return router;
}
