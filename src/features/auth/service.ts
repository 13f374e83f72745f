/**
 * Accounts and sessions: registration, sign-in, rotating refresh tokens, sign-out,
 * password reset and email verification. Expected outcomes are results; exceptions are
 * only for the unexpected.
 */
import { and, eq, isNull, sql } from 'drizzle-orm';
import { memberships, organizations, orgSettings, refreshTokens, sessions, userTokens, users } from '../../db/schema';
import type { ServiceContext } from '../../context';
import { insertIfPreviousChanged } from '../../db/client';
import { newId, randomToken } from '../../lib/ids';
import { sha256Hex } from '../../lib/crypto';
import { EMAIL_VERIFY_TTL_MS, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, PASSWORD_RESET_TTL_MS } from '../../limits';
import { auditInsert, auditInsertIfChanged } from '../audit/service';
import { newBotRow, type BotRow } from '../bots/service';
import { bots } from '../../db/schema';
import { sendAfterCommit } from '../../adapters/mailer';
import { checkPasswordPolicy, decoyHash, hashPassword, needsRehash, verifyPassword } from './password';
import { newRefreshToken, signAccessToken } from './tokens';

export type UserRow = typeof users.$inferSelect;

export const normalizeEmail = (email: string) => email.trim().toLowerCase();

export function toUserDto(row: UserRow) {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    emailVerified: row.emailVerifiedAt !== null,
    createdAt: new Date(row.createdAt).toISOString(),
  };
}

export interface TokenPair {
  accessToken: string;
  accessTokenExpiresAt: string;
  refreshToken: string;
  refreshTokenExpiresAt: string;
  tokenType: 'Bearer';
}

/** Statements that open a session, for the caller's batch, and the tokens they back. */
async function openSession(ctx: ServiceContext, userId: string) {
  const now = ctx.clock.now();
  const sessionId = newId('ses', ctx.clock);
  const refresh = newRefreshToken();
  const refreshExpiresAt = now + ctx.config.refreshTokenTtlDays * 86_400_000;
  const access = await signAccessToken(ctx.config, ctx.clock, { userId, sessionId });
  const statements = [
    ctx.db.insert(sessions).values({
      id: sessionId,
      userId,
      ip: ctx.meta.ip,
      userAgent: ctx.meta.userAgent?.slice(0, 512) ?? null,
      createdAt: now,
      lastUsedAt: now,
    }),
    ctx.db.insert(refreshTokens).values({
      id: newId('rtk', ctx.clock),
      sessionId,
      tokenHash: await sha256Hex(refresh),
      createdAt: now,
      expiresAt: refreshExpiresAt,
    }),
  ] as const;
  const tokens: TokenPair = {
    accessToken: access.token,
    accessTokenExpiresAt: new Date(access.expiresAt).toISOString(),
    refreshToken: refresh,
    refreshTokenExpiresAt: new Date(refreshExpiresAt).toISOString(),
    tokenType: 'Bearer',
  };
  return { sessionId, statements, tokens };
}

export type RegisterResult =
  | { status: 'created'; user: UserRow; org: typeof organizations.$inferSelect; bot: BotRow; tokens: TokenPair }
  | { status: 'email_taken' }
  | { status: 'weak_password'; message: string };

