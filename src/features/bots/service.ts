/** Bots: the unit visitors chat with. Every query is scoped by org id. */
import { and, desc, eq, lt, sql } from 'drizzle-orm';
import { bots } from '../../db/schema';
import { preparedFor, type Db } from '../../db/client';
import { newId } from '../../lib/ids';
import type { ServiceContext } from '../../context';
import type { Actor } from '../../context';
import { auditInsert } from '../audit/service';
import { deleteSourcesOfBot, reindexSources } from '../knowledge/sources';

export type BotRow = typeof bots.$inferSelect;

export interface BotInput {
  name: string;
  description?: string;
  instructions?: string;
  model?: { provider?: string; model?: string; temperature?: number; maxTokens?: number };
  retrieval?: { topK?: number; minScore?: number; hybrid?: boolean; fusion?: 'convex' | 'rrf'; hybridWeight?: number | null };
  chunking?: { strategy?: 'recursive' | 'markdown' | 'sentence-window'; chunkTokens?: number; overlapTokens?: number };
  visibility?: 'private' | 'public';
  allowedOrigins?: string[];
  status?: 'active' | 'paused';
}

export const DEFAULT_INSTRUCTIONS =
  'You are a helpful assistant. Answer only from the provided knowledge; if the answer is not there, say you do not know.';

export const DEFAULT_CHUNKING = { strategy: 'recursive' as const, chunkTokens: 400, overlapTokens: 50 };

export function newBotRow(orgId: string, input: BotInput, now: number, id = newId('bot')): BotRow {
  return {
    id,
    orgId,
    name: input.name,
    description: input.description ?? '',
    instructions: input.instructions ?? DEFAULT_INSTRUCTIONS,
    modelProvider: input.model?.provider ?? 'offline',
    model: input.model?.model ?? 'extractive',
    temperature: input.model?.temperature ?? 0.2,
    maxTokens: input.model?.maxTokens ?? 800,
    topK: input.retrieval?.topK ?? 6,
    minScore: input.retrieval?.minScore ?? 0,
    hybrid: input.retrieval?.hybrid ?? true,
    fusion: input.retrieval?.fusion ?? 'convex',
    hybridWeight: input.retrieval?.hybridWeight ?? null,
    chunking: { ...DEFAULT_CHUNKING, ...input.chunking },
    visibility: input.visibility ?? 'private',
    allowedOrigins: input.allowedOrigins ?? [],
    status: input.status ?? 'active',
    createdAt: now,
    updatedAt: now,
  };
}

/** Patch semantics: absent fields stay, nested groups merge. */
export function applyBotPatch(row: BotRow, patch: Partial<BotInput>, now: number): BotRow {
  return {
    ...row,
    name: patch.name ?? row.name,
    description: patch.description ?? row.description,
    instructions: patch.instructions ?? row.instructions,
    modelProvider: patch.model?.provider ?? row.modelProvider,
    model: patch.model?.model ?? row.model,
    temperature: patch.model?.temperature ?? row.temperature,
    maxTokens: patch.model?.maxTokens ?? row.maxTokens,
    topK: patch.retrieval?.topK ?? row.topK,
    minScore: patch.retrieval?.minScore ?? row.minScore,
    hybrid: patch.retrieval?.hybrid ?? row.hybrid,
    fusion: patch.retrieval?.fusion ?? row.fusion,
    hybridWeight: patch.retrieval?.hybridWeight !== undefined ? patch.retrieval.hybridWeight : row.hybridWeight,
    chunking: { ...row.chunking, ...patch.chunking },
    visibility: patch.visibility ?? row.visibility,
    allowedOrigins: patch.allowedOrigins ?? row.allowedOrigins,
    status: patch.status ?? row.status,
    updatedAt: now,
  };
}

export function toBotDto(row: BotRow) {
  return {
    id: row.id,
    orgId: row.orgId,
    name: row.name,
    description: row.description,
    instructions: row.instructions,
    model: { provider: row.modelProvider, model: row.model, temperature: row.temperature, maxTokens: row.maxTokens },
    retrieval: { topK: row.topK, minScore: row.minScore, hybrid: row.hybrid, fusion: row.fusion, hybridWeight: row.hybridWeight },
    chunking: row.chunking,
    visibility: row.visibility,
    allowedOrigins: row.allowedOrigins,
    status: row.status,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
}

// The hottest read in the API (every dashboard load, the benchmark's subject): prepared once.
const listBotsQuery = preparedFor((db) =>
  db
    .select()
    .from(bots)
    .where(and(eq(bots.orgId, sql.placeholder('orgId')), lt(bots.id, sql.placeholder('before'))))
    .orderBy(desc(bots.id))
    .limit(sql.placeholder('limit'))
    .prepare(),
);

/** '~' sorts after every id character, so "before ~" means "from the newest". */
const NEWEST = '~';

export async function listBots(db: Db, orgId: string, cursor: string | null, limit: number) {
  return listBotsQuery(db).all({ orgId, before: cursor ?? NEWEST, limit: limit + 1 });
}

export async function getBot(db: Db, orgId: string, botId: string): Promise<BotRow | null> {
  const row = await db.select().from(bots).where(and(eq(bots.orgId, orgId), eq(bots.id, botId))).get();
  return row ?? null;
}

export async function createBot(ctx: ServiceContext, actor: Actor, orgId: string, input: BotInput) {
  const row = newBotRow(orgId, input, ctx.clock.now(), newId('bot', ctx.clock));
  await ctx.db.batch([
    ctx.db.insert(bots).values(row),
    auditInsert(ctx.db, ctx.clock, ctx.meta, {
      orgId,
      actor,
      action: 'bot.create',
      target: { type: 'bot', id: row.id },
      metadata: { name: row.name },
    }),
  ]);
  return row;
}

export async function updateBot(ctx: ServiceContext, actor: Actor, orgId: string, botId: string, patch: Partial<BotInput>) {
  const current = await getBot(ctx.db, orgId, botId);
  if (!current) return null;
  const next = applyBotPatch(current, patch, ctx.clock.now());
  const { id: _id, orgId: _org, createdAt: _created, ...changes } = next;
  await ctx.db.batch([
    ctx.db.update(bots).set(changes).where(and(eq(bots.orgId, orgId), eq(bots.id, botId))),
    auditInsert(ctx.db, ctx.clock, ctx.meta, {
      orgId,
      actor,
      action: 'bot.update',
      target: { type: 'bot', id: botId },
      metadata: { fields: Object.keys(patch) },
    }),
  ]);
  if (patch.chunking && JSON.stringify(next.chunking) !== JSON.stringify(current.chunking)) {
    await reindexSources(ctx, orgId, botId);
  }
  return next;
}

export async function deleteBot(ctx: ServiceContext, actor: Actor, orgId: string, botId: string): Promise<boolean> {
  const current = await getBot(ctx.db, orgId, botId);
  if (!current) return false;
  // Knowledge first: its vectors and files are purged by jobs that need the source rows.
  await deleteSourcesOfBot(ctx, orgId, botId);
  await ctx.db.batch([
    ctx.db.delete(bots).where(and(eq(bots.orgId, orgId), eq(bots.id, botId))),
    auditInsert(ctx.db, ctx.clock, ctx.meta, {
      orgId,
      actor,
      action: 'bot.delete',
      target: { type: 'bot', id: botId },
      metadata: { name: current.name },
    }),
  ]);
  return true;
}
