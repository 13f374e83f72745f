/**
 * The answer cache (bots with answerCacheTtlSeconds > 0). The key hashes the bot's revision, the
 * normalized question and the ids of the chunks retrieved for it: editing the bot, or any change
 * in what retrieval finds, misses. A hit is counted in the same statement that reads it, and an
 * expired row is never served (the cron sweeper deletes a bounded number of them).
 */
import { and, eq, gt, lte, inArray, sql } from 'drizzle-orm';
import { answerCache, type Citation } from '../../db/schema';
import type { ServiceContext } from '../../context';
import { sha256Hex } from '../../lib/crypto';
import { splitForStatements } from '../../db/bound-parameters';

/** Case, spacing, Unicode form and trailing punctuation do not make another question. */
export function normalizeQuestion(question: string): string {
  return question
    .normalize('NFKC')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .replace(/[\s?!.。？！]+$/u, '')
    .trim();
}

export async function answerCacheKey(bot: { id: string; revision: number }, question: string, chunkIds: string[]): Promise<string> {
  return sha256Hex(JSON.stringify([bot.id, bot.revision, normalizeQuestion(question), [...chunkIds].sort()]));
}

export interface CachedAnswer {
  content: string;
  citations: Citation[];
  model: string | null;
}

/** The live entry for `key`, counting the hit; null on a miss or an expired entry. */
export async function takeCachedAnswer(ctx: ServiceContext, orgId: string, botId: string, key: string): Promise<CachedAnswer | null> {
  const rows = await ctx.db
    .update(answerCache)
    .set({ hits: sql`${answerCache.hits} + 1` })
    .where(and(eq(answerCache.key, key), eq(answerCache.orgId, orgId), eq(answerCache.botId, botId), gt(answerCache.expiresAt, ctx.clock.now())))
    .returning({ content: answerCache.content, citations: answerCache.citations, model: answerCache.model });
  return rows[0] ?? null;
}

export async function putCachedAnswer(ctx: ServiceContext, entry: { key: string; orgId: string; botId: string; ttlSeconds: number } & CachedAnswer) {
  const now = ctx.clock.now();
  const expiresAt = now + entry.ttlSeconds * 1000;
  await ctx.db
    .insert(answerCache)
    .values({ key: entry.key, orgId: entry.orgId, botId: entry.botId, content: entry.content, citations: entry.citations, model: entry.model, hits: 0, expiresAt, createdAt: now })
    .onConflictDoUpdate({ target: answerCache.key, set: { content: entry.content, citations: entry.citations, model: entry.model, hits: 0, expiresAt, createdAt: now } });
}

/** Deletes up to `limit` expired entries (cron); returns how many. */
export async function deleteExpiredAnswers(ctx: ServiceContext, now: number, limit: number): Promise<number> {
  const expired = await ctx.db.select({ key: answerCache.key }).from(answerCache).where(lte(answerCache.expiresAt, now)).limit(limit);
  let deleted = 0;
  for (const keys of splitForStatements(expired.map((r) => r.key), 1, 1)) {
    await ctx.db.delete(answerCache).where(and(inArray(answerCache.key, keys), lte(answerCache.expiresAt, now)));
    deleted += keys.length;
  }
  return deleted;
}