export async function register(
  ctx: ServiceContext,
  input: { email: string; password: string; name: string; orgName?: string },
): Promise<RegisterResult> {
  const email = normalizeEmail(input.email);
  const policy = checkPasswordPolicy(input.password, email, PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH);
  if (!policy.ok) return { status: 'weak_password', message: policy.message };
  const existing = await ctx.db.select({ id: users.id }).from(users).where(eq(users.email, email)).get();
  if (existing) return { status: 'email_taken' };

  const now = ctx.clock.now();
  const user: UserRow = {
    id: newId('usr', ctx.clock),
    email,
    name: input.name.trim(),
    passwordHash: await hashPassword(input.password),
    emailVerifiedAt: null,
    status: 'active',
    createdAt: now,
    updatedAt: now,
  };
  const org = { id: newId('org', ctx.clock), name: input.orgName?.trim() || `${user.name}'s organization`, createdAt: now, updatedAt: now };
  const bot = newBotRow(org.id, { name: 'My first bot' }, now, newId('bot', ctx.clock));
  const session = await openSession(ctx, user.id);
  const actor = { kind: 'user' as const, userId: user.id, sessionId: session.sessionId, email, via: 'password' as const };
  const verification = await replaceUserToken(ctx, user.id, 'email_verify', EMAIL_VERIFY_TTL_MS);

  try {
    await ctx.db.batch([
      ctx.db.insert(users).values(user),
      ctx.db.insert(organizations).values(org),
      ctx.db.insert(memberships).values({ id: newId('mem', ctx.clock), orgId: org.id, userId: user.id, role: 'owner', createdAt: now, updatedAt: now }),
      ctx.db.insert(orgSettings).values({ orgId: org.id, updatedAt: now }),
      ctx.db.insert(bots).values(bot),
      ...session.statements,
      ...verification.statements,
      auditInsert(ctx.db, ctx.clock, ctx.meta, { orgId: null, actor, action: 'auth.register', target: { type: 'user', id: user.id } }),
      auditInsert(ctx.db, ctx.clock, ctx.meta, { orgId: org.id, actor, action: 'org.create', target: { type: 'org', id: org.id }, metadata: { name: org.name } }),
      auditInsert(ctx.db, ctx.clock, ctx.meta, { orgId: org.id, actor, action: 'bot.create', target: { type: 'bot', id: bot.id }, metadata: { name: bot.name } }),
    ]);
  } catch (err) {
    // Two registrations raced past the check above; the unique index decided.
    if (String(err).includes('UNIQUE')) return { status: 'email_taken' };
    throw err;
  }
  await sendVerificationMail(ctx, email, verification.token);
  return { status: 'created', user, org, bot, tokens: session.tokens };
}

async function sendVerificationMail(ctx: ServiceContext, email: string, token: string) {
  await sendAfterCommit(ctx, {
    to: email,
    kind: 'email_verify',
    secrets: [token],
    subject: 'Confirm your KyroChat email address',
    text: `Confirm your email address by sending this token to POST /api/v1/auth/email/verify:\n\n${token}\n\nOr open ${ctx.config.appUrl}/verify-email?token=${token}\n\nThe token expires in 48 hours.`,
  });
}

export type LoginResult = { status: 'ok'; user: UserRow; tokens: TokenPair } | { status: 'invalid_credentials' };

export async function login(ctx: ServiceContext, input: { email: string; password: string }): Promise<LoginResult> {
  const email = normalizeEmail(input.email);
  const user = await ctx.db.select().from(users).where(eq(users.email, email)).get();
  // Verify against something in every branch so timing does not tell which branch ran.
  const stored = user?.passwordHash ?? (await decoyHash());
  const matches = await verifyPassword(input.password, stored);
  if (!user || !user.passwordHash || !matches || user.status !== 'active') {
    await auditInsert(ctx.db, ctx.clock, ctx.meta, {
      orgId: null,
      actor: user ? { kind: 'user', userId: user.id, sessionId: null, email, via: 'password' } : { kind: 'anonymous' },
      action: 'auth.login_failed',
      target: user ? { type: 'user', id: user.id } : undefined,
    });
    return { status: 'invalid_credentials' };
  }
  const session = await openSession(ctx, user.id);
  const actor = { kind: 'user' as const, userId: user.id, sessionId: session.sessionId, email, via: 'password' as const };
  const rehash = needsRehash(user.passwordHash) ? await hashPassword(input.password) : null;
  await ctx.db.batch([
    ...session.statements,
    ...(rehash ? [ctx.db.update(users).set({ passwordHash: rehash }).where(eq(users.id, user.id))] : []),
    auditInsert(ctx.db, ctx.clock, ctx.meta, { orgId: null, actor, action: 'auth.login', target: { type: 'session', id: session.sessionId } }),
  ]);
  return { status: 'ok', user, tokens: session.tokens };
}

