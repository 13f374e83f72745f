import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';

async function connect(room: DurableObjectStub, role: 'visitor' | 'agent') {
  const res = await room.fetch(`https://room.test/connect?role=${role}`, { headers: { upgrade: 'websocket' } });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const inbox: { from: string; data: string }[] = [];
  ws.addEventListener('message', (e) => inbox.push(JSON.parse(e.data as string)));
  return { ws, inbox };
}

describe('ConversationRoom durable object', () => {
  it('relays a message to every other socket in the room, never back to the sender', async () => {
    const room = env.CONVERSATION_ROOM.get(env.CONVERSATION_ROOM.idFromName('cnv_relay'));
    const visitor = await connect(room, 'visitor');
    const agent = await connect(room, 'agent');
    visitor.ws.send('hello, is anyone there?');
    await expect.poll(() => agent.inbox.length).toBe(1);
    expect(agent.inbox[0]).toMatchObject({ from: 'visitor', data: 'hello, is anyone there?' });
    agent.ws.send('yes, how can I help?');
    await expect.poll(() => visitor.inbox.length).toBe(1);
    expect(visitor.inbox[0]).toMatchObject({ from: 'agent' });
    expect(agent.inbox).toHaveLength(1);
    expect(await room.presence()).toEqual({ visitor: 1, agent: 1 });
    visitor.ws.close();
    agent.ws.close();
  });

  it('refuses plain HTTP with 426', async () => {
    const room = env.CONVERSATION_ROOM.get(env.CONVERSATION_ROOM.idFromName('cnv_http'));
    const res = await room.fetch('https://room.test/connect');
    expect(res.status).toBe(426);
    await res.body?.cancel();
  });
});
