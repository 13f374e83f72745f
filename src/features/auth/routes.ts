import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, jsonBody, jsonContent, commonErrors, errorResponses } from '../../http/router';
import { ApiError, badRequest, conflict, unauthorized } from '../../http/problem';
import { serviceContext } from '../../http/context';
import { authenticate, oidcRefusal, requireUser } from '../../http/middleware/auth';
import { rateLimit, clientIp } from '../../http/middleware/rate-limit';
import { RATE_LIMIT_WINDOW_SECONDS } from '../../limits';
import { toBotDto } from '../bots/service';
import { BotSchema } from '../bots/schemas';
import { toOrgDto } from '../orgs/service';
import { OrgSchema } from '../orgs/schemas';
import * as auth from './service';
import { authenticateOidc } from './oidc';
import { UserSchema } from '../users/schemas';

const Email = z.string().trim().email().max(254).openapi({ example: 'ada@example.com' });
const Password = z.string().min(1).max(1024).openapi({ example: 'correct horse battery staple' });

const Tokens = z
  .object({
    accessToken: z.string(),
    accessTokenExpiresAt: z.string().datetime(),
    refreshToken: z.string(),
    refreshTokenExpiresAt: z.string().datetime(),
    tokenType: z.literal('Bearer'),
  })
  .openapi('Tokens');

const perIp = (name: string) =>
  rateLimit({
    name,
    limit: (c) => c.get('config').authRateLimitPerMinute,
    windowSeconds: RATE_LIMIT_WINDOW_SECONDS,
    key: (c) => {
      const ip = clientIp(c);
      return ip ? `${name}:ip:${ip}` : null;
    },
  });

const tag = ['Auth'];

