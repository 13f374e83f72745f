import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, jsonBody, jsonContent, commonErrors, errorResponses } from '../../http/router';
import { ApiError, badRequest, unauthorized } from '../../http/problem';
import { serviceContext } from '../../http/context';
import type { Context } from 'hono';
import type { AppBindings } from '../../http/types';
import { toUserDto } from '../auth/service';
import { UserSchema } from './schemas';
import * as users from './service';

const tags = ['Users'];
const security = [{ bearer: [] }];

function person(c: Context<AppBindings>) {
  const actor = c.get('actor');
  if (actor.kind !== 'user') throw unauthorized();
  return actor;
}

/** Mounted under /api/v1 behind authenticate + requireUser. */
export function userRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({ method: 'get', path: '/users/me', tags, security, summary: 'The signed-in user', responses: { 200: jsonContent(UserSchema, 'You'), 401: commonErrors[401] } }),
    async (c) => {
      const user = await users.getUser(c.get('db'), person(c).userId);
      if (!user) throw unauthorized();
      return c.json(toUserDto(user), 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'patch',
      path: '/users/me',
      tags,
      security,
      summary: 'Change your profile',
      request: { body: jsonBody(z.object({ name: z.string().trim().min(1).max(120) }).partial().strict()) },
      responses: { 200: jsonContent(UserSchema, 'Updated'), 400: commonErrors[400], 401: commonErrors[401] },
    }),
    async (c) => {
      const updated = await users.updateProfile(serviceContext(c), person(c), c.req.valid('json'));
      if (!updated) throw unauthorized();
      return c.json(toUserDto(updated), 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/users/me/password',
      tags,
      security,
      summary: 'Change your password (signs out your other sessions)',
      request: { body: jsonBody(z.object({ currentPassword: z.string().min(1).max(1024), newPassword: z.string().min(1).max(1024) })) },
      responses: { 204: { description: 'Changed' }, 400: commonErrors[400], 401: commonErrors[401] },
    }),
    async (c) => {
      const result = await users.changePassword(serviceContext(c), person(c), c.req.valid('json'));
      if (result.status === 'wrong_password') {
        throw badRequest('The current password is incorrect.', 'wrong_password', [{ path: 'currentPassword', message: 'Incorrect' }]);
      }
      if (result.status === 'weak_password') {
        throw badRequest(result.message, 'weak_password', [{ path: 'newPassword', message: result.message }]);
      }
      return c.body(null, 204);
    },
  );

  router.openapi(
    createRoute({
      method: 'delete',
      path: '/users/me',
      tags,
      security,
      summary: 'Deactivate your account (not while you are an organization\'s last owner)',
      responses: { 204: { description: 'Deactivated' }, 401: commonErrors[401], 409: errorResponses[409] },
    }),
    async (c) => {
      const result = await users.deactivate(serviceContext(c), person(c));
      if (result.status === 'last_owner') {
        throw new ApiError({
          status: 409,
          code: 'last_owner',
          title: 'Conflict',
          detail: `You are the last owner of ${result.orgIds.length} organization(s): ${result.orgIds.join(', ')}. Make someone else an owner first.`,
        });
      }
      return c.body(null, 204);
    },
  );

  return router;
}
