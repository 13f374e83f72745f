import { z } from '@hono/zod-openapi';

export const UserSchema = z
  .object({
    id: z.string().openapi({ example: 'usr_01JD3X5Q8W2N4V6B8C0D2E4F6G' }),
    email: z.string().email(),
    name: z.string(),
    emailVerified: z.boolean(),
    createdAt: z.string().datetime(),
  })
  .openapi('User');
