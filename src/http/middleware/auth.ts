/**
 * Authentication and org resolution.
 * - `authenticate()`: Bearer API key (`kc_live_…`), our own access JWT, or (when configured)
 *   an external OIDC JWT. Sets `actor`.
 * - `resolveOrg()`: the org this request acts in (API key's org, or `X-Org-Id` for people,
 *   optional when they belong to exactly one) and the caller's role there. Sets `org`.
 *   An org you do not belong to is a 404, never a 403.
 */
import type { MiddlewareHandler } from 'hono';
import type { AppBindings } from '../types';
import { ApiError, unauthorized } from '../problem';
import { verifyAccessToken } from '../../features/auth/tokens';
import { authenticateApiKey, API_KEY_PREFIX } from '../../features/api-keys/service';
import { loadActiveSessionUser } from '../../features/users/service';
import { authenticateOidc, type OidcResult } from '../../features/auth/oidc';
import { findMembership, listMembershipsForUser } from '../../features/orgs/service';
import { serviceContext } from '../context';

function bearer(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

export const authenticate = (): MiddlewareHandler<AppBindings> =>
  async function authenticate(c, next) {
    const token = bearer(c.req.header('authorization'));
    if (!token) throw unauthorized('Send an access token or API key as "Authorization: Bearer …".');

    if (token.startsWith(API_KEY_PREFIX)) {
      const key = await authenticateApiKey(serviceContext(c), token);
      if (!key) throw unauthorized('The API key is unknown or revoked.', 'invalid_api_key');
      c.set('actor', { kind: 'api_key', keyId: key.id, orgId: key.orgId, scopes: key.scopes, createdBy: key.createdBy });
      c.set('org', { orgId: key.orgId, role: key.creatorRole, scopes: key.scopes });
      return next();
    }

    const config = c.get('config');
    const verified = await verifyAccessToken(config, token);
    if (verified.ok) {
      const user = await loadActiveSessionUser(c.get('db'), verified.userId, verified.sessionId);
      if (!user) throw unauthorized('The session has ended. Sign in again.', 'session_revoked');
      c.set('actor', { kind: 'user', userId: user.id, sessionId: verified.sessionId, email: user.email, via: 'password' });
      return next();
    }
    if (verified.reason === 'expired') throw unauthorized('The access token has expired. Refresh it.', 'token_expired');

    if (config.oidc) {
      const external = await authenticateOidc(serviceContext(c), config.oidc, token);
      if (external.status === 'ok') {
        c.set('actor', { kind: 'user', userId: external.user.id, sessionId: null, email: external.user.email, via: 'oidc' });
        return next();
      }
      if (external.status === 'rejected') throw oidcRefusal(external);
    }
    throw unauthorized('The access token is invalid.', 'invalid_token');
  };

/** A refused identity token: 401 when it proves nothing, 403 when it proves someone who may not have this account. */
export function oidcRefusal(result: Extract<OidcResult, { status: 'rejected' }>): ApiError {
  if (!result.forbidden) return unauthorized(result.reason, 'invalid_token');
  return new ApiError({ status: 403, code: result.code, title: 'Forbidden', detail: result.reason });
}

const orgNotFound = () =>
  new ApiError({ status: 404, code: 'org_not_found', title: 'Not found', detail: 'Organization was not found.' });

async function orgForUser(c: Parameters<MiddlewareHandler<AppBindings>>[0], userId: string, requested: string | undefined) {
  if (requested) {
    const membership = await findMembership(c.get('db'), requested, userId);
    if (!membership) throw orgNotFound();
    return { orgId: requested, role: membership.role, scopes: null };
  }
  const all = await listMembershipsForUser(c.get('db'), userId, 2);
  const [only] = all;
  if (all.length === 1 && only) return { orgId: only.orgId, role: only.role, scopes: null };
  throw new ApiError({
    status: 400,
    code: all.length === 0 ? 'no_organization' : 'org_required',
    title: 'Organization required',
    detail:
      all.length === 0
        ? 'You do not belong to any organization yet. Create one (POST /api/v1/orgs) or accept an invitation.'
        : 'You belong to several organizations: name one with the X-Org-Id header.',
    errors: all.length === 0 ? undefined : [{ path: 'header.x-org-id', message: 'Required' }],
  });
}

/** Resolves the org from `X-Org-Id` (or the `orgId` path parameter when `fromParam`). */
export const resolveOrg = (opts: { fromParam?: string } = {}): MiddlewareHandler<AppBindings> =>
  async function resolveOrg(c, next) {
    const actor = c.get('actor');
    const requested = (opts.fromParam ? c.req.param(opts.fromParam) : undefined) ?? c.req.header('x-org-id') ?? undefined;
    if (actor.kind === 'api_key') {
      if (requested && requested !== actor.orgId) throw orgNotFound();
      return next();
    }
    c.set('org', await orgForUser(c, actor.userId, requested));
    return next();
  };

/** For routes only people may call (account management, key creation). */
export const requireUser = (): MiddlewareHandler<AppBindings> =>
  async function requireUser(c, next) {
    if (c.get('actor').kind !== 'user') {
      throw new ApiError({ status: 403, code: 'user_required', title: 'Forbidden', detail: 'This endpoint needs a signed-in person, not an API key.' });
    }
    return next();
  };
