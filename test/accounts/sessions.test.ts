import { env } from 'cloudflare:test';
import { SignJWT, decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { call, expectProblem, register, uniqueEmail, PASSWORD } from '../support/api';
import { login } from '../support/accounts';

const me = (token: string) => call('GET', '/api/v1/users/me', { token });
const refresh = (refreshToken: string) => call('POST', '/api/v1/auth/refresh', { body: { refreshToken } });

/** Signs an access token the way the Worker does, with whatever claims and expiry we want. */
async function signAccessToken(claims: { sub: string; sid: string }, opts: { iat: number; exp: number; secret?: string; audience?: string }) {
  return new SignJWT({ sid: claims.sid })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuer(env.APP_URL ?? 'http://localhost:8787')
    .setAudience(opts.audience ?? 'kyrochat-api')
    .setIssuedAt(opts.iat)
    .setExpirationTime(opts.exp)
    .sign(new TextEncoder().encode(opts.secret ?? env.JWT_SECRET));
}

describe('signing in', () => {
  it('returns a short-lived access token carrying the user and session, and a refresh token', async () => {
    const account = await register('signin');
    const res = await login(account.email);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tokenType: 'Bearer', user: { id: account.userId, email: account.email } });
    expect(res.body.refreshToken).toMatch(/^kcr_/);
    const claims = decodeJwt(res.body.accessToken);
    expect(claims.sub).toBe(account.userId);
    expect(claims.sid).toMatch(/^ses_/);
    expect(claims.aud).toBe('kyrochat-api');
    expect(claims.exp! - claims.iat!).toBe(900);
    expect(Date.parse(res.body.accessTokenExpiresAt)).toBe(claims.exp! * 1000);
    expect((await me(res.body.accessToken)).status).toBe(200);
  });

  it('normalizes the email it signs in with', async () => {
    const account = await register('casing');
    expect((await login(`  ${account.email.toUpperCase()}  `)).status).toBe(200);
  });

  it('answers a wrong password and an unknown email with the same 401 problem', async () => {
    const account = await register('creds');
    const wrongPassword = expectProblem(await login(account.email, 'not-the-password'), 401, 'invalid_credentials');
    const unknownEmail = expectProblem(await login(uniqueEmail('nobody'), PASSWORD), 401, 'invalid_credentials');
    const strip = ({ requestId: _r, ...rest }: Record<string, unknown>) => rest;
    expect(strip(wrongPassword)).toEqual(strip(unknownEmail));
    expect(wrongPassword.detail).not.toMatch(/password is wrong|no account|not found|unknown/i);
  });

  it('rejects a request without credentials, with a malformed header, or with a forged token', async () => {
    expectProblem(await call('GET', '/api/v1/users/me'), 401, 'unauthorized');
    const basic = await call('GET', '/api/v1/users/me', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expectProblem(basic, 401, 'unauthorized');
    expect(basic.headers.get('www-authenticate')).toBe('Bearer');
    expectProblem(await me('not-a-jwt'), 401, 'invalid_token');

    const account = await register('forged');
    const { sid } = decodeJwt(account.token) as { sid: string };
    const now = Math.floor(Date.now() / 1000);
    const otherSecret = await signAccessToken({ sub: account.userId, sid }, { iat: now, exp: now + 600, secret: 'another-secret-that-is-at-least-32-bytes!' });
    expectProblem(await me(otherSecret), 401, 'invalid_token');
    const otherAudience = await signAccessToken({ sub: account.userId, sid }, { iat: now, exp: now + 600, audience: 'someone-else' });
    expectProblem(await me(otherAudience), 401, 'invalid_token');
    // A valid signature for a session that is not this user's is no session at all.
    const stranger = await register('stranger');
    const borrowed = await signAccessToken({ sub: stranger.userId, sid }, { iat: now, exp: now + 600 });
    expectProblem(await me(borrowed), 401, 'session_revoked');
  });
});

describe('access token expiry', () => {
  it('answers an expired access token with 401 token_expired, and refreshing gets a working one', async () => {
    const account = await register('expiry');
    const { sid } = decodeJwt(account.token) as { sid: string };
    const now = Math.floor(Date.now() / 1000);

    const fresh = await signAccessToken({ sub: account.userId, sid }, { iat: now - 60, exp: now + 600 });
    expect((await me(fresh)).status).toBe(200);

    const expired = await signAccessToken({ sub: account.userId, sid }, { iat: now - 1000, exp: now - 100 });
    const problem = expectProblem(await me(expired), 401, 'token_expired');
    expect(problem.detail).toMatch(/refresh/i);

    const renewed = await refresh(account.refreshToken);
    expect(renewed.status).toBe(200);
    expect((await me(renewed.body.accessToken)).status).toBe(200);
  });
});

