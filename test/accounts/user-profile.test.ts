import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, createKey, expectProblem, register } from '../support/api';
import { invite, joinAs, login } from '../support/accounts';
import { deactivate } from '../../src/features/users/service';
import { createDb } from '../../src/db/client';
import { parseConfig } from '../../src/env';
import { systemClock } from '../../src/lib/clock';
import type { ServiceContext } from '../../src/context';

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

/** Two people who each own both their own org and the other's. */
async function coOwners() {
  const a = await register('co-owner-a');
  const b = await register('co-owner-b');
  const { token: bJoinsA } = await invite(a, a.orgId, b.email, 'owner');
  expect((await call('POST', `/api/v1/invitations/${bJoinsA}/accept`, { token: b.token })).status).toBe(200);
  const { token: aJoinsB } = await invite(b, b.orgId, a.email, 'owner');
  expect((await call('POST', `/api/v1/invitations/${aJoinsB}/accept`, { token: a.token, orgId: b.orgId })).status).toBe(200);
  return [a, b] as const;
}

async function activeOwnerStatuses(orgId: string) {
  const { results } = await env.DB.prepare(
    "SELECT u.status FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = ? AND m.role = 'owner'",
  )
    .bind(orgId)
    .all<{ status: string }>();
  return results.map((o) => o.status);
}

describe('DELETE /users/me under concurrency', () => {
  it('two deactivations whose checks both run before either write (service level): one wins, both orgs keep an active owner', async () => {
    const [a, b] = await coOwners();
    const config = parseConfig(env);
    if (!config.ok) throw new Error(config.problems.join('; '));
    const ctx: ServiceContext = { db: createDb(env.DB), config: config.config, env, clock: systemClock, meta: { ip: null, userAgent: null }, waitUntil: () => {} };
    // Promise.all starts both before either awaits: their reads interleave as two isolates' would.
    const results = await Promise.all(
      [a, b].map((who) => deactivate(ctx, { kind: 'user', userId: who.userId, sessionId: null, email: who.email, via: 'password' })),
    );
    expect(results.map((r) => r.status).sort()).toEqual(['last_owner', 'ok']);
    expect(await activeOwnerStatuses(a.orgId)).toEqual(['active']);
    expect(await activeOwnerStatuses(b.orgId)).toEqual(['active']);
  });

  it('two owners of the same orgs deactivating at once: one succeeds, the other gets 409 and both orgs keep an owner', async () => {
    // Each owns both orgs, so on its own either one could leave.
    const [a, b] = await coOwners();

    const results = await Promise.all([a, b].map((who) => call('DELETE', '/api/v1/users/me', { token: who.token })));
    expect(results.map((r) => r.status).sort()).toEqual([204, 409]);
    const loser = results.findIndex((r) => r.status === 409);
    expectProblem(results[loser]!, 409, 'last_owner');

    for (const orgId of [a.orgId, b.orgId]) expect(await activeOwnerStatuses(orgId)).toEqual(['active']);
    const survivor = [a, b][loser]!;
    expect((await call('GET', '/api/v1/users/me', { token: survivor.token })).status).toBe(200);
  });
});
