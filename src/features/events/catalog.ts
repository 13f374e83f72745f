/**
 * The event catalog: every domain event type KyroChat writes to the outbox, with the zod schema
 * of its payload (`data` in a webhook body). One entry per type; a feature that adds an event
 * adds its entry here and emits it with `domainEvent(...)`, which types the payload against the
 * entry. The OpenAPI document lists every entry under `webhooks`, and
 * GET /api/v1/webhooks/event-types serves names, descriptions and JSON schemas.
 *
 * Payloads carry ids, timestamps and the fields the entity's own API returns: never a secret,
 * never more personal data than a member with access to that API would see.
 */
import { z } from 'zod';
import { CHANNELS, ESCALATION_PRIORITIES, ESCALATION_SOURCES, ESCALATION_STATUSES, MESSAGE_ROLES, ROLES } from '../../db/schema';
import type { DomainEvent } from './outbox';

const isoTime = z.string().describe('ISO 8601 time');

const ConversationData = z.object({
  id: z.string(),
  botId: z.string(),
  channel: z.enum(CHANNELS),
  title: z.string(),
  visitorId: z.string().nullable(),
  createdAt: isoTime,
});

const MessageData = z.object({
  id: z.string(),
  conversationId: z.string(),
  botId: z.string(),
  role: z.enum(MESSAGE_ROLES),
  content: z.string(),
  /** Present for assistant messages: the answer found nothing to say. */
  unanswered: z.boolean(),
  /** The member who wrote an `agent` message. */
  authorId: z.string().nullable(),
  replyTo: z.string().nullable(),
  createdAt: isoTime,
});

const SourceData = z.object({
  id: z.string(),
  botId: z.string(),
  type: z.string(),
  title: z.string(),
  status: z.enum(['ready', 'failed']),
  error: z.string().nullable(),
  lastSyncedAt: isoTime.nullable(),
  updatedAt: isoTime,
});

const MemberData = z.object({
  id: z.string().describe('The membership id'),
  userId: z.string(),
  email: z.string(),
  name: z.string().nullable(),
  role: z.enum(ROLES),
});

/** Who caused a handoff or ticket change. */
const Actor = z.object({ type: z.enum(['user', 'api_key', 'visitor', 'system']), id: z.string().nullable() });

const EscalationData = z.object({
  escalationId: z.string(),
  conversationId: z.string().nullable(),
  botId: z.string().nullable(),
  status: z.enum(ESCALATION_STATUSES),
  priority: z.enum(ESCALATION_PRIORITIES),
  assigneeId: z.string().nullable(),
  source: z.enum(ESCALATION_SOURCES),
  slaDueAt: isoTime,
  actor: Actor,
});
const EscalationTransitionData = EscalationData.extend({ previousStatus: z.enum(ESCALATION_STATUSES) });

export interface EventDefinition {
  description: string;
  data: z.ZodObject;
}

