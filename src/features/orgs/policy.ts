/**
 * The one authorization policy. Every route calls `authorize` (through `requirePermission`)
 * with the caller's effective role in the org, the key's scopes when the caller is an API
 * key, the action, and for member management the roles involved.
 */
import type { Role } from '../../db/schema';

export const ROLE_RANK: Record<Role, number> = { viewer: 1, member: 2, admin: 3, owner: 4 };

export const ACTIONS = [
  'org.read',
  'org.update',
  'members.read',
  'members.manage',
  'keys.read',
  'keys.manage',
  'bots.read',
  'bots.create',
  'bots.update',
  'bots.delete',
  'sources.read',
  'sources.write',
  'chat',
  'conversations.read',
  'conversations.manage',
  'feedback.write',
  'leads.read',
  'actions.read',
  'actions.manage',
  'analytics.read',
  'settings.read',
  'settings.update',
  'widget.read',
  'widget.update',
  'activity.read',
  'activity.network',
  'health.details',
  'integrations.read',
  'integrations.manage',
  'webhooks.read',
  'webhooks.manage',
] as const;
export type Action = (typeof ACTIONS)[number];

/** The lowest role that may take each action. */
const MIN_ROLE: Record<Action, Role> = {
  'org.read': 'viewer',
  'org.update': 'admin',
  'members.read': 'viewer',
  'members.manage': 'admin',
  'keys.read': 'admin',
  'keys.manage': 'admin',
  'bots.read': 'viewer',
  'bots.create': 'admin',
  'bots.update': 'member',
  'bots.delete': 'admin',
  'sources.read': 'viewer',
  'sources.write': 'member',
  chat: 'viewer',
  // Reading transcripts is like reading bots; renaming, archiving, closing and deleting them is editing.
  'conversations.read': 'viewer',
  'conversations.manage': 'member',
  // Rating answers is editing the org's quality record; viewers watch.
  'feedback.write': 'member',
  // Leads are the org's customers' personal data (names, emails, phones): people who work
  // with the bots see them, read-only viewers (often outside contractors) do not.
  'leads.read': 'member',
  // Actions (issue #11): their URLs and templates are integration details for the people who
  // work with the bots; defining or test-running one spends and reaches outside systems.
  'actions.read': 'member',
  'actions.manage': 'admin',
  // Counts and the questions visitors ask: like reading transcripts, for everyone in the org.
  'analytics.read': 'viewer',
  'settings.read': 'viewer',
  // Provider keys spend the org's money: a billing-level setting.
  'settings.update': 'owner',
  'widget.read': 'viewer',
  // The org's widget defaults reach every bot's visitors and carry the whitelabel choice.
  'widget.update': 'admin',
  'activity.read': 'viewer',
  // Who did what is for everyone in the org; where from (IP address, user agent) is personal
  // data about each member, for the people who manage members and keys.
  'activity.network': 'admin',
  'health.details': 'admin',
  // Inbound webhooks hold a signing secret and push into knowledge and conversations: credentials, like API keys.
  'integrations.read': 'admin',
  'integrations.manage': 'admin',
  // Webhook endpoints send the org's events (messages, leads) to outside systems: admins decide where.
  'webhooks.read': 'admin',
  'webhooks.manage': 'admin',
};

export const SCOPES = ['bots:read', 'bots:write', 'sources:read', 'sources:write', 'chat', 'leads:read', 'webhooks:read', 'webhooks:write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** The scope an API key needs for each action; `admin` grants everything. */
const SCOPE_FOR: Record<Action, Scope> = {
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
  // A chat key reads and tidies the conversations it (and its org) holds: integrators build inboxes on it.
  'conversations.read': 'chat',
  'conversations.manage': 'chat',
  // An integrator's backend rates answers on its end users' behalf, as it chats for them.
  'feedback.write': 'chat',
  // Exporting every customer's contact details is not something a chat key (often shipped to a
  // less trusted backend) should be able to do: a scope of its own, granted on purpose to a CRM sync.
  'leads.read': 'leads:read',
  'actions.read': 'bots:read',
  'actions.manage': 'admin',
  // A reporting backend (a BI sync) reads analytics as it reads bots.
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
  'webhooks.read': 'webhooks:read',
  'webhooks.manage': 'webhooks:write',
};

export interface Principal {
  role: Role;
  /** null for a person; the key's scopes for an API key. */
  scopes: readonly string[] | null;
}

/** For member management: the target's current role and the role it would get. */
export interface MemberChange {
  targetRole?: Role;
  newRole?: Role;
}

export type Decision = { allowed: true } | { allowed: false; reason: string };

export function authorize(principal: Principal, action: Action, change: MemberChange = {}): Decision {
  if (ROLE_RANK[principal.role] < ROLE_RANK[MIN_ROLE[action]]) {
    return { allowed: false, reason: `Your role (${principal.role}) cannot ${describe(action)}.` };
  }
  if (principal.scopes && !principal.scopes.includes('admin') && !principal.scopes.includes(SCOPE_FOR[action])) {
    return { allowed: false, reason: `This API key lacks the "${SCOPE_FOR[action]}" scope.` };
  }
  if (action === 'members.manage' && principal.role !== 'owner') {
    // Admins manage only the roles below them, and cannot raise anyone to their own level.
    for (const role of [change.targetRole, change.newRole]) {
      if (role && ROLE_RANK[role] >= ROLE_RANK[principal.role]) {
        return { allowed: false, reason: `Only an owner can manage ${role}s.` };
      }
    }
  }
  return { allowed: true };
}

/** The scopes a person with `role` may put on a key: a key never exceeds its creator. */
export function scopesAllowedFor(role: Role): Scope[] {
  return SCOPES.filter((scope) =>
    ACTIONS.some((action) => SCOPE_FOR[action] === scope && ROLE_RANK[role] >= ROLE_RANK[MIN_ROLE[action]]) &&
    (scope !== 'admin' || ROLE_RANK[role] >= ROLE_RANK.admin),
  );
}

function describe(action: Action): string {
  const [resource, verb] = action.split('.');
  return verb ? `${verb} ${resource}` : action;
}
