/**
 * Client chat ids → our conversations. The AI SDK's `useChat` keeps its own chat id and resends
 * the whole history on every turn; we answer from the stored conversation instead, found by that
 * id. A ref belongs to one caller (API key, person or widget visitor), so guessing another
 * caller's chat id finds nothing.
 *
 * The conversation is created by the pipeline's first turn and claimed right after its `meta`
 * event. Two first turns racing with the same new id both get a conversation; the unique index
 * lets one claim the ref and the other stays an ordinary, unreferenced conversation.
 */
import { and, eq, isNull } from 'drizzle-orm';
import { conversations } from '../../../db/schema';
import type { Db } from '../../../db/client';
import type { TurnCaller } from '../turn';

export function clientRefOwner(caller: TurnCaller): string {
  switch (caller.kind) {
    case 'api_key':
      return `api_key:${caller.keyId}`;
    case 'user':
      return `user:${caller.userId}`;
    case 'visitor':
      return `visitor:${caller.visitorId}`;
  }
}

export interface ClientRefScope {
  orgId: string;
  botId: string;
  caller: TurnCaller;
  clientRef: string;
}

/** The live conversation this caller's chat id names, if any. */
export async function findConversationByClientRef(db: Db, scope: ClientRefScope): Promise<string | null> {
  const row = await db
    .select({ id: conversations.id })
    .from(conversations)
    .where(
      and(
        eq(conversations.orgId, scope.orgId),
        eq(conversations.botId, scope.botId),
        eq(conversations.clientRefOwner, clientRefOwner(scope.caller)),
        eq(conversations.clientRef, scope.clientRef),
        isNull(conversations.deletedAt),
      ),
    )
    .get();
  return row?.id ?? null;
}

/** Gives a new conversation the caller's chat id. False when another conversation holds it already (a lost race). */
export async function claimClientRef(db: Db, scope: ClientRefScope, conversationId: string): Promise<boolean> {
  try {
    const result = await db
      .update(conversations)
      .set({ clientRef: scope.clientRef, clientRefOwner: clientRefOwner(scope.caller) })
      .where(and(eq(conversations.id, conversationId), eq(conversations.orgId, scope.orgId), isNull(conversations.clientRef)))
      .run();
    return result.meta.changes > 0;
  } catch (error) {
    if (error instanceof Error && /UNIQUE constraint failed/i.test(`${error.message} ${String(error.cause ?? '')}`)) return false;
    throw error;
  }
}