export function authRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'post',
      path: '/register',
      tags: tag,
      summary: 'Create an account, its organization and a default bot',
      middleware: [perIp('register')],
      request: {
        body: jsonBody(
          z.object({
            email: Email,
            password: Password,
            name: z.string().trim().min(1).max(120),
            orgName: z.string().trim().min(1).max(120).optional(),
          }),
        ),
      },
      responses: {
        201: jsonContent(
          Tokens.extend({ user: UserSchema, organization: OrgSchema, bot: BotSchema }).openapi('Registration'),
          'Registered and signed in',
        ),
        400: commonErrors[400],
        409: errorResponses[409],
        429: commonErrors[429],
      },
    }),
    async (c) => {
      const result = await auth.register(serviceContext(c), c.req.valid('json'));
      if (result.status === 'email_taken') throw conflict('An account with this email already exists.', 'email_taken');
      if (result.status === 'weak_password') throw badRequest(result.message, 'weak_password', [{ path: 'password', message: result.message }]);
      return c.json(
        {
          ...result.tokens,
          user: auth.toUserDto(result.user),
          organization: toOrgDto(result.org, 'owner'),
          bot: toBotDto(result.bot),
        },
        201,
      );
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/login',
      tags: tag,
      summary: 'Sign in with email and password',
      middleware: [perIp('login')],
      request: { body: jsonBody(z.object({ email: Email, password: Password })) },
      responses: {
        200: jsonContent(Tokens.extend({ user: UserSchema }).openapi('Login'), 'Signed in'),
        400: commonErrors[400],
        401: commonErrors[401],
        429: commonErrors[429],
      },
    }),
    async (c) => {
      const result = await auth.login(serviceContext(c), c.req.valid('json'));
      if (result.status !== 'ok') throw unauthorized('The email or password is incorrect.', 'invalid_credentials');
      return c.json({ ...result.tokens, user: auth.toUserDto(result.user) }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/refresh',
      tags: tag,
      summary: 'Exchange a refresh token for a new token pair (the old one is spent)',
      description: 'Refresh tokens rotate. Presenting a spent refresh token again revokes the whole session.',
      middleware: [perIp('refresh')],
      request: { body: jsonBody(z.object({ refreshToken: z.string().min(1).max(512) })) },
      responses: { 200: jsonContent(Tokens, 'New tokens'), 400: commonErrors[400], 401: commonErrors[401] },
    }),
    async (c) => {
      const result = await auth.refresh(serviceContext(c), c.req.valid('json').refreshToken);
      if (result.status === 'reused') {
        throw unauthorized('This refresh token was already used; the session has been revoked. Sign in again.', 'refresh_token_reused');
      }
      if (result.status === 'invalid') throw unauthorized('The refresh token is invalid or expired.', 'invalid_refresh_token');
      return c.json(result.tokens, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/logout',
      tags: tag,
      summary: 'End the current session',
      security: [{ bearer: [] }],
      middleware: [authenticate(), requireUser()],
      responses: { 204: { description: 'Signed out' }, 401: commonErrors[401] },
    }),
    async (c) => {
      const actor = c.get('actor');
      if (actor.kind === 'user' && actor.sessionId) await auth.logout(serviceContext(c), { userId: actor.userId, sessionId: actor.sessionId });
      return c.body(null, 204);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/password/forgot',
      tags: tag,
      summary: 'Mail a password reset token (does not reveal whether the email exists)',
      middleware: [perIp('password-reset')],
      request: { body: jsonBody(z.object({ email: Email })) },
      responses: {
        202: jsonContent(z.object({ status: z.literal('accepted'), detail: z.string() }), 'Accepted'),
        400: commonErrors[400],
        429: commonErrors[429],
      },
    }),
    async (c) => {
      await auth.requestPasswordReset(serviceContext(c), c.req.valid('json').email);
      return c.json({ status: 'accepted' as const, detail: 'If an account exists for this email, a reset link is on its way.' }, 202);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/password/reset',
      tags: tag,
      summary: 'Set a new password with a reset token (single use, 30 minutes)',
      middleware: [perIp('password-reset')],
      request: { body: jsonBody(z.object({ token: z.string().min(1).max(256), password: Password })) },
      responses: { 204: { description: 'Password changed; every session was signed out' }, 400: commonErrors[400] },
    }),
    async (c) => {
      const { token, password } = c.req.valid('json');
      const result = await auth.resetPassword(serviceContext(c), token, password);
      if (result.status === 'weak_password') throw badRequest(result.message, 'weak_password', [{ path: 'password', message: result.message }]);
      if (result.status === 'invalid_token') throw badRequest('The reset token is invalid, expired or already used.', 'invalid_token');
      return c.body(null, 204);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/email/verify',
      tags: tag,
      summary: 'Confirm an email address with the mailed token',
      request: { body: jsonBody(z.object({ token: z.string().min(1).max(256) })) },
      responses: { 204: { description: 'Email verified' }, 400: commonErrors[400] },
    }),
    async (c) => {
      const ok = await auth.verifyEmail(serviceContext(c), c.req.valid('json').token);
      if (!ok) throw badRequest('The verification token is invalid, expired or already used.', 'invalid_token');
      return c.body(null, 204);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/email/verify/resend',
      tags: tag,
      summary: 'Mail a fresh verification token',
      security: [{ bearer: [] }],
      middleware: [authenticate(), requireUser()],
      responses: {
        202: jsonContent(z.object({ status: z.enum(['sent', 'already_verified']) }), 'Done'),
        401: commonErrors[401],
      },
    }),
    async (c) => {
      const actor = c.get('actor');
      if (actor.kind !== 'user') throw unauthorized();
      return c.json({ status: await auth.resendVerification(serviceContext(c), actor.userId) }, 202);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/oidc/token',
      tags: tag,
      summary: 'Exchange an identity token from the configured OIDC issuer for KyroChat tokens',
      middleware: [perIp('oidc')],
      request: { body: jsonBody(z.object({ idToken: z.string().min(1).max(8192) })) },
      responses: {
        200: jsonContent(Tokens.extend({ user: UserSchema }), 'Signed in'),
        400: commonErrors[400],
        401: commonErrors[401],
        403: commonErrors[403],
        404: commonErrors[404],
      },
    }),
    async (c) => {
      const oidc = c.get('config').oidc;
      if (!oidc) throw new ApiError({ status: 404, code: 'oidc_not_configured', title: 'Not found', detail: 'No OIDC issuer is configured.' });
      const ctx = serviceContext(c);
      const result = await authenticateOidc(ctx, oidc, c.req.valid('json').idToken);
      if (result.status === 'rejected') throw oidcRefusal(result);
      if (result.status !== 'ok') throw unauthorized('Not an identity token.', 'invalid_token');
      const tokens = await auth.openSessionFor(ctx, result.user, 'oidc');
      return c.json({ ...tokens, user: auth.toUserDto(result.user) }, 200);
    },
  );

  return router;
}
