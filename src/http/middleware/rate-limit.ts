/**
 * Rate limits that never admit more than the limit, backed by the RateLimiter Durable Object (one object per policy + key),
 * advertised with the IETF RateLimit header fields
 * (https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/):
 *
 *   RateLimit-Policy: "login";q=10;w=60     the quota: q units per w seconds
 *   RateLimit: "login";r=3;t=42             r units left; t seconds until the quota is whole
 *
 * Hot keys do not pay a Durable Object round trip per request: an isolate leases a few units
 * at a time (at most 1/LEASE_FRACTION of the limit, spent within LEASE_HOLD_MS) and hands
 * them out locally. The object books a lease where its last unit may be spent, so the limit
 * is never exceeded; a lease's unspent units are simply lost (so a hot key may be refused a
 * little early, never admitted late). Small limits (login: 10 a minute)
 * lease one unit at a time, i.e. one exact check per request.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { ApiError } from '../problem';
import type { AppBindings } from '../types';
import { LEASE_FRACTION, LEASE_HOLD_MS, MAX_TRACKED_KEYS } from '../../limits';
import type { RateLimitDecision, RateLimitPolicy } from '../../durable/RateLimiter';

type AppContext = Context<AppBindings>;

export interface RateLimitOptions {
  /** Policy name: part of the limiter key and of the headers. Letters, digits, `_ - .` only. */
  name: string;
  /** Units per window; a function lets config decide per request. */
  limit: number | ((c: AppContext) => number);
  windowSeconds: number;
  /** What is being limited (an IP, an API key id…); null skips the limit for this request. */
  key: (c: AppContext) => string | null;
  /** Names the limit in the 429 problem (`quota`), with `code` (default `rate_limited`). */
  problem?: { code: 'rate_limited' | 'quota_exceeded'; quota: string };
}

// Keeps the policy name a valid structured-field string without escaping.
const POLICY_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export const rateLimit = (opts: RateLimitOptions): MiddlewareHandler<AppBindings> => {
  if (!POLICY_NAME.test(opts.name)) throw new Error(`rateLimit: invalid policy name "${opts.name}"`);
  assertPositiveInteger(`rateLimit(${opts.name}) windowSeconds`, opts.windowSeconds);

  return async function rateLimit(c, next) {
    const key = opts.key(c);
    if (key === null) {
      await next();
      return;
    }
    const limit = typeof opts.limit === 'function' ? opts.limit(c) : opts.limit;
    assertPositiveInteger(`rateLimit(${opts.name}) limit`, limit);

    const decision = await takeUnit(c, `${opts.name}:${key}`, limit, opts.windowSeconds);
    if (!decision) {
      await next();
      return;
    }
    const headers = rateLimitHeaders(opts.name, opts.windowSeconds, decision);
    if (!decision.allowed) {
      throw new ApiError({
        status: 429,
        code: opts.problem?.code ?? 'rate_limited',
        title: opts.problem?.code === 'quota_exceeded' ? 'Quota exceeded' : 'Too many requests',
        detail: `${opts.problem ? `The ${opts.problem.quota} limit (${limit}) is used up` : 'Too many requests'}. Try again in ${decision.retryAfterSeconds} second${decision.retryAfterSeconds === 1 ? '' : 's'}.`,
        headers: { ...headers, 'retry-after': String(decision.retryAfterSeconds) },
        extensions: opts.problem ? { quota: opts.problem.quota, limit } : undefined,
      });
    }

    await next();
    try {
      for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
    } catch {
      // Immutable headers (a 101 upgrade or a proxied response): the limit was still applied.
    }
  };
};

/**
 * The caller's IP as Cloudflare's edge saw it. Only CF-Connecting-IP counts: the edge
 * overwrites it on every request, while X-Forwarded-For is whatever the client sent.
 */
export function clientIp(c: Context): string | null {
  const ip = c.req.header('cf-connecting-ip')?.trim();
  return ip ? ip : null;
}

export function rateLimitHeaders(name: string, windowSeconds: number, decision: RateLimitDecision): Record<string, string> {
  return {
    'ratelimit-policy': `"${name}";q=${decision.limit};w=${windowSeconds}`,
    ratelimit: `"${name}";r=${decision.remaining};t=${decision.resetSeconds}`,
  };
}

