/**
 * Per-org model provider settings. Provider API keys are stored encrypted and only ever
 * returned masked; `resolveProviderSettings` is the one place that decrypts them, for the
 * features that call the provider.
 */
import { eq, sql, type SQL } from 'drizzle-orm';
import { orgSettings } from '../../db/schema';
import type { ServiceContext } from '../../context';
import type { Actor } from '../../context';
import { decryptSecret, encryptSecret, maskSecret, orgSecretAad, PROVIDER_KEY_SECRET, type SecretEnvelope } from '../../lib/secrets';
import { auditInsert } from '../audit/service';
import { reindexSources } from '../knowledge/sources';
import type { RerankerConfig } from '../knowledge/retrieval/rerank';
import { RERANK } from '../../limits';

/** The settings secret that holds the embedding / model provider's API key (chat models read it too). */
export { PROVIDER_KEY_SECRET };
/** The settings secret that holds the search reranker's API key. */
export const RERANK_KEY_SECRET = 'rerank_api_key';
/** How a settings secret may be named (bots' model fallbacks refer to secrets by this name). */
export const SECRET_NAME_PATTERN = /^[a-z][a-z0-9_]{0,39}$/;

interface StoredSecret extends SecretEnvelope {
  masked: string;
  updatedAt: number;
}

export interface SettingsPatch {
  provider?: string;
  baseUrl?: string | null;
  chatModel?: string | null;
  embeddingModel?: string | null;
  embeddingDimensions?: number | null;
  /** name -> new value, or null to delete. */
  secrets?: Record<string, string | null>;
  reranker?: RerankerConfig | null;
}

type SettingsRow = typeof orgSettings.$inferSelect;

const aadFor = orgSecretAad;

async function loadRow(ctx: ServiceContext, orgId: string): Promise<SettingsRow> {
  const row = await ctx.db.select().from(orgSettings).where(eq(orgSettings.orgId, orgId)).get();
  return row ?? { orgId, provider: 'offline', baseUrl: null, chatModel: null, embeddingModel: null, embeddingDimensions: null, secrets: '{}', reranker: null, updatedAt: 0 };
}

/** The stored reranker, with the defaults of fields added after it was saved. */
const rerankerOf = (row: SettingsRow): RerankerConfig | null => (row.reranker ? { relevantAt: RERANK.defaultRelevantAt, ...row.reranker } : null);

const parseSecrets = (row: SettingsRow) => JSON.parse(row.secrets) as Record<string, StoredSecret>;

export function toSettingsDto(row: SettingsRow) {
  const secrets = parseSecrets(row);
  return {
    provider: row.provider,
    baseUrl: row.baseUrl,
    chatModel: row.chatModel,
    embeddingModel: row.embeddingModel,
    embeddingDimensions: row.embeddingDimensions,
    secrets: Object.fromEntries(
      Object.entries(secrets).map(([name, s]) => [name, { value: s.masked, keyId: s.kid, updatedAt: new Date(s.updatedAt).toISOString() }]),
    ),
    reranker: rerankerOf(row),
    updatedAt: row.updatedAt ? new Date(row.updatedAt).toISOString() : null,
  };
}

export async function getSettings(ctx: ServiceContext, orgId: string) {
  return toSettingsDto(await loadRow(ctx, orgId));
}

/**
 * Writes only what the patch names, in one upsert: provider fields it leaves out keep their
 * stored value, and each secret changes by name inside the stored JSON (json_set / json_remove
 * on the row as it is *now*), so two owners editing different fields or secrets at the same
 * time both keep their change.
 */
