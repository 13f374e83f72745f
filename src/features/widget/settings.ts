/**
 * The widget's settings: the zod schemas every level is validated with (org defaults, a bot's
 * overrides), the built-in defaults, and the merge built-in ← org ← bot. Everything here ends up
 * on visitors' screens on other people's sites, so every field is bounded and strictly shaped.
 */
// Plain zod (no Hono): services read the defaults and the merge; the route schemas compose these.
import { z } from 'zod';
import {
  LEAD_FIELDS,
  LEAD_FORM_WHEN,
  type BotWidgetOverrides,
  type WidgetOverrides,
  type WidgetSettings,
} from '../../db/schema';
import { WIDGET_SETTINGS } from '../../limits';

/** C0/C1 controls and the bidi overrides/isolates that could make a text read other than it is. */
const UNSAFE_IN_LINE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
/** The same, with newlines and tabs allowed (greetings may have paragraphs). */
const UNSAFE_IN_TEXT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

const line = (max: number) =>
  z.string().trim().min(1).max(max).refine((v) => !UNSAFE_IN_LINE.test(v), 'Must not contain control or bidirectional-override characters');
const text = (max: number) =>
  z.string().trim().min(1).max(max).refine((v) => !UNSAFE_IN_TEXT.test(v), 'Must not contain control or bidirectional-override characters');

export const AvatarUrl = z
  .string()
  .max(WIDGET_SETTINGS.avatarUrlMaxChars)
  .refine((v) => {
    if (/[\s\u0000-\u001f\u007f]/.test(v)) return false;
    try {
      const u = new URL(v);
      return u.protocol === 'https:' && u.hostname !== '' && u.username === '' && u.password === '';
    } catch {
      return false;
    }
  }, 'Must be an https URL without credentials')
  .describe('An https image URL; null = no avatar');

const BrandColor = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'Must be a colour like #1a2b3c').describe('#rrggbb');

export const WidgetAppearanceSchema = z
  .object({
    theme: z.enum(['light', 'dark', 'auto']),
    brandColor: BrandColor,
    position: z.enum(['left', 'right']),
    avatarUrl: AvatarUrl.nullable(),
    title: line(WIDGET_SETTINGS.titleMaxChars).describe("The panel's header; when no level sets one, the bot's name"),
  })
  .strict();

export const WidgetMessagesSchema = z
  .object({
    initial: z.array(text(WIDGET_SETTINGS.initialMessageMaxChars)).max(WIDGET_SETTINGS.initialMessagesMax).describe('Greeting bubbles shown when the panel opens'),
    suggestedQuestions: z.array(line(WIDGET_SETTINGS.suggestedQuestionMaxChars)).max(WIDGET_SETTINGS.suggestedQuestionsMax),
    placeholder: line(WIDGET_SETTINGS.placeholderMaxChars),
  })
  .strict();

export const WidgetLeadFormSchema = z
  .object({
    enabled: z.boolean(),
    fields: z
      .array(z.object({ field: z.enum(LEAD_FIELDS), required: z.boolean() }).strict())
      .max(LEAD_FIELDS.length)
      .refine((fields) => new Set(fields.map((f) => f.field)).size === fields.length, 'Each field at most once'),
    when: z.enum(LEAD_FORM_WHEN),
  })
  .strict();

export const WidgetFeaturesSchema = z.object({ feedback: z.boolean(), copy: z.boolean(), history: z.boolean() }).strict();

export const WidgetLangSchema = z.enum(['auto', 'en', 'de']).describe("The widget's language; auto follows the visitor's browser");

export const WidgetBrandingSchema = z
  .object({ poweredBy: z.boolean().describe('Show "Powered by KyroChat"; false = whitelabel (org level only)') })
  .strict();

/** The effective settings, every field present. */
export const WidgetSettingsSchema = z.object({
  appearance: WidgetAppearanceSchema,
  messages: WidgetMessagesSchema,
  leadForm: WidgetLeadFormSchema,
  features: WidgetFeaturesSchema,
  lang: WidgetLangSchema,
  branding: WidgetBrandingSchema,
});

/**
 * A change to one level: only the given fields are written, merged into each group (RFC 7396).
 * A group (or `lang`, or `avatarUrl`) set to null drops what this level set, so the level below
 * shows through again.
 */
