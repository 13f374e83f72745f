/**
 * Tenancy: another organization's objects do not exist for you. Every id-bearing route,
 * tried by org B's person and by org B's admin-scoped API key against org A's ids, answers
 * 404 (never 403, which would confirm the id exists), and org A's objects come out intact.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { call, createKey, expectProblem, register, uniqueEmail, type Account, type CallResult } from '../support/api';
import { invite, joinAs, type Member } from '../support/accounts';

let a: Account;
let aMember: Member;
let aKeyId: string;
let aKeySecret: string;
let aInvitationId: string;
let b: Account;
let bKey: string;

beforeAll(async () => {
  a = await register('tenant-a');
  aMember = await joinAs(a, a.orgId, 'member', 'a-member');
  const key = await call('POST', '/api/v1/api-keys', { token: a.token, body: { name: 'A key', scopes: ['bots:read'] } });
  aKeyId = key.body.id;
  aKeySecret = key.body.key;
  aInvitationId = (await invite(a, a.orgId, uniqueEmail('a-invitee'), 'viewer')).invitationId;

  b = await register('tenant-b');
  bKey = await createKey(b, ['admin']);
});

type Caller = { name: string; token: () => string };
const callers: Caller[] = [
  { name: "org B's owner", token: () => b.token },
  { name: "org B's admin key", token: () => bKey },
];

interface Attempt {
  route: string;
  code: string;
  run: (token: string) => Promise<CallResult>;
}

const attempts: Attempt[] = [
  { route: 'GET /bots/{botId}', code: 'bot_not_found', run: (t) => call('GET', `/api/v1/bots/${a.botId}`, { token: t }) },
  { route: 'PATCH /bots/{botId}', code: 'bot_not_found', run: (t) => call('PATCH', `/api/v1/bots/${a.botId}`, { token: t, body: { name: 'pwned' } }) },
  {
    route: 'PATCH /bots/{botId} (chunking)',
    code: 'bot_not_found',
    run: (t) => call('PATCH', `/api/v1/bots/${a.botId}`, { token: t, body: { chunking: { chunkTokens: 100 } } }),
  },
  { route: 'DELETE /bots/{botId}', code: 'bot_not_found', run: (t) => call('DELETE', `/api/v1/bots/${a.botId}`, { token: t }) },
  { route: 'DELETE /api-keys/{keyId}', code: 'api_key_not_found', run: (t) => call('DELETE', `/api/v1/api-keys/${aKeyId}`, { token: t }) },
  { route: 'GET /orgs/{orgId}', code: 'org_not_found', run: (t) => call('GET', `/api/v1/orgs/${a.orgId}`, { token: t }) },
  { route: 'PATCH /orgs/{orgId}', code: 'org_not_found', run: (t) => call('PATCH', `/api/v1/orgs/${a.orgId}`, { token: t, body: { name: 'pwned' } }) },
  { route: 'GET /orgs/{orgId}/members', code: 'org_not_found', run: (t) => call('GET', `/api/v1/orgs/${a.orgId}/members`, { token: t }) },
  {
    route: 'PATCH /orgs/{orgId}/members/{memberId}',
    code: 'org_not_found',
    run: (t) => call('PATCH', `/api/v1/orgs/${a.orgId}/members/${aMember.memberId}`, { token: t, body: { role: 'viewer' } }),
  },
  {
    route: 'DELETE /orgs/{orgId}/members/{memberId}',
    code: 'org_not_found',
    run: (t) => call('DELETE', `/api/v1/orgs/${a.orgId}/members/${aMember.memberId}`, { token: t }),
  },
  { route: 'GET /orgs/{orgId}/invitations', code: 'org_not_found', run: (t) => call('GET', `/api/v1/orgs/${a.orgId}/invitations`, { token: t }) },
  {
    route: 'POST /orgs/{orgId}/invitations',
    code: 'org_not_found',
    run: (t) => call('POST', `/api/v1/orgs/${a.orgId}/invitations`, { token: t, body: { email: uniqueEmail('sneaky'), role: 'owner' } }),
  },
  {
    route: 'DELETE /orgs/{orgId}/invitations/{invitationId}',
    code: 'org_not_found',
    run: (t) => call('DELETE', `/api/v1/orgs/${a.orgId}/invitations/${aInvitationId}`, { token: t }),
  },
  // Org A's ids smuggled under org B's own path.
  {
    route: 'PATCH /orgs/{own orgId}/members/{A memberId}',
    code: 'member_not_found',
    run: (t) => call('PATCH', `/api/v1/orgs/${b.orgId}/members/${aMember.memberId}`, { token: t, body: { role: 'viewer' } }),
  },
  {
    route: 'DELETE /orgs/{own orgId}/members/{A memberId}',
    code: 'member_not_found',
    run: (t) => call('DELETE', `/api/v1/orgs/${b.orgId}/members/${aMember.memberId}`, { token: t }),
  },
  {
    route: 'DELETE /orgs/{own orgId}/invitations/{A invitationId}',
    code: 'invitation_not_found',
    run: (t) => call('DELETE', `/api/v1/orgs/${b.orgId}/invitations/${aInvitationId}`, { token: t }),
  },
  // Naming org A with X-Org-Id on org-scoped routes.
  { route: 'GET /bots with X-Org-Id of A', code: 'org_not_found', run: (t) => call('GET', '/api/v1/bots', { token: t, orgId: a.orgId }) },
  {
    route: 'POST /bots with X-Org-Id of A',
    code: 'org_not_found',
    run: (t) => call('POST', '/api/v1/bots', { token: t, orgId: a.orgId, body: { name: 'planted' } }),
  },
  { route: 'GET /settings with X-Org-Id of A', code: 'org_not_found', run: (t) => call('GET', '/api/v1/settings', { token: t, orgId: a.orgId }) },
  { route: 'GET /activity with X-Org-Id of A', code: 'org_not_found', run: (t) => call('GET', '/api/v1/activity', { token: t, orgId: a.orgId }) },
  { route: 'GET /api-keys with X-Org-Id of A', code: 'org_not_found', run: (t) => call('GET', '/api/v1/api-keys', { token: t, orgId: a.orgId }) },
];

describe.each(callers)('$name against org A', ({ token }) => {
  it.each(attempts)('$route → 404', async ({ code, run }) => {
    const res = await run(token());
    const problem = expectProblem(res, 404, code);
    expect(JSON.stringify(problem)).not.toContain(a.orgId);
  });
});

describe('after every attempt', () => {
  it("org A's objects are untouched", async () => {
    for (const caller of callers) for (const attempt of attempts) await attempt.run(caller.token()).catch(() => undefined);

    const bot = await call('GET', `/api/v1/bots/${a.botId}`, { token: a.token });
    expect(bot.status).toBe(200);
    expect(bot.body.name).toBe('My first bot');
    expect(bot.body.chunking.chunkTokens).toBe(400);
    const bots = await call('GET', '/api/v1/bots', { token: a.token });
    expect(bots.body.data.map((x: { name: string }) => x.name)).toEqual(['My first bot']);

    expect((await call('GET', '/api/v1/bots', { token: aKeySecret })).status).toBe(200);

    const org = await call('GET', `/api/v1/orgs/${a.orgId}`, { token: a.token });
    expect(org.body.name).not.toBe('pwned');
    const members = await call('GET', `/api/v1/orgs/${a.orgId}/members`, { token: a.token });
    expect(members.body.data.find((m: { id: string }) => m.id === aMember.memberId).role).toBe('member');
    expect(members.body.data).toHaveLength(2);
    const invitations = await call('GET', `/api/v1/orgs/${a.orgId}/invitations`, { token: a.token });
    expect(invitations.body.data.map((i: { id: string; role: string }) => [i.id, i.role])).toEqual([[aInvitationId, 'viewer']]);

    // And org B's own listings never show org A's objects.
    const bBots = await call('GET', '/api/v1/bots', { token: b.token });
    expect(bBots.body.data.map((x: { id: string }) => x.id)).toEqual([b.botId]);
    const bKeys = await call('GET', '/api/v1/api-keys', { token: b.token });
    expect(bKeys.body.data.map((k: { id: string }) => k.id)).not.toContain(aKeyId);
    const bOrgs = await call('GET', '/api/v1/orgs', { token: b.token });
    expect(bOrgs.body.data.map((o: { id: string }) => o.id)).toEqual([b.orgId]);
  });

  it("org A's member cannot use their A role in org B either", async () => {
    expectProblem(await call('GET', '/api/v1/bots', { token: aMember.token, orgId: b.orgId }), 404, 'org_not_found');
    expectProblem(await call('GET', `/api/v1/bots/${b.botId}`, { token: aMember.token, orgId: a.orgId }), 404, 'bot_not_found');
  });
});
