/**
 * Leads: contact details a widget visitor leaves, stored per bot and conversation, listed and
 * exported by the org's members. createLead validates everything itself (the widget route that
 * calls it passes what a hostile visitor sent); which fields a bot's lead form requires is the
 * widget's rule, applied before this.
 */
import { and, desc, eq, gte, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import type { ServiceContext } from '../../context';
import { conversations, leads } from '../../db/schema';
import { looksLikeId, newId } from '../../lib/ids';
import { LEADS } from '../../limits';
import { getBot } from '../bots/service';
import { validateLeadFields, type LeadFieldError } from './validate';
import { csvRow } from './csv';
import { eventInsert, publishSoon } from '../events/outbox';
import { domainEvent } from '../events/catalog';

export type LeadRow = typeof leads.$inferSelect;

export interface CreateLeadInput {
  orgId: string;
  botId: string;
  conversationId?: string | null;
  /** The widget visitor who left it; when given with a conversation, that conversation must be theirs. */
  visitorId?: string | null;
  /** The visitor's host-verified identity, which owns their conversations across devices. */
  verifiedUserId?: string | null;
  name?: string | null;
  email?: string | null;
  phone?: string | null;
}

export type CreateLeadResult =
  | { status: 'invalid'; errors: LeadFieldError[] }
  | { status: 'bot_not_found' }
  | { status: 'conversation_not_found' }
  | { status: 'created'; lead: LeadRow };

const VISITOR_ID = /^[A-Za-z0-9_-]+$/;

export async function createLead(ctx: ServiceContext, input: CreateLeadInput): Promise<CreateLeadResult> {
  const checked = validateLeadFields(input);
  const errors = checked.ok ? [] : [...checked.errors];
  const visitorId = input.visitorId ?? null;
  if (visitorId !== null && (visitorId.length > LEADS.maxVisitorIdChars || !VISITOR_ID.test(visitorId))) {
    errors.push({ path: 'visitorId', message: 'Not a visitor id' });
  }
  if (!checked.ok || errors.length > 0) return { status: 'invalid', errors };

  const bot = await getBot(ctx.db, input.orgId, input.botId);
  if (!bot) return { status: 'bot_not_found' };

  const conversationId = input.conversationId ?? null;
  if (conversationId !== null) {
    if (!looksLikeId(conversationId, 'cnv')) return { status: 'conversation_not_found' };
    const conditions: SQL[] = [
      eq(conversations.id, conversationId),
      eq(conversations.orgId, input.orgId),
      eq(conversations.botId, input.botId),
      sql`${conversations.deletedAt} IS NULL`,
    ];
    // A visitor attaches a lead only to a conversation of their own: by visitor id, or by the
    // verified identity their conversations follow.
    if (visitorId !== null) {
      const owner = [eq(conversations.visitorId, visitorId)];
      if (input.verifiedUserId) owner.push(eq(conversations.userId, input.verifiedUserId));
      conditions.push(eq(conversations.channel, 'widget'), or(...owner)!);
    }
    const found = await ctx.db.select({ id: conversations.id }).from(conversations).where(and(...conditions)).get();
    if (!found) return { status: 'conversation_not_found' };
  }

  const lead: LeadRow = {
    id: newId('led', ctx.clock),
    orgId: input.orgId,
    botId: bot.id,
    conversationId,
    visitorId,
    ...checked.value,
    createdAt: ctx.clock.now(),
  };
  await ctx.db.batch([
    ctx.db.insert(leads).values(lead),
    eventInsert(
      ctx.db,
      domainEvent('lead.created', {
        orgId: lead.orgId,
        botId: lead.botId,
        conversationId: lead.conversationId,
        data: {
          id: lead.id,
          botId: lead.botId,
          conversationId: lead.conversationId,
          visitorId: lead.visitorId,
          name: lead.name,
          email: lead.email,
          phone: lead.phone,
          createdAt: new Date(lead.createdAt).toISOString(),
        },
      }),
      ctx.clock,
    ),
  ]);
  publishSoon(ctx, lead.orgId);
  return { status: 'created', lead };
}

export interface LeadFilter {
  botId?: string;
  /** created_at bounds in ms, inclusive. */
  from?: number;
  to?: number;
  /** Substring of the name, email or phone, case-insensitive. */
  q?: string;
}

/** `q` as a LIKE pattern that matches it literally (%, _ and the escape itself escaped). */
function likePattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}