const groupPatches = {
  appearance: WidgetAppearanceSchema.partial().strict().nullable(),
  messages: WidgetMessagesSchema.partial().strict().nullable(),
  leadForm: WidgetLeadFormSchema.partial().strict().nullable(),
  features: WidgetFeaturesSchema.partial().strict().nullable(),
  lang: WidgetLangSchema.nullable(),
};

export const WidgetDefaultsPatchSchema = z
  .strictObject({ ...groupPatches, branding: WidgetBrandingSchema.partial().strict().nullable() })
  .partial()
  .refine((v) => Object.keys(v).length > 0, { message: 'Send at least one group to change' });

/** A bot's overrides: the same groups except branding, which is the org's choice alone. */
export const BotWidgetPatchSchema = z
  .strictObject(groupPatches, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' && issue.keys.includes('branding')
        ? 'branding (whitelabel) is set for the whole org in /widget-defaults, not per bot'
        : undefined,
  })
  .partial()
  .nullable()
  .describe("The bot's widget overrides (merged into each group); null clears them all");

export type WidgetDefaultsPatch = z.infer<typeof WidgetDefaultsPatchSchema>;
export type BotWidgetPatch = z.infer<typeof BotWidgetPatchSchema>;

/** What a level gets when nothing is set anywhere. An empty title means "the bot's name". */
export const BUILT_IN_WIDGET_SETTINGS: WidgetSettings = {
  appearance: { theme: 'auto', brandColor: '#2563eb', position: 'right', avatarUrl: null, title: '' },
  messages: { initial: ['Hi! How can I help you today?'], suggestedQuestions: [], placeholder: 'Ask a question…' },
  leadForm: { enabled: false, fields: [], when: 'after_first_answer' },
  features: { feedback: true, copy: true, history: true },
  lang: 'auto',
  branding: { poweredBy: true },
};

/**
 * `over`'s fields laid onto `base`, taking only keys `base` has with a value of the same kind:
 * stored JSON from an older shape (or a hand-edited row) never reaches a visitor as is.
 */
function layer<T extends object>(base: T, over: unknown): T {
  if (!over || typeof over !== 'object' || Array.isArray(over)) return base;
  const out = { ...base };
  for (const key of Object.keys(base) as (keyof T)[]) {
    const value = (over as Record<keyof T, unknown>)[key];
    const current = base[key];
    const sameKind =
      current === null
        ? value === null || typeof value === 'string'
        : Array.isArray(current)
          ? Array.isArray(value)
          : typeof value === typeof current && value !== null;
    if (value !== undefined && sameKind) out[key] = value as T[keyof T];
  }
  return out;
}

const LANGS = new Set<string>(WidgetLangSchema.options);

/** Built-in ← org defaults ← bot overrides. Branding comes from the org alone. */
export function resolveWidgetSettings(org: WidgetOverrides | null, bot: BotWidgetOverrides | null = null): WidgetSettings {
  const levels = [org, bot];
  let settings = BUILT_IN_WIDGET_SETTINGS;
  for (const level of levels) {
    if (!level) continue;
    settings = {
      appearance: layer(settings.appearance, level.appearance),
      messages: layer(settings.messages, level.messages),
      leadForm: layer(settings.leadForm, level.leadForm),
      features: layer(settings.features, level.features),
      lang: typeof level.lang === 'string' && LANGS.has(level.lang) ? level.lang : settings.lang,
      branding: settings.branding,
    };
  }
  return { ...settings, branding: layer(BUILT_IN_WIDGET_SETTINGS.branding, org?.branding) };
}

/** Drops nulls the way a JSON merge patch into an empty object would (for a new bot's overrides). */
export function withoutNulls<T>(value: T): T {
  if (Array.isArray(value)) return value;
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, withoutNulls(v)]),
  ) as T;
}

/** A bot's stored overrides, as the bot DTO shows them (any subset of each group, no nulls). */
export const BotWidgetSchema = z.object({
  appearance: WidgetAppearanceSchema.partial().optional(),
  messages: WidgetMessagesSchema.partial().optional(),
  leadForm: WidgetLeadFormSchema.partial().optional(),
  features: WidgetFeaturesSchema.partial().optional(),
  lang: WidgetLangSchema.optional(),
});
