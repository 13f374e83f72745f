import { z } from '@hono/zod-openapi';
import { LEADS } from '../../limits';

export const LeadSchema = z
  .object({
    id: z.string().openapi({ example: 'led_01JD3X5Q8W2N4V6B8C0D2E4F6G' }),
    botId: z.string(),
    conversationId: z.string().nullable(),
    visitorId: z.string().nullable(),
    name: z.string().nullable(),
    email: z.string().nullable().openapi({ description: 'As given, with the domain lowercased' }),
    phone: z.string().nullable().openapi({ description: '+ and 6 to 15 digits', example: '+4930123456' }),
    createdAt: z.string().datetime(),
  })
  .openapi('Lead');

export const ListLeadsQuery = z.object({
  botId: z.string().min(1).max(64).optional(),
  // Checked by the route (a 422 names the bad bound): ISO 8601 timestamps on created_at, inclusive.
  from: z.string().max(64).optional().openapi({ description: 'Only leads created at or after this ISO 8601 time', example: '2026-12-01T00:00:00Z' }),
  to: z.string().max(64).optional().openapi({ description: 'Only leads created at or before this ISO 8601 time', example: '2026-12-31T23:59:59Z' }),
  q: z
    .string()
    .trim()
    .min(1)
    .max(LEADS.maxQueryChars)
    .optional()
    .openapi({ description: 'Substring of the name, email or phone (case-insensitive, matched literally)', example: 'example.com' }),
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ description: 'Page size (JSON only: a CSV export holds every match)', example: 20 }),
  cursor: z.string().max(200).optional(),
  format: z
    .enum(['json', 'csv'])
    .default('json')
    .openapi({ description: `csv: every matching lead (after \`cursor\`, if given) as one RFC 4180 file, at most ${LEADS.csvMaxRows} rows` }),
});
