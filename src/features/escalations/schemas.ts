/** OpenAPI shapes of the escalation ticket routes. */
import { z } from '@hono/zod-openapi';
import { ESCALATION_PRIORITIES, ESCALATION_SOURCES, ESCALATION_STATUSES } from '../../db/schema';
import { PaginationQuery } from '../../http/router';
import { ESCALATION } from '../../limits';
import { ESCALATION_ACTIONS } from './state-machine';

const UserId = z.string().min(1).max(64).openapi({ example: 'usr_01JD3X5Q8W2N4V6B8C0D2E4F6G' });
/** Visible text: no control or bidi-override characters (tickets end up in mails and dashboards). */
const text = (max: number, min = 1) =>
  z.string().trim().min(min).max(max).refine((v) => !/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(v), 'Must not contain control or bidirectional-override characters');

export const EscalationSchema = z
  .object({
    id: z.string().openapi({ example: 'esc_01JD3X5Q8W2N4V6B8C0D2E4F6G' }),
    botId: z.string().nullable(),
    conversationId: z.string().nullable(),
    title: z.string(),
    description: z.string(),
    status: z.enum(ESCALATION_STATUSES),
    priority: z.enum(ESCALATION_PRIORITIES),
    source: z.enum(ESCALATION_SOURCES).openapi({ description: 'button / phrase / fallbacks: the visitor or the bot asked for a person; member / api: opened by hand' }),
    assigneeId: z.string().nullable(),
    createdBy: z.string().nullable(),
    slaDueAt: z.string().datetime().openapi({ description: "When it should be resolved: the priority's target in the bot's business hours" }),
    overdue: z.boolean(),
    allowedActions: z.array(z.enum(ESCALATION_ACTIONS)).openapi({ description: 'What PATCH {action} may do from the current status' }),
    resolvedAt: z.string().datetime().nullable(),
    closedAt: z.string().datetime().nullable(),
    createdAt: z.string().datetime(),
    updatedAt: z.string().datetime(),
  })
  .openapi('Escalation');

export const CreateEscalationSchema = z
  .object({
    title: text(ESCALATION.maxTitleChars),
    description: text(ESCALATION.maxDescriptionChars, 0).optional(),
    priority: z.enum(ESCALATION_PRIORITIES).optional(),
    conversationId: z.string().min(1).max(64).optional().openapi({ description: 'Link a conversation (its bot becomes the ticket\'s bot)' }),
    botId: z.string().min(1).max(64).optional(),
    assigneeId: UserId.optional().openapi({ description: 'A member of the org (400 otherwise); the ticket starts `assigned`' }),
  })
  .strict()
  .openapi('CreateEscalation');

export const UpdateEscalationSchema = z
  .object({
    action: z.enum(ESCALATION_ACTIONS).optional().openapi({ description: 'assign (needs assigneeId) · unassign · resolve · close · reopen' }),
    assigneeId: UserId.optional(),
    priority: z.enum(ESCALATION_PRIORITIES).optional().openapi({ description: 'Recomputes the SLA due time' }),
    title: text(ESCALATION.maxTitleChars).optional(),
    description: text(ESCALATION.maxDescriptionChars, 0).optional(),
  })
  .strict()
  .refine((v) => Object.keys(v).length > 0, { message: 'Send an action or a field to change' })
  .refine((v) => v.action !== 'assign' || v.assigneeId !== undefined, { message: 'assign needs assigneeId', path: ['assigneeId'] })
  .refine((v) => v.assigneeId === undefined || v.action === 'assign', { message: 'assigneeId goes with action assign', path: ['assigneeId'] })
  .openapi('UpdateEscalation');

const bool = z.enum(['true', 'false']).transform((v) => v === 'true');

export const ListEscalationsQuery = PaginationQuery.extend({
  status: z.enum(ESCALATION_STATUSES).optional(),
  priority: z.enum(ESCALATION_PRIORITIES).optional(),
  assignee: z.string().min(1).max(64).optional().openapi({ description: 'A user id, `me` (my tickets) or `none` (unassigned)' }),
  overdue: bool.optional().openapi({ type: 'string', enum: ['true', 'false'], description: 'true: open or assigned past their SLA due time' }),
  botId: z.string().min(1).max(64).optional(),
  conversationId: z.string().min(1).max(64).optional(),
});

export const CommentSchema = z
  .object({ id: z.string(), escalationId: z.string(), authorId: z.string().nullable(), body: z.string(), createdAt: z.string().datetime() })
  .openapi('EscalationComment');

export const CreateCommentSchema = z.object({ body: text(ESCALATION.maxCommentChars) }).strict().openapi('CreateEscalationComment');

export const WatchersSchema = z.object({ watchers: z.array(z.string()) }).openapi('EscalationWatchers');
export const AddWatcherSchema = z.object({ userId: UserId.optional().openapi({ description: 'Default: me' }) }).strict();

export const HistoryItemSchema = z
  .object({ id: z.string(), action: z.string(), actorType: z.string(), actorId: z.string().nullable(), metadata: z.record(z.string(), z.unknown()), createdAt: z.string().datetime() })
  .openapi('EscalationHistoryItem');
