/**
 * What each role may do in an organization, through the real Worker. Four people join one
 * org as owner, admin, member and viewer; each also owns the org they registered with, so
 * every call names the org with X-Org-Id. Every action is tried by every role: allowed ones
 * succeed, the rest are 403 problems (never a silent success).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { call, expectProblem, register, uniqueEmail, type Account, type CallResult } from '../support/api';
import { invite, joinAs, ROLES, type Member, type Role } from '../support/accounts';
import { seedConversation } from '../support/chat';

let founder: Account;
const people = {} as Record<Role, Member>;
/** A viewer whose role the managers change back and forth. */
let target: Member;

beforeAll(async () => {
  founder = await register('founder');
  for (const role of ROLES) people[role] = await joinAs(founder, founder.orgId, role, `matrix-${role}`);
  target = await joinAs(founder, founder.orgId, 'viewer', 'matrix-target');
});

const orgPath = (suffix = '') => `/api/v1/orgs/${founder.orgId}${suffix}`;
const as = (who: Member) => ({ token: who.token, orgId: who.orgId });

async function freshBot() {
  const res = await call('POST', '/api/v1/bots', { token: founder.token, body: { name: 'disposable' } });
  return res.body.id as string;
}
async function freshKey() {
  const res = await call('POST', '/api/v1/api-keys', { token: founder.token, body: { name: 'disposable', scopes: ['bots:read'] } });
  return res.body.id as string;
}

interface ActionCase {
  action: string;
  allowed: Role[];
  status: number;
  run: (who: Member) => Promise<CallResult>;
}

