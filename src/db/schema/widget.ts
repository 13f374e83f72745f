import { sqliteTable, text, integer } from 'drizzle-orm/sqlite-core';
import { organizations } from './orgs';

// The embeddable widget's settings (issue #9). Three levels merge into what a visitor's widget
// gets: built-in defaults ← the org's defaults (`widget_defaults`) ← the bot's overrides
// (`bots.widget`). Both stored levels hold only what was set there (partial groups).

export type WidgetTheme = 'light' | 'dark' | 'auto';
export type WidgetLang = 'auto' | 'en' | 'de';
export const LEAD_FIELDS = ['name', 'email', 'phone'] as const;
export type LeadField = (typeof LEAD_FIELDS)[number];
export const LEAD_FORM_WHEN = ['before_chat', 'after_first_answer', 'on_handoff'] as const;

export interface WidgetAppearance {
  theme: WidgetTheme;
  brandColor: string;
  position: 'left' | 'right';
  avatarUrl: string | null;
  title: string;
}
export interface WidgetMessages {
  initial: string[];
  suggestedQuestions: string[];
  placeholder: string;
}
export interface WidgetLeadForm {
  enabled: boolean;
  fields: { field: LeadField; required: boolean }[];
  when: (typeof LEAD_FORM_WHEN)[number];
}
export interface WidgetFeatures {
  feedback: boolean;
  copy: boolean;
  history: boolean;
}
/** Whitelabel: an org-level choice only; a bot's overrides never carry it. */
export interface WidgetBranding {
  poweredBy: boolean;
}

export interface WidgetSettings {
  appearance: WidgetAppearance;
  messages: WidgetMessages;
  leadForm: WidgetLeadForm;
  features: WidgetFeatures;
  lang: WidgetLang;
  branding: WidgetBranding;
}

/** What one level stores: any subset of each group. */
export interface WidgetOverrides {
  appearance?: Partial<WidgetAppearance>;
  messages?: Partial<WidgetMessages>;
  leadForm?: Partial<WidgetLeadForm>;
  features?: Partial<WidgetFeatures>;
  lang?: WidgetLang;
  branding?: Partial<WidgetBranding>;
}
export type BotWidgetOverrides = Omit<WidgetOverrides, 'branding'>;

/** One row per org that changed its widget defaults; no row means the built-in defaults. */
export const widgetDefaults = sqliteTable('widget_defaults', {
  orgId: text('org_id').primaryKey().references(() => organizations.id, { onDelete: 'cascade' }),
  settings: text('settings', { mode: 'json' }).$type<WidgetOverrides>().notNull(),
  /** Bumped by every write: the ETag. No row is revision 0. */
  revision: integer('revision').notNull().default(1),
  updatedAt: integer('updated_at').notNull(),
});