export const EVENT_CATALOG = {
  'conversation.created': {
    description: 'A conversation started (its first user message was stored).',
    data: ConversationData,
  },
  'message.created': {
    description: 'A message was stored: a user question, an assistant answer, or a team member\'s reply (`agent`).',
    data: MessageData,
  },
  'conversation.unanswered': {
    description: 'The assistant could not answer from the knowledge (its answer is marked unanswered).',
    data: z.object({ conversationId: z.string(), botId: z.string(), messageId: z.string().describe('The assistant message'), replyTo: z.string().nullable().describe('The user message it answers'), createdAt: isoTime }),
  },
  'lead.created': {
    description: 'A visitor left their contact details.',
    data: z.object({
      id: z.string(),
      botId: z.string(),
      conversationId: z.string().nullable(),
      visitorId: z.string().nullable(),
      name: z.string().nullable(),
      email: z.string().nullable(),
      phone: z.string().nullable(),
      createdAt: isoTime,
    }),
  },
  'feedback.created': {
    description: 'Someone rated an answer for the first time (a changed rating is not a new event).',
    data: z.object({
      id: z.string(),
      botId: z.string(),
      conversationId: z.string(),
      messageId: z.string(),
      rating: z.enum(['up', 'down']),
      comment: z.string().nullable(),
      authorKind: z.enum(['member', 'visitor']),
      createdAt: isoTime,
    }),
  },
  'source.ready': {
    description: 'A knowledge source finished indexing (after creation or a sync) and the bot answers from it.',
    data: SourceData,
  },
  'source.failed': {
    description: 'A knowledge source could not be indexed; `error` says why.',
    data: SourceData,
  },
  'member.added': {
    description: 'Someone joined the organization (accepted an invitation).',
    data: MemberData,
  },
  'member.removed': {
    description: 'A member left or was removed from the organization.',
    data: MemberData,
  },
  'member.role_changed': {
    description: 'A member\'s role changed.',
    data: MemberData.extend({ previousRole: z.enum(ROLES) }),
  },
  'conversation.handoff_requested': {
    description: 'A conversation asks for a person: the widget button, a trigger phrase, N fallbacks in a row, a member or an API call. An escalation ticket was opened with it.',
    data: z.object({
      conversationId: z.string(),
      botId: z.string(),
      escalationId: z.string(),
      source: z.enum(ESCALATION_SOURCES),
      outsideBusinessHours: z.boolean(),
      nextOpeningAt: isoTime.nullable(),
      requestedAt: isoTime,
      actor: Actor,
    }),
  },
  'conversation.handed_back': {
    description: 'A member handed a taken-over conversation back to the bot.',
    data: z.object({ conversationId: z.string(), botId: z.string().nullable(), byUserId: z.string().nullable(), handedBackAt: isoTime }),
  },
  'escalation.created': { description: 'An escalation ticket was opened.', data: EscalationData },
  'escalation.assigned': { description: 'A ticket was assigned to a member.', data: EscalationTransitionData },
  'escalation.unassigned': { description: 'A ticket lost its assignee.', data: EscalationTransitionData },
  'escalation.resolved': { description: 'A ticket was resolved.', data: EscalationTransitionData },
  'escalation.closed': { description: 'A ticket was closed.', data: EscalationTransitionData },
  'escalation.reopened': { description: 'A resolved or closed ticket was reopened.', data: EscalationTransitionData },
  'escalation.updated': { description: 'A ticket\'s priority, title or description changed (no status change).', data: EscalationTransitionData },
  'escalation.commented': { description: 'An internal comment was added to a ticket.', data: EscalationData.extend({ commentId: z.string() }) },
  'answer.improved': {
    description: 'An answer was corrected (from a rating or an unanswered turn): a Q&A source of the bot now holds the question and the corrected answer.',
    data: z.object({ correctionId: z.string(), messageId: z.string(), feedbackId: z.string().nullable(), sourceId: z.string(), question: z.string() }),
  },
  'webhook.test': {
    description: 'Sent by POST /webhooks/{id}/test to check an endpoint; delivered to that endpoint only.',
    data: z.object({ webhookId: z.string(), message: z.string() }),
  },
} as const satisfies Record<string, EventDefinition>;

export type EventType = keyof typeof EVENT_CATALOG;
export type EventData<T extends EventType> = z.input<(typeof EVENT_CATALOG)[T]['data']>;

export const EVENT_TYPES = Object.keys(EVENT_CATALOG) as EventType[];

export const isEventType = (name: string): name is EventType => Object.hasOwn(EVENT_CATALOG, name);

/** A typed outbox event: the payload must match the catalog entry of its type. */
export function domainEvent<T extends EventType>(
  type: T,
  event: { orgId: string; botId?: string | null; conversationId?: string | null; data: EventData<T> },
): DomainEvent {
  return { ...event, type, data: event.data as Record<string, unknown> };
}

/**
 * An endpoint's filter entry: an exact type, `prefix.*` (every type of that namespace) or `*`.
 * A wildcard must name a namespace the catalog has, so a typo is refused instead of matching nothing.
 */
export function isValidEventFilter(pattern: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) {
    const prefix = pattern.slice(0, -1);
    return /^[a-z_]+\.$/.test(prefix) && EVENT_TYPES.some((t) => t.startsWith(prefix));
  }
  return isEventType(pattern);
}

export function eventMatchesFilter(type: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => p === '*' || p === type || (p.endsWith('.*') && type.startsWith(p.slice(0, -1))));
}

/** The catalog as JSON Schemas, for the event-types listing. */
export function eventCatalogJsonSchemas() {
  return EVENT_TYPES.map((type) => ({
    type,
    description: EVENT_CATALOG[type].description,
    schema: z.toJSONSchema(EVENT_CATALOG[type].data, { io: 'output' }) as Record<string, unknown>,
  }));
}
