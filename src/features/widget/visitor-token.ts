/**
 * Visitor tokens: short-lived HS256 JWTs the widget sends as `Authorization: Bearer` on its chat
 * and conversation requests. Each is bound to one org, bot, page origin and visitor id, and to the
 * host's user id when identity verification passed.
 *
 * The signing key is derived from JWT_SECRET for this purpose alone (HMAC-SHA256 over a purpose
 * label) and the audience differs from access tokens', so an access token never verifies as a
 * visitor token nor the reverse, even though one operator secret backs both.
 */
import { SignJWT, errors, jwtVerify } from 'jose';
import type { Config } from '../../env';
import type { Clock } from '../../lib/clock';
import { WIDGET } from '../../limits';

export const VISITOR_AUDIENCE = 'kyrochat-widget';
const KEY_PURPOSE = 'kyrochat/visitor-token/v1';

export interface VisitorClaims {
  orgId: string;
  botId: string;
  origin: string;
  visitorId: string;
  verifiedUserId: string | null;
}

const derivedKeys = new WeakMap<Uint8Array, Promise<Uint8Array>>();
function visitorKey(config: Config): Promise<Uint8Array> {
  let key = derivedKeys.get(config.jwtSecret);
  if (!key) {
    key = (async () => {
      const hmac = await crypto.subtle.importKey('raw', config.jwtSecret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
      return new Uint8Array(await crypto.subtle.sign('HMAC', hmac, new TextEncoder().encode(KEY_PURPOSE)));
    })();
    derivedKeys.set(config.jwtSecret, key);
  }
  return key;
}

export async function signVisitorToken(config: Config, clock: Clock, claims: VisitorClaims): Promise<{ token: string; expiresAt: number }> {
  const iat = Math.floor(clock.now() / 1000);
  const exp = iat + WIDGET.visitorTokenTtlSeconds;
  const token = await new SignJWT({
    org: claims.orgId,
    bot: claims.botId,
    origin: claims.origin,
    ...(claims.verifiedUserId !== null ? { vuid: claims.verifiedUserId } : {}),
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.visitorId)
    .setIssuer(config.appUrl)
    .setAudience(VISITOR_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(await visitorKey(config));
  return { token, expiresAt: exp * 1000 };
}

export type VisitorTokenResult = { ok: true; claims: VisitorClaims } | { ok: false; reason: 'expired' | 'invalid' };

export async function verifyVisitorToken(config: Config, token: string): Promise<VisitorTokenResult> {
  try {
    const { payload } = await jwtVerify(token, await visitorKey(config), {
      algorithms: ['HS256'],
      issuer: config.appUrl,
      audience: VISITOR_AUDIENCE,
    });
    const { sub, org, bot, origin, vuid } = payload as Record<string, unknown>;
    if (typeof sub !== 'string' || typeof org !== 'string' || typeof bot !== 'string' || typeof origin !== 'string') return { ok: false, reason: 'invalid' };
    if (vuid !== undefined && typeof vuid !== 'string') return { ok: false, reason: 'invalid' };
    return { ok: true, claims: { orgId: org, botId: bot, origin, visitorId: sub, verifiedUserId: vuid ?? null } };
  } catch (err) {
    return { ok: false, reason: err instanceof errors.JWTExpired ? 'expired' : 'invalid' };
  }
}
