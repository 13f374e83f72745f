/**
 * The audit trail: every auth, membership, key, bot and settings change writes an event
 * (actor, action, target, ip, user agent, redacted metadata). Org events are read through
 * GET /activity (viewers and up), filtered and cursor-paginated; sign-in events belong to the
 * person, not an org, so they are checked in the table itself.
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, createKey, expectProblem, register, uniqueEmail, PASSWORD, type Account } from '../support/api';
import { invite, joinAs, login, type Member } from '../support/accounts';

interface Event {
  id: string;
  actor: { type: string; id: string | null };
  action: string;
  target: { type: string; id: string } | null;
  ip: string | null;
  userAgent: string | null;
  metadata: Record<string, unknown>;
  createdAt: string;
}

const IP = '203.0.113.7';
const UA = 'activity-test/1.0';
const headers = { 'user-agent': UA };

let owner: Account;
let admin: Member;
let viewer: Member;
let botId: string;
let keyId: string;

async function activity(query = '', who: { token: string; orgId?: string } = owner): Promise<{ data: Event[]; nextCursor: string | null }> {
  const res = await call('GET', `/api/v1/activity${query}`, { token: who.token, orgId: who.orgId });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

async function allActivity(query = '', who: { token: string; orgId?: string } = owner): Promise<Event[]> {
  const events: Event[] = [];
  let cursor: string | null = null;
  do {
    const sep = query ? '&' : '?';
    const page = await activity(`${query}${cursor ? `${sep}cursor=${cursor}` : ''}`, who);
    events.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  return events;
}

beforeAll(async () => {
  owner = await register('audited');
  admin = await joinAs(owner, owner.orgId, 'admin', 'audit-admin');
  viewer = await joinAs(owner, owner.orgId, 'viewer', 'audit-viewer');
  const as = { token: admin.token, orgId: owner.orgId, ip: IP, headers };

  const bot = await call('POST', '/api/v1/bots', { ...as, body: { name: 'Audited bot' } });
  botId = bot.body.id;
  await call('PATCH', `/api/v1/bots/${botId}`, { ...as, body: { description: 'changed' } });
  const key = await call('POST', '/api/v1/api-keys', { ...as, body: { name: 'audited key', scopes: ['bots:read'] } });
  keyId = key.body.id;
  await call('DELETE', `/api/v1/api-keys/${keyId}`, as);
  await call('PATCH', '/api/v1/settings', { token: owner.token, ip: IP, headers, body: { chatModel: 'gpt-x', secrets: { openai_api_key: 'sk-never-log-me-1234' } } });
  await call('PATCH', `/api/v1/orgs/${owner.orgId}`, { token: owner.token, body: { name: 'Renamed' } });
  await call('PATCH', `/api/v1/orgs/${owner.orgId}/members/${viewer.memberId}`, { token: owner.token, body: { role: 'member' } });
  await call('PATCH', `/api/v1/orgs/${owner.orgId}/members/${viewer.memberId}`, { token: owner.token, body: { role: 'viewer' } });
  const leaving = await joinAs(owner, owner.orgId, 'member', 'audit-leaver');
  await call('DELETE', `/api/v1/orgs/${owner.orgId}/members/${leaving.memberId}`, { token: owner.token });
  const withdrawn = await invite(owner, owner.orgId, uniqueEmail('audit-withdrawn'), 'viewer');
  await call('DELETE', `/api/v1/orgs/${owner.orgId}/invitations/${withdrawn.invitationId}`, { token: owner.token });
  await call('DELETE', `/api/v1/bots/${botId}`, as);
});

describe('what gets recorded', () => {
  it('every bot, key, settings, org and membership change, newest first', async () => {
    const events = await allActivity();
    const actions = events.map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        'org.create',
        'bot.create',
        'member.invite',
        'member.join',
        'bot.update',
        'api_key.create',
        'api_key.revoke',
        'settings.update',
        'org.update',
        'member.role_change',
        'member.remove',
        'member.invitation_revoke',
        'bot.delete',
      ]),
    );
    expect(actions[0]).toBe('bot.delete');
    const ids = events.map((e) => e.id);
    expect(ids).toEqual([...ids].sort().reverse());
  });

  it('who did it, to what, from where', async () => {
    const [created] = (await activity(`?action=bot.create&target=${botId}`)).data;
    expect(created).toMatchObject({
      actor: { type: 'user', id: admin.userId },
      action: 'bot.create',
      target: { type: 'bot', id: botId },
      ip: IP,
      userAgent: UA,
      metadata: { name: 'Audited bot' },
    });
    const [revoked] = (await activity(`?action=api_key.revoke`)).data;
    expect(revoked).toMatchObject({ target: { type: 'api_key', id: keyId }, metadata: { name: 'audited key' } });
    const roleChanges = (await activity('?action=member.role_change')).data;
    expect(roleChanges.map((e) => e.metadata)).toEqual([
      { userId: viewer.userId, from: 'member', to: 'viewer' },
      { userId: viewer.userId, from: 'viewer', to: 'member' },
    ]);
  });

  it('records what an API key does as the key', async () => {
    const key = await createKey(owner, ['bots:write']);
    const keys = await call('GET', '/api/v1/api-keys', { token: owner.token });
    const id = keys.body.data.find((k: { prefix: string }) => key.startsWith(k.prefix)).id;
    const bot = await call('POST', '/api/v1/bots', { token: key, body: { name: 'by key' } });
    const [event] = (await activity(`?target=${bot.body.id}`)).data;
    expect(event!.actor).toEqual({ type: 'api_key', id });
  });

  it('a refused change (the last owner) records nothing', async () => {
    const solo = await register('audit-solo');
    const members = await call('GET', `/api/v1/orgs/${solo.orgId}/members`, { token: solo.token });
    const memberId = members.body.data[0].id;
    expectProblem(await call('PATCH', `/api/v1/orgs/${solo.orgId}/members/${memberId}`, { token: solo.token, body: { role: 'viewer' } }), 409, 'last_owner');
    expectProblem(await call('DELETE', `/api/v1/orgs/${solo.orgId}/members/${memberId}`, { token: solo.token }), 409, 'last_owner');
    const events = await allActivity('', solo);
    expect(events.map((e) => e.action).filter((a) => a.startsWith('member.'))).toEqual([]);
  });

  it('sign-in, failed sign-in, password change and sign-out, in the person\'s own trail', async () => {
    const person = await register('audit-auth');
    await login(person.email, 'wrong-password-here');
    const session = await login(person.email);
    await call('POST', '/api/v1/users/me/password', { token: session.body.accessToken, body: { currentPassword: PASSWORD, newPassword: 'another-fine-password' } });
    await call('POST', '/api/v1/auth/logout', { token: session.body.accessToken, ip: IP, headers });

    const { results } = await env.DB.prepare('SELECT action, actor_type, actor_id, ip, user_agent, metadata, org_id FROM audit_events WHERE target_id = ? OR actor_id = ? ORDER BY id')
      .bind(person.userId, person.userId)
      .all<{ action: string; actor_type: string; actor_id: string; ip: string | null; user_agent: string | null; metadata: string; org_id: string | null }>();
    const actions = results.map((r) => r.action);
    expect(actions).toEqual(expect.arrayContaining(['auth.register', 'auth.login_failed', 'auth.login', 'user.password_change', 'auth.logout']));
    const logout = results.find((r) => r.action === 'auth.logout')!;
    expect(logout).toMatchObject({ actor_type: 'user', actor_id: person.userId, ip: IP, user_agent: UA, org_id: null });
    expect(JSON.stringify(results)).not.toContain('wrong-password-here');
    expect(JSON.stringify(results)).not.toContain('another-fine-password');

    // The same trail through the API, for the person only.
    const fresh = await login(person.email, 'another-fine-password');
    const mine = await call('GET', '/api/v1/users/me/activity?limit=50', { token: fresh.body.accessToken });
    expect(mine.status).toBe(200);
    expect(mine.body.data.map((e: { action: string }) => e.action)).toEqual(expect.arrayContaining(['auth.register', 'auth.login_failed', 'user.password_change', 'auth.logout']));
    const failedOnly = await call('GET', '/api/v1/users/me/activity?action=auth.login_failed', { token: fresh.body.accessToken });
    expect(failedOnly.body.data.every((e: { action: string }) => e.action === 'auth.login_failed')).toBe(true);
    const stranger = await register('audit-stranger');
    const theirs = await call('GET', '/api/v1/users/me/activity?limit=50', { token: stranger.token });
    expect(JSON.stringify(theirs.body.data)).not.toContain(person.userId);
    const key = await createKey(stranger, ['admin']);
    expectProblem(await call('GET', '/api/v1/users/me/activity', { token: key }), 403, 'user_required');
  });
});

describe('filters', () => {
  it('by actor', async () => {
    const events = await allActivity(`?actor=${admin.userId}`);
    expect(events.length).toBeGreaterThanOrEqual(5);
    expect(new Set(events.map((e) => e.actor.id))).toEqual(new Set([admin.userId]));
    expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(['bot.create', 'bot.update', 'api_key.create', 'api_key.revoke', 'bot.delete']));
  });

  it('by action', async () => {
    const events = await allActivity('?action=bot.update');
    expect(events.map((e) => [e.action, e.target?.id])).toEqual([['bot.update', botId]]);
  });

  it('by target', async () => {
    const events = await allActivity(`?target=${botId}`);
    expect(events.map((e) => e.action)).toEqual(['bot.delete', 'bot.update', 'bot.create']);
  });

  it('by time: since and until are inclusive bounds on createdAt', async () => {
    const all = await allActivity();
    const middle = all[Math.floor(all.length / 2)]!;
    const at = Date.parse(middle.createdAt);

    const since = await allActivity(`?since=${encodeURIComponent(middle.createdAt)}`);
    expect(since.map((e) => e.id)).toEqual(all.filter((e) => Date.parse(e.createdAt) >= at).map((e) => e.id));
    expect(since.map((e) => e.id)).toContain(middle.id);

    const until = await allActivity(`?until=${encodeURIComponent(middle.createdAt)}`);
    expect(until.map((e) => e.id)).toEqual(all.filter((e) => Date.parse(e.createdAt) <= at).map((e) => e.id));

    const window = await allActivity(`?since=${encodeURIComponent(middle.createdAt)}&until=${encodeURIComponent(middle.createdAt)}`);
    expect(window.map((e) => e.id)).toContain(middle.id);
    expect(window.every((e) => Date.parse(e.createdAt) === at)).toBe(true);

    expect(await allActivity('?since=2999-01-01T00:00:00Z')).toEqual([]);
    expect((await allActivity('?until=2000-01-01T00:00:00%2B02:00')).length).toBe(0);
  });

  it('combine', async () => {
    const events = await allActivity(`?actor=${admin.userId}&action=bot.update&target=${botId}`);
    expect(events).toHaveLength(1);
    expect(await allActivity(`?actor=${owner.userId}&action=bot.update`)).toEqual([]);
  });

  it('reject malformed values with field paths', async () => {
    const res = expectProblem(await call('GET', '/api/v1/activity?since=yesterday&limit=0', { token: owner.token }), 400, 'validation_failed');
    expect(res.errors.map((e: { path: string }) => e.path).sort()).toEqual(['query.limit', 'query.since']);
    expectProblem(await call('GET', '/api/v1/activity?cursor=not-a-cursor', { token: owner.token }), 400, 'invalid_cursor');
  });
});

describe('pagination', () => {
  it('walks every event exactly once with ?limit=&cursor=', async () => {
    const everything = (await activity('?limit=100')).data;
    expect(everything.length).toBeGreaterThan(10);
    const pages: Event[][] = [];
    let cursor: string | null = null;
    do {
      const page = await activity(`?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.data.length).toBeLessThanOrEqual(3);
      pages.push(page.data);
      cursor = page.nextCursor;
    } while (cursor);
    expect(pages.flat().map((e) => e.id)).toEqual(everything.map((e) => e.id));
    expect(pages.length).toBe(Math.ceil(everything.length / 3));
  });

  it('is stable when new events arrive between pages', async () => {
    const first = await activity('?limit=2');
    await call('POST', '/api/v1/bots', { token: owner.token, body: { name: 'late' } });
    const second = await activity(`?limit=2&cursor=${first.nextCursor}`);
    const ids = [...first.data, ...second.data].map((e) => e.id);
    expect(new Set(ids).size).toBe(4);
    expect(ids).toEqual([...ids].sort().reverse());
  });
});

describe('who may read it', () => {
  it('a viewer can', async () => {
    const events = await allActivity('', { token: viewer.token, orgId: owner.orgId });
    expect(events.length).toBeGreaterThan(0);
  });

  it('a viewer and a member see who did what, but not anyone\'s IP address or user agent; admins and owners do', async () => {
    const member = await joinAs(owner, owner.orgId, 'member', 'audit-member');
    for (const reader of [viewer, member]) {
      const events = await allActivity('', { token: reader.token, orgId: owner.orgId });
      expect(events.some((e) => e.action === 'bot.create' && e.actor.id === admin.userId)).toBe(true);
      expect(events.every((e) => e.ip === null && e.userAgent === null)).toBe(true);
    }
    for (const reader of [owner, { token: admin.token, orgId: owner.orgId }]) {
      const [created] = (await activity(`?action=bot.create&target=${botId}`, reader)).data;
      expect(created).toMatchObject({ ip: IP, userAgent: UA });
    }
  });

  it('an API key needs the admin scope', async () => {
    expectProblem(await call('GET', '/api/v1/activity', { token: await createKey(owner, ['bots:read']) }), 403, 'forbidden');
    expect((await call('GET', '/api/v1/activity', { token: await createKey(owner, ['admin']) })).status).toBe(200);
  });

  it("another org sees none of this org's events, even when filtering by its ids", async () => {
    const stranger = await register('audit-stranger');
    const theirs = await allActivity('', stranger);
    expect(theirs.map((e) => e.action).sort()).toEqual(['bot.create', 'org.create']);
    expect(theirs.every((e) => e.target?.id !== botId && e.actor.id === stranger.userId)).toBe(true);
    expect(await allActivity(`?target=${botId}`, stranger)).toEqual([]);
    expect(await allActivity(`?actor=${admin.userId}`, stranger)).toEqual([]);
    expectProblem(await call('GET', '/api/v1/activity', { token: stranger.token, orgId: owner.orgId }), 404, 'org_not_found');
  });
});
