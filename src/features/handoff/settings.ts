/**
 * A bot's handoff settings: the zod schema the bots API validates with, the defaults, the
 * multilingual trigger phrases and the notices told to the visitor. Plain zod (no Hono): the
 * pipeline and the widget config read the same definitions.
 */
import { z } from 'zod';
import type { BotHandoffSettings } from '../../db/schema';
import { HANDOFF } from '../../limits';
import { foldForSearch } from '../../lib/text/text-fold';

export const HANDOFF_LANGS = ['en', 'de', 'es', 'fr'] as const;
export type HandoffLang = (typeof HANDOFF_LANGS)[number];

/**
 * The built-in phrases, by language. Matched as substrings of the folded, lower-cased message
 * with collapsed spaces, so "Ich möchte mit einem MENSCHEN sprechen!" matches "mit einem menschen".
 */
export const DEFAULT_TRIGGER_PHRASES: Record<HandoffLang, string[]> = {
  en: ['talk to a human', 'speak to a human', 'talk to a person', 'speak to a person', 'real person', 'human agent', 'live agent', 'talk to an agent', 'speak to an agent', 'customer service representative'],
  de: ['mit einem menschen', 'mit einem mitarbeiter', 'mit einer person sprechen', 'echten menschen', 'kundenberater', 'menschlichen ansprechpartner'],
  es: ['hablar con una persona', 'hablar con un humano', 'hablar con un agente', 'persona real', 'agente humano'],
  fr: ['parler a un humain', 'parler a une personne', 'parler a un agent', 'parler a un conseiller', 'vraie personne', 'agent humain'],
};

/** The notices, by language. `{time}` is the next opening, formatted in that language and the bot's timezone. */
export const DEFAULT_NOTICES: Record<HandoffLang, { requested: string; outsideHours: string; alreadyRequested: string }> = {
  en: {
    requested: 'I have asked a team member to join this conversation. Someone will be with you shortly.',
    outsideHours: 'Our team is not available right now. We will be back {time}. Leave your email address and we will get back to you.',
    alreadyRequested: 'A team member has already been asked to join. Please hold on, someone will be with you shortly.',
  },
  de: {
    requested: 'Ich habe ein Teammitglied gebeten, dem Gespräch beizutreten. Gleich ist jemand für Sie da.',
    outsideHours: 'Unser Team ist gerade nicht erreichbar. Wir sind {time} wieder da. Hinterlassen Sie Ihre E-Mail-Adresse, dann melden wir uns.',
    alreadyRequested: 'Ein Teammitglied wurde bereits gebeten, beizutreten. Bitte haben Sie einen Moment Geduld.',
  },
  es: {
    requested: 'He pedido a un miembro del equipo que se una a esta conversación. Alguien le atenderá en breve.',
    outsideHours: 'Nuestro equipo no está disponible ahora. Volvemos {time}. Déjenos su correo electrónico y le responderemos.',
    alreadyRequested: 'Ya se ha pedido a un miembro del equipo que se una. Por favor, espere un momento.',
  },
  fr: {
    requested: "J'ai demandé à un membre de l'équipe de rejoindre cette conversation. Quelqu'un va vous répondre sous peu.",
    outsideHours: "Notre équipe n'est pas disponible pour le moment. Nous serons de retour {time}. Laissez votre adresse e-mail et nous vous répondrons.",
    alreadyRequested: "Un membre de l'équipe a déjà été sollicité. Merci de patienter un instant.",
  },
};

const HHMM = /^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/;

/** Whether the runtime knows the IANA zone (Intl throws a RangeError for an unknown one). */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

const Notice = z.string().trim().min(1).max(HANDOFF.maxNoticeChars).refine((v) => !/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(v), 'Must not contain control or bidirectional-override characters');

export const BusinessHoursSchema = z
  .object({
    timezone: z.string().min(1).max(64).refine(isTimeZone, 'An IANA timezone such as Europe/Berlin'),
    intervals: z
      .array(
        z
          .object({
            day: z.number().int().min(0).max(6).describe('0 = Monday … 6 = Sunday'),
            from: z.string().regex(HHMM, 'HH:MM'),
            to: z.string().regex(HHMM, 'HH:MM (24:00 for midnight)'),
          })
          .strict()
          .refine((i) => minutesOf(i.from) < minutesOf(i.to), 'from must be before to'),
      )
      .min(1)
      .max(HANDOFF.maxIntervals),
  })
  .strict()
  .describe("Weekly opening hours in the bot's timezone; null = always open");

