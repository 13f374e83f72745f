/**
 * Org API keys. The secret (`kc_live_…`) is shown once; only its SHA-256 is stored (it is
 * 256 random bits, so a fast hash is enough). A key acts with its creator's *current* role
 * in the org, narrowed by its scopes: demote or remove the creator and the key shrinks or dies.
 */
import { and, desc, eq, isNull, lt } from 'drizzle-orm';
import { apiKeys, memberships, users, type Role } from '../../db/schema';
import type { Db } from '../../db/client';
import type { ServiceContext } from '../../context';
import type { Actor } from '../../context';
import { newId, randomToken } from '../../lib/ids';
import { sha256Hex } from '../../lib/crypto';
import { auditInsert } from '../audit/service';
import { scopesAllowedFor, type Scope } from '../orgs/policy';
import { KEY_CACHE_MAX_ENTRIES, KEY_CACHE_TTL_MS, LAST_USED_WRITE_INTERVAL_MS } from '../../limits';

export const API_KEY_PREFIX = 'kc_live_';
const SHOWN_PREFIX_LENGTH = API_KEY_PREFIX.length + 6;
// Verified keys are remembered per isolate for KEY_CACHE_TTL_MS so a busy key costs no D1 read
// per request. Revoking a key, or changing or removing its creator's membership, forgets it in
// the isolate that handled the change; other isolates keep accepting it until their entry
// expires, at most KEY_CACHE_TTL_MS later.
const keyCache = new Map<string, { key: AuthenticatedKey; lastUsedAt: number | null; expiresAt: number }>();

/** Drops cached keys matching the predicate (by id, or by org + creator). */
export function forgetCachedKeys(match: { keyId?: string; orgId?: string; createdBy?: string }) {
  for (const [hash, entry] of keyCache) {
    const k = entry.key;
    if ((match.keyId && k.id === match.keyId) || (match.createdBy && k.createdBy === match.createdBy && (!match.orgId || k.orgId === match.orgId))) {
      keyCache.delete(hash);
    }
  }
}

export type ApiKeyRow = typeof apiKeys.$inferSelect;

export function toApiKeyDto(row: ApiKeyRow) {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes,
    createdBy: row.createdBy,
    createdAt: new Date(row.createdAt).toISOString(),
    lastUsedAt: row.lastUsedAt ? new Date(row.lastUsedAt).toISOString() : null,
  };
}

export interface AuthenticatedKey {
  id: string;
  orgId: string;
  scopes: string[];
  createdBy: string;
  creatorRole: Role;
}

export async function authenticateApiKey(ctx: ServiceContext, secret: string): Promise<AuthenticatedKey | null> {
  const hash = await sha256Hex(secret);
  const now = ctx.clock.now();
  const cached = keyCache.get(hash);
  if (cached && cached.expiresAt > now) {
    touchLastUsed(ctx, cached, now);
    return cached.key;
  }
  const row = await ctx.db
    .select({
      id: apiKeys.id,
      orgId: apiKeys.orgId,
      scopes: apiKeys.scopes,
      createdBy: apiKeys.createdBy,
      lastUsedAt: apiKeys.lastUsedAt,
      creatorRole: memberships.role,
    })
    .from(apiKeys)
    .innerJoin(memberships, and(eq(memberships.orgId, apiKeys.orgId), eq(memberships.userId, apiKeys.createdBy)))
    .innerJoin(users, and(eq(users.id, apiKeys.createdBy), eq(users.status, 'active')))
    .where(and(eq(apiKeys.keyHash, hash), isNull(apiKeys.revokedAt)))
    .get();
  if (!row) {
    keyCache.delete(hash);
    return null;
  }
  const entry = {
    key: { id: row.id, orgId: row.orgId, scopes: row.scopes, createdBy: row.createdBy, creatorRole: row.creatorRole },
    lastUsedAt: row.lastUsedAt,
    expiresAt: now + KEY_CACHE_TTL_MS,
  };
  if (keyCache.size >= KEY_CACHE_MAX_ENTRIES) keyCache.clear();
  keyCache.set(hash, entry);
  touchLastUsed(ctx, entry, now);
  return entry.key;
}

function touchLastUsed(ctx: ServiceContext, entry: { key: AuthenticatedKey; lastUsedAt: number | null }, now: number) {
  if (entry.lastUsedAt && now - entry.lastUsedAt <= LAST_USED_WRITE_INTERVAL_MS) return;
  entry.lastUsedAt = now;
  ctx.waitUntil(ctx.db.update(apiKeys).set({ lastUsedAt: now }).where(eq(apiKeys.id, entry.key.id)).run());
}

export type CreateKeyResult =
  | { status: 'created'; row: ApiKeyRow; secret: string }
  | { status: 'scope_exceeds_role'; scopes: string[] };

export async function createApiKey(
  ctx: ServiceContext,
  actor: Actor & { kind: 'user' },
  org: { orgId: string; role: Role },
  input: { name: string; scopes: Scope[] },
): Promise<CreateKeyResult> {
  const allowed = new Set<string>(scopesAllowedFor(org.role));
  const excess = input.scopes.filter((s) => !allowed.has(s));
  if (excess.length > 0) return { status: 'scope_exceeds_role', scopes: excess };
  const secret = API_KEY_PREFIX + randomToken(32);
  const row: ApiKeyRow = {
    id: newId('key', ctx.clock),
    orgId: org.orgId,
    name: input.name,
    prefix: secret.slice(0, SHOWN_PREFIX_LENGTH),
    keyHash: await sha256Hex(secret),
    scopes: [...new Set(input.scopes)],
    createdBy: actor.userId,
    createdAt: ctx.clock.now(),
    lastUsedAt: null,
    revokedAt: null,
  };
  await ctx.db.batch([
    ctx.db.insert(apiKeys).values(row),
    auditInsert(ctx.db, ctx.clock, ctx.meta, {
      orgId: org.orgId,
      actor,
      action: 'api_key.create',
      target: { type: 'api_key', id: row.id },
      metadata: { name: row.name, scopes: row.scopes },
    }),
  ]);
  return { status: 'created', row, secret };
}

export async function listApiKeys(db: Db, orgId: string, cursor: string | null, limit: number) {
  const conditions = [eq(apiKeys.orgId, orgId), isNull(apiKeys.revokedAt)];
  if (cursor) conditions.push(lt(apiKeys.id, cursor));
  return db.select().from(apiKeys).where(and(...conditions)).orderBy(desc(apiKeys.id)).limit(limit + 1);
}

export async function revokeApiKey(ctx: ServiceContext, actor: Actor, orgId: string, keyId: string): Promise<boolean> {
  const key = await ctx.db
    .select({ id: apiKeys.id, name: apiKeys.name })
    .from(apiKeys)
    .where(and(eq(apiKeys.orgId, orgId), eq(apiKeys.id, keyId), isNull(apiKeys.revokedAt)))
    .get();
  if (!key) return false;
  forgetCachedKeys({ keyId });
  await ctx.db.batch([
    ctx.db.update(apiKeys).set({ revokedAt: ctx.clock.now() }).where(and(eq(apiKeys.id, keyId), eq(apiKeys.orgId, orgId))),
    auditInsert(ctx.db, ctx.clock, ctx.meta, {
      orgId,
      actor,
      action: 'api_key.revoke',
      target: { type: 'api_key', id: keyId },
      metadata: { name: key.name },
    }),
  ]);
  return true;
}

