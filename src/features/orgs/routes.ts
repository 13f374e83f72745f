import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { createRouter, jsonBody, jsonContent, commonErrors, errorResponses, PaginationQuery, IdParam, page } from '../../http/router';
import { ApiError, conflict, notFound, unauthorized } from '../../http/problem';
import { requirePermission, serviceContext } from '../../http/context';
import { authenticate, requireUser, resolveOrg } from '../../http/middleware/auth';
import type { AppBindings } from '../../http/types';
import { decodeCursor, toPage } from '../../http/pagination';
import { InvitationSchema, MemberSchema, OrgSchema, RoleSchema } from './schemas';
import * as orgs from './service';

const tags = ['Organizations'];
const security = [{ bearer: [] }];
const OrgId = IdParam('orgId', 'org');
const inOrg = [authenticate(), resolveOrg({ fromParam: 'orgId' })];
const asPerson = [authenticate(), requireUser()];

function person(c: Context<AppBindings>) {
  const actor = c.get('actor');
  if (actor.kind !== 'user') throw unauthorized();
  return actor;
}

const memberNotFound = () => notFound('Member', 'member_not_found');
const invitationNotFound = () => notFound('Invitation', 'invitation_not_found');
const lastOwner = () =>
  new ApiError({ status: 409, code: 'last_owner', title: 'Conflict', detail: 'An organization needs at least one owner. Make someone else an owner first.' });