function conditionsFor(orgId: string, filter: LeadFilter, cursor: string | null): SQL[] {
  const conditions: SQL[] = [eq(leads.orgId, orgId)];
  if (cursor) conditions.push(lt(leads.id, cursor));
  if (filter.botId) conditions.push(eq(leads.botId, filter.botId));
  if (filter.from !== undefined) conditions.push(gte(leads.createdAt, filter.from));
  if (filter.to !== undefined) conditions.push(lte(leads.createdAt, filter.to));
  if (filter.q) {
    const pattern = likePattern(filter.q.slice(0, LEADS.maxQueryChars));
    conditions.push(sql`(${leads.name} LIKE ${pattern} ESCAPE '\\' OR ${leads.email} LIKE ${pattern} ESCAPE '\\' OR ${leads.phone} LIKE ${pattern} ESCAPE '\\')`);
  }
  return conditions;
}

/** Newest first (ids are time-sortable); fetches limit + 1 rows for toPage. */
export async function listLeads(ctx: ServiceContext, orgId: string, filter: LeadFilter, cursor: string | null, limit: number): Promise<LeadRow[]> {
  return ctx.db
    .select()
    .from(leads)
    .where(and(...conditionsFor(orgId, filter, cursor)))
    .orderBy(desc(leads.id))
    .limit(limit + 1);
}

export const LEAD_CSV_COLUMNS = ['id', 'createdAt', 'botId', 'conversationId', 'visitorId', 'name', 'email', 'phone'] as const;

export type ExportLeadsResult = { status: 'too_many'; limit: number } | { status: 'ok'; csv: string; rows: number };

/**
 * Every matching lead as CSV, newest first, read in pages of LEADS.csvPageRows. More than
 * LEADS.csvMaxRows matching rows is `too_many` (checked first, so nothing partial is produced):
 * the caller narrows the export with from / to / botId.
 */
export async function exportLeadsCsv(ctx: ServiceContext, orgId: string, filter: LeadFilter, cursor: string | null): Promise<ExportLeadsResult> {
  const where = and(...conditionsFor(orgId, filter, cursor));
  const capped = ctx.db.select({ id: leads.id }).from(leads).where(where).limit(LEADS.csvMaxRows + 1).as('capped');
  const counted = await ctx.db.select({ n: sql<number>`count(*)` }).from(capped).get();
  if ((counted?.n ?? 0) > LEADS.csvMaxRows) return { status: 'too_many', limit: LEADS.csvMaxRows };

  let csv = csvRow([...LEAD_CSV_COLUMNS]);
  let rows = 0;
  let after = cursor;
  for (;;) {
    const page = await ctx.db
      .select()
      .from(leads)
      .where(and(...conditionsFor(orgId, filter, after)))
      .orderBy(desc(leads.id))
      .limit(LEADS.csvPageRows);
    for (const lead of page) {
      csv += csvRow([lead.id, new Date(lead.createdAt).toISOString(), lead.botId, lead.conversationId, lead.visitorId, lead.name, lead.email, lead.phone]);
    }
    rows += page.length;
    if (page.length < LEADS.csvPageRows || rows >= LEADS.csvMaxRows) break;
    after = page[page.length - 1]!.id;
  }
  return { status: 'ok', csv, rows };
}

export function toLeadDto(row: LeadRow) {
  return {
    id: row.id,
    botId: row.botId,
    conversationId: row.conversationId,
    visitorId: row.visitorId,
    name: row.name,
    email: row.email,
    phone: row.phone,
    createdAt: new Date(row.createdAt).toISOString(),
  };
}
