import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, expectProblem, register, uniqueEmail, PASSWORD } from '../support/api';
import { login, mailsTo, tokenFromLatestMail } from '../support/accounts';

const forgot = (email: string) => call('POST', '/api/v1/auth/password/forgot', { body: { email } });
const reset = (token: string, password: string) => call('POST', '/api/v1/auth/password/reset', { body: { token, password } });
const me = (token: string) => call('GET', '/api/v1/users/me', { token });

describe('password reset', () => {
  it('mails a single-use token that sets a new password and signs out every session', async () => {
    const account = await register('reset');
    const asked = await forgot(account.email);
    expect(asked.status).toBe(202);
    expect(asked.body.status).toBe('accepted');

    const [mail] = await mailsTo(account.email, 'password_reset');
    expect(mail?.subject).toMatch(/reset/i);
    const token = await tokenFromLatestMail(account.email, 'password_reset');

    const newPassword = 'a-password-after-reset';
    expect((await reset(token, newPassword)).status).toBe(204);

    // Whoever knew the old password is out.
    expectProblem(await me(account.token), 401, 'session_revoked');
    expectProblem(await login(account.email, PASSWORD), 401, 'invalid_credentials');
    expect((await login(account.email, newPassword)).status).toBe(200);

    // The token works once.
    expectProblem(await reset(token, 'yet-another-password'), 400, 'invalid_token');
    expect((await login(account.email, newPassword)).status).toBe(200);
  });

  it('answers the same 202 for an unknown email, and mails nothing', async () => {
    const known = await register('known');
    const unknownEmail = uniqueEmail('ghost');
    const forKnown = await forgot(known.email);
    const forUnknown = await forgot(unknownEmail);
    expect(forUnknown.status).toBe(forKnown.status);
    expect(forUnknown.body).toEqual(forKnown.body);
    expect(await mailsTo(unknownEmail, 'password_reset')).toEqual([]);
  });

  it('rejects an expired token', async () => {
    const account = await register('expired');
    await forgot(account.email);
    const token = await tokenFromLatestMail(account.email, 'password_reset');
    // 30 minutes have passed.
    await env.DB.prepare("UPDATE user_tokens SET expires_at = ? WHERE user_id = ? AND purpose = 'password_reset'")
      .bind(Date.now() - 1, account.userId)
      .run();
    expectProblem(await reset(token, 'a-password-too-late'), 400, 'invalid_token');
    expect((await login(account.email)).status).toBe(200);
  });

  it('expires tokens after 30 minutes', async () => {
    const account = await register('ttl');
    const before = Date.now();
    await forgot(account.email);
    const row = await env.DB.prepare("SELECT created_at, expires_at FROM user_tokens WHERE user_id = ? AND purpose = 'password_reset'")
      .bind(account.userId)
      .first<{ created_at: number; expires_at: number }>();
    expect(row!.created_at).toBeGreaterThanOrEqual(before - 1000);
    expect(row!.expires_at - row!.created_at).toBe(30 * 60 * 1000);
  });

  it('keeps only the newest mailed token alive', async () => {
    const account = await register('twice');
    await forgot(account.email);
    const first = await tokenFromLatestMail(account.email, 'password_reset');
    await forgot(account.email);
    const second = await tokenFromLatestMail(account.email, 'password_reset');
    expect(second).not.toBe(first);
    expectProblem(await reset(first, 'a-password-from-old-mail'), 400, 'invalid_token');
    expect((await reset(second, 'a-password-from-new-mail')).status).toBe(204);
  });

  it('applies the password policy without burning the token', async () => {
    const account = await register('weak-reset');
    await forgot(account.email);
    const token = await tokenFromLatestMail(account.email, 'password_reset');
    const weak = expectProblem(await reset(token, 'short'), 400, 'weak_password');
    expect(weak.errors).toEqual([{ path: 'password', message: expect.any(String) }]);
    expectProblem(await reset(token, account.email), 400, 'weak_password');
    expect((await reset(token, 'a-good-password-at-last')).status).toBe(204);
  });

  it('keeps the token usable when the password change fails to commit', async () => {
    const account = await register('reset-fails');
    await forgot(account.email);
    const token = await tokenFromLatestMail(account.email, 'password_reset');
    // A real write failure at commit time (not a mock): D1 aborts any password update for this user.
    const trigger = `fail_password_update_${account.userId}`;
    await env.DB.prepare(
      `CREATE TRIGGER ${trigger} BEFORE UPDATE OF password_hash ON users WHEN NEW.id = '${account.userId}' BEGIN SELECT RAISE(ABORT, 'forced failure'); END`,
    ).run();
    const failed = await reset(token, 'a-password-that-fails-to-save');
    await env.DB.prepare(`DROP TRIGGER ${trigger}`).run();
    expectProblem(failed, 500);
    // Nothing changed: the old password and sessions still work, and the token still does.
    expect((await me(account.token)).status).toBe(200);
    expect((await login(account.email)).status).toBe(200);
    expect((await reset(token, 'a-password-that-saves-now')).status).toBe(204);
    expect((await login(account.email, 'a-password-that-saves-now')).status).toBe(200);
  });

  it('rejects an unknown token and bad input', async () => {
    expectProblem(await reset('x'.repeat(43), 'a-good-password-here'), 400, 'invalid_token');
    const invalid = expectProblem(await call('POST', '/api/v1/auth/password/reset', { body: { password: 'a-good-password-here' } }), 400, 'validation_failed');
    expect(invalid.errors.map((e: { path: string }) => e.path)).toEqual(['token']);
    expectProblem(await forgot('not-an-email'), 400, 'validation_failed');
  });
});

