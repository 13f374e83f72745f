/**
 * Organizations, memberships and invitations. The "at least one owner" invariant is kept by
 * guarded single statements (D1 has no interactive transactions): a demotion or removal of
 * an owner only applies while another owner exists.
 */
import { and, asc, desc, eq, gt, isNull, lt, sql, type SQL } from 'drizzle-orm';
import { invitations, memberships, organizations, orgSettings, users, type Role } from '../../db/schema';
import { insertIfPreviousChanged, type Db } from '../../db/client';
import type { ServiceContext } from '../../context';
import type { Actor } from '../../context';
import { newId, randomToken } from '../../lib/ids';
import { sha256Hex } from '../../lib/crypto';
import { INVITATION_TTL_MS } from '../../limits';
import { auditInsert, auditInsertIfChanged } from '../audit/service';
import { sendAfterCommit } from '../../adapters/mailer';
import { forgetCachedKeys } from '../api-keys/service';
import { normalizeEmail } from '../auth/service';
import { eventInsertIfChanged, publishSoon } from '../events/outbox';
import { domainEvent } from '../events/catalog';

/** member.* payloads: what GET /orgs/{id}/members shows of the member. */
const memberData = (m: { id: string; userId: string; email: string; name: string | null; role: Role }) => ({ id: m.id, userId: m.userId, email: m.email, name: m.name, role: m.role });

export type OrgRow = typeof organizations.$inferSelect;

export const toOrgDto = (row: OrgRow, role?: Role) => ({
  id: row.id,
  name: row.name,
  ...(role ? { role } : {}),
  createdAt: new Date(row.createdAt).toISOString(),
  updatedAt: new Date(row.updatedAt).toISOString(),
});

export async function findMembership(db: Db, orgId: string, userId: string) {
  return (
    (await db
      .select({ id: memberships.id, role: memberships.role })
      .from(memberships)
      .where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId)))
      .get()) ?? null
  );
}

export async function listMembershipsForUser(db: Db, userId: string, limit = 100) {
  return db
    .select({ orgId: memberships.orgId, role: memberships.role })
    .from(memberships)
    .where(eq(memberships.userId, userId))
    .orderBy(asc(memberships.orgId))
    .limit(limit);
}

export async function listOrgsForUser(db: Db, userId: string, cursor: string | null, limit: number) {
  const conditions = [eq(memberships.userId, userId)];
  if (cursor) conditions.push(lt(organizations.id, cursor));
  const rows = await db
    .select({ org: organizations, role: memberships.role })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.orgId))
    .where(and(...conditions))
    .orderBy(desc(organizations.id))
    .limit(limit + 1);
  return rows.map((r) => ({ ...r.org, role: r.role }));
}

export async function getOrg(db: Db, orgId: string) {
  return (await db.select().from(organizations).where(eq(organizations.id, orgId)).get()) ?? null;
}

export async function createOrg(ctx: ServiceContext, actor: Actor & { kind: 'user' }, name: string) {
  const now = ctx.clock.now();
  const org: OrgRow = { id: newId('org', ctx.clock), name: name.trim(), createdAt: now, updatedAt: now };
  await ctx.db.batch([
    ctx.db.insert(organizations).values(org),
    ctx.db.insert(memberships).values({ id: newId('mem', ctx.clock), orgId: org.id, userId: actor.userId, role: 'owner', createdAt: now, updatedAt: now }),
    ctx.db.insert(orgSettings).values({ orgId: org.id, updatedAt: now }),
    auditInsert(ctx.db, ctx.clock, ctx.meta, { orgId: org.id, actor, action: 'org.create', target: { type: 'org', id: org.id }, metadata: { name: org.name } }),
  ]);
  return org;
}

export async function updateOrg(ctx: ServiceContext, actor: Actor, orgId: string, patch: { name?: string }) {
  const now = ctx.clock.now();
  const [updated] = await ctx.db.batch([
    ctx.db
      .update(organizations)
      .set({ ...(patch.name ? { name: patch.name.trim() } : {}), updatedAt: now })
      .where(eq(organizations.id, orgId))
      .returning(),
    auditInsert(ctx.db, ctx.clock, ctx.meta, { orgId, actor, action: 'org.update', target: { type: 'org', id: orgId }, metadata: patch }),
  ]);
  return updated[0] ?? null;
}

// --- members --------------------------------------------------------------------------------

const memberColumns = {
  id: memberships.id,
  userId: users.id,
  email: users.email,
  name: users.name,
  role: memberships.role,
  createdAt: memberships.createdAt,
};

export async function listMembers(db: Db, orgId: string, cursor: string | null, limit: number) {
  const conditions = [eq(memberships.orgId, orgId)];
  if (cursor) conditions.push(lt(memberships.id, cursor));
  return db
    .select(memberColumns)
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(...conditions))
    .orderBy(desc(memberships.id))
    .limit(limit + 1);
}

export type MemberRow = Awaited<ReturnType<typeof listMembers>>[number];

export const toMemberDto = (m: MemberRow) => ({
  id: m.id,
  userId: m.userId,
  email: m.email,
  name: m.name,
  role: m.role,
  createdAt: new Date(m.createdAt).toISOString(),
});