/** Opens a session for a user who proved who they are some other way (OIDC). */
export async function openSessionFor(ctx: ServiceContext, user: { id: string; email: string }, via: 'oidc') {
  const session = await openSession(ctx, user.id);
  const actor = { kind: 'user' as const, userId: user.id, sessionId: session.sessionId, email: user.email, via };
  await ctx.db.batch([
    ...session.statements,
    auditInsert(ctx.db, ctx.clock, ctx.meta, { orgId: null, actor, action: 'auth.login', target: { type: 'session', id: session.sessionId }, metadata: { via } }),
  ]);
  return session.tokens;
}

export type RefreshResult = { status: 'ok'; tokens: TokenPair } | { status: 'invalid' } | { status: 'reused' };

export async function refresh(ctx: ServiceContext, token: string): Promise<RefreshResult> {
  const now = ctx.clock.now();
  const row = await ctx.db
    .select({
      id: refreshTokens.id,
      sessionId: refreshTokens.sessionId,
      usedAt: refreshTokens.usedAt,
      expiresAt: refreshTokens.expiresAt,
      revokedAt: sessions.revokedAt,
      userId: sessions.userId,
      userStatus: users.status,
    })
    .from(refreshTokens)
    .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(refreshTokens.tokenHash, await sha256Hex(token)))
    .get();
  if (!row || row.revokedAt !== null || row.expiresAt <= now || row.userStatus !== 'active') return { status: 'invalid' };
  if (row.usedAt !== null) {
    // A spent token came back: someone holds a copy. Kill the whole family (the session).
    await revokeSessionFamily(ctx, row.sessionId, row.userId, 'refresh_token_reused');
    return { status: 'reused' };
  }

  const next = newRefreshToken();
  const nextExpiresAt = now + ctx.config.refreshTokenTtlDays * 86_400_000;
  const access = await signAccessToken(ctx.config, ctx.clock, { userId: row.userId, sessionId: row.sessionId });
  // Spend the old token and issue the new one atomically; the guarded UPDATE makes a
  // concurrent second refresh with the same token lose (and be treated as reuse below).
  const [spent] = await ctx.db.batch([
    ctx.db
      .update(refreshTokens)
      .set({ usedAt: now })
      .where(and(eq(refreshTokens.id, row.id), isNull(refreshTokens.usedAt)))
      .returning({ id: refreshTokens.id }),
    insertIfPreviousChanged(ctx.db, refreshTokens, {
      id: newId('rtk', ctx.clock),
      sessionId: row.sessionId,
      tokenHash: await sha256Hex(next),
      createdAt: now,
      expiresAt: nextExpiresAt,
    }),
    ctx.db.update(sessions).set({ lastUsedAt: now }).where(eq(sessions.id, row.sessionId)),
  ]);
  if (spent.length === 0) {
    await revokeSessionFamily(ctx, row.sessionId, row.userId, 'refresh_token_reused');
    return { status: 'reused' };
  }
  return {
    status: 'ok',
    tokens: {
      accessToken: access.token,
      accessTokenExpiresAt: new Date(access.expiresAt).toISOString(),
      refreshToken: next,
      refreshTokenExpiresAt: new Date(nextExpiresAt).toISOString(),
      tokenType: 'Bearer',
    },
  };
}

async function revokeSessionFamily(ctx: ServiceContext, sessionId: string, userId: string, reason: string) {
  await ctx.db.batch([
    ctx.db
      .update(sessions)
      .set({ revokedAt: ctx.clock.now(), revokedReason: reason })
      .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt))),
    auditInsert(ctx.db, ctx.clock, ctx.meta, {
      orgId: null,
      actor: { kind: 'system' },
      action: 'auth.session_revoked',
      target: { type: 'session', id: sessionId },
      metadata: { reason, userId },
    }),
  ]);
}