const ACTIONS: ActionCase[] = [
  { action: 'list bots', allowed: ['owner', 'admin', 'member', 'viewer'], status: 200, run: (who) => call('GET', '/api/v1/bots', as(who)) },
  { action: 'read a bot', allowed: ['owner', 'admin', 'member', 'viewer'], status: 200, run: (who) => call('GET', `/api/v1/bots/${founder.botId}`, as(who)) },
  { action: 'create a bot', allowed: ['owner', 'admin'], status: 201, run: (who) => call('POST', '/api/v1/bots', { ...as(who), body: { name: `by ${who.role}` } }) },
  {
    action: 'update a bot',
    allowed: ['owner', 'admin', 'member'],
    status: 200,
    run: (who) => call('PATCH', `/api/v1/bots/${founder.botId}`, { ...as(who), body: { description: `edited by ${who.role}` } }),
  },
  { action: 'delete a bot', allowed: ['owner', 'admin'], status: 204, run: async (who) => call('DELETE', `/api/v1/bots/${await freshBot()}`, as(who)) },
  { action: 'read settings', allowed: ['owner', 'admin', 'member', 'viewer'], status: 200, run: (who) => call('GET', '/api/v1/settings', as(who)) },
  { action: 'change settings', allowed: ['owner'], status: 200, run: (who) => call('PATCH', '/api/v1/settings', { ...as(who), body: { chatModel: `model-${who.role}` } }) },
  { action: 'read widget defaults', allowed: ['owner', 'admin', 'member', 'viewer'], status: 200, run: (who) => call('GET', '/api/v1/widget-defaults', as(who)) },
  {
    action: 'change widget defaults',
    allowed: ['owner', 'admin'],
    status: 200,
    run: (who) => call('PATCH', '/api/v1/widget-defaults', { ...as(who), body: { appearance: { title: `by ${who.role}` } } }),
  },
  {
    action: 'create an API key',
    allowed: ['owner', 'admin'],
    status: 201,
    run: (who) => call('POST', '/api/v1/api-keys', { ...as(who), body: { name: `by ${who.role}`, scopes: ['bots:read'] } }),
  },
  { action: 'list API keys', allowed: ['owner', 'admin'], status: 200, run: (who) => call('GET', '/api/v1/api-keys', as(who)) },
  { action: 'list integrations', allowed: ['owner', 'admin'], status: 200, run: (who) => call('GET', '/api/v1/integrations', as(who)) },
  {
    action: 'create an integration',
    allowed: ['owner', 'admin'],
    status: 201,
    run: (who) => call('POST', '/api/v1/integrations', { ...as(who), body: { name: `by ${who.role}`, action: 'conversation.reply' } }),
  },
  { action: 'revoke an API key', allowed: ['owner', 'admin'], status: 204, run: async (who) => call('DELETE', `/api/v1/api-keys/${await freshKey()}`, as(who)) },
  {
    action: 'list conversations',
    allowed: ['owner', 'admin', 'member', 'viewer'],
    status: 200,
    run: (who) => call('GET', '/api/v1/conversations', as(who)),
  },
  {
    action: 'archive a conversation',
    allowed: ['owner', 'admin', 'member'],
    status: 200,
    run: async (who) => {
      const { id } = await seedConversation({ orgId: founder.orgId, botId: founder.botId });
      return call('PATCH', `/api/v1/conversations/${id}`, { ...as(who), body: { archived: true } });
    },
  },
  {
    action: 'rate an answer',
    allowed: ['owner', 'admin', 'member'],
    status: 201,
    run: async (who) => {
      const { id, messageIds } = await seedConversation({ orgId: founder.orgId, botId: founder.botId }, ['question', 'answer']);
      return call('POST', `/api/v1/conversations/${id}/messages/${messageIds[1]}/feedback`, { ...as(who), body: { rating: 'up' } });
    },
  },
  {
    action: "read an answer's ratings",
    allowed: ['owner', 'admin', 'member', 'viewer'],
    status: 200,
    run: async (who) => {
      const { id, messageIds } = await seedConversation({ orgId: founder.orgId, botId: founder.botId }, ['question', 'answer']);
      return call('GET', `/api/v1/conversations/${id}/messages/${messageIds[1]}/feedback`, as(who));
    },
  },
  { action: 'list leads', allowed: ['owner', 'admin', 'member'], status: 200, run: (who) => call('GET', '/api/v1/leads', as(who)) },
  { action: 'export leads', allowed: ['owner', 'admin', 'member'], status: 200, run: (who) => call('GET', '/api/v1/leads?format=csv', as(who)) },
  { action: 'read activity', allowed: ['owner', 'admin', 'member', 'viewer'], status: 200, run: (who) => call('GET', '/api/v1/activity', as(who)) },
  { action: 'read the org', allowed: ['owner', 'admin', 'member', 'viewer'], status: 200, run: (who) => call('GET', orgPath(), { token: who.token }) },
  { action: 'rename the org', allowed: ['owner', 'admin'], status: 200, run: (who) => call('PATCH', orgPath(), { token: who.token, body: { name: `renamed by ${who.role}` } }) },
  { action: 'list members', allowed: ['owner', 'admin', 'member', 'viewer'], status: 200, run: (who) => call('GET', orgPath('/members'), { token: who.token }) },
  { action: 'list invitations', allowed: ['owner', 'admin', 'member', 'viewer'], status: 200, run: (who) => call('GET', orgPath('/invitations'), { token: who.token }) },
  {
    action: 'invite a member',
    allowed: ['owner', 'admin'],
    status: 201,
    run: (who) => call('POST', orgPath('/invitations'), { token: who.token, body: { email: uniqueEmail('invitee'), role: 'viewer' } }),
  },
  {
    action: 'withdraw an invitation',
    allowed: ['owner', 'admin'],
    status: 204,
    run: async (who) => {
      const { invitationId } = await invite(founder, founder.orgId, uniqueEmail('withdrawn'), 'viewer');
      return call('DELETE', orgPath(`/invitations/${invitationId}`), { token: who.token });
    },
  },
  {
    action: "change a member's role",
    allowed: ['owner', 'admin'],
    status: 200,
    run: (who) => call('PATCH', orgPath(`/members/${target.memberId}`), { token: who.token, body: { role: who.role === 'owner' ? 'viewer' : 'member' } }),
  },
  {
    action: 'remove a member',
    allowed: ['owner', 'admin'],
    status: 204,
    run: async (who) => {
      const leaving = await joinAs(founder, founder.orgId, 'viewer', 'removable');
      return call('DELETE', orgPath(`/members/${leaving.memberId}`), { token: who.token });
    },
  },
];

describe.each(ROLES)('a %s', (role) => {
  it.each(ACTIONS.map((a) => ({ ...a, verdict: a.allowed.includes(role) ? 'may' : 'may not' })))('$verdict $action', async ({ allowed, status, run }) => {
    const res = await run(people[role]);
    if (allowed.includes(role)) {
      expect(res.status, JSON.stringify(res.body)).toBe(status);
    } else {
      const problem = expectProblem(res, 403, 'forbidden');
      expect(problem.detail).toMatch(new RegExp(`\\(${role}\\)`));
    }
  });
});

describe('what a refusal leaves behind', () => {
  it('changes nothing', async () => {
    const viewer = people.viewer;
    const before = await call('GET', `/api/v1/bots/${founder.botId}`, as(viewer));
    expectProblem(await call('PATCH', `/api/v1/bots/${founder.botId}`, { ...as(viewer), body: { name: 'hijacked' } }), 403, 'forbidden');
    expectProblem(await call('DELETE', `/api/v1/bots/${founder.botId}`, as(viewer)), 403, 'forbidden');
    const after = await call('GET', `/api/v1/bots/${founder.botId}`, as(viewer));
    expect(after.body).toEqual(before.body);
  });

  it('reports each person\'s role in the org list', async () => {
    for (const role of ROLES) {
      const orgs = await call('GET', '/api/v1/orgs', { token: people[role].token });
      const joined = orgs.body.data.find((o: { id: string }) => o.id === founder.orgId);
      expect(joined.role).toBe(role);
    }
  });
});

