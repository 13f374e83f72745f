/**
 * The one authorization policy, as a table: every role x every action, then API key scopes
 * on top, then the rules for managing members. The expectations are written out here rather
 * than derived from the policy, so changing the policy means changing this specification.
 */
import { describe, expect, it } from 'vitest';
import { ACTIONS, SCOPES, authorize, scopesAllowedFor, type Action, type Scope } from '../../src/features/orgs/policy';
import type { Role } from '../../src/db/schema';

const ROLES: Role[] = ['owner', 'admin', 'member', 'viewer'];

/** Owners manage billing-level settings and members; admins bots, keys and members below them; members edit bots and content; viewers read. */
const ALLOWED: Record<Action, Role[]> = {
  'org.read': ['owner', 'admin', 'member', 'viewer'],
  'org.update': ['owner', 'admin'],
  'members.read': ['owner', 'admin', 'member', 'viewer'],
  'members.manage': ['owner', 'admin'],
  'keys.read': ['owner', 'admin'],
  'keys.manage': ['owner', 'admin'],
  'bots.read': ['owner', 'admin', 'member', 'viewer'],
  'bots.create': ['owner', 'admin'],
  'bots.update': ['owner', 'admin', 'member'],
  'bots.delete': ['owner', 'admin'],
  'sources.read': ['owner', 'admin', 'member', 'viewer'],
  'sources.write': ['owner', 'admin', 'member'],
  chat: ['owner', 'admin', 'member', 'viewer'],
  'conversations.read': ['owner', 'admin', 'member', 'viewer'],
  'conversations.manage': ['owner', 'admin', 'member'],
  'feedback.write': ['owner', 'admin', 'member'],
  'leads.read': ['owner', 'admin', 'member'],
  'webhooks.read': ['owner', 'admin'],
  'webhooks.manage': ['owner', 'admin'],
  'actions.read': ['owner', 'admin', 'member'],
  'actions.manage': ['owner', 'admin'],
  'analytics.read': ['owner', 'admin', 'member', 'viewer'],
  'settings.read': ['owner', 'admin', 'member', 'viewer'],
  'settings.update': ['owner'],
  'widget.read': ['owner', 'admin', 'member', 'viewer'],
  'widget.update': ['owner', 'admin'],
  'activity.read': ['owner', 'admin', 'member', 'viewer'],
  'activity.network': ['owner', 'admin'],
  'health.details': ['owner', 'admin'],
  'integrations.read': ['owner', 'admin'],
  'integrations.manage': ['owner', 'admin'],
};

/** The scope an API key needs for each action (`admin` covers all of them). */
const SCOPE_NEEDED: Record<Action, Scope> = {
  'org.read': 'bots:read',
  'org.update': 'admin',
  'members.read': 'admin',
  'members.manage': 'admin',
  'keys.read': 'admin',
  'keys.manage': 'admin',
  'bots.read': 'bots:read',
  'bots.create': 'bots:write',
  'bots.update': 'bots:write',
  'bots.delete': 'bots:write',
  'sources.read': 'sources:read',
  'sources.write': 'sources:write',
  chat: 'chat',
  'conversations.read': 'chat',
  'conversations.manage': 'chat',
  'feedback.write': 'chat',
  'leads.read': 'leads:read',
  'webhooks.read': 'webhooks:read',
  'webhooks.manage': 'webhooks:write',
  'actions.read': 'bots:read',
  'actions.manage': 'admin',
  'analytics.read': 'bots:read',
  'settings.read': 'admin',
  'settings.update': 'admin',
  'widget.read': 'bots:read',
  'widget.update': 'admin',
  'activity.read': 'admin',
  'activity.network': 'admin',
  'health.details': 'admin',
  'integrations.read': 'admin',
  'integrations.manage': 'admin',
};

