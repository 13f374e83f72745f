/**
 * The confirmations a conversation still waits on (issue #11), as room frames for a catch-up: a
 * socket that joins or reconnects after a turn paused learns what to approve or reject, as it
 * would have live. Read from D1 (the record), never from the room's memory.
 */
import { and, desc, eq, gt } from 'drizzle-orm';
import type { Db } from '../../../db/client';
import { actionConfirmations } from '../../../db/schema';
import { LIVE_ROOM } from '../../../limits';
import type { ServerFrame } from './room-protocol';
import { boundedArguments } from './turn-frames';

/** Pending, unexpired confirmations of the conversation, oldest first (the newest LIVE_ROOM.catchUpMaxConfirmations). */
export async function pendingConfirmationFrames(db: Db, orgId: string, conversationId: string, now: number): Promise<Extract<ServerFrame, { type: 'confirmation' }>[]> {
  const rows = await db
    .select()
    .from(actionConfirmations)
    .where(
      and(
        eq(actionConfirmations.orgId, orgId),
        eq(actionConfirmations.conversationId, conversationId),
        eq(actionConfirmations.status, 'pending'),
        gt(actionConfirmations.expiresAt, now),
      ),
    )
    .orderBy(desc(actionConfirmations.id))
    .limit(LIVE_ROOM.catchUpMaxConfirmations);
  return rows.reverse().map((row) => ({
    type: 'confirmation',
    replyTo: row.userMessageId,
    confirmationId: row.id,
    action: row.actionName,
    arguments: boundedArguments(row.arguments),
    expiresAt: new Date(row.expiresAt).toISOString(),
  }));
}
