/**
 * Bindings and configuration. Config is parsed with zod once per isolate; in production a
 * missing or weak secret makes every request a 500 problem (and logs why) instead of
 * silently running on a development fallback.
 */
import { z } from 'zod';
import { CHAT, MIN_JWT_SECRET_BYTES, WIDGET, WORKERS_MAX_REQUEST_BODY_BYTES } from './limits';
import { bytesFromBase64 } from './lib/crypto';
import type { RateLimiter } from './durable/RateLimiter';
import type { ConversationRoom } from './durable/ConversationRoom';
import { parseAllowHost, type EgressPolicy } from './egress';

export interface Env {
  DB: D1Database;
  FILES: R2Bucket;
  VECTORS?: Vectorize;
  JOBS: Queue<unknown>;
  CONVERSATION_ROOM: DurableObjectNamespace<ConversationRoom>;
  RATE_LIMITER: DurableObjectNamespace<RateLimiter>;
  VECTOR_STORE: DurableObjectNamespace;
  /**
   * Optional egress for every outbound request (crawler, providers): an egress proxy that
   * enforces IP policy after DNS resolution in production, the test site in tests; plain
   * fetch otherwise. The egress guard checks every URL before handing it over.
   */
  WEB_FETCHER?: Fetcher;
  /** Optional egress for the mail provider (an egress proxy, or a fake provider in tests); plain fetch otherwise. */
  MAIL_FETCHER?: Fetcher;

  ENVIRONMENT?: string;
  APP_URL?: string;
  JWT_SECRET?: string;
  ENCRYPTION_KEY?: string;
  ENCRYPTION_KEY_ID?: string;
  ENCRYPTION_KEYS_PREVIOUS?: string;
  DASHBOARD_ORIGINS?: string;
  ACCESS_TOKEN_TTL_SECONDS?: string;
  REFRESH_TOKEN_TTL_DAYS?: string;
  MAX_BODY_BYTES?: string;
  MAILER?: string;
  MAIL_API_URL?: string;
  MAIL_API_KEY?: string;
  MAIL_FROM?: string;
  OIDC_ISSUER?: string;
  OIDC_JWKS_URL?: string;
  OIDC_AUDIENCE?: string;
  OIDC_ALGORITHMS?: string;
  VECTOR_BACKEND?: string;
  AUTH_RATE_LIMIT?: string;
  API_KEY_RATE_LIMIT?: string;
  MAX_UPLOAD_BYTES?: string;
  CRAWL_MAX_PAGES?: string;
  /** Hosts the egress guard lets through although they are internal: `host` or `host:port`, comma-separated. */
  EGRESS_ALLOW_HOSTS?: string;
  USER_RATE_LIMIT?: string;
  ORG_MAX_SOURCES?: string;
  ORG_CRAWL_PAGES_PER_DAY?: string;
  ORG_UPLOAD_BYTES_PER_DAY?: string;
  ORG_SEARCHES_PER_MINUTE?: string;
  ORG_MESSAGES_PER_MONTH?: string;
  CHAT_MAX_MESSAGE_CHARS?: string;
  CHAT_PROMPT_BUDGET_TOKENS?: string;
  /** The operator's default chat model (OpenAI-compatible), used by bots whose org set none. */
  CHAT_BASE_URL?: string;
  CHAT_API_KEY?: string;
  CHAT_MODEL?: string;
  /** Widget requests per visitor id per minute (WIDGET.defaultVisitorRequestsPerMinute). */
  WIDGET_VISITOR_RATE_LIMIT?: string;
  /** Widget requests per client IP per minute (WIDGET.defaultIpRequestsPerMinute). */
  WIDGET_IP_RATE_LIMIT?: string;
}

const csv = z
  .string()
  .optional()
  .transform((v) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : []));

/** The signature algorithms an operator may allow for OIDC identity tokens. */
export const OIDC_ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export type OidcAlgorithm = (typeof OIDC_ASYMMETRIC_ALGORITHMS)[number];
/** What common issuers sign with (Google, Microsoft, Okta, Auth0, Keycloak): overridable by OIDC_ALGORITHMS. */
export const OIDC_DEFAULT_ALGORITHMS: readonly OidcAlgorithm[] = ['RS256', 'ES256', 'PS256', 'EdDSA'];

