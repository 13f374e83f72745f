/** The signed-in person's own account: profile, password, deactivation. */
import { and, eq, isNull, ne, sql } from 'drizzle-orm';
import { memberships, sessions, users } from '../../db/schema';
import type { Db } from '../../db/client';
import type { ServiceContext } from '../../context';
import type { Actor } from '../../context';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../limits';
import { auditInsert, auditInsertIfChanged } from '../audit/service';
import { isSoleOwnerSomewhere, orgsSolelyOwnedBy } from '../orgs/service';
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

/**
 * Deactivation is one batch whose first statement is guarded by the same "another owner
 * remains" SQL as role changes: two owners deactivating at once cannot both pass a check made
 * before either write. Every later statement applies only if that guarded update did.
 */
export async function deactivate(ctx: ServiceContext, actor: Actor & { kind: 'user' }): Promise<DeactivateResult> {
  const now = ctx.clock.now();
  const isDeactivated = sql`EXISTS (SELECT 1 FROM users d WHERE d.id = ${actor.userId} AND d.status = 'deactivated')`;
  const [changed] = await ctx.db.batch([
    ctx.db
      .update(users)
      .set({ status: 'deactivated', updatedAt: now })
      .where(and(eq(users.id, actor.userId), eq(users.status, 'active'), sql`NOT ${isSoleOwnerSomewhere(actor.userId)}`))
      .returning({ id: users.id }),
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, { orgId: null, actor, action: 'user.deactivate', target: { type: 'user', id: actor.userId } }),
    ctx.db
      .update(sessions)
      .set({ revokedAt: now, revokedReason: 'account_deactivated' })
      .where(and(eq(sessions.userId, actor.userId), isNull(sessions.revokedAt), isDeactivated)),
    ctx.db.delete(memberships).where(and(eq(memberships.userId, actor.userId), isDeactivated)),
  ]);
  if (changed.length === 0) {
    const orgIds = await orgsSolelyOwnedBy(ctx.db, actor.userId);
    // No sole ownership left means a concurrent request of the same person deactivated first.
    if (orgIds.length > 0) return { status: 'last_owner', orgIds };
  }
  forgetCachedKeys({ createdBy: actor.userId });
  return { status: 'ok' };
}
