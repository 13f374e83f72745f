/** OpenAPI shapes of the widget settings routes, composed from the plain zod in settings.ts. */
import { z } from '@hono/zod-openapi';
import { WidgetDefaultsPatchSchema, WidgetSettingsSchema } from './settings';

export const WidgetDefaultsSchema = WidgetSettingsSchema.extend({
  updatedAt: z.string().datetime().nullable().openapi({ description: 'null while the org uses the built-in defaults' }),
}).openapi('WidgetDefaults');

export const WidgetDefaultsPatch = WidgetDefaultsPatchSchema.openapi('WidgetDefaultsPatch');

/** Exactly what a visitor's widget receives: nothing internal (no org id, instructions, origins). */
export const PublicWidgetConfigSchema = WidgetSettingsSchema.extend({
  botId: z.string().openapi({ example: 'bot_01JD3X5Q8W2N4V6B8C0D2E4F6G' }),
  name: z.string(),
  handoff: z.object({ enabled: z.boolean().openapi({ description: 'Show a "talk to a human" button (POST /widget/{botId}/conversations/{id}/handoff)' }) }),
})
  .strict()
  .openapi('PublicWidgetConfig');