/** Mounted under /api/v1. Routes carry their own auth: `/orgs/{orgId}/…` resolves the org from the path. */
export function orgRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'get',
      path: '/orgs',
      tags,
      security,
      summary: 'Organizations you belong to, with your role',
      middleware: asPerson,
      request: { query: PaginationQuery },
      responses: { 200: jsonContent(page(OrgSchema), 'Your organizations'), 401: commonErrors[401] },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid('query');
      const result = toPage(await orgs.listOrgsForUser(c.get('db'), person(c).userId, decodeCursor(cursor), limit), limit);
      return c.json({ data: result.data.map((o) => orgs.toOrgDto(o, o.role)), nextCursor: result.nextCursor }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/orgs',
      tags,
      security,
      summary: 'Create another organization (you become its owner)',
      middleware: asPerson,
      request: { body: jsonBody(z.object({ name: z.string().trim().min(1).max(120) })) },
      responses: { 201: jsonContent(OrgSchema, 'Created'), 400: commonErrors[400], 401: commonErrors[401] },
    }),
    async (c) => {
      const org = await orgs.createOrg(serviceContext(c), person(c), c.req.valid('json').name);
      return c.json(orgs.toOrgDto(org, 'owner'), 201);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/orgs/{orgId}',
      tags,
      security,
      summary: 'An organization',
      middleware: inOrg,
      request: { params: OrgId },
      responses: { 200: jsonContent(OrgSchema, 'The organization'), ...commonErrors },
    }),
    async (c) => {
      const ctx = requirePermission(c, 'org.read');
      const org = await orgs.getOrg(c.get('db'), ctx.orgId);
      if (!org) throw notFound('Organization', 'org_not_found');
      return c.json(orgs.toOrgDto(org, ctx.role), 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'patch',
      path: '/orgs/{orgId}',
      tags,
      security,
      summary: 'Rename an organization',
      middleware: inOrg,
      request: { params: OrgId, body: jsonBody(z.object({ name: z.string().trim().min(1).max(120) }).partial().strict()) },
      responses: { 200: jsonContent(OrgSchema, 'Updated'), ...commonErrors },
    }),
    async (c) => {
      const ctx = requirePermission(c, 'org.update');
      const org = await orgs.updateOrg(serviceContext(c), c.get('actor'), ctx.orgId, c.req.valid('json'));
      if (!org) throw notFound('Organization', 'org_not_found');
      return c.json(orgs.toOrgDto(org, ctx.role), 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/orgs/{orgId}/members',
      tags,
      security,
      summary: 'Members and their roles',
      middleware: inOrg,
      request: { params: OrgId, query: PaginationQuery },
      responses: { 200: jsonContent(page(MemberSchema), 'A page of members'), ...commonErrors },
    }),
    async (c) => {
      const ctx = requirePermission(c, 'members.read');
      const { limit, cursor } = c.req.valid('query');
      const result = toPage(await orgs.listMembers(c.get('db'), ctx.orgId, decodeCursor(cursor), limit), limit);
      return c.json({ data: result.data.map(orgs.toMemberDto), nextCursor: result.nextCursor }, 200);
    },
  );

  const MemberParams = OrgId.extend(IdParam('memberId', 'mem').shape);

  router.openapi(
    createRoute({
      method: 'patch',
      path: '/orgs/{orgId}/members/{memberId}',
      tags,
      security,
      summary: 'Change a member\'s role',
      middleware: inOrg,
      request: { params: MemberParams, body: jsonBody(z.object({ role: RoleSchema })) },
      responses: { 200: jsonContent(MemberSchema, 'Updated'), ...commonErrors, 409: errorResponses[409] },
    }),
    async (c) => {
      const { orgId } = c.get('org');
      const member = await orgs.getMember(c.get('db'), orgId, c.req.valid('param').memberId);
      if (!member) throw memberNotFound();
      const { role } = c.req.valid('json');
      requirePermission(c, 'members.manage', { targetRole: member.role, newRole: role });
      const result = await orgs.changeMemberRole(serviceContext(c), c.get('actor'), orgId, member, role);
      if (result.status === 'last_owner') throw lastOwner();
      return c.json(orgs.toMemberDto(result.member), 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'delete',
      path: '/orgs/{orgId}/members/{memberId}',
      tags,
      security,
      summary: 'Remove a member (or leave, when it is you)',
      middleware: inOrg,
      request: { params: MemberParams },
      responses: { 204: { description: 'Removed' }, ...commonErrors, 409: errorResponses[409] },
    }),
    async (c) => {
      const { orgId } = c.get('org');
      const member = await orgs.getMember(c.get('db'), orgId, c.req.valid('param').memberId);
      if (!member) throw memberNotFound();
      const actor = c.get('actor');
      // Leaving needs no management rights; removing someone else does.
      if (!(actor.kind === 'user' && actor.userId === member.userId)) {
        requirePermission(c, 'members.manage', { targetRole: member.role });
      }
      if ((await orgs.removeMember(serviceContext(c), actor, orgId, member)) === 'last_owner') throw lastOwner();
      return c.body(null, 204);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/orgs/{orgId}/invitations',
      tags,
      security,
      summary: 'Invite someone by email (a token is mailed to them)',
      middleware: [...inOrg, requireUser()],
      request: { params: OrgId, body: jsonBody(z.object({ email: z.string().trim().email().max(254), role: RoleSchema })) },
      responses: { 201: jsonContent(InvitationSchema, 'Invited'), ...commonErrors, 409: errorResponses[409] },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const ctx = requirePermission(c, 'members.manage', { newRole: input.role });
      const org = await orgs.getOrg(c.get('db'), ctx.orgId);
      if (!org) throw notFound('Organization', 'org_not_found');
      const result = await orgs.inviteMember(serviceContext(c), person(c), org, input);
      if (result.status === 'already_member') throw conflict('This person is already a member.', 'already_member');
      return c.json(orgs.toInvitationDto(result.invitation), 201);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/orgs/{orgId}/invitations',
      tags,
      security,
      summary: 'Pending invitations, newest first',
      middleware: inOrg,
      request: { params: OrgId, query: PaginationQuery },
      responses: { 200: jsonContent(page(InvitationSchema), 'A page of pending invitations'), ...commonErrors },
    }),
    async (c) => {
      const ctx = requirePermission(c, 'members.read');
      const { limit, cursor } = c.req.valid('query');
      const result = toPage(await orgs.listInvitations(c.get('db'), ctx.orgId, Date.now(), decodeCursor(cursor), limit), limit);
      return c.json({ data: result.data.map(orgs.toInvitationDto), nextCursor: result.nextCursor }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'delete',
      path: '/orgs/{orgId}/invitations/{invitationId}',
      tags,
      security,
      summary: 'Withdraw a pending invitation (an invitation for a role is managed like a member of that role)',
      middleware: inOrg,
      request: { params: OrgId.extend(IdParam('invitationId', 'inv').shape) },
      responses: { 204: { description: 'Withdrawn' }, ...commonErrors },
    }),
    async (c) => {
      const { orgId } = c.get('org');
      const invitation = await orgs.getPendingInvitation(c.get('db'), orgId, c.req.valid('param').invitationId);
      if (!invitation) throw invitationNotFound();
      // Like removing a member: admins manage only the roles below them.
      requirePermission(c, 'members.manage', { targetRole: invitation.role });
      if (!(await orgs.revokeInvitation(serviceContext(c), c.get('actor'), orgId, invitation))) throw invitationNotFound();
      return c.body(null, 204);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/invitations/{token}/accept',
      tags,
      security,
      summary: 'Accept an invitation mailed to your (signed-in) email address',
      middleware: asPerson,
      request: { params: z.object({ token: z.string().min(10).max(256).openapi({ param: { name: 'token', in: 'path' } }) }) },
      responses: {
        200: jsonContent(z.object({ orgId: z.string(), role: RoleSchema }), 'Joined'),
        ...commonErrors,
        409: errorResponses[409],
      },
    }),
    async (c) => {
      const result = await orgs.acceptInvitation(serviceContext(c), person(c), c.req.valid('param').token);
      switch (result.status) {
        case 'accepted':
          return c.json({ orgId: result.orgId, role: result.role }, 200);
        case 'already_member':
          throw conflict('You are already a member of this organization.', 'already_member');
        case 'email_mismatch':
          throw new ApiError({ status: 403, code: 'invitation_email_mismatch', title: 'Forbidden', detail: 'This invitation was sent to a different email address.' });
        default:
          throw notFound('Invitation', 'invitation_not_found');
      }
    },
  );

  return router;
}
