/**
 * Widget visitors: sessions (a visitor token for one bot, page origin and visitor id, verified
 * or not) and the visitor's own conversations.
 *
 * Who owns a widget conversation:
 * - a verified visitor (the host signed its user id): every widget conversation of the bot stored
 *   with that user id, on any device or visitor id;
 * - an anonymous visitor: the conversations of its visitor id that no verified user owns. A
 *   verified user's conversation is not readable after signing out on the same browser (same
 *   visitor id, no identity), which matters on shared computers.
 * The answer pipeline applies the same rule before continuing a conversation (`visitorOwns`).
 */
import { and, desc, eq, isNull, lt, sql, type SQL } from 'drizzle-orm';
import type { ServiceContext } from '../../context';
import type { Db } from '../../db/client';
import { conversations, messages } from '../../db/schema';
import { looksLikeId, newId } from '../../lib/ids';
import type { BotRow } from '../bots/service';
import { signVisitorToken, type VisitorClaims } from './visitor-token';
import { verifyIdentity } from './identity';
import { listMessages } from '../conversations/service';

export type SessionResult =
  | { status: 'issued'; token: string; expiresAt: number; visitorId: string; verified: boolean }
  | { status: 'identity_invalid' };

export interface SessionInput {
  visitorId?: string;
  identity?: { userId: string; hash: string };
}

export async function issueSession(ctx: ServiceContext, bot: BotRow, origin: string, input: SessionInput): Promise<SessionResult> {
  // A client-held id is reused only when it is one of ours; anything else gets a fresh one.
  const visitorId = input.visitorId && looksLikeId(input.visitorId, 'vis') ? input.visitorId : newId('vis', ctx.clock);
  let verifiedUserId: string | null = null;
  if (input.identity) {
    const ok = await verifyIdentity(ctx, bot.orgId, bot.id, input.identity.userId, input.identity.hash);
    if (!ok) return { status: 'identity_invalid' };
    verifiedUserId = input.identity.userId;
  }
  const claims: VisitorClaims = { orgId: bot.orgId, botId: bot.id, origin, visitorId, verifiedUserId };
  const { token, expiresAt } = await signVisitorToken(ctx.config, ctx.clock, claims);
  return { status: 'issued', token, expiresAt, visitorId, verified: verifiedUserId !== null };
}

export type ConversationRow = typeof conversations.$inferSelect;
export type MessageRow = typeof messages.$inferSelect;

/** The ownership rule of this module's docblock, as SQL over `conversations`. */
function ownedBy(visitor: VisitorClaims): SQL {
  return visitor.verifiedUserId !== null
    ? and(eq(conversations.userId, visitor.verifiedUserId), sql`${conversations.visitorId} IS NOT NULL`)!
    : and(eq(conversations.visitorId, visitor.visitorId), isNull(conversations.userId))!;
}

const scope = (visitor: VisitorClaims) => [
  eq(conversations.orgId, visitor.orgId),
  eq(conversations.botId, visitor.botId),
  eq(conversations.channel, 'widget'),
  isNull(conversations.deletedAt),
  ownedBy(visitor),
];

/** Newest first; fetches limit + 1 rows for toPage. */
export async function listVisitorConversations(db: Db, visitor: VisitorClaims, cursor: string | null, limit: number): Promise<ConversationRow[]> {
  const conditions = scope(visitor);
  if (cursor) conditions.push(lt(conversations.id, cursor));
  return db
    .select()
    .from(conversations)
    .where(and(...conditions))
    .orderBy(desc(conversations.id))
    .limit(limit + 1);
}

export async function getVisitorConversation(db: Db, visitor: VisitorClaims, conversationId: string): Promise<ConversationRow | null> {
  const row = await db
    .select()
    .from(conversations)
    .where(and(...scope(visitor), eq(conversations.id, conversationId)))
    .get();
  return row ?? null;
}

/** What a visitor sees of a transcript: the two sides of the chat and a team member's replies, never tool or system messages. */
export const WIDGET_VISIBLE_ROLES = ['user', 'assistant', 'agent'] as const;

/** A page of the conversation's messages a visitor may see, in `order`. */
export const listVisitorMessages = (db: Db, conversationId: string, order: 'asc' | 'desc', cursor: string | null, limit: number): Promise<MessageRow[]> =>
  listMessages(db, conversationId, order, cursor, limit, WIDGET_VISIBLE_ROLES);

export function toVisitorConversationDto(row: ConversationRow) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: row.id,
    title: row.title,
    status: row.status,
    messageCount: row.messageCount,
    lastMessageAt: iso(row.lastMessageAt),
    createdAt: iso(row.createdAt)!,
  };
}
