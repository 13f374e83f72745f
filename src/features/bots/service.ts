/** Bots: the unit visitors chat with. Every query is scoped by org id. */
import { and, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import { bots, type BotWidgetOverrides } from '../../db/schema';
import { preparedFor, type Db } from '../../db/client';
import { newId } from '../../lib/ids';
import type { ServiceContext } from '../../context';
import type { Actor } from '../../context';
import { auditInsert, auditInsertIfChanged } from '../audit/service';
import { deleteSourcesOfBot, reindexSources } from '../knowledge/sources';
import { DEFAULT_CHUNKING, type ChunkingSettings } from '../knowledge/chunking-settings';
import { CHUNKING, DEFAULT_FALLBACK_MESSAGE } from '../../limits';
import { withoutNulls, type BotWidgetPatch } from '../widget/settings';
import { handoffSettingsOf, patchHandoff, type HandoffPatch } from '../handoff/settings';

export type BotRow = typeof bots.$inferSelect;

export interface BotInput {
  name: string;
  description?: string;
  instructions?: string;
  model?: { provider?: string; model?: string; temperature?: number; maxTokens?: number };
  retrieval?: { topK?: number; minScore?: number; hybrid?: boolean; fusion?: 'convex' | 'rrf'; hybridWeight?: number | null };
  chunking?: Partial<ChunkingSettings>;
  visibility?: 'private' | 'public';
  allowedOrigins?: string[];
  status?: 'active' | 'paused';
  fallbackMessage?: string | null;
  piiRedaction?: boolean;
  answerCacheTtlSeconds?: number;
  modelFallbacks?: BotRow['modelFallbacks'];
  /** Widget overrides, merged into the stored ones group by group; null clears them. */
  widget?: BotWidgetPatch;
  /** Human handoff settings (issue #10), merged into the stored ones; nulls reset a field. */
  handoff?: HandoffPatch;
}

export const DEFAULT_INSTRUCTIONS =
  'You are a helpful assistant. Answer only from the provided knowledge; if the answer is not there, say you do not know.';

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
    fallbackMessage: input.fallbackMessage ?? null,
    piiRedaction: input.piiRedaction ?? false,
    answerCacheTtlSeconds: input.answerCacheTtlSeconds ?? 0,
    modelFallbacks: input.modelFallbacks ?? [],
    widget: input.widget ? (withoutNulls(input.widget) as BotWidgetOverrides) : null,
    handoff: input.handoff ? patchHandoff(null, input.handoff) : null,
    status: input.status ?? 'active',
    revision: 1,
    createdAt: now,
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
    fallbackMessage: row.fallbackMessage ?? DEFAULT_FALLBACK_MESSAGE,
    piiRedaction: row.piiRedaction,
    answerCacheTtlSeconds: row.answerCacheTtlSeconds,
    modelFallbacks: row.modelFallbacks,
    widget: row.widget ?? null,
    handoff: handoffSettingsOf(row.handoff),
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

/**
 * A bot by id alone, for the public widget endpoints (which know no org yet): only a public bot
 * is returned, so a private or unknown id looks the same to a visitor.
 */
export async function getPublicBot(db: Db, botId: string): Promise<BotRow | null> {
  const row = await db.select().from(bots).where(and(eq(bots.id, botId), eq(bots.visibility, 'public'))).get();
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

export type UpdateBotResult =
  | { status: 'updated'; row: BotRow }
  | { status: 'not_found' }
  | { status: 'precondition_failed' }
  | { status: 'invalid_chunking' };

/** The columns a patch writes: only the fields it names, so concurrent edits of others survive. */
function botChanges(patch: Partial<BotInput>, now: number) {
  const set: Partial<Record<keyof BotRow, unknown>> = { updatedAt: now, revision: sql`${bots.revision} + 1` };
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.description !== undefined) set.description = patch.description;
  if (patch.instructions !== undefined) set.instructions = patch.instructions;
  if (patch.model?.provider !== undefined) set.modelProvider = patch.model.provider;
  if (patch.model?.model !== undefined) set.model = patch.model.model;
  if (patch.model?.temperature !== undefined) set.temperature = patch.model.temperature;
  if (patch.model?.maxTokens !== undefined) set.maxTokens = patch.model.maxTokens;
  if (patch.retrieval?.topK !== undefined) set.topK = patch.retrieval.topK;
  if (patch.retrieval?.minScore !== undefined) set.minScore = patch.retrieval.minScore;
  if (patch.retrieval?.hybrid !== undefined) set.hybrid = patch.retrieval.hybrid;
  if (patch.retrieval?.fusion !== undefined) set.fusion = patch.retrieval.fusion;
  // null is a value here: it puts the weight back to the embedder's default.
  if (patch.retrieval?.hybridWeight !== undefined) set.hybridWeight = patch.retrieval.hybridWeight;
  // JSON merge patch (RFC 7396) in SQL: the given keys merge into whatever is stored *now*.
  if (patch.chunking) set.chunking = sql`json_patch(${bots.chunking}, ${JSON.stringify(patch.chunking)})`;
  if (patch.visibility !== undefined) set.visibility = patch.visibility;
  if (patch.allowedOrigins !== undefined) set.allowedOrigins = patch.allowedOrigins;
  if (patch.status !== undefined) set.status = patch.status;
  if (patch.fallbackMessage !== undefined) set.fallbackMessage = patch.fallbackMessage;
  if (patch.piiRedaction !== undefined) set.piiRedaction = patch.piiRedaction;
  if (patch.answerCacheTtlSeconds !== undefined) set.answerCacheTtlSeconds = patch.answerCacheTtlSeconds;
  if (patch.modelFallbacks !== undefined) set.modelFallbacks = patch.modelFallbacks;
  // JSON merge patch again: each group merges into the stored overrides; nulls drop what they name.
  if (patch.widget === null) set.widget = null;
  else if (patch.widget !== undefined) set.widget = sql`json_patch(coalesce(${bots.widget}, '{}'), ${JSON.stringify(patch.widget)})`;
  // JSON merge patch: the given fields replace (arrays whole), nulls drop back to the defaults.
  if (patch.handoff !== undefined) set.handoff = sql`json_patch(coalesce(${bots.handoff}, '{}'), ${JSON.stringify(patch.handoff)})`;
  return set as Partial<BotRow>;
}

/**
 * Writes only the given fields, in one guarded UPDATE: `ifMatch` (a revision) makes it
 * conditional, and a chunking change must leave settings the chunker accepts in the merged result.
 */
export async function updateBot(
  ctx: ServiceContext,
  actor: Actor,
  orgId: string,
  botId: string,
  patch: Partial<BotInput>,
  ifMatch?: number[],
): Promise<UpdateBotResult> {
  const before = patch.chunking ? await getBot(ctx.db, orgId, botId) : null;
  const conditions = [eq(bots.orgId, orgId), eq(bots.id, botId)];
  if (ifMatch) conditions.push(inArray(bots.revision, ifMatch));
  if (patch.chunking) {
    const merged = sql`json_patch(${bots.chunking}, ${JSON.stringify(patch.chunking)})`;
    // The chunker's own rule (chunkingOverlapProblem), evaluated on the merged settings in SQL.
    conditions.push(sql`json_extract(${merged}, '$.overlapTokens') <= CAST(json_extract(${merged}, '$.chunkTokens') * ${CHUNKING.maxOverlapRatio} AS INTEGER)`);
  }
  const [updated] = await ctx.db.batch([
    ctx.db.update(bots).set(botChanges(patch, ctx.clock.now())).where(and(...conditions)).returning(),
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, {
      orgId,
      actor,
      action: 'bot.update',
      target: { type: 'bot', id: botId },
      metadata: { fields: Object.keys(patch) },
    }),
  ]);
  const row = updated[0];
  if (!row) {
    const current = await getBot(ctx.db, orgId, botId);
    if (!current) return { status: 'not_found' };
    if (ifMatch && !ifMatch.includes(current.revision)) return { status: 'precondition_failed' };
    return { status: 'invalid_chunking' };
  }
  if (patch.chunking && JSON.stringify(row.chunking) !== JSON.stringify(before?.chunking)) {
    await reindexSources(ctx, orgId, botId);
  }
  return { status: 'updated', row };
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
