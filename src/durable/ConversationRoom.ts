/**
 * ConversationRoom: one object per conversation, the meeting point of a visitor's widget
 * and the team members watching or taking over.
 *
 * Invariants:
 * - Sockets are accepted with the hibernation API, tagged by role (`visitor` / `agent`), so
 *   the object can sleep between messages without dropping connections.
 * - A message from one socket is relayed to every other socket in the room, never echoed.
 *
 * Survives hibernation: the sockets, their tags and their attachment ({ role, joinedAt }).
 * Nothing else is kept in memory. Persisting conversation history is the chat feature's job
 * (D1), not this object's.
 */
import { DurableObject } from 'cloudflare:workers';

type Role = 'visitor' | 'agent';
interface Attachment {
  role: Role;
  joinedAt: number;
}

export class ConversationRoom extends DurableObject {
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
      return new Response('Expected a WebSocket upgrade', { status: 426 });
    }
    const role: Role = new URL(request.url).searchParams.get('role') === 'agent' ? 'agent' : 'visitor';
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [role]);
    server.serializeAttachment({ role, joinedAt: Date.now() } satisfies Attachment);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const from = (ws.deserializeAttachment() as Attachment | null)?.role ?? 'visitor';
    const text = typeof message === 'string' ? message : new TextDecoder().decode(message);
    const envelope = JSON.stringify({ from, data: text, at: new Date().toISOString() });
    for (const peer of this.ctx.getWebSockets()) {
      if (peer !== ws) peer.send(envelope);
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    // 1005 (no status) and 1006 (abnormal) describe a close but may not be sent in one.
    ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
  }

  /** How many sockets of each role are connected (for the team's presence indicator). */
  async presence(): Promise<Record<Role, number>> {
    return {
      visitor: this.ctx.getWebSockets('visitor').length,
      agent: this.ctx.getWebSockets('agent').length,
    };
  }
}