const intFrom = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).optional().default(fallback);

const configSchema = z.object({
  ENVIRONMENT: z.enum(['development', 'test', 'production']).default('development'),
  APP_URL: z.string().url().default('http://localhost:8787'),
  JWT_SECRET: z.string().optional(),
  ENCRYPTION_KEY: z.string().optional(),
  ENCRYPTION_KEY_ID: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/).default('k1'),
  ENCRYPTION_KEYS_PREVIOUS: csv,
  DASHBOARD_ORIGINS: csv,
  ACCESS_TOKEN_TTL_SECONDS: intFrom(900, 30, 86_400),
  REFRESH_TOKEN_TTL_DAYS: intFrom(30, 1, 365),
  MAX_BODY_BYTES: intFrom(1_048_576, 1024, WORKERS_MAX_REQUEST_BODY_BYTES),
  MAILER: z.enum(['outbox', 'http']).default('outbox'),
  MAIL_API_URL: z.string().url().optional(),
  MAIL_API_KEY: z.string().optional(),
  MAIL_FROM: z.string().default('KyroChat <no-reply@kyrochat.local>'),
  OIDC_ISSUER: z.string().url().optional(),
  OIDC_JWKS_URL: z.string().url().optional(),
  OIDC_AUDIENCE: z.string().optional(),
  // Asymmetric algorithms only: an HMAC "alg" would let anyone holding the public key sign.
  OIDC_ALGORITHMS: csv.pipe(z.array(z.enum(OIDC_ASYMMETRIC_ALGORITHMS))),
  VECTOR_BACKEND: z.enum(['local', 'vectorize']).default('local'),
  AUTH_RATE_LIMIT: intFrom(10, 1, 10_000),
  API_KEY_RATE_LIMIT: intFrom(600, 1, 1_000_000),
  MAX_UPLOAD_BYTES: intFrom(20 * 1024 * 1024, 1024, WORKERS_MAX_REQUEST_BODY_BYTES),
  CRAWL_MAX_PAGES: intFrom(500, 1, 10_000),
  EGRESS_ALLOW_HOSTS: csv.transform((entries, ctx) =>
    entries.map((entry) => {
      const parsed = parseAllowHost(entry);
      if (!parsed) ctx.addIssue({ code: 'custom', message: `"${entry}" is not a host or host:port (no wildcards)` });
      return parsed!;
    }),
  ),
  // Per-user and per-org limits: registration is open, so a free org must not be an unlimited
  // crawler, storage or embedding amplifier. Defaults are generous for self-hosters.
  USER_RATE_LIMIT: intFrom(1200, 1, 1_000_000),
  ORG_MAX_SOURCES: intFrom(10_000, 1, 10_000_000),
  ORG_CRAWL_PAGES_PER_DAY: intFrom(50_000, 1, 100_000_000),
  ORG_UPLOAD_BYTES_PER_DAY: intFrom(5 * 1024 ** 3, 1024, 1024 ** 5),
  ORG_SEARCHES_PER_MINUTE: intFrom(1200, 1, 1_000_000),
  // Chat turns (user messages) per org per 30 days: each may cost a paid model call.
  ORG_MESSAGES_PER_MONTH: intFrom(100_000, 1, 1_000_000_000),
  CHAT_MAX_MESSAGE_CHARS: intFrom(CHAT.defaultMaxMessageChars, 1, CHAT.maxMessageCharsCeiling),
  CHAT_PROMPT_BUDGET_TOKENS: intFrom(CHAT.defaultPromptBudgetTokens, CHAT.minPromptBudgetTokens, 1_000_000),
  CHAT_BASE_URL: z.string().url().optional(),
  CHAT_API_KEY: z.string().min(1).optional(),
  CHAT_MODEL: z.string().min(1).max(200).optional(),
  WIDGET_VISITOR_RATE_LIMIT: intFrom(WIDGET.defaultVisitorRequestsPerMinute, 1, 1_000_000),
  WIDGET_IP_RATE_LIMIT: intFrom(WIDGET.defaultIpRequestsPerMinute, 1, 1_000_000),
});

