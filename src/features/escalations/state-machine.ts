/**
 * The ticket state machine: open → assigned → resolved → closed, and reopen. Each action lists
 * the states it may start from; the service turns that list into the WHERE clause of one guarded
 * UPDATE, and a refusal names the actions the current state allows.
 */
import type { EscalationStatus } from '../../db/schema';
import type { EventType } from '../events/catalog';

export const ESCALATION_ACTIONS = ['assign', 'unassign', 'resolve', 'close', 'reopen'] as const;
export type EscalationAction = (typeof ESCALATION_ACTIONS)[number];

export const TRANSITIONS: Record<EscalationAction, { from: readonly EscalationStatus[]; to: EscalationStatus }> = {
  // Assigning an assigned ticket hands it to someone else.
  assign: { from: ['open', 'assigned'], to: 'assigned' },
  unassign: { from: ['assigned'], to: 'open' },
  resolve: { from: ['open', 'assigned'], to: 'resolved' },
  // A ticket may be closed without a resolution (spam, duplicate).
  close: { from: ['open', 'assigned', 'resolved'], to: 'closed' },
  reopen: { from: ['resolved', 'closed'], to: 'open' },
};

export function allowedActions(status: EscalationStatus): EscalationAction[] {
  return ESCALATION_ACTIONS.filter((a) => TRANSITIONS[a].from.includes(status));
}

/** The event type each action emits (escalation.assigned, …). */
export const ACTION_EVENT = {
  assign: 'escalation.assigned',
  unassign: 'escalation.unassigned',
  resolve: 'escalation.resolved',
  close: 'escalation.closed',
  reopen: 'escalation.reopened',
} as const satisfies Record<EscalationAction, EventType>;