export async function getMember(db: Db, orgId: string, memberId: string): Promise<MemberRow | null> {
  const [row] = await db
    .select(memberColumns)
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.orgId, orgId), eq(memberships.id, memberId)))
    .limit(1);
  return row ?? null;
}

/**
 * True while another owner than `membershipId` exists: the SQL guard for every change that
 * can remove an owner (role change, removal, account deactivation). It runs inside the
 * writing statement, so two concurrent changes cannot both see the other owner and both apply.
 */
const anotherOwnerExists = (orgId: string | SQL, membershipId: string | SQL) =>
  sql`EXISTS (SELECT 1 FROM memberships o WHERE o.org_id = ${orgId} AND o.role = 'owner' AND o.id != ${membershipId})`;

/** True while `userId` is the only owner of some org: deactivating them would orphan it. */
export const isSoleOwnerSomewhere = (userId: string) =>
  sql`EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = ${userId} AND m.role = 'owner' AND NOT ${anotherOwnerExists(sql`m.org_id`, sql`m.id`)})`;

/** The orgs `userId` alone owns (for the refusal message). */
export async function orgsSolelyOwnedBy(db: Db, userId: string) {
  const rows = await db
    .select({ orgId: memberships.orgId })
    .from(memberships)
    .where(and(eq(memberships.userId, userId), eq(memberships.role, 'owner'), sql`NOT ${anotherOwnerExists(sql`${memberships.orgId}`, sql`${memberships.id}`)}`))
    .all();
  return rows.map((r) => r.orgId);
}

export type MemberChangeResult = { status: 'ok'; member: MemberRow } | { status: 'last_owner' };

export async function changeMemberRole(ctx: ServiceContext, actor: Actor, orgId: string, member: MemberRow, role: Role): Promise<MemberChangeResult> {
  const now = ctx.clock.now();
  const guard = member.role === 'owner' && role !== 'owner' ? anotherOwnerExists(orgId, member.id) : sql`1`;
  const [changed] = await ctx.db.batch([
    ctx.db
      .update(memberships)
      .set({ role, updatedAt: now })
      .where(and(eq(memberships.id, member.id), eq(memberships.orgId, orgId), guard))
      .returning({ id: memberships.id }),
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, {
      orgId,
      actor,
      action: 'member.role_change',
      target: { type: 'membership', id: member.id },
      metadata: { userId: member.userId, from: member.role, to: role },
    }),
    // Chained on the audit row, which went in only if the role really changed.
    eventInsertIfChanged(ctx.db, domainEvent('member.role_changed', { orgId, data: { ...memberData({ ...member, role }), previousRole: member.role } }), ctx.clock),
  ]);
  if (changed.length === 0) return { status: 'last_owner' };
  publishSoon(ctx, orgId);
  forgetCachedKeys({ orgId, createdBy: member.userId });
  return { status: 'ok', member: { ...member, role } };
}

export async function removeMember(ctx: ServiceContext, actor: Actor, orgId: string, member: MemberRow): Promise<'ok' | 'last_owner'> {
  const guard = member.role === 'owner' ? anotherOwnerExists(orgId, member.id) : sql`1`;
  const [removed] = await ctx.db.batch([
    ctx.db
      .delete(memberships)
      .where(and(eq(memberships.id, member.id), eq(memberships.orgId, orgId), guard))
      .returning({ id: memberships.id }),
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, {
      orgId,
      actor,
      action: 'member.remove',
      target: { type: 'membership', id: member.id },
      metadata: { userId: member.userId, role: member.role },
    }),
    eventInsertIfChanged(ctx.db, domainEvent('member.removed', { orgId, data: memberData(member) }), ctx.clock),
  ]);
  if (removed.length === 0) return 'last_owner';
  publishSoon(ctx, orgId);
  forgetCachedKeys({ orgId, createdBy: member.userId });
  return 'ok';
}

// --- invitations ----------------------------------------------------------------------------

export type InvitationRow = typeof invitations.$inferSelect;

export const toInvitationDto = (row: InvitationRow) => ({
  id: row.id,
  email: row.email,
  role: row.role,
  invitedBy: row.invitedBy,
  createdAt: new Date(row.createdAt).toISOString(),
  expiresAt: new Date(row.expiresAt).toISOString(),
  acceptedAt: row.acceptedAt ? new Date(row.acceptedAt).toISOString() : null,
});

export type InviteResult = { status: 'invited'; invitation: InvitationRow } | { status: 'already_member' };