export async function updateSettings(ctx: ServiceContext, actor: Actor, orgId: string, patch: SettingsPatch) {
  const current = await loadRow(ctx, orgId);
  const now = ctx.clock.now();
  const written: Record<string, StoredSecret> = {};
  const removed: string[] = [];
  for (const [name, value] of Object.entries(patch.secrets ?? {})) {
    if (value === null) removed.push(name);
    else written[name] = { ...(await encryptSecret(ctx.config, value, aadFor(orgId, name))), masked: maskSecret(value), updatedAt: now };
  }

  const fields: Partial<SettingsRow> = {};
  if (patch.provider !== undefined) fields.provider = patch.provider;
  if (patch.baseUrl !== undefined) fields.baseUrl = patch.baseUrl;
  if (patch.chatModel !== undefined) fields.chatModel = patch.chatModel;
  if (patch.embeddingModel !== undefined) fields.embeddingModel = patch.embeddingModel;
  if (patch.embeddingDimensions !== undefined) fields.embeddingDimensions = patch.embeddingDimensions;
  if (patch.reranker !== undefined) fields.reranker = patch.reranker;

  // A quoted member path names exactly one key, whatever the name holds (routes.ts also limits
  // names to /^[a-z][a-z0-9_]*$/, but this service may be called from elsewhere).
  const path = (name: string) => `$.${JSON.stringify(name)}`;
  let secrets: SQL = sql`${orgSettings.secrets}`;
  if (removed.length > 0) secrets = sql`json_remove(${secrets}, ${sql.join(removed.map((n) => sql`${path(n)}`), sql`, `)})`;
  for (const [name, envelope] of Object.entries(written)) secrets = sql`json_set(${secrets}, ${path(name)}, json(${JSON.stringify(envelope)}))`;

  const [rows] = await ctx.db.batch([
    ctx.db
      .insert(orgSettings)
      .values({ orgId, ...fields, secrets: JSON.stringify(written), updatedAt: now })
      .onConflictDoUpdate({ target: orgSettings.orgId, set: { ...fields, secrets, updatedAt: now } })
      .returning(),
    auditInsert(ctx.db, ctx.clock, ctx.meta, {
      orgId,
      actor,
      action: 'settings.update',
      target: { type: 'org', id: orgId },
      // Secret names go in as values (`secrets.<name>`): audit redaction blanks any metadata
      // *key* that looks secret, which would hide which secrets changed.
      metadata: {
        fields: [
          ...Object.keys(patch).filter((k) => k !== 'secrets'),
          ...Object.keys(patch.secrets ?? {}).map((name) => `secrets.${name}`),
        ],
      },
    }),
  ]);
  const next = rows[0]!;
  // A new embedding space makes every stored vector incomparable: re-embed through jobs.
  const embeddingChanged =
    next.provider !== current.provider ||
    next.baseUrl !== current.baseUrl ||
    next.embeddingModel !== current.embeddingModel ||
    next.embeddingDimensions !== current.embeddingDimensions ||
    Object.keys(patch.secrets ?? {}).includes(PROVIDER_KEY_SECRET);
  if (embeddingChanged) await reindexSources(ctx, orgId);
  return toSettingsDto(next);
}

export interface ProviderSettings {
  provider: string;
  baseUrl: string | null;
  chatModel: string | null;
  embeddingModel: string | null;
  embeddingDimensions: number | null;
  secrets: Record<string, string>;
  reranker: RerankerConfig | null;
}

/**
 * Decrypted settings for server-side use only; never serialize the result. `onlySecrets` names
 * the secrets the caller needs: the others are not decrypted, so a hot path pays for no more
 * than it uses and an unrelated secret that can no longer be opened does not break it.
 */
export async function resolveProviderSettings(ctx: ServiceContext, orgId: string, onlySecrets?: (settings: Pick<ProviderSettings, 'provider' | 'reranker'>) => string[]): Promise<ProviderSettings> {
  const row = await loadRow(ctx, orgId);
  const wanted = onlySecrets ? new Set(onlySecrets({ provider: row.provider, reranker: rerankerOf(row) })) : null;
  const secrets: Record<string, string> = {};
  for (const [name, envelope] of Object.entries(parseSecrets(row))) {
    if (wanted && !wanted.has(name)) continue;
    secrets[name] = await decryptSecret(ctx.config, envelope, aadFor(orgId, name), name);
  }
  return {
    provider: row.provider,
    baseUrl: row.baseUrl,
    chatModel: row.chatModel,
    embeddingModel: row.embeddingModel,
    embeddingDimensions: row.embeddingDimensions,
    secrets,
    reranker: rerankerOf(row),
  };
}