export interface Config {
  environment: 'development' | 'test' | 'production';
  appUrl: string;
  jwtSecret: Uint8Array;
  encryption: { currentKeyId: string; keys: Map<string, Uint8Array> };
  dashboardOrigins: string[];
  accessTokenTtlSeconds: number;
  refreshTokenTtlDays: number;
  maxBodyBytes: number;
  mailer: { kind: 'outbox' } | { kind: 'http'; url: string; apiKey: string; from: string };
  mailFrom: string;
  oidc: { issuer: string; jwksUrl: string; audience: string; algorithms: OidcAlgorithm[] } | null;
  vectorBackend: 'local' | 'vectorize';
  authRateLimitPerMinute: number;
  apiKeyRateLimitPerMinute: number;
  maxUploadBytes: number;
  crawlMaxPages: number;
  egress: EgressPolicy;
  userRateLimitPerMinute: number;
  quotas: OrgQuotas;
  /**
   * Chat turns (message and prompt sizes) and the operator's default OpenAI-compatible chat
   * endpoint (CHAT_BASE_URL / CHAT_API_KEY / CHAT_MODEL; null when unset).
   */
  chat: { maxMessageChars: number; promptBudgetTokens: number; baseUrl: string | null; apiKey: string | null; model: string | null };
  /** Public widget rate limits (requests per minute). */
  widget: { visitorRateLimitPerMinute: number; ipRateLimitPerMinute: number };
}

/** Per-org quotas (see features/usage); each is named in the 429 problems and in GET /usage. */
export interface OrgQuotas {
  sources: number;
  crawlPagesPerDay: number;
  uploadBytesPerDay: number;
  searchesPerMinute: number;
  messagesPerMonth: number;
}

export type ConfigResult = { ok: true; config: Config; warnings: string[] } | { ok: false; problems: string[] };


function decodeKey(raw: string): Uint8Array | null {
  try {
    const bytes = bytesFromBase64(raw.trim());
    return bytes.length === 32 ? bytes : null;
  } catch {
    return null;
  }
}

// Development secrets live for the isolate only; `npm run dev` writes stable ones to .dev.vars.
let devSecrets: { jwt: Uint8Array; enc: Uint8Array } | undefined;
function developmentSecrets() {
  devSecrets ??= {
    jwt: crypto.getRandomValues(new Uint8Array(32)),
    enc: crypto.getRandomValues(new Uint8Array(32)),
  };
  return devSecrets;
}

