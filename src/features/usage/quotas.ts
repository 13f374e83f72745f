/**
 * Per-org quotas. Registration is open, so without them one free org is an unlimited crawler,
 * storage and embedding-cost amplifier. Limits come from configuration (env.ts).
 *
 * - `sources`: how many sources an org holds, counted in D1 (it does not reset with time).
 * - `crawl_pages_per_day`, `upload_bytes_per_day`: sliding 24 h windows in the RateLimiter
 *   Durable Object, one object per quota and org (`<quota>:<orgId>`).
 * - `searches_per_minute`: the same, spent by the rate-limit middleware on the search route.
 * - `messages_per_month`: chat turns, a sliding 30 days, spent by the answer pipeline (features/chat).
 *
 * When the limiter is unreachable the work goes ahead (and the failure is logged), as with
 * the request rate limits: a limiter outage must not stop ingestion for everyone.
 */
import { and, eq, ne, sql } from 'drizzle-orm';
import { sources } from '../../db/schema';
import type { ServiceContext } from '../../context';
import type { OrgQuotas } from '../../env';
import { QUOTA_DAY_SECONDS, QUOTA_MONTH_SECONDS, RATE_LIMIT_WINDOW_SECONDS } from '../../limits';

export type WindowedQuota = 'crawl_pages_per_day' | 'upload_bytes_per_day' | 'searches_per_minute' | 'messages_per_month';
export type QuotaName = 'sources' | WindowedQuota;

export const WINDOWED_QUOTAS: Record<WindowedQuota, { limit: (q: OrgQuotas) => number; windowSeconds: number }> = {
  crawl_pages_per_day: { limit: (q) => q.crawlPagesPerDay, windowSeconds: QUOTA_DAY_SECONDS },
  upload_bytes_per_day: { limit: (q) => q.uploadBytesPerDay, windowSeconds: QUOTA_DAY_SECONDS },
  searches_per_minute: { limit: (q) => q.searchesPerMinute, windowSeconds: RATE_LIMIT_WINDOW_SECONDS },
  messages_per_month: { limit: (q) => q.messagesPerMonth, windowSeconds: QUOTA_MONTH_SECONDS },
};

/** The RateLimiter object of one quota of one org (the rate-limit middleware names keys alike). */
export const quotaLimiterKey = (quota: WindowedQuota, orgId: string) => `${quota}:${orgId}`;

export type QuotaDecision =
  | { allowed: true }
  | { allowed: false; quota: QuotaName; limit: number; used: number; retryAfterSeconds: number | null };

/** Books `cost` units of a windowed quota, all or nothing. */
export async function consumeQuota(ctx: ServiceContext, orgId: string, quota: WindowedQuota, cost: number): Promise<QuotaDecision> {
  const { windowSeconds } = WINDOWED_QUOTAS[quota];
  const limit = WINDOWED_QUOTAS[quota].limit(ctx.config.quotas);
  if (cost <= 0) return { allowed: true };
  // More than the whole quota can never fit: no point asking, and no point retrying later.
  if (cost > limit) return { allowed: false, quota, limit, used: 0, retryAfterSeconds: null };
  try {
    const limiter = ctx.env.RATE_LIMITER.get(ctx.env.RATE_LIMITER.idFromName(quotaLimiterKey(quota, orgId)));
    const decision = await limiter.consume({ limit, windowSeconds, cost });
    if (decision.allowed) return { allowed: true };
    return { allowed: false, quota, limit, used: limit - decision.remaining, retryAfterSeconds: decision.retryAfterSeconds };
  } catch (err) {
    logLimiterDown(quota, err);
    return { allowed: true };
  }
}

/** Whether `adding` more sources fit under the org's source quota. */
export async function checkSourceQuota(ctx: ServiceContext, orgId: string, adding: number): Promise<QuotaDecision> {
  const limit = ctx.config.quotas.sources;
  const used = await countSources(ctx, orgId);
  return used + adding <= limit ? { allowed: true } : { allowed: false, quota: 'sources', limit, used, retryAfterSeconds: null };
}

async function countSources(ctx: ServiceContext, orgId: string): Promise<number> {
  const row = await ctx.db
    .select({ n: sql<number>`count(*)` })
    .from(sources)
    .where(and(eq(sources.orgId, orgId), ne(sources.status, 'deleting')))
    .get();
  return row?.n ?? 0;
}

export interface QuotaUsage {
  used: number;
  limit: number;
  /** null for quotas that do not renew with time. */
  windowSeconds: number | null;
  /** Seconds until everything counted now has aged out; null when it never does. */
  resetSeconds: number | null;
}

/** Use against every quota of one org; a windowed quota whose limiter is down reads as unused. */
export async function orgUsage(ctx: ServiceContext, orgId: string): Promise<Record<QuotaName, QuotaUsage>> {
  const windowed = await Promise.all(
    (Object.keys(WINDOWED_QUOTAS) as WindowedQuota[]).map(async (quota) => [quota, await windowUsage(ctx, quotaLimiterKey(quota, orgId), WINDOWED_QUOTAS[quota].limit(ctx.config.quotas), WINDOWED_QUOTAS[quota].windowSeconds)] as const),
  );
  return {
    sources: { used: await countSources(ctx, orgId), limit: ctx.config.quotas.sources, windowSeconds: null, resetSeconds: null },
    ...(Object.fromEntries(windowed) as Record<WindowedQuota, QuotaUsage>),
  };
}

/** Use of any RateLimiter key (also the per-user request limit), booking nothing. */
export async function windowUsage(ctx: ServiceContext, limiterKey: string, limit: number, windowSeconds: number): Promise<QuotaUsage> {
  try {
    const limiter = ctx.env.RATE_LIMITER.get(ctx.env.RATE_LIMITER.idFromName(limiterKey));
    const seen = await limiter.peek({ limit, windowSeconds });
    return { used: seen.used, limit, windowSeconds, resetSeconds: seen.resetSeconds };
  } catch (err) {
    logLimiterDown(limiterKey.slice(0, limiterKey.indexOf(':')), err);
    return { used: 0, limit, windowSeconds, resetSeconds: 0 };
  }
}

function logLimiterDown(quota: string, err: unknown) {
  console.error(
    JSON.stringify({
      level: 'error',
      msg: 'rate limiter unavailable; quota not enforced for this call',
      quota,
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    }),
  );
}
