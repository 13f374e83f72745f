import { z } from '@hono/zod-openapi';
import { ChunkingSchema } from '../knowledge/chunking-settings';
import { SECRET_NAME_PATTERN } from '../settings/service';
import { BOT_FALLBACK_MESSAGE_MAX_CHARS, CHAT } from '../../limits';
import { BotWidgetPatchSchema, BotWidgetSchema } from '../widget/settings';
import { BusinessHoursSchema, HandoffPatchSchema } from '../handoff/settings';

/** The effective handoff settings (defaults filled in). */
const HandoffSettingsSchema = z.object({
  enabled: z.boolean(),
  triggerPhrases: z.array(z.string()).nullable().openapi({ description: 'null = the built-in en/de/es/fr phrases' }),
  fallbackTurns: z.number().int(),
  businessHours: BusinessHoursSchema.nullable(),
  messages: z.object({ requested: z.string().nullable(), outsideHours: z.string().nullable() }),
});

const Origin = z
  .string()
  .max(200)
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'https:' || u.protocol === 'http:') && u.origin === v;
    } catch {
      return false;
    }
  }, 'Must be an origin like https://www.example.com (scheme, host and optional port, no path)');

const ModelSettings = z.object({
  provider: z.string().min(1).max(40).openapi({ example: 'openai' }),
  model: z.string().min(1).max(120).openapi({ example: 'gpt-4o-mini' }),
  temperature: z.number().min(0).max(2),
  maxTokens: z.number().int().min(1).max(32_000),
});

const RetrievalSettings = z.object({
  topK: z.number().int().min(1).max(50),
  minScore: z.number().min(0).max(1).openapi({ description: 'Hits below this calibrated relevance are left out' }),
  hybrid: z.boolean(),
  fusion: z.enum(['convex', 'rrf']).openapi({ description: 'How hybrid search fuses keyword and vector rankings' }),
  hybridWeight: z
    .number()
    .min(0)
    .max(1)
    .nullable()
    .openapi({
      description:
        "Fixed vector weight of convex fusion (keyword gets the rest); null = adapt it to each query: the less of the query the best keyword hit covers, the more weight vector gets, within the embedder's bounds",
    }),
});

/** One entry of a bot's ordered model fallback list; the key is named, never given. */
const ModelFallback = z
  .object({
    baseUrl: z
      .string()
      .url()
      .max(500)
      .refine((u) => /^https?:\/\//.test(u), 'Must be an http(s) URL')
      .nullable()
      .openapi({ description: "An OpenAI-compatible endpoint; null = the org's provider URL", example: 'http://localhost:8080/v1' }),
    model: z.string().min(1).max(120).openapi({ example: 'gpt-4o-mini' }),
    apiKeySecret: z
      .string()
      .regex(SECRET_NAME_PATTERN, 'The name of an org settings secret: lowercase letters, digits and _')
      .nullable()
      .openapi({ description: 'Names the org settings secret holding the key (never the key itself); null = no key', example: 'openai_api_key' }),
  })
  .strict();

export const BotSchema = z
  .object({
    id: z.string().openapi({ example: 'bot_01JD3X5Q8W2N4V6B8C0D2E4F6G' }),
    orgId: z.string(),
    name: z.string(),
    description: z.string(),
    instructions: z.string(),
    model: ModelSettings,
    retrieval: RetrievalSettings,
    chunking: ChunkingSchema,
    visibility: z.enum(['private', 'public']),
    allowedOrigins: z.array(z.string()),
    status: z.enum(['active', 'paused']),
    fallbackMessage: z.string().openapi({ description: 'Said when retrieval finds nothing relevant (the default text when not set)' }),
    piiRedaction: z.boolean().openapi({ description: 'Emails, phone, card and IBAN numbers become placeholders before an external model sees them' }),
    answerCacheTtlSeconds: z.number().int().openapi({ description: 'Seconds an answer stays cached; 0 = no cache' }),
    modelFallbacks: z.array(ModelFallback).openapi({ description: "Tried in order when the bot's own model fails" }),
    widget: BotWidgetSchema.nullable().openapi({ description: "The bot's widget overrides (only what it sets); null = the org's widget defaults" }),
    handoff: HandoffSettingsSchema.openapi({ description: 'Human handoff: the "talk to a human" button, trigger phrases, fallbacks in a row, business hours, notices' }),
    createdAt: z.string().datetime(),
    updatedAt: z.string().datetime(),
  })
  .openapi('Bot');

const botFields = {
  name: z.string().trim().min(1).max(120),
  description: z.string().max(2000),
  instructions: z.string().max(20_000),
  model: ModelSettings.partial(),
  retrieval: RetrievalSettings.partial(),
  // Checked against the chunker's overlap rule once merged with the defaults or the stored values.
  chunking: ChunkingSchema.partial(),
  visibility: z.enum(['private', 'public']),
  allowedOrigins: z.array(Origin).max(50),
  status: z.enum(['active', 'paused']),
  // null puts the default text back.
  fallbackMessage: z.string().trim().min(1).max(BOT_FALLBACK_MESSAGE_MAX_CHARS).nullable(),
  piiRedaction: z.boolean(),
  answerCacheTtlSeconds: z.number().int().min(0).max(CHAT.answerCacheMaxTtlSeconds),
  modelFallbacks: z.array(ModelFallback).max(CHAT.maxFallbackModels),
  widget: BotWidgetPatchSchema,
  handoff: HandoffPatchSchema,
};

export const CreateBotSchema = z
  .object({ ...botFields, name: botFields.name })
  .partial()
  .required({ name: true })
  .strict()
  .openapi('CreateBot');

export const UpdateBotSchema = z
  .object(botFields)
  .partial()
  .strict()
  .refine((v) => Object.keys(v).length > 0, { message: 'Send at least one field to change' })
  .openapi('UpdateBot');