interface Lease {
  limit: number;
  granted: number;
  left: number;
  expiresAt: number;
  /** The object's view right after the grant, for the response headers. */
  remainingAfterGrant: number;
  resetAt: number;
}

/** Per limiter key: the current lease, and the one call to the object in flight (if any). */
interface LeaseState {
  lease?: Lease;
  inflight?: Promise<void>;
  waiting: number;
}

const leaseStates = new Map<string, LeaseState>();

/** Doubles while leases run dry before expiring, shrinks to what was used otherwise. */
function nextLeaseSize(state: LeaseState, limit: number, now: number): number {
  const max = Math.floor(limit / LEASE_FRACTION);
  if (max < 2) return 1;
  const previous = state.lease;
  const used = previous ? previous.granted - previous.left : 0;
  const ranDry = !!previous && previous.left === 0 && previous.expiresAt > now;
  const fromHistory = previous ? (ranDry ? previous.granted * 2 : used) : 1;
  return Math.max(1, Math.min(max, Math.max(fromHistory, state.waiting + 1)));
}

function spendLeased(state: LeaseState, limit: number, now: number): RateLimitDecision | null {
  const lease = state.lease;
  if (!lease || lease.left <= 0 || lease.expiresAt <= now || lease.limit !== limit) return null;
  lease.left--;
  return {
    allowed: true,
    limit,
    granted: 1,
    remaining: lease.remainingAfterGrant + lease.left,
    resetSeconds: Math.max(0, Math.ceil((lease.resetAt - now) / 1000)),
    retryAfterSeconds: 0,
  };
}

/**
 * One unit for this request: from the isolate's lease when it has one; otherwise one caller
 * asks the object for a new lease while concurrent callers wait for it (single flight), so a
 * burst costs one round trip instead of one per request.
 */
async function takeUnit(c: AppContext, limiterKey: string, limit: number, windowSeconds: number): Promise<RateLimitDecision | null> {
  let state = leaseStates.get(limiterKey);
  if (!state) {
    if (leaseStates.size >= MAX_TRACKED_KEYS) leaseStates.clear();
    state = { waiting: 0 };
    leaseStates.set(limiterKey, state);
  }
  for (;;) {
    const leased = spendLeased(state, limit, Date.now());
    if (leased) return leased;
    if (!state.inflight) break;
    state.waiting++;
    await state.inflight;
    state.waiting--;
  }

  const now = Date.now();
  const want = nextLeaseSize(state, limit, now);
  let done!: () => void;
  state.inflight = new Promise<void>((resolve) => (done = resolve));
  try {
    const decision = await consumeOrFailOpen(c, limiterKey, { limit, windowSeconds, cost: want, holdMs: want > 1 ? LEASE_HOLD_MS : 0, partial: true });
    if (!decision?.allowed) {
      state.lease = undefined;
      return decision;
    }
    state.lease = {
      limit,
      granted: decision.granted,
      left: decision.granted - 1,
      expiresAt: now + LEASE_HOLD_MS,
      remainingAfterGrant: decision.remaining,
      resetAt: now + decision.resetSeconds * 1000,
    };
    return { ...decision, remaining: decision.remaining + decision.granted - 1 };
  } finally {
    state.inflight = undefined;
    done();
  }
}

/**
 * When the limiter itself is unreachable, the request goes through and the failure is
 * logged: a limiter outage must not take login and the API down with it.
 */
async function consumeOrFailOpen(c: AppContext, limiterKey: string, policy: RateLimitPolicy) {
  try {
    const limiter = c.env.RATE_LIMITER.get(c.env.RATE_LIMITER.idFromName(limiterKey));
    return await limiter.consume(policy);
  } catch (err) {
    console.error(
      JSON.stringify({
        level: 'error',
        msg: 'rate limiter unavailable; request let through',
        policy: limiterKey.slice(0, limiterKey.indexOf(':')),
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
        requestId: c.get('requestId'),
      }),
    );
    return null;
  }
}

function assertPositiveInteger(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${what} must be a positive integer, got ${value}`);
}
