/**
 * Listing and exporting leads (issue #9). Leads are personal data of the org's customers:
 * `leads.read` (members and up; API keys need the `leads:read` scope). The widget stores them
 * through createLead.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, commonErrors, errorResponses, page } from '../../http/router';
import { ApiError } from '../../http/problem';
import { requirePermission, serviceContext } from '../../http/context';
import { decodeCursor, toPage } from '../../http/pagination';
import { parseTimeRange } from '../../http/time-range';
import { LeadSchema, ListLeadsQuery } from './schemas';
import { exportLeadsCsv, listLeads, toLeadDto } from './service';

const tags = ['Leads'];
const security = [{ bearer: [] }];

/** Mounted under /api/v1 behind authenticate + resolveOrg. */
export function leadRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'get',
      path: '/leads',
      tags,
      security,
      summary: 'List leads newest first, or export them as CSV (`format=csv`)',
      description:
        'Filters: `botId`, `from` / `to` (creation time, inclusive), `q` (substring of name, email or phone). JSON answers a page; `format=csv` answers every match as `text/csv` (RFC 4180, CRLF, a header row; cells starting with = + - @ tab or CR get a leading apostrophe so spreadsheets never run them as formulas).',
      request: { query: ListLeadsQuery },
      responses: {
        200: {
          description: 'A page of leads (JSON), or the CSV export',
          content: {
            'application/json': { schema: page(LeadSchema) },
            'text/csv': { schema: z.string().openapi({ example: 'id,createdAt,botId,conversationId,visitorId,name,email,phone\r\n' }) },
          },
        },
        ...commonErrors,
        422: { ...errorResponses[422], description: 'A bad time range (`invalid_time_range`), or a CSV export larger than its row limit (`export_too_large`)' },
      },
    }),
    async (c) => {
      const org = requirePermission(c, 'leads.read');
      const q = c.req.valid('query');
      const filter = { botId: q.botId, q: q.q, ...parseTimeRange(q) };
      const cursor = decodeCursor(q.cursor);
      const ctx = serviceContext(c);
      if (q.format === 'csv') {
        const result = await exportLeadsCsv(ctx, org.orgId, filter, cursor);
        if (result.status === 'too_many') {
          throw new ApiError({
            status: 422,
            code: 'export_too_large',
            title: 'Export too large',
            detail: `More than ${result.limit} leads match. Narrow the export with from / to or botId.`,
            extensions: { limit: result.limit },
          });
        }
        const day = new Date(ctx.clock.now()).toISOString().slice(0, 10);
        return c.body(result.csv, 200, {
          'content-type': 'text/csv; charset=utf-8',
          'content-disposition': `attachment; filename="leads-${day}.csv"`,
          'cache-control': 'no-store',
        });
      }
      const rows = await listLeads(ctx, org.orgId, filter, cursor, q.limit);
      const result = toPage(rows, q.limit);
      return c.json({ data: result.data.map(toLeadDto), nextCursor: result.nextCursor }, 200);
    },
  );

  return router;
}
