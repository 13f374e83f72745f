/**
 * The outbox writes of handoff and tickets. Most of them depend on a guarded change in the same
 * batch (a status that moved), so they are written only if the statement before them changed a
 * row: an event never announces a transition that lost its race.
 */
import { insertIfPreviousChanged, type Db } from '../../db/client';
import { outboxEvents } from '../../db/schema';
import type { Clock } from '../../lib/clock';
import { newEventRow, type DomainEvent } from '../events/outbox';

export function eventInsertIfChanged(db: Db, event: DomainEvent, clock: Clock) {
  return insertIfPreviousChanged(db, outboxEvents, newEventRow(event, clock));
}