/** What PATCH /bots/{id} {handoff} takes: any subset; null resets a field to its default. */
export const HandoffPatchSchema = z
  .object({
    enabled: z.boolean(),
    triggerPhrases: z
      .array(z.string().trim().min(2).max(HANDOFF.maxTriggerPhraseChars))
      .max(HANDOFF.maxTriggerPhrases)
      .nullable()
      .describe('Phrases that ask for a person (matched case- and accent-insensitively); null = the built-in en/de/es/fr list; [] = none'),
    fallbackTurns: z.number().int().min(0).max(HANDOFF.maxFallbackTurns).describe('Fallback answers in a row that ask for a person; 0 = never'),
    businessHours: BusinessHoursSchema.nullable(),
    messages: z
      .object({ requested: Notice.nullable(), outsideHours: Notice.nullable() })
      .partial()
      .strict()
      .describe('Your own notices (any language); null = the built-in ones in the visitor\'s language. `{time}` in outsideHours is the next opening'),
  })
  .partial()
  .strict();
export type HandoffPatch = z.infer<typeof HandoffPatchSchema>;

export const DEFAULT_HANDOFF: BotHandoffSettings = {
  enabled: false,
  triggerPhrases: null,
  fallbackTurns: HANDOFF.defaultFallbackTurns,
  businessHours: null,
  messages: { requested: null, outsideHours: null },
};

/** The stored settings over the defaults (stored JSON from an older shape never breaks a turn). */
export function handoffSettingsOf(stored: Partial<BotHandoffSettings> | null | undefined): BotHandoffSettings {
  if (!stored || typeof stored !== 'object') return DEFAULT_HANDOFF;
  return {
    enabled: typeof stored.enabled === 'boolean' ? stored.enabled : DEFAULT_HANDOFF.enabled,
    triggerPhrases: Array.isArray(stored.triggerPhrases) ? stored.triggerPhrases.filter((p) => typeof p === 'string') : null,
    fallbackTurns: typeof stored.fallbackTurns === 'number' ? stored.fallbackTurns : DEFAULT_HANDOFF.fallbackTurns,
    businessHours: stored.businessHours && typeof stored.businessHours === 'object' ? stored.businessHours : null,
    messages: { requested: stored.messages?.requested ?? null, outsideHours: stored.messages?.outsideHours ?? null },
  };
}

/** Applies a patch to stored settings: given fields replace, nulls reset to the default. */
export function patchHandoff(stored: BotHandoffSettings | null, patch: HandoffPatch): BotHandoffSettings {
  const current = handoffSettingsOf(stored);
  return {
    enabled: patch.enabled ?? current.enabled,
    triggerPhrases: patch.triggerPhrases === undefined ? current.triggerPhrases : patch.triggerPhrases,
    fallbackTurns: patch.fallbackTurns ?? current.fallbackTurns,
    businessHours: patch.businessHours === undefined ? current.businessHours : patch.businessHours,
    messages: {
      requested: patch.messages?.requested === undefined ? current.messages.requested : patch.messages.requested,
      outsideHours: patch.messages?.outsideHours === undefined ? current.messages.outsideHours : patch.messages.outsideHours,
    },
  };
}

/** Lower-cased, folded (accents, ß), punctuation as spaces, spaces collapsed: how phrases and messages meet. */
export function foldPhrase(text: string): string {
  return ` ${foldForSearch(text).toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim()} `;
}

const foldedDefaults: { lang: HandoffLang; phrase: string }[] = HANDOFF_LANGS.flatMap((lang) => DEFAULT_TRIGGER_PHRASES[lang].map((p) => ({ lang, phrase: foldPhrase(p) })));

/**
 * The language of the trigger phrase `message` contains, or null. Whole words only (the padded
 * spaces): "parlera un humain" does not match. A bot's own phrases carry no language (null lang → en).
 */
export function matchTriggerPhrase(settings: BotHandoffSettings, message: string): { lang: HandoffLang } | null {
  // A message far longer than any request for a person is a question, not a request: skip the scan.
  if (message.length > 2000) return null;
  const folded = foldPhrase(message);
  if (settings.triggerPhrases === null) {
    const hit = foldedDefaults.find((d) => folded.includes(d.phrase));
    return hit ? { lang: hit.lang } : null;
  }
  return settings.triggerPhrases.some((p) => folded.includes(foldPhrase(p))) ? { lang: 'en' } : null;
}
