import { sqliteTable, text, integer, index } from 'drizzle-orm/sqlite-core';
import { organizations } from './orgs';

/**
 * Contact details a widget visitor left (the lead form): personal data of the org's customers.
 * Validated and normalized on write (features/leads/validate.ts); at least one of email and
 * phone is present. A lead outlives the conversation it came from (retention purges
 * conversations, not the org's contacts), so conversation_id is a plain reference.
 */
export const leads = sqliteTable(
  'leads',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull().references(() => organizations.id, { onDelete: 'cascade' }),
    botId: text('bot_id').notNull(),
    conversationId: text('conversation_id'),
    visitorId: text('visitor_id'),
    name: text('name'),
    /** Local part as given, domain lowercased. */
    email: text('email'),
    /** `+` and 6 to 15 digits. */
    phone: text('phone'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    // Lists walk ids newest first (ids are time-sortable), per org and optionally per bot.
    index('leads_org_idx').on(t.orgId, t.id),
    index('leads_bot_idx').on(t.orgId, t.botId, t.id),
    index('leads_org_created_idx').on(t.orgId, t.createdAt),
  ],
);
