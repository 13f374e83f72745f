/** The signed-in person's own account: profile, password, deactivation. */
import { and, eq, isNull, ne, sql } from 'drizzle-orm';
import { memberships, sessions, users } from '../../db/schema';
import type { Db } from '../../db/client';
import type { ServiceContext } from '../../context';
import type { Actor } from '../../context';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../limits';
import { auditInsert } from '../audit/service';
import { forgetCachedKeys } from '../api-keys/service';
import { checkPasswordPolicy, hashPassword, verifyPassword } from '../auth/password';
import type { UserRow } from '../auth/service';

/** The user behind an access token, if both the session and the account are still live. */
export async function loadActiveSessionUser(db: Db, userId: string, sessionId: string) {
  const row = await db
    .select({ id: users.id, email: users.email })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId), isNull(sessions.revokedAt), eq(users.status, 'active')))
    .get();
  return row ?? null;
}

export async function getUser(db: Db, userId: string): Promise<UserRow | null> {
  return (await db.select().from(users).where(eq(users.id, userId)).get()) ?? null;
}

export async function updateProfile(ctx: ServiceContext, actor: Actor & { kind: 'user' }, patch: { name?: string }) {
  const now = ctx.clock.now();
  const [updated] = await ctx.db.batch([
    ctx.db
      .update(users)
      .set({ ...(patch.name ? { name: patch.name.trim() } : {}), updatedAt: now })
      .where(eq(users.id, actor.userId))
      .returning(),
    auditInsert(ctx.db, ctx.clock, ctx.meta, { orgId: null, actor, action: 'user.update', target: { type: 'user', id: actor.userId }, metadata: { fields: Object.keys(patch) } }),
  ]);
  return updated[0] ?? null;
}

export type ChangePasswordResult = { status: 'ok' } | { status: 'wrong_password' } | { status: 'weak_password'; message: string };

export async function changePassword(
  ctx: ServiceContext,
  actor: Actor & { kind: 'user' },
  input: { currentPassword: string; newPassword: string },
): Promise<ChangePasswordResult> {
  const user = await getUser(ctx.db, actor.userId);
  if (!user?.passwordHash || !(await verifyPassword(input.currentPassword, user.passwordHash))) return { status: 'wrong_password' };
  const policy = checkPasswordPolicy(input.newPassword, user.email, PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH);
  if (!policy.ok) return { status: 'weak_password', message: policy.message };
  const now = ctx.clock.now();
  const otherSessions = actor.sessionId
    ? and(eq(sessions.userId, actor.userId), isNull(sessions.revokedAt), ne(sessions.id, actor.sessionId))
    : and(eq(sessions.userId, actor.userId), isNull(sessions.revokedAt));
  await ctx.db.batch([
    ctx.db.update(users).set({ passwordHash: await hashPassword(input.newPassword), updatedAt: now }).where(eq(users.id, actor.userId)),
    ctx.db.update(sessions).set({ revokedAt: now, revokedReason: 'password_changed' }).where(otherSessions),
    auditInsert(ctx.db, ctx.clock, ctx.meta, { orgId: null, actor, action: 'user.password_change', target: { type: 'user', id: actor.userId } }),
  ]);
  return { status: 'ok' };
}

export type DeactivateResult = { status: 'ok' } | { status: 'last_owner'; orgIds: string[] };

export async function deactivate(ctx: ServiceContext, actor: Actor & { kind: 'user' }): Promise<DeactivateResult> {
  // Orgs where this user is the only owner: leaving them would orphan the org.
  const sole = await ctx.db
    .select({ orgId: memberships.orgId })
    .from(memberships)
    .where(
      and(
        eq(memberships.userId, actor.userId),
        eq(memberships.role, 'owner'),
        sql`(SELECT count(*) FROM memberships m2 WHERE m2.org_id = ${memberships.orgId} AND m2.role = 'owner') = 1`,
      ),
    )
    .all();
  if (sole.length > 0) return { status: 'last_owner', orgIds: sole.map((r) => r.orgId) };
  forgetCachedKeys({ createdBy: actor.userId });
  const now = ctx.clock.now();
  await ctx.db.batch([
    ctx.db.update(users).set({ status: 'deactivated', updatedAt: now }).where(eq(users.id, actor.userId)),
    ctx.db.update(sessions).set({ revokedAt: now, revokedReason: 'account_deactivated' }).where(and(eq(sessions.userId, actor.userId), isNull(sessions.revokedAt))),
    ctx.db.delete(memberships).where(eq(memberships.userId, actor.userId)),
    auditInsert(ctx.db, ctx.clock, ctx.meta, { orgId: null, actor, action: 'user.deactivate', target: { type: 'user', id: actor.userId } }),
  ]);
  return { status: 'ok' };
}