describe('email verification', () => {
  it('verifies the address with the token mailed at registration, once', async () => {
    const account = await register('verify');
    expect((await me(account.token)).body.emailVerified).toBe(false);
    const [mail] = await mailsTo(account.email, 'email_verify');
    expect(mail?.subject).toMatch(/confirm/i);

    const token = await tokenFromLatestMail(account.email, 'email_verify');
    expect((await call('POST', '/api/v1/auth/email/verify', { body: { token } })).status).toBe(204);
    expect((await me(account.token)).body.emailVerified).toBe(true);

    expectProblem(await call('POST', '/api/v1/auth/email/verify', { body: { token } }), 400, 'invalid_token');
  });

  it('resends a fresh token that replaces the old one, and stops once verified', async () => {
    const account = await register('resend');
    const original = await tokenFromLatestMail(account.email, 'email_verify');
    const resent = await call('POST', '/api/v1/auth/email/verify/resend', { token: account.token });
    expect(resent.status).toBe(202);
    expect(resent.body).toEqual({ status: 'sent' });
    expect(await mailsTo(account.email, 'email_verify')).toHaveLength(2);
    const fresh = await tokenFromLatestMail(account.email, 'email_verify');

    expectProblem(await call('POST', '/api/v1/auth/email/verify', { body: { token: original } }), 400, 'invalid_token');
    expect((await call('POST', '/api/v1/auth/email/verify', { body: { token: fresh } })).status).toBe(204);

    const again = await call('POST', '/api/v1/auth/email/verify/resend', { token: account.token });
    expect(again.body).toEqual({ status: 'already_verified' });
    expect(await mailsTo(account.email, 'email_verify')).toHaveLength(2);
  });

  it('rejects an expired verification token', async () => {
    const account = await register('verify-late');
    const token = await tokenFromLatestMail(account.email, 'email_verify');
    await env.DB.prepare("UPDATE user_tokens SET expires_at = ? WHERE user_id = ? AND purpose = 'email_verify'")
      .bind(Date.now() - 1, account.userId)
      .run();
    expectProblem(await call('POST', '/api/v1/auth/email/verify', { body: { token } }), 400, 'invalid_token');
    expect((await me(account.token)).body.emailVerified).toBe(false);
  });

  it('does not accept a password reset token as a verification token, nor the reverse', async () => {
    const account = await register('crossed');
    await forgot(account.email);
    const resetToken = await tokenFromLatestMail(account.email, 'password_reset');
    const verifyToken = await tokenFromLatestMail(account.email, 'email_verify');
    expectProblem(await call('POST', '/api/v1/auth/email/verify', { body: { token: resetToken } }), 400, 'invalid_token');
    expectProblem(await reset(verifyToken, 'a-sneaky-new-password'), 400, 'invalid_token');
  });
});
