/**
 * Sends frames to a conversation's ConversationRoom outside a turn (a handoff, a read receipt,
 * an inbound reply). Best effort: the room only relays, D1 is the record and a socket that
 * joins later catches up, so an unreachable room is logged (as `failure`), never thrown.
 */
import type { ServiceContext } from '../../../context';
import type { ServerFrame } from './room-protocol';

export async function publishToRoom(ctx: Pick<ServiceContext, 'env'>, conversationId: string, frames: ServerFrame[], failure: string): Promise<void> {
  try {
    const rooms = ctx.env.CONVERSATION_ROOM;
    await rooms.get(rooms.idFromName(conversationId)).publish(...frames);
  } catch (err) {
    console.warn(JSON.stringify({ level: 'warn', msg: failure, conversationId, error: err instanceof Error ? err.message : String(err) }));
  }
}
