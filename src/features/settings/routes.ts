import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, jsonBody, jsonContent, commonErrors } from '../../http/router';
import { requirePermission, serviceContext } from '../../http/context';
import * as settings from './service';
import { RERANK } from '../../limits';
import { egressRefusedResponse, requireEgressAllowed } from '../../http/upstream-problems';

const tags = ['Settings'];
const security = [{ bearer: [] }];

/** The optional search reranker (`/rerank` API shape); its key is the `rerank_api_key` secret. */
const RerankerSchema = z
  .object({
    url: z.string().url().max(500).refine((u) => /^https?:\/\//.test(u), 'Must be an http(s) URL').openapi({ example: 'https://api.cohere.com/v2/rerank' }),
    model: z.string().min(1).max(120).openapi({ example: 'rerank-v3.5' }),
    topN: z.number().int().min(1).max(RERANK.maxDocuments).default(RERANK.defaultTopN).openapi({ description: 'Fused candidates sent to the reranker' }),
    relevantAt: z
      .number()
      .gt(0)
      .lt(1)
      .default(RERANK.defaultRelevantAt)
      .openapi({
        description:
          "The reranker score at which a hit counts as relevant: it becomes relevance 0.5 (chat's abstention line), lower and higher scores are stretched linearly on each side. Rerankers' scores are not on one scale; pick it from your reranker's scores on questions your knowledge does and does not answer.",
      }),
  })
  .strict()
  .openapi('RerankerSettings');

const SettingsSchema = z
  .object({
    provider: z.string(),
    baseUrl: z.string().nullable(),
    chatModel: z.string().nullable(),
    embeddingModel: z.string().nullable(),
    embeddingDimensions: z.number().int().nullable(),
    secrets: z.record(z.string(), z.object({ value: z.string().openapi({ example: 'sk-…a1b2' }), keyId: z.string(), updatedAt: z.string().datetime() })),
    reranker: RerankerSchema.nullable(),
    updatedAt: z.string().datetime().nullable(),
  })
  .openapi('OrgSettings');

const SecretName = z.string().regex(settings.SECRET_NAME_PATTERN, 'Lowercase letters, digits and _ (e.g. openai_api_key)');

const SettingsPatch = z
  .object({
    provider: z.enum(['offline', 'openai', 'openai-compatible']),
    baseUrl: z.string().url().max(500).refine((u) => /^https?:\/\//.test(u), 'Must be an http(s) URL').nullable(),
    chatModel: z.string().min(1).max(120).nullable(),
    embeddingModel: z.string().min(1).max(120).nullable(),
    embeddingDimensions: z.number().int().min(8).max(1536).nullable(),
    secrets: z
      .record(SecretName, z.string().min(1).max(4096).nullable())
      .refine((s) => Object.keys(s).length <= 20, 'At most 20 secrets per change'),
    reranker: RerankerSchema.nullable(),
  })
  .partial()
  .strict()
  .openapi('OrgSettingsPatch');

export function settingsRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'get',
      path: '/settings',
      tags,
      security,
      summary: 'Model provider settings (secrets masked)',
      responses: { 200: jsonContent(SettingsSchema, 'Settings'), ...commonErrors },
    }),
    async (c) => {
      const org = requirePermission(c, 'settings.read');
      return c.json(await settings.getSettings(serviceContext(c), org.orgId), 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'patch',
      path: '/settings',
      tags,
      security,
      summary: 'Change provider settings; secrets are encrypted at rest (null deletes one)',
      request: { body: jsonBody(SettingsPatch) },
      responses: { 200: jsonContent(SettingsSchema, 'Updated settings'), ...commonErrors, ...egressRefusedResponse },
    }),
    async (c) => {
      const org = requirePermission(c, 'settings.update');
      const patch = c.req.valid('json');
      // Providers receive the org's API key: the base URL must pass the egress policy before it is saved.
      if (patch.baseUrl) requireEgressAllowed(c.get('config').egress, patch.baseUrl, 'baseUrl');
      // So does the reranker's URL: it receives the `rerank_api_key` secret and the org's chunks.
      if (patch.reranker) requireEgressAllowed(c.get('config').egress, patch.reranker.url, 'reranker.url');
      return c.json(await settings.updateSettings(serviceContext(c), c.get('actor'), org.orgId, patch), 200);
    },
  );

  return router;
}
