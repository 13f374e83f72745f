import { describe, expect, it } from 'vitest';
import { call, createKey, expectProblem, register } from '../support/api';
import { joinAs, login } from '../support/accounts';

describe('GET /users/me', () => {
  it('shows the signed-in user and nothing secret', async () => {
    const account = await register('profile');
    const res = await call('GET', '/api/v1/users/me', { token: account.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: account.userId,
      email: account.email,
      name: 'profile',
      emailVerified: false,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });

  it('is for people only: an API key gets 403 user_required', async () => {
    const account = await register('profile-key');
    const key = await createKey(account, ['admin']);
    expectProblem(await call('GET', '/api/v1/users/me', { token: key }), 403, 'user_required');
  });
});

describe('PATCH /users/me', () => {
  it('changes the name and keeps the rest', async () => {
    const account = await register('rename');
    const res = await call('PATCH', '/api/v1/users/me', { token: account.token, body: { name: '  Grace Hopper ' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: account.userId, email: account.email, name: 'Grace Hopper' });
    expect((await call('GET', '/api/v1/users/me', { token: account.token })).body.name).toBe('Grace Hopper');
  });

  it('refuses fields it does not know (the email cannot be changed here) and empty names', async () => {
    const account = await register('rename-bad');
    const unknown = expectProblem(await call('PATCH', '/api/v1/users/me', { token: account.token, body: { email: 'x@example.com' } }), 400, 'validation_failed');
    expect(unknown.errors[0].code).toBe('unrecognized_keys');
    const empty = expectProblem(await call('PATCH', '/api/v1/users/me', { token: account.token, body: { name: '   ' } }), 400, 'validation_failed');
    expect(empty.errors.map((e: { path: string }) => e.path)).toEqual(['name']);
    expect((await call('GET', '/api/v1/users/me', { token: account.token })).body.email).toBe(account.email);
  });
});

describe('DELETE /users/me (deactivation)', () => {
  it('is blocked while the user is the last owner of an organization', async () => {
    const account = await register('sole-owner');
    const problem = expectProblem(await call('DELETE', '/api/v1/users/me', { token: account.token }), 409, 'last_owner');
    expect(problem.detail).toContain(account.orgId);
    expect((await call('GET', '/api/v1/users/me', { token: account.token })).status).toBe(200);
  });

  it('is allowed once ownership is transferred, and then signs the person out for good', async () => {
    const founder = await register('founder');
    const successor = await joinAs(founder, founder.orgId, 'admin', 'successor');
    // The successor's own org has them as its only owner; the founder only owns founder.orgId.
    const promoted = await call('PATCH', `/api/v1/orgs/${founder.orgId}/members/${successor.memberId}`, {
      token: founder.token,
      body: { role: 'owner' },
    });
    expect(promoted.status).toBe(200);
    expect(promoted.body.role).toBe('owner');

    const founderKey = await createKey(founder, ['bots:read']);
    expect((await call('DELETE', '/api/v1/users/me', { token: founder.token })).status).toBe(204);

    expectProblem(await call('GET', '/api/v1/users/me', { token: founder.token }), 401, 'session_revoked');
    expectProblem(await call('POST', '/api/v1/auth/refresh', { body: { refreshToken: founder.refreshToken } }), 401, 'invalid_refresh_token');
    expectProblem(await login(founder.email), 401, 'invalid_credentials');
    // Keys act with their creator's membership, which is gone.
    expectProblem(await call('GET', '/api/v1/bots', { token: founderKey }), 401, 'invalid_api_key');

    const members = await call('GET', `/api/v1/orgs/${founder.orgId}/members`, { token: successor.token });
    expect(members.body.data.map((m: { userId: string }) => m.userId)).toEqual([successor.userId]);
    // The org and its bots live on under the new owner.
    const bots = await call('GET', '/api/v1/bots', { token: successor.token, orgId: founder.orgId });
    expect(bots.body.data.map((b: { id: string }) => b.id)).toContain(founder.botId);
  });
});
