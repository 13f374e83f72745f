/**
 * A bot's identity-verification secret (mounted under /api/v1 behind authenticate + resolveOrg):
 * admins rotate it (the new secret is shown once) and read its masked form. It is a credential
 * like an API key, so it takes the API-key permissions (admin, or a key with the `admin` scope).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, jsonContent, commonErrors, IdParam } from '../../http/router';
import { notFound } from '../../http/problem';
import { requirePermission, serviceContext } from '../../http/context';
import { WIDGET } from '../../limits';
import { identitySecretInfo, rotateIdentitySecret } from './identity';

const tags = ['Widget'];
const security = [{ bearer: [] }];
const BotId = IdParam('botId', 'bot');
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const botNotFound = () => notFound('Bot', 'bot_not_found');

const IdentitySecretInfo = z
  .object({
    configured: z.boolean().openapi({ description: 'False until the first rotation makes one' }),
    masked: z.string().nullable().openapi({ example: 'kcid_…x9Qa' }),
    createdAt: z.string().datetime().nullable(),
    rotatedAt: z.string().datetime().nullable(),
    previousValidUntil: z.string().datetime().nullable().openapi({ description: 'Until when the previous secret still verifies (null: none)' }),
  })
  .openapi('IdentitySecretInfo');

const RotatedSecret = z
  .object({
    secret: z.string().openapi({ description: 'The new secret, shown only now. The host signs user ids with it: hex(HMAC-SHA256(secret, userId))' }),
    rotatedAt: z.string().datetime(),
    previousValidUntil: z
      .string()
      .datetime()
      .nullable()
      .openapi({ description: `The previous secret keeps verifying until then (${WIDGET.identityGraceMs / 3_600_000} h); null on the first rotation` }),
  })
  .openapi('RotatedIdentitySecret');

export function identitySecretRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'get',
      path: '/bots/{botId}/identity-secret',
      tags,
      security,
      summary: "The bot's identity-verification secret, masked",
      request: { params: BotId },
      responses: { 200: jsonContent(IdentitySecretInfo, 'Masked secret and rotation times'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'keys.read');
      const info = await identitySecretInfo(serviceContext(c), org.orgId, c.req.valid('param').botId);
      if (!info) throw botNotFound();
      return c.json(
        { configured: info.configured, masked: info.masked, createdAt: iso(info.createdAt), rotatedAt: iso(info.rotatedAt), previousValidUntil: iso(info.previousValidUntil) },
        200,
      );
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/bots/{botId}/identity-secret/rotate',
      tags,
      security,
      summary: 'Make a new identity-verification secret (the first, or a rotation)',
      description: `Returns the new secret once. After a rotation the previous secret still verifies for ${WIDGET.identityGraceMs / 3_600_000} hours, so the host can deploy the new one without signing its users out.`,
      request: { params: BotId },
      responses: { 200: jsonContent(RotatedSecret, 'The new secret (shown once)'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'keys.manage');
      const rotated = await rotateIdentitySecret(serviceContext(c), c.get('actor'), org.orgId, c.req.valid('param').botId);
      if (!rotated) throw botNotFound();
      c.header('cache-control', 'no-store');
      return c.json({ secret: rotated.secret, rotatedAt: iso(rotated.rotatedAt)!, previousValidUntil: iso(rotated.previousValidUntil) }, 200);
    },
  );

  return router;
}
