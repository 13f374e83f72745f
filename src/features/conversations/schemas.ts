import { z } from '@hono/zod-openapi';
import { CHANNELS, CONVERSATION_STATUSES, MESSAGE_ROLES } from '../../db/schema';
import { CONVERSATION_SEARCH, CONVERSATION_TITLE_MAX_CHARS } from '../../limits';
import { PaginationQuery } from '../../http/router';

export const ConversationSchema = z
  .object({
    id: z.string().openapi({ example: 'cnv_01JD3X5Q8W2N4V6B8C0D2E4F6G' }),
    botId: z.string(),
    channel: z.enum(CHANNELS),
    visitorId: z.string().nullable(),
    userId: z.string().nullable(),
    apiKeyId: z.string().nullable(),
    title: z.string(),
    titleSetByUser: z.boolean().openapi({ description: 'True once a person renamed it: the automatic title no longer changes it' }),
    status: z.enum(CONVERSATION_STATUSES),
    humanUserId: z.string().nullable().openapi({ description: 'The team member who took over, while status is `human`' }),
    summary: z.string().nullable().openapi({ description: 'Summary of the older turns, once the history outgrew the prompt budget' }),
    archived: z.boolean(),
    messageCount: z.number().int(),
    lastMessageAt: z.string().datetime().nullable(),
    createdAt: z.string().datetime(),
    updatedAt: z.string().datetime(),
  })
  .openapi('Conversation');

/** One stored message: the same schema the chat routes answer with. */
export { MessageSchema } from '../chat/schemas';

/** Query booleans arrive as text; anything but the two spellings is a validation error. */
const QueryBoolean = z.enum(['true', 'false']).transform((v) => v === 'true');

export const ListConversationsQuery = PaginationQuery.extend({
  botId: z.string().min(1).max(64).optional(),
  channel: z.enum(CHANNELS).optional(),
  status: z.enum(CONVERSATION_STATUSES).optional(),
  archived: QueryBoolean.optional().openapi({ type: 'string', enum: ['true', 'false'] }),
  // Checked by the route (a 422 names the bad bound): ISO 8601 timestamps on created_at, inclusive.
  from: z.string().max(64).optional().openapi({ description: 'Only conversations created at or after this ISO 8601 time', example: '2026-12-01T00:00:00Z' }),
  to: z.string().max(64).optional().openapi({ description: 'Only conversations created at or before this ISO 8601 time', example: '2026-12-31T23:59:59Z' }),
});

export const UpdateConversationSchema = z
  .object({
    title: z.string().trim().min(1).max(CONVERSATION_TITLE_MAX_CHARS),
    archived: z.boolean(),
    status: z.enum(['open', 'closed']).openapi({ description: '`closed` takes no new turns; `open` reopens it' }),
  })
  .partial()
  .strict()
  .refine((v) => Object.keys(v).length > 0, { message: 'Send at least one field to change' })
  .openapi('UpdateConversation');

export const ListMessagesQuery = PaginationQuery.extend({
  order: z.enum(['asc', 'desc']).default('asc').openapi({ description: 'asc: oldest first (reading order); desc: newest first' }),
});

export const SearchQuery = PaginationQuery.extend({
  q: z.string().trim().min(1).max(CONVERSATION_SEARCH.maxQueryChars).openapi({ example: 'refund' }),
  botId: z.string().min(1).max(64).optional(),
});

export const SearchHitSchema = z
  .object({
    messageId: z.string(),
    conversationId: z.string(),
    botId: z.string(),
    role: z.enum(MESSAGE_ROLES),
    createdAt: z.string().datetime(),
    snippet: z.string().openapi({
      description: 'Plain text around the matches (… where cut), never markup: escape it before putting it into HTML.',
    }),
    highlights: z.array(z.object({ start: z.number().int(), end: z.number().int() })).openapi({
      description: 'The matched words, as [start, end) UTF-16 offsets into `snippet`.',
    }),
  })
  .openapi('MessageSearchHit');

export const AttachmentSchema = z
  .object({
    id: z.string().openapi({ example: 'att_01JD3X5Q8W2N4V6B8C0D2E4F6G' }),
    name: z.string(),
    mime: z.string(),
    sizeBytes: z.number().int(),
    textChars: z.number().int().openapi({ description: 'Characters of text extracted from the file' }),
  })
  .openapi('Attachment');
