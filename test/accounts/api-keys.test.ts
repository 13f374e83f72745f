import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, createKey, expectProblem, register } from '../support/api';
import { joinAs } from '../support/accounts';

const newKey = (token: string, body: unknown, orgId?: string) => call('POST', '/api/v1/api-keys', { token, body, orgId });

describe('creating and listing API keys', () => {
  it('returns the secret once; the list and the database only ever hold its prefix and hash', async () => {
    const owner = await register('keys');
    const created = await newKey(owner.token, { name: 'CI', scopes: ['bots:read', 'bots:write'] });
    expect(created.status).toBe(201);
    const secret: string = created.body.key;
    expect(secret).toMatch(/^kc_live_[A-Za-z0-9_-]{43}$/);
    expect(created.body).toMatchObject({
      id: expect.stringMatching(/^key_/),
      name: 'CI',
      prefix: secret.slice(0, 14),
      scopes: ['bots:read', 'bots:write'],
      createdBy: owner.userId,
      lastUsedAt: null,
    });

    const list = await call('GET', '/api/v1/api-keys', { token: owner.token });
    expect(list.status).toBe(200);
    const { key: _secret, ...shown } = created.body;
    expect(list.body.data).toEqual([shown]);
    expect(JSON.stringify(list.body)).not.toContain(secret);
    expect(list.body.data[0]).not.toHaveProperty('key');

    const row = await env.DB.prepare('SELECT * FROM api_keys WHERE id = ?').bind(created.body.id).first();
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(row!.key_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('works as a bearer token in its org and records when it was last used', async () => {
    const owner = await register('keys-use');
    const created = await newKey(owner.token, { name: 'reader', scopes: ['bots:read'] });
    const bots = await call('GET', '/api/v1/bots', { token: created.body.key });
    expect(bots.status).toBe(200);
    expect(bots.body.data.map((b: { id: string }) => b.id)).toEqual([owner.botId]);

    // last_used_at is written in the background after the response.
    let lastUsedAt: string | null = null;
    for (let i = 0; i < 20 && !lastUsedAt; i++) {
      const list = await call('GET', '/api/v1/api-keys', { token: owner.token });
      lastUsedAt = list.body.data[0].lastUsedAt;
      if (!lastUsedAt) await new Promise((r) => setTimeout(r, 25));
    }
    expect(lastUsedAt).not.toBeNull();
  });

  it('validates the name and scopes', async () => {
    const owner = await register('keys-bad');
    const unknownScope = expectProblem(await newKey(owner.token, { name: 'x', scopes: ['root'] }), 400, 'validation_failed');
    expect(unknownScope.errors[0].path).toBe('scopes.0');
    const none = expectProblem(await newKey(owner.token, { name: 'x', scopes: [] }), 400, 'validation_failed');
    expect(none.errors[0].path).toBe('scopes');
    const noName = expectProblem(await newKey(owner.token, { scopes: ['chat'] }), 400, 'validation_failed');
    expect(noName.errors[0].path).toBe('name');
  });

  it('paginates the list', async () => {
    const owner = await register('keys-page');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await newKey(owner.token, { name: `k${i}`, scopes: ['chat'] })).body.id);
    const first = await call('GET', '/api/v1/api-keys?limit=2', { token: owner.token });
    const second = await call('GET', `/api/v1/api-keys?limit=2&cursor=${first.body.nextCursor}`, { token: owner.token });
    expect([...first.body.data, ...second.body.data].map((k: { id: string }) => k.id)).toEqual(ids.reverse());
    expect(second.body.nextCursor).toBeNull();
  });
});

describe('scopes', () => {
  it('a bots:read key can read bots but not create, change or delete them', async () => {
    const owner = await register('scoped');
    const key = await createKey(owner, ['bots:read']);
    expect((await call('GET', '/api/v1/bots', { token: key })).status).toBe(200);
    expect((await call('GET', `/api/v1/bots/${owner.botId}`, { token: key })).status).toBe(200);
    const denied = expectProblem(await call('POST', '/api/v1/bots', { token: key, body: { name: 'nope' } }), 403, 'forbidden');
    expect(denied.detail).toContain('bots:write');
    expectProblem(await call('PATCH', `/api/v1/bots/${owner.botId}`, { token: key, body: { name: 'nope' } }), 403, 'forbidden');
    expectProblem(await call('DELETE', `/api/v1/bots/${owner.botId}`, { token: key }), 403, 'forbidden');
    expectProblem(await call('GET', '/api/v1/settings', { token: key }), 403, 'forbidden');
    expectProblem(await call('GET', '/api/v1/activity', { token: key }), 403, 'forbidden');
    expectProblem(await call('GET', '/api/v1/api-keys', { token: key }), 403, 'forbidden');
    expectProblem(await call('PATCH', `/api/v1/orgs/${owner.orgId}`, { token: key, body: { name: 'nope' } }), 403, 'forbidden');
  });

  it('a bots:write key can manage bots', async () => {
    const owner = await register('writer');
    const key = await createKey(owner, ['bots:write']);
    const created = await call('POST', '/api/v1/bots', { token: key, body: { name: 'by key' } });
    expect(created.status).toBe(201);
    expect((await call('PATCH', `/api/v1/bots/${created.body.id}`, { token: key, body: { name: 'renamed' } })).status).toBe(200);
    expect((await call('DELETE', `/api/v1/bots/${created.body.id}`, { token: key })).status).toBe(204);
  });

  it('an admin-scoped key is still bound by its creator\'s role: an admin\'s key cannot change billing-level settings', async () => {
    const owner = await register('bounded');
    const admin = await joinAs(owner, owner.orgId, 'admin', 'key-admin');
    const adminKey = await newKey(admin.token, { name: 'admin key', scopes: ['admin'] }, owner.orgId);
    expect(adminKey.status).toBe(201);
    expect((await call('GET', '/api/v1/settings', { token: adminKey.body.key })).status).toBe(200);
    expectProblem(await call('PATCH', '/api/v1/settings', { token: adminKey.body.key, body: { chatModel: 'gpt-x' } }), 403, 'forbidden');
    // An admin's key cannot do what the admin cannot: promote someone to owner.
    const viewer = await joinAs(owner, owner.orgId, 'viewer', 'key-target');
    expectProblem(
      await call('PATCH', `/api/v1/orgs/${owner.orgId}/members/${viewer.memberId}`, { token: adminKey.body.key, body: { role: 'owner' } }),
      403,
      'forbidden',
    );

    const ownerKey = await createKey(owner, ['admin']);
    expect((await call('PATCH', '/api/v1/settings', { token: ownerKey, body: { chatModel: 'gpt-x' } })).status).toBe(200);
  });

  it('only admins and owners create keys; members and viewers cannot grant anything', async () => {
    const owner = await register('grantor');
    const member = await joinAs(owner, owner.orgId, 'member', 'key-member');
    const viewer = await joinAs(owner, owner.orgId, 'viewer', 'key-viewer');
    expectProblem(await newKey(member.token, { name: 'x', scopes: ['bots:read'] }, owner.orgId), 403, 'forbidden');
    expectProblem(await newKey(viewer.token, { name: 'x', scopes: ['chat'] }, owner.orgId), 403, 'forbidden');
  });

  it('demoting the creator shrinks the key; removing the creator kills it', async () => {
    const owner = await register('creator');
    const admin = await joinAs(owner, owner.orgId, 'admin', 'key-creator');
    const key = (await newKey(admin.token, { name: 'powerful', scopes: ['bots:read', 'bots:write'] }, owner.orgId)).body.key as string;
    const setRole = (role: string) =>
      call('PATCH', `/api/v1/orgs/${owner.orgId}/members/${admin.memberId}`, { token: owner.token, body: { role } });

    expect((await call('POST', '/api/v1/bots', { token: key, body: { name: 'while admin' } })).status).toBe(201);

    expect((await setRole('member')).status).toBe(200);
    expectProblem(await call('POST', '/api/v1/bots', { token: key, body: { name: 'as member' } }), 403, 'forbidden');
    expect((await call('PATCH', `/api/v1/bots/${owner.botId}`, { token: key, body: { description: 'a member may edit' } })).status).toBe(200);

    expect((await setRole('viewer')).status).toBe(200);
    expectProblem(await call('PATCH', `/api/v1/bots/${owner.botId}`, { token: key, body: { description: 'no more' } }), 403, 'forbidden');
    expect((await call('GET', '/api/v1/bots', { token: key })).status).toBe(200);

    expect((await setRole('admin')).status).toBe(200);
    expect((await call('POST', '/api/v1/bots', { token: key, body: { name: 'admin again' } })).status).toBe(201);

    expect((await call('DELETE', `/api/v1/orgs/${owner.orgId}/members/${admin.memberId}`, { token: owner.token })).status).toBe(204);
    expectProblem(await call('GET', '/api/v1/bots', { token: key }), 401, 'invalid_api_key');
  });
});

describe('revocation', () => {
  it('takes effect on the very next request', async () => {
    const owner = await register('revoker');
    const created = await newKey(owner.token, { name: 'doomed', scopes: ['bots:read'] });
    expect((await call('GET', '/api/v1/bots', { token: created.body.key })).status).toBe(200);

    expect((await call('DELETE', `/api/v1/api-keys/${created.body.id}`, { token: owner.token })).status).toBe(204);
    expectProblem(await call('GET', '/api/v1/bots', { token: created.body.key }), 401, 'invalid_api_key');
    const list = await call('GET', '/api/v1/api-keys', { token: owner.token });
    expect(list.body.data.map((k: { id: string }) => k.id)).not.toContain(created.body.id);
    expectProblem(await call('DELETE', `/api/v1/api-keys/${created.body.id}`, { token: owner.token }), 404, 'api_key_not_found');
  });

  it('an unknown key is 401 invalid_api_key', async () => {
    expectProblem(await call('GET', '/api/v1/bots', { token: 'kc_live_' + 'A'.repeat(43) }), 401, 'invalid_api_key');
  });

  it('an admin-scoped key may revoke keys, including itself', async () => {
    const owner = await register('self-revoke');
    const created = await newKey(owner.token, { name: 'self', scopes: ['admin'] });
    expect((await call('DELETE', `/api/v1/api-keys/${created.body.id}`, { token: created.body.key })).status).toBe(204);
    expectProblem(await call('GET', '/api/v1/bots', { token: created.body.key }), 401, 'invalid_api_key');
  });
});

describe('what keys can never do', () => {
  it('an API key cannot create API keys, even with the admin scope', async () => {
    const owner = await register('no-key-keys');
    const key = await createKey(owner, ['admin']);
    const problem = expectProblem(await newKey(key, { name: 'child', scopes: ['bots:read'] }), 403, 'user_required');
    expect(problem.detail).toMatch(/API keys cannot create API keys/);
    const list = await call('GET', '/api/v1/api-keys', { token: owner.token });
    expect(list.body.data).toHaveLength(1);
  });

  it('an API key cannot act as a person: account, org list, org creation, invitations', async () => {
    const owner = await register('not-a-person');
    const key = await createKey(owner, ['admin']);
    expectProblem(await call('GET', '/api/v1/users/me', { token: key }), 403, 'user_required');
    expectProblem(await call('POST', '/api/v1/users/me/password', { token: key, body: { currentPassword: 'x', newPassword: 'y' } }), 403, 'user_required');
    expectProblem(await call('GET', '/api/v1/orgs', { token: key }), 403, 'user_required');
    expectProblem(await call('POST', '/api/v1/orgs', { token: key, body: { name: 'x' } }), 403, 'user_required');
    expectProblem(
      await call('POST', `/api/v1/orgs/${owner.orgId}/invitations`, { token: key, body: { email: 'someone@example.com', role: 'viewer' } }),
      403,
      'user_required',
    );
  });
});