describe('authorize: the role x action matrix', () => {
  it('covers every action the policy knows', () => {
    expect(Object.keys(ALLOWED).sort()).toEqual([...ACTIONS].sort());
    expect(Object.keys(SCOPE_NEEDED).sort()).toEqual([...ACTIONS].sort());
  });

  const cases = ACTIONS.flatMap((action) => ROLES.map((role) => ({ role, action, allowed: ALLOWED[action].includes(role) })));

  it.each(cases)('$role may $action: $allowed', ({ role, action, allowed }) => {
    const decision = authorize({ role, scopes: null }, action);
    expect(decision.allowed).toBe(allowed);
    if (!decision.allowed) expect(decision.reason).toContain(role);
  });
});

describe('authorize: API keys are their creator narrowed by scopes', () => {
  const cases = ACTIONS.flatMap((action) => SCOPES.map((scope) => ({ action, scope, allowed: scope === 'admin' || scope === SCOPE_NEEDED[action] })));

  it.each(cases)('an owner-created key with only "$scope" may $action: $allowed', ({ action, scope, allowed }) => {
    const decision = authorize({ role: 'owner', scopes: [scope] }, action);
    expect(decision.allowed).toBe(allowed);
    if (!decision.allowed) expect(decision.reason).toContain(SCOPE_NEEDED[action]);
  });

  it.each(ACTIONS.flatMap((action) => ROLES.map((role) => ({ action, role }))))(
    'an "admin"-scoped key of a $role never exceeds the role for $action',
    ({ action, role }) => {
      expect(authorize({ role, scopes: ['admin'] }, action).allowed).toBe(ALLOWED[action].includes(role));
    },
  );

  it('a key with no scopes can do nothing', () => {
    for (const action of ACTIONS) expect(authorize({ role: 'owner', scopes: [] }, action).allowed).toBe(false);
  });
});

describe('authorize: managing members', () => {
  const manage = (role: Role, change: { targetRole?: Role; newRole?: Role }) => authorize({ role, scopes: null }, 'members.manage', change).allowed;

  it('lets an owner manage anyone, into any role', () => {
    for (const targetRole of ROLES) for (const newRole of ROLES) expect(manage('owner', { targetRole, newRole })).toBe(true);
  });

  it('lets an admin manage only roles below admin, and never raise anyone to admin or owner', () => {
    for (const targetRole of ROLES) {
      for (const newRole of ROLES) {
        const below = (r: Role) => r === 'member' || r === 'viewer';
        expect(manage('admin', { targetRole, newRole }), `${targetRole} -> ${newRole}`).toBe(below(targetRole) && below(newRole));
      }
    }
    expect(manage('admin', { newRole: 'viewer' })).toBe(true);
    expect(manage('admin', { newRole: 'admin' })).toBe(false);
    expect(manage('admin', { targetRole: 'owner' })).toBe(false);
    expect(authorize({ role: 'admin', scopes: null }, 'members.manage', { targetRole: 'owner' })).toEqual({
      allowed: false,
      reason: 'Only an owner can manage owners.',
    });
  });

  it('lets members and viewers manage nobody', () => {
    for (const role of ['member', 'viewer'] as const) {
      for (const targetRole of ROLES) expect(manage(role, { targetRole, newRole: 'viewer' })).toBe(false);
    }
  });

  it('applies the same limits to an admin-scoped key of an admin', () => {
    expect(authorize({ role: 'admin', scopes: ['admin'] }, 'members.manage', { newRole: 'member' }).allowed).toBe(true);
    expect(authorize({ role: 'admin', scopes: ['admin'] }, 'members.manage', { newRole: 'admin' }).allowed).toBe(false);
  });
});

describe('scopesAllowedFor: a key never gets a scope its creator could not use', () => {
  it.each([
    ['owner', ['bots:read', 'bots:write', 'sources:read', 'sources:write', 'chat', 'leads:read', 'webhooks:read', 'webhooks:write', 'admin']],
    ['admin', ['bots:read', 'bots:write', 'sources:read', 'sources:write', 'chat', 'leads:read', 'webhooks:read', 'webhooks:write', 'admin']],
    ['member', ['bots:read', 'bots:write', 'sources:read', 'sources:write', 'chat', 'leads:read']],
    ['viewer', ['bots:read', 'sources:read', 'chat']],
  ] as const)('%s may grant %j', (role, scopes) => {
    expect(scopesAllowedFor(role)).toEqual(scopes);
  });
});
