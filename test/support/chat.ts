/**
 * Writes conversations and messages straight into D1, column for column as
 * src/db/schema/chat.ts declares them, for tests of the routes that read them (the answer
 * pipeline that writes them in production is tested on its own).
 */
import { env, SELF } from 'cloudflare:test';
import { BASE } from './api';
import { newId } from '../../src/lib/ids';
import type { Channel, ConversationStatus, MessageRole } from '../../src/db/schema';

export interface ConversationSeed {
  orgId: string;
  botId: string;
  channel?: Channel;
  title?: string;
  status?: ConversationStatus;
  archived?: boolean;
  createdAt?: number;
  visitorId?: string | null;
  userId?: string | null;
}

/** Ids follow creation time, so a seed made "earlier" still sorts after one made before it in real time. */
export async function insertConversation(seed: ConversationSeed): Promise<string> {
  const createdAt = seed.createdAt ?? Date.now();
  const id = newId('cnv', { now: () => createdAt });
  await env.DB.prepare(
    `INSERT INTO conversations (id, org_id, bot_id, channel, visitor_id, user_id, api_key_id, title, title_set_by_user, status,
       human_user_id, summary, summary_through, archived, deleted_at, message_count, last_message_at, revision, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, NULL, ?, 0, ?, NULL, NULL, NULL, ?, NULL, 0, NULL, 1, ?, ?)`,
  )
    .bind(id, seed.orgId, seed.botId, seed.channel ?? 'api', seed.visitorId ?? null, seed.userId ?? null, seed.title ?? '', seed.status ?? 'open', seed.archived ? 1 : 0, createdAt, createdAt)
    .run();
  return id;
}

export interface MessageSeed {
  role?: MessageRole;
  content: string;
  createdAt?: number;
}

/** Appends a message (and counts it on the conversation, as the pipeline does); returns its id. */
export async function insertMessage(conversation: { id: string; orgId: string; botId: string }, seed: MessageSeed): Promise<string> {
  const id = newId('msg');
  const createdAt = seed.createdAt ?? Date.now();
  await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO messages (id, org_id, bot_id, conversation_id, role, content, citations, reply_to, author_id, model, usage,
         latency_ms, unanswered, error, cached, attachments, request_key, created_at)
       VALUES (?, ?, ?, ?, ?, ?, '[]', NULL, NULL, NULL, NULL, NULL, 0, NULL, 0, NULL, NULL, ?)`,
    ).bind(id, conversation.orgId, conversation.botId, conversation.id, seed.role ?? 'user', seed.content, createdAt),
    env.DB.prepare('UPDATE conversations SET message_count = message_count + 1, last_message_at = ? WHERE id = ?').bind(createdAt, conversation.id),
  ]);
  return id;
}

/** A conversation with the given messages, alternating user / assistant unless roles are given. */
export async function seedConversation(seed: ConversationSeed, texts: (string | MessageSeed)[] = []) {
  const id = await insertConversation(seed);
  const messageIds: string[] = [];
  for (const [i, text] of texts.entries()) {
    const message = typeof text === 'string' ? { content: text, role: (i % 2 === 0 ? 'user' : 'assistant') as MessageRole } : text;
    messageIds.push(await insertMessage({ id, orgId: seed.orgId, botId: seed.botId }, message));
  }
  return { id, messageIds };
}

/** POST /bots/{botId}/attachments with one file, as a browser form would send it. */
export async function uploadAttachment(token: string, botId: string, file: { name: string; type: string; bytes: Uint8Array | string }, orgId?: string) {
  const form = new FormData();
  form.append('file', new File([file.bytes], file.name, { type: file.type }));
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (orgId) headers['x-org-id'] = orgId;
  const res = await SELF.fetch(`${BASE}/api/v1/bots/${botId}/attachments`, { method: 'POST', headers, body: form });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

/**
 * Points the bot at the test site's fake OpenAI-compatible model `model` (test/fixtures/site:
 * `trickle` streams one word every 150 ms, `fail-500` fails). The model is the BOT's: with no org
 * provider and no CHAT_* endpoint, createChatModel uses the bot's fallback list, so the org's
 * embeddings stay offline.
 */
export async function useFakeModel(account: { token: string; botId: string }, model: string): Promise<void> {
  const res = await SELF.fetch(`${BASE}/api/v1/bots/${account.botId}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${account.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: { provider: 'openai-compatible', model },
      modelFallbacks: [{ baseUrl: 'http://localhost:11434/v1', model, apiKeySecret: null }],
    }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`bot model failed: ${res.status} ${text}`);
}