describe('refresh token rotation', () => {
  it('issues a new pair and spends the old refresh token', async () => {
    const account = await register('rotate');
    const first = await refresh(account.refreshToken);
    expect(first.status).toBe(200);
    expect(first.body.refreshToken).not.toBe(account.refreshToken);
    expect(decodeJwt(first.body.accessToken).sid).toBe(decodeJwt(account.token).sid);

    const second = await refresh(first.body.refreshToken);
    expect(second.status).toBe(200);
    expect((await me(second.body.accessToken)).status).toBe(200);
  });

  it('treats reuse of a spent refresh token as theft and revokes the whole family', async () => {
    const account = await register('reuse');
    const rotated = await refresh(account.refreshToken);
    expect(rotated.status).toBe(200);
    expect((await me(rotated.body.accessToken)).status).toBe(200);

    // The old token comes back (a stolen copy, say): the session dies.
    expectProblem(await refresh(account.refreshToken), 401, 'refresh_token_reused');

    // Neither the legitimate new refresh token nor any access token of that session works now.
    expectProblem(await refresh(rotated.body.refreshToken), 401, 'invalid_refresh_token');
    expectProblem(await me(rotated.body.accessToken), 401, 'session_revoked');
    expectProblem(await me(account.token), 401, 'session_revoked');

    // Other sessions of the same person are untouched, and signing in again works.
    const again = await login(account.email);
    expect(again.status).toBe(200);
    expect((await me(again.body.accessToken)).status).toBe(200);
  });

  it('lets only one of two concurrent refreshes with the same token win, and revokes the session', async () => {
    const account = await register('race');
    const [a, b] = await Promise.all([refresh(account.refreshToken), refresh(account.refreshToken)]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual([200, 401]);
    const loser = a.status === 401 ? a : b;
    const winner = a.status === 200 ? a : b;
    expectProblem(loser, 401, 'refresh_token_reused');
    expectProblem(await me(winner.body.accessToken), 401, 'session_revoked');
  });

  it('rejects an unknown refresh token and a missing one', async () => {
    expectProblem(await refresh('kcr_not-a-real-token'), 401, 'invalid_refresh_token');
    const missing = expectProblem(await call('POST', '/api/v1/auth/refresh', { body: {} }), 400, 'validation_failed');
    expect(missing.errors.map((e: { path: string }) => e.path)).toEqual(['refreshToken']);
  });
});

describe('signing out', () => {
  it('ends the session: its access and refresh tokens stop working, other sessions live on', async () => {
    const account = await register('logout');
    const other = await login(account.email);

    const out = await call('POST', '/api/v1/auth/logout', { token: account.token });
    expect(out.status).toBe(204);
    expect(out.body).toBe('');

    expectProblem(await me(account.token), 401, 'session_revoked');
    expectProblem(await refresh(account.refreshToken), 401, 'invalid_refresh_token');
    expectProblem(await call('POST', '/api/v1/auth/logout', { token: account.token }), 401, 'session_revoked');
    expect((await me(other.body.accessToken)).status).toBe(200);
  });

  it('is only for people, not API keys', async () => {
    const account = await register('logout-key');
    const key = await call('POST', '/api/v1/api-keys', { token: account.token, body: { name: 'k', scopes: ['admin'] } });
    expectProblem(await call('POST', '/api/v1/auth/logout', { token: key.body.key }), 403, 'user_required');
  });
});

describe('changing the password', () => {
  it('keeps the current session, signs out every other one, and swaps the password', async () => {
    const account = await register('chpw');
    const laptop = await login(account.email);
    const phone = await login(account.email);
    const newPassword = 'a-brand-new-passphrase';

    const changed = await call('POST', '/api/v1/users/me/password', {
      token: laptop.body.accessToken,
      body: { currentPassword: PASSWORD, newPassword },
    });
    expect(changed.status).toBe(204);

    expect((await me(laptop.body.accessToken)).status).toBe(200);
    expect((await refresh(laptop.body.refreshToken)).status).toBe(200);
    expectProblem(await me(phone.body.accessToken), 401, 'session_revoked');
    expectProblem(await refresh(phone.body.refreshToken), 401, 'invalid_refresh_token');
    expectProblem(await me(account.token), 401, 'session_revoked');

    expectProblem(await login(account.email, PASSWORD), 401, 'invalid_credentials');
    expect((await login(account.email, newPassword)).status).toBe(200);
  });

  it('needs the current password and a policy-abiding new one', async () => {
    const account = await register('chpw-bad');
    const wrong = expectProblem(
      await call('POST', '/api/v1/users/me/password', { token: account.token, body: { currentPassword: 'nope-nope-nope', newPassword: 'another-good-password' } }),
      400,
      'wrong_password',
    );
    expect(wrong.errors).toEqual([{ path: 'currentPassword', message: 'Incorrect' }]);
    const weak = expectProblem(
      await call('POST', '/api/v1/users/me/password', { token: account.token, body: { currentPassword: PASSWORD, newPassword: 'short' } }),
      400,
      'weak_password',
    );
    expect(weak.errors[0].path).toBe('newPassword');
    expectProblem(
      await call('POST', '/api/v1/users/me/password', { token: account.token, body: { currentPassword: PASSWORD, newPassword: account.email } }),
      400,
      'weak_password',
    );
    // Nothing changed.
    expect((await login(account.email)).status).toBe(200);
    expect((await me(account.token)).status).toBe(200);
  });
});
