/** Builds what services get from a request: no Hono types cross this line. */
import type { Context } from 'hono';
import { systemClock } from '../lib/clock';
import type { OrgContext, RequestMeta, ServiceContext } from '../context';
import type { AppBindings } from './types';
import { authorize, type Action, type MemberChange } from '../features/orgs/policy';
import { ApiError } from './problem';

export function requestMeta(c: Context<AppBindings>): RequestMeta {
  return { ip: c.req.header('cf-connecting-ip') ?? null, userAgent: c.req.header('user-agent') ?? null, country: countryOf(c.req.header('cf-ipcountry')) };
}

/** Two letters (XX: unknown, T1: Tor) as Cloudflare sends them; anything else is not a country. */
function countryOf(header: string | undefined): string | null {
  const value = header?.trim().toUpperCase();
  return value && /^[A-Z][A-Z0-9]$/.test(value) && value !== 'XX' ? value : null;
}

export function serviceContext(c: Context<AppBindings>): ServiceContext {
  return {
    db: c.get('db'),
    config: c.get('config'),
    env: c.env,
    clock: systemClock,
    meta: requestMeta(c),
    waitUntil: (p) => {
      try {
        c.executionCtx.waitUntil(p);
      } catch {
        // no execution context (unit tests): let it run detached
        p.catch(() => undefined);
      }
    },
  };
}

/** Checks the policy for the request's org and returns that org; throws 403 otherwise. */
export function requirePermission(c: Context<AppBindings>, action: Action, change?: MemberChange): OrgContext {
  const org = c.get('org');
  const decision = authorize({ role: org.role, scopes: org.scopes }, action, change);
  if (!decision.allowed) {
    throw new ApiError({ status: 403, code: 'forbidden', title: 'Forbidden', detail: decision.reason });
  }
  return org;
}
