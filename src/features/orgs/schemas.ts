import { z } from '@hono/zod-openapi';
import { ROLES } from '../../db/schema';

export const RoleSchema = z.enum(ROLES).openapi('Role');

export const OrgSchema = z
  .object({
    id: z.string().openapi({ example: 'org_01JD3X5Q8W2N4V6B8C0D2E4F6G' }),
    name: z.string(),
    role: RoleSchema.optional(),
    createdAt: z.string().datetime(),
    updatedAt: z.string().datetime(),
  })
  .openapi('Organization');

export const MemberSchema = z
  .object({
    id: z.string(),
    userId: z.string(),
    email: z.string(),
    name: z.string(),
    role: RoleSchema,
    createdAt: z.string().datetime(),
  })
  .openapi('Member');

export const InvitationSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    role: RoleSchema,
    invitedBy: z.string(),
    createdAt: z.string().datetime(),
    expiresAt: z.string().datetime(),
    acceptedAt: z.string().datetime().nullable(),
  })
  .openapi('Invitation');