export async function logout(ctx: ServiceContext, actor: { userId: string; sessionId: string }) {
  await ctx.db.batch([
    ctx.db
      .update(sessions)
      .set({ revokedAt: ctx.clock.now(), revokedReason: 'logout' })
      .where(and(eq(sessions.id, actor.sessionId), eq(sessions.userId, actor.userId), isNull(sessions.revokedAt))),
    auditInsert(ctx.db, ctx.clock, ctx.meta, {
      orgId: null,
      actor: { kind: 'user', userId: actor.userId, sessionId: actor.sessionId, email: '', via: 'password' },
      action: 'auth.logout',
      target: { type: 'session', id: actor.sessionId },
    }),
  ]);
}

/**
 * A fresh single-use token for a user, as statements for the caller's batch. One live token
 * per purpose: issuing a new one spends the previous mail's token.
 */
async function replaceUserToken(ctx: ServiceContext, userId: string, purpose: 'password_reset' | 'email_verify', ttlMs: number) {
  const now = ctx.clock.now();
  const token = randomToken(32);
  const statements = [
    ctx.db
      .update(userTokens)
      .set({ usedAt: now })
      .where(and(eq(userTokens.userId, userId), eq(userTokens.purpose, purpose), isNull(userTokens.usedAt))),
    ctx.db.insert(userTokens).values({
      id: newId('tok', ctx.clock),
      userId,
      purpose,
      tokenHash: await sha256Hex(token),
      createdAt: now,
      expiresAt: now + ttlMs,
    }),
  ] as const;
  return { token, statements };
}

/** Always succeeds from the caller's point of view: whether the email exists is not revealed. */
export async function requestPasswordReset(ctx: ServiceContext, rawEmail: string) {
  const email = normalizeEmail(rawEmail);
  const user = await ctx.db.select().from(users).where(eq(users.email, email)).get();
  if (!user || user.status !== 'active') return;
  const { token, statements } = await replaceUserToken(ctx, user.id, 'password_reset', PASSWORD_RESET_TTL_MS);
  await ctx.db.batch([
    ...statements,
    auditInsert(ctx.db, ctx.clock, ctx.meta, {
      orgId: null,
      actor: { kind: 'anonymous' },
      action: 'auth.password_reset_requested',
      target: { type: 'user', id: user.id },
    }),
  ]);
  await sendAfterCommit(ctx, {
    to: email,
    kind: 'password_reset',
    secrets: [token],
    subject: 'Reset your KyroChat password',
    text: `Someone asked to reset your password. If it was you, send this token with your new password to POST /api/v1/auth/password/reset:\n\n${token}\n\nOr open ${ctx.config.appUrl}/reset-password?token=${token}\n\nThe token expires in 30 minutes and works once. If it was not you, ignore this mail.`,
  });
}

/**
 * The statement that spends a single-use token, for the first place in a batch: it changes a
 * row only while the token is unused and unexpired. The statements after it in the same batch
 * must depend on it (`changes() = 1`), so a token is spent exactly when its effect commits,
 * and a failed batch leaves it usable.
 */
function spendUserToken(ctx: ServiceContext, tokenHash: string, purpose: 'password_reset' | 'email_verify', now: number) {
  return ctx.db
    .update(userTokens)
    .set({ usedAt: now })
    .where(and(eq(userTokens.tokenHash, tokenHash), eq(userTokens.purpose, purpose), isNull(userTokens.usedAt), sql`${userTokens.expiresAt} > ${now}`))
    .returning({ userId: userTokens.userId });
}

