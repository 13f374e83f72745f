/**
 * Helpers for tests about people and organizations: reading the mail outbox (the local
 * mailer's delivery), inviting people into an org and signing in again.
 */
import { env } from 'cloudflare:test';
import { expect } from 'vitest';
import { call, register, PASSWORD, type Account } from './api';

export type Role = 'owner' | 'admin' | 'member' | 'viewer';
export const ROLES: Role[] = ['owner', 'admin', 'member', 'viewer'];

export interface OutboxRow {
  id: string;
  to_address: string;
  subject: string;
  text: string;
  kind: string;
  created_at: number;
}

/** Every mail sent to `to` of one kind, oldest first. */
export async function mailsTo(to: string, kind: string): Promise<OutboxRow[]> {
  const { results } = await env.DB.prepare('SELECT * FROM email_outbox WHERE to_address = ? AND kind = ? ORDER BY id')
    .bind(to, kind)
    .all<OutboxRow>();
  return results;
}

/** The token in the newest mail of this kind to `to` (the mail carries it in a link). */
export async function tokenFromLatestMail(to: string, kind: 'password_reset' | 'email_verify' | 'invitation'): Promise<string> {
  const mails = await mailsTo(to, kind);
  const latest = mails[mails.length - 1];
  if (!latest) throw new Error(`no ${kind} mail to ${to}`);
  const match = /(?:token=|\/invitations\/)([A-Za-z0-9_-]{20,})/.exec(latest.text);
  if (!match?.[1]) throw new Error(`no token in ${kind} mail: ${latest.text}`);
  return match[1];
}

export async function login(email: string, password = PASSWORD) {
  return call('POST', '/api/v1/auth/login', { body: { email, password } });
}

/** Invites `email` into `orgId` as `role` and returns the invitation and its mailed token. */
export async function invite(inviter: { token: string }, orgId: string, email: string, role: Role) {
  const res = await call('POST', `/api/v1/orgs/${orgId}/invitations`, { token: inviter.token, body: { email, role } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { invitationId: res.body.id as string, token: await tokenFromLatestMail(email, 'invitation') };
}

/** Someone who belongs to `orgId` (as `role`) and to their own org from registration. */
export interface Member extends Account {
  /** The org they were invited into (not their own). */
  orgId: string;
  ownOrgId: string;
  memberId: string;
  role: Role;
}

/** Registers a new person, invites them into `orgId` as `role` and accepts the invitation. */
export async function joinAs(owner: { token: string }, orgId: string, role: Role, label: string = role): Promise<Member> {
  const account = await register(label);
  const { token } = await invite(owner, orgId, account.email, role);
  const accepted = await call('POST', `/api/v1/invitations/${token}/accept`, { token: account.token });
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
  expect(accepted.body).toEqual({ orgId, role });
  const memberId = await membershipId(owner, orgId, account.userId);
  return { ...account, ownOrgId: account.orgId, orgId, memberId, role };
}

export async function membershipId(viewer: { token: string }, orgId: string, userId: string): Promise<string> {
  const members = await call('GET', `/api/v1/orgs/${orgId}/members?limit=100`, { token: viewer.token });
  expect(members.status).toBe(200);
  const found = members.body.data.find((m: { userId: string }) => m.userId === userId);
  if (!found) throw new Error(`${userId} is not a member of ${orgId}`);
  return found.id;
}

export async function memberRoles(viewer: { token: string }, orgId: string): Promise<Record<string, Role>> {
  const members = await call('GET', `/api/v1/orgs/${orgId}/members?limit=100`, { token: viewer.token });
  expect(members.status).toBe(200);
  return Object.fromEntries(members.body.data.map((m: { userId: string; role: Role }) => [m.userId, m.role]));
}
