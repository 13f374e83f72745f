/**
 * The event catalog: one zod schema per event type, the `data` of an outbox event (and of a
 * webhook body). Entries of the handoff slice (issue #10); the webhooks slice adds the others
 * and documents them in OpenAPI.
 */
import { z } from 'zod';

const Actor = z.object({ type: z.enum(['user', 'api_key', 'visitor', 'system']), id: z.string().nullable() });

const EscalationEventData = z.object({
  escalationId: z.string(),
  conversationId: z.string().nullable(),
  botId: z.string().nullable(),
  status: z.enum(['open', 'assigned', 'resolved', 'closed']),
  priority: z.enum(['low', 'normal', 'high', 'urgent']),
  assigneeId: z.string().nullable(),
  source: z.enum(['button', 'phrase', 'fallbacks', 'member', 'api']),
  slaDueAt: z.string().datetime(),
  actor: Actor,
});
const EscalationTransitionData = EscalationEventData.extend({ previousStatus: z.enum(['open', 'assigned', 'resolved', 'closed']) });

export const handoffEventCatalog = {
  /** A conversation asks for a person (the button, a trigger phrase, N fallbacks in a row, a member or API call). */
  'conversation.handoff_requested': z.object({
    conversationId: z.string(),
    botId: z.string(),
    escalationId: z.string(),
    source: z.enum(['button', 'phrase', 'fallbacks', 'member', 'api']),
    outsideBusinessHours: z.boolean(),
    nextOpeningAt: z.string().datetime().nullable(),
    requestedAt: z.string().datetime(),
    actor: Actor,
  }),
  /** A member handed a taken-over conversation back to the bot. */
  'conversation.handed_back': z.object({ conversationId: z.string(), botId: z.string().nullable(), byUserId: z.string().nullable(), handedBackAt: z.string().datetime() }),
  'escalation.created': EscalationEventData,
  'escalation.assigned': EscalationTransitionData,
  'escalation.unassigned': EscalationTransitionData,
  'escalation.resolved': EscalationTransitionData,
  'escalation.closed': EscalationTransitionData,
  'escalation.reopened': EscalationTransitionData,
  /** Priority, title or description changed (no status change). */
  'escalation.updated': EscalationTransitionData,
  'escalation.commented': EscalationEventData.extend({ commentId: z.string() }),
} as const;

export type HandoffEventType = keyof typeof handoffEventCatalog;