export function parseConfig(env: Env): ConfigResult {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    return { ok: false, problems: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) };
  }
  const v = parsed.data;
  const production = v.ENVIRONMENT === 'production';
  const problems: string[] = [];
  const warnings: string[] = [];

  let jwtSecret: Uint8Array | undefined;
  if (v.JWT_SECRET && new TextEncoder().encode(v.JWT_SECRET).length >= MIN_JWT_SECRET_BYTES) {
    jwtSecret = new TextEncoder().encode(v.JWT_SECRET);
  } else if (production) {
    problems.push(v.JWT_SECRET ? `JWT_SECRET is shorter than ${MIN_JWT_SECRET_BYTES} bytes` : 'JWT_SECRET is missing');
  } else {
    jwtSecret = developmentSecrets().jwt;
    warnings.push('JWT_SECRET missing or weak: using a generated development secret (tokens die with this process)');
  }

  const keys = new Map<string, Uint8Array>();
  if (v.ENCRYPTION_KEY) {
    const key = decodeKey(v.ENCRYPTION_KEY);
    if (key) keys.set(v.ENCRYPTION_KEY_ID, key);
    else problems.push('ENCRYPTION_KEY must be 32 bytes, base64-encoded');
  } else if (production) {
    problems.push('ENCRYPTION_KEY is missing');
  } else {
    keys.set(v.ENCRYPTION_KEY_ID, developmentSecrets().enc);
    warnings.push('ENCRYPTION_KEY missing: using a generated development key (encrypted settings die with this process)');
  }
  for (const entry of v.ENCRYPTION_KEYS_PREVIOUS) {
    const [id, raw] = entry.split(':');
    const key = id && raw ? decodeKey(raw) : null;
    if (!id || !key) problems.push('ENCRYPTION_KEYS_PREVIOUS entries must look like keyId:base64key');
    else if (!keys.has(id)) keys.set(id, key);
  }

  let mailer: Config['mailer'] = { kind: 'outbox' };
  if (v.MAILER === 'outbox' && production) {
    // Allowed for self-hosters without a mail provider, but never silently: see src/adapters/mailer.ts.
    warnings.push('MAILER=outbox in production: email_outbox keeps every reset, verification and invitation token in full; use MAILER=http');
  }
  if (v.MAILER === 'http') {
    if (!v.MAIL_API_URL || !v.MAIL_API_KEY) problems.push('MAILER=http needs MAIL_API_URL and MAIL_API_KEY');
    else mailer = { kind: 'http', url: v.MAIL_API_URL, apiKey: v.MAIL_API_KEY, from: v.MAIL_FROM };
  }

  let oidc: Config['oidc'] = null;
  if (v.OIDC_ISSUER || v.OIDC_JWKS_URL) {
    if (!v.OIDC_ISSUER || !v.OIDC_JWKS_URL || !v.OIDC_AUDIENCE) {
      problems.push('OIDC needs OIDC_ISSUER, OIDC_JWKS_URL and OIDC_AUDIENCE together');
    } else {
      const algorithms = v.OIDC_ALGORITHMS.length > 0 ? v.OIDC_ALGORITHMS : [...OIDC_DEFAULT_ALGORITHMS];
      oidc = { issuer: v.OIDC_ISSUER, jwksUrl: v.OIDC_JWKS_URL, audience: v.OIDC_AUDIENCE, algorithms };
    }
  }

  if (production && v.VECTOR_BACKEND === 'vectorize' && !env.VECTORS) {
    problems.push('VECTOR_BACKEND=vectorize needs the VECTORS binding');
  }

  if (problems.length > 0 || !jwtSecret) return { ok: false, problems };
  return {
    ok: true,
    warnings,
    config: {
      environment: v.ENVIRONMENT,
      appUrl: v.APP_URL,
      jwtSecret,
      encryption: { currentKeyId: v.ENCRYPTION_KEY_ID, keys },
      dashboardOrigins: v.DASHBOARD_ORIGINS,
      accessTokenTtlSeconds: v.ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlDays: v.REFRESH_TOKEN_TTL_DAYS,
      maxBodyBytes: v.MAX_BODY_BYTES,
      mailer,
      mailFrom: v.MAIL_FROM,
      oidc,
      vectorBackend: v.VECTOR_BACKEND,
      authRateLimitPerMinute: v.AUTH_RATE_LIMIT,
      apiKeyRateLimitPerMinute: v.API_KEY_RATE_LIMIT,
      maxUploadBytes: v.MAX_UPLOAD_BYTES,
      crawlMaxPages: v.CRAWL_MAX_PAGES,
      egress: { allowHosts: v.EGRESS_ALLOW_HOSTS },
      userRateLimitPerMinute: v.USER_RATE_LIMIT,
      quotas: {
        sources: v.ORG_MAX_SOURCES,
        crawlPagesPerDay: v.ORG_CRAWL_PAGES_PER_DAY,
        uploadBytesPerDay: v.ORG_UPLOAD_BYTES_PER_DAY,
        searchesPerMinute: v.ORG_SEARCHES_PER_MINUTE,
        messagesPerMonth: v.ORG_MESSAGES_PER_MONTH,
      },
      chat: {
        maxMessageChars: v.CHAT_MAX_MESSAGE_CHARS,
        promptBudgetTokens: v.CHAT_PROMPT_BUDGET_TOKENS,
        baseUrl: v.CHAT_BASE_URL ?? null,
        apiKey: v.CHAT_API_KEY ?? null,
        model: v.CHAT_MODEL ?? null,
      },
      widget: { visitorRateLimitPerMinute: v.WIDGET_VISITOR_RATE_LIMIT, ipRateLimitPerMinute: v.WIDGET_IP_RATE_LIMIT },
    },
  };
}

// Parsed once per env object (i.e. per isolate); warnings and problems logged once.
const cache = new WeakMap<object, ConfigResult>();
export function loadConfig(env: Env): ConfigResult {
  let result = cache.get(env);
  if (!result) {
    result = parseConfig(env);
    cache.set(env, result);
    if (!result.ok) console.error(JSON.stringify({ level: 'error', msg: 'invalid configuration', problems: result.problems }));
    else for (const w of result.warnings) console.warn(JSON.stringify({ level: 'warn', msg: w }));
  }
  return result;
}
