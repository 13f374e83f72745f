import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, jsonContent, commonErrors, PaginationQuery, page } from '../../http/router';
import { requirePermission } from '../../http/context';
import { unauthorized } from '../../http/problem';
import type { Db } from '../../db/client';
import { decodeCursor, toPage } from '../../http/pagination';
import { listActivity } from '../audit/service';
import { authorize } from '../orgs/policy';
import type { auditEvents } from '../../db/schema';

const EventSchema = z
  .object({
    id: z.string(),
    actor: z.object({ type: z.enum(['user', 'api_key', 'system', 'anonymous']), id: z.string().nullable() }),
    action: z.string().openapi({ example: 'bot.update' }),
    target: z.object({ type: z.string(), id: z.string() }).nullable(),
    ip: z.string().nullable().openapi({ description: 'Shown to admins and owners only; null for other roles' }),
    userAgent: z.string().nullable().openapi({ description: 'Shown to admins and owners only; null for other roles' }),
    metadata: z.record(z.string(), z.unknown()),
    createdAt: z.string().datetime(),
  })
  .openapi('ActivityEvent');

/** `withNetwork` false blanks where each event came from (see 'activity.network' in the policy). */
const toEventDto = (e: typeof auditEvents.$inferSelect, withNetwork: boolean) => ({
  id: e.id,
  actor: { type: e.actorType, id: e.actorId },
  action: e.action,
  target: e.targetType && e.targetId ? { type: e.targetType, id: e.targetId } : null,
  ip: withNetwork ? e.ip : null,
  userAgent: withNetwork ? e.userAgent : null,
  metadata: e.metadata,
  createdAt: new Date(e.createdAt).toISOString(),
});

const Timestamp = z.string().datetime({ offset: true }).transform((v) => Date.parse(v));

const ActivityQuery = PaginationQuery.extend({
  actor: z.string().max(64).optional().openapi({ description: 'User or API key id' }),
  action: z.string().max(64).optional().openapi({ example: 'bot.update' }),
  target: z.string().max(64).optional().openapi({ description: 'Target object id' }),
  since: Timestamp.optional().openapi({ type: 'string', format: 'date-time' }),
  until: Timestamp.optional().openapi({ type: 'string', format: 'date-time' }),
});

type ActivityQueryValues = z.infer<typeof ActivityQuery>;

async function activityPage(db: Db, scope: { orgId: string } | { personalFor: string }, q: ActivityQueryValues, withNetwork: boolean) {
  const rows = await listActivity(db, {
    ...scope,
    actorId: q.actor,
    action: q.action,
    targetId: q.target,
    since: q.since,
    until: q.until,
    cursor: decodeCursor(q.cursor),
    limit: q.limit,
  });
  const result = toPage(rows, q.limit);
  return { data: result.data.map((e) => toEventDto(e, withNetwork)), nextCursor: result.nextCursor };
}

export function activityRoutes() {
  const router = createRouter();
  router.openapi(
    createRoute({
      method: 'get',
      path: '/activity',
      tags: ['Activity'],
      security: [{ bearer: [] }],
      summary: 'The org\'s audit trail, newest first',
      request: { query: ActivityQuery },
      responses: { 200: jsonContent(page(EventSchema), 'A page of events'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'activity.read');
      const withNetwork = authorize({ role: org.role, scopes: org.scopes }, 'activity.network').allowed;
      return c.json(await activityPage(c.get('db'), { orgId: org.orgId }, c.req.valid('query'), withNetwork), 200);
    },
  );
  return router;
}

/** Mounted under /api/v1 behind authenticate + requireUser (the /users/* prefix). */
export function personalActivityRoutes() {
  const router = createRouter();
  router.openapi(
    createRoute({
      method: 'get',
      path: '/users/me/activity',
      tags: ['Users'],
      security: [{ bearer: [] }],
      summary: 'Your own sign-ins, sessions and account changes, newest first',
      request: { query: ActivityQuery },
      responses: { 200: jsonContent(page(EventSchema), 'A page of events'), 401: commonErrors[401] },
    }),
    async (c) => {
      const actor = c.get('actor');
      if (actor.kind !== 'user') throw unauthorized();
      // Your own trail: where your sessions came from is yours to see.
      return c.json(await activityPage(c.get('db'), { personalFor: actor.userId }, c.req.valid('query'), true), 200);
    },
  );
  return router;
}