export async function inviteMember(
  ctx: ServiceContext,
  actor: Actor & { kind: 'user' },
  org: OrgRow,
  input: { email: string; role: Role },
): Promise<InviteResult> {
  const email = normalizeEmail(input.email);
  const existing = await ctx.db
    .select({ id: memberships.id })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.orgId, org.id), eq(users.email, email)))
    .get();
  if (existing) return { status: 'already_member' };
  const now = ctx.clock.now();
  const token = randomToken(32);
  const invitation: InvitationRow = {
    id: newId('inv', ctx.clock),
    orgId: org.id,
    email,
    role: input.role,
    tokenHash: await sha256Hex(token),
    invitedBy: actor.userId,
    createdAt: now,
    expiresAt: now + INVITATION_TTL_MS,
    acceptedAt: null,
    revokedAt: null,
  };
  await ctx.db.batch([
    ctx.db.insert(invitations).values(invitation),
    auditInsert(ctx.db, ctx.clock, ctx.meta, {
      orgId: org.id,
      actor,
      action: 'member.invite',
      target: { type: 'invitation', id: invitation.id },
      metadata: { email, role: input.role },
    }),
  ]);
  await sendAfterCommit(ctx, {
    to: email,
    kind: 'invitation',
    secrets: [token],
    subject: `You are invited to ${org.name} on KyroChat`,
    text: `${actor.email} invited you to join ${org.name} as ${input.role}.\n\nSign in (or register with this email address), then accept with POST /api/v1/invitations/${token}/accept\n\nOr open ${ctx.config.appUrl}/invitations/${token}\n\nThe invitation expires in 7 days.`,
  });
  return { status: 'invited', invitation };
}

/** Pending invitations, newest first, a page at a time (limit + 1 rows: see toPage). */
export async function listInvitations(db: Db, orgId: string, now: number, cursor: string | null, limit: number) {
  const conditions = [eq(invitations.orgId, orgId), isNull(invitations.acceptedAt), isNull(invitations.revokedAt), gt(invitations.expiresAt, now)];
  if (cursor) conditions.push(lt(invitations.id, cursor));
  return db
    .select()
    .from(invitations)
    .where(and(...conditions))
    .orderBy(desc(invitations.id))
    .limit(limit + 1);
}

/** A pending invitation of this org, or null (another org's id is simply not found). */
export async function getPendingInvitation(db: Db, orgId: string, invitationId: string) {
  return (
    (await db
      .select()
      .from(invitations)
      .where(and(eq(invitations.orgId, orgId), eq(invitations.id, invitationId), isNull(invitations.acceptedAt), isNull(invitations.revokedAt)))
      .get()) ?? null
  );
}

export async function revokeInvitation(ctx: ServiceContext, actor: Actor, orgId: string, invitation: InvitationRow): Promise<boolean> {
  const [revoked] = await ctx.db.batch([
    ctx.db
      .update(invitations)
      .set({ revokedAt: ctx.clock.now() })
      .where(and(eq(invitations.id, invitation.id), eq(invitations.orgId, orgId), isNull(invitations.acceptedAt), isNull(invitations.revokedAt)))
      .returning({ id: invitations.id }),
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, {
      orgId,
      actor,
      action: 'member.invitation_revoke',
      target: { type: 'invitation', id: invitation.id },
      metadata: { role: invitation.role },
    }),
  ]);
  return revoked.length === 1;
}

export type AcceptResult =
  | { status: 'accepted'; orgId: string; role: Role }
  | { status: 'invalid' }
  | { status: 'email_mismatch' }
  | { status: 'already_member'; orgId: string };

export async function acceptInvitation(ctx: ServiceContext, actor: Actor & { kind: 'user' }, token: string): Promise<AcceptResult> {
  const now = ctx.clock.now();
  const invitation = await ctx.db
    .select()
    .from(invitations)
    .where(and(eq(invitations.tokenHash, await sha256Hex(token)), isNull(invitations.acceptedAt), isNull(invitations.revokedAt), gt(invitations.expiresAt, now)))
    .get();
  if (!invitation) return { status: 'invalid' };
  if (normalizeEmail(actor.email) !== invitation.email) return { status: 'email_mismatch' };
  if (await findMembership(ctx.db, invitation.orgId, actor.userId)) return { status: 'already_member', orgId: invitation.orgId };
  const membershipId = newId('mem', ctx.clock);
  const person = await ctx.db.select({ name: users.name }).from(users).where(eq(users.id, actor.userId)).get();
  const [accepted] = await ctx.db.batch([
    ctx.db
      .update(invitations)
      .set({ acceptedAt: now })
      .where(and(eq(invitations.id, invitation.id), isNull(invitations.acceptedAt)))
      .returning({ id: invitations.id }),
    insertIfPreviousChanged(ctx.db, memberships, {
      id: membershipId,
      orgId: invitation.orgId,
      userId: actor.userId,
      role: invitation.role,
      createdAt: now,
      updatedAt: now,
    }),
    // Only if the membership row above went in: a lost race must not record a join.
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, {
      orgId: invitation.orgId,
      actor,
      action: 'member.join',
      target: { type: 'invitation', id: invitation.id },
      metadata: { role: invitation.role },
    }),
    eventInsertIfChanged(
      ctx.db,
      domainEvent('member.added', {
        orgId: invitation.orgId,
        data: memberData({ id: membershipId, userId: actor.userId, email: actor.email, name: person?.name ?? null, role: invitation.role }),
      }),
      ctx.clock,
    ),
  ]);
  if (accepted.length === 0) return { status: 'invalid' };
  publishSoon(ctx, invitation.orgId);
  return { status: 'accepted', orgId: invitation.orgId, role: invitation.role };
}
