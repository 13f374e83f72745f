/**
 * What services receive: the request's or job's dependencies and who is acting. Nothing here
 * knows Hono, so services stay callable from routes, queue consumers and cron alike.
 */
import type { Env, Config } from './env';
import type { Db } from './db/client';
import type { Role } from './db/schema';
import type { Clock } from './lib/clock';

export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
  /** ISO 3166 alpha-2 country from CF-IPCountry (analytics); absent outside a request. */
  country?: string | null;
}

export interface ServiceContext {
  db: Db;
  config: Config;
  env: Env;
  clock: Clock;
  meta: RequestMeta;
  waitUntil: (p: Promise<unknown>) => void;
}

/** Who is calling. A user may act in many orgs; an API key is bound to one. */
export type Actor =
  | { kind: 'user'; userId: string; sessionId: string | null; email: string; via: 'password' | 'oidc' }
  | { kind: 'api_key'; keyId: string; orgId: string; scopes: string[]; createdBy: string };

/** The org a request acts in, with the caller's effective role there. */
export interface OrgContext {
  orgId: string;
  role: Role;
  /** Present for API keys: what the key may do on top of its creator's role. */
  scopes: string[] | null;
}