/** The live token's user, or null when unknown, used or expired. Spending it is a separate, guarded step. */
async function findLiveUserToken(ctx: ServiceContext, tokenHash: string, purpose: 'password_reset' | 'email_verify', now: number) {
  return (
    (await ctx.db
      .select({ userId: users.id, email: users.email })
      .from(userTokens)
      .innerJoin(users, eq(users.id, userTokens.userId))
      .where(and(eq(userTokens.tokenHash, tokenHash), eq(userTokens.purpose, purpose), isNull(userTokens.usedAt), sql`${userTokens.expiresAt} > ${now}`))
      .get()) ?? null
  );
}

/** Applies only when the batch's previous statement changed a row (the token was spent just now). */
const previousStatementChanged = sql`changes() = 1`;

export type ResetResult = { status: 'ok' } | { status: 'invalid_token' } | { status: 'weak_password'; message: string };

export async function resetPassword(ctx: ServiceContext, token: string, password: string): Promise<ResetResult> {
  const now = ctx.clock.now();
  const tokenHash = await sha256Hex(token);
  const candidate = await findLiveUserToken(ctx, tokenHash, 'password_reset', now);
  if (!candidate) return { status: 'invalid_token' };
  // The policy is checked before anything is written, so a weak password does not burn the token.
  const policy = checkPasswordPolicy(password, candidate.email, PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH);
  if (!policy.ok) return { status: 'weak_password', message: policy.message };
  const passwordHash = await hashPassword(password);
  // One atomic batch: the token is spent only together with the new password.
  const [spent] = await ctx.db.batch([
    spendUserToken(ctx, tokenHash, 'password_reset', now),
    ctx.db
      .update(users)
      .set({ passwordHash, updatedAt: now })
      .where(and(eq(users.id, candidate.userId), previousStatementChanged)),
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, {
      orgId: null,
      actor: { kind: 'anonymous' },
      action: 'auth.password_reset',
      target: { type: 'user', id: candidate.userId },
    }),
    // Whoever knew the old password is signed out everywhere (only if the reset applied).
    ctx.db
      .update(sessions)
      .set({ revokedAt: now, revokedReason: 'password_reset' })
      .where(and(eq(sessions.userId, candidate.userId), isNull(sessions.revokedAt), spentAt(tokenHash, now))),
  ]);
  return spent.length === 1 ? { status: 'ok' } : { status: 'invalid_token' };
}

/**
 * True once the token with this hash was spent at `now`: by this batch, or by a concurrent one
 * in the same millisecond, which already revoked the same sessions (so repeating it is harmless).
 */
const spentAt = (tokenHash: string, now: number) =>
  sql`EXISTS (SELECT 1 FROM user_tokens t WHERE t.token_hash = ${tokenHash} AND t.used_at = ${now})`;

export async function verifyEmail(ctx: ServiceContext, token: string): Promise<boolean> {
  const now = ctx.clock.now();
  const tokenHash = await sha256Hex(token);
  const candidate = await findLiveUserToken(ctx, tokenHash, 'email_verify', now);
  if (!candidate) return false;
  const [spent] = await ctx.db.batch([
    spendUserToken(ctx, tokenHash, 'email_verify', now),
    ctx.db
      .update(users)
      .set({ emailVerifiedAt: now, updatedAt: now })
      .where(and(eq(users.id, candidate.userId), previousStatementChanged)),
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, {
      orgId: null,
      actor: { kind: 'anonymous' },
      action: 'auth.email_verified',
      target: { type: 'user', id: candidate.userId },
    }),
  ]);
  return spent.length === 1;
}

export async function resendVerification(ctx: ServiceContext, userId: string): Promise<'sent' | 'already_verified'> {
  const user = await ctx.db.select().from(users).where(eq(users.id, userId)).get();
  if (!user || user.emailVerifiedAt !== null) return 'already_verified';
  const { token, statements } = await replaceUserToken(ctx, userId, 'email_verify', EMAIL_VERIFY_TTL_MS);
  await ctx.db.batch(statements);
  await sendVerificationMail(ctx, user.email, token);
  return 'sent';
}
