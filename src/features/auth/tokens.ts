/** Short-lived access tokens (HS256 JWT carrying user and session) and opaque refresh tokens. */
import { SignJWT, jwtVerify, errors } from 'jose';
import type { Config } from '../../env';
import type { Clock } from '../../lib/clock';
import { randomToken } from '../../lib/ids';

export const ACCESS_AUDIENCE = 'kyrochat-api';
export const REFRESH_PREFIX = 'kcr_';

export async function signAccessToken(config: Config, clock: Clock, claims: { userId: string; sessionId: string }) {
  const iat = Math.floor(clock.now() / 1000);
  const exp = iat + config.accessTokenTtlSeconds;
  const token = await new SignJWT({ sid: claims.sessionId })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.userId)
    .setIssuer(config.appUrl)
    .setAudience(ACCESS_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(config.jwtSecret);
  return { token, expiresAt: exp * 1000 };
}

export type AccessTokenResult =
  | { ok: true; userId: string; sessionId: string }
  | { ok: false; reason: 'expired' | 'invalid' };

export async function verifyAccessToken(config: Config, token: string): Promise<AccessTokenResult> {
  try {
    const { payload } = await jwtVerify(token, config.jwtSecret, {
      algorithms: ['HS256'],
      issuer: config.appUrl,
      audience: ACCESS_AUDIENCE,
    });
    if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string') return { ok: false, reason: 'invalid' };
    return { ok: true, userId: payload.sub, sessionId: payload.sid };
  } catch (err) {
    return { ok: false, reason: err instanceof errors.JWTExpired ? 'expired' : 'invalid' };
  }
}

export const newRefreshToken = () => REFRESH_PREFIX + randomToken(32);
