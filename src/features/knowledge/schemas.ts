import { z } from '@hono/zod-openapi';
import { checkPublicHttpUrl } from './public-url';

const PublicUrl = z
  .string()
  .max(2000)
  .superRefine((v, ctx) => {
    const check = checkPublicHttpUrl(v);
    if (!check.ok) ctx.addIssue({ code: 'custom', message: check.reason });
  })
  .openapi({ example: 'https://docs.example.com/' });

const Schedule = z.enum(['none', 'daily', 'weekly']).openapi({ description: 'Automatic re-sync by the cron trigger' });
const Pattern = z.string().min(1).max(200).openapi({ example: '/docs/*' });

export const CreateSourceSchema = z
  .discriminatedUnion('type', [
    z.object({
      type: z.literal('text'),
      title: z.string().trim().min(1).max(300),
      text: z.string().min(1).max(2_000_000),
      schedule: Schedule.optional(),
    }),
    z.object({
      type: z.literal('qa'),
      title: z.string().trim().min(1).max(300).optional(),
      pairs: z
        .array(z.object({ question: z.string().trim().min(1).max(2000), answer: z.string().trim().min(1).max(20_000) }))
        .min(1)
        .max(5000),
      schedule: Schedule.optional(),
    }),
    z.object({ type: z.literal('url'), url: PublicUrl, title: z.string().trim().min(1).max(300).optional(), schedule: Schedule.optional() }),
    z.object({
      type: z.literal('website'),
      url: PublicUrl,
      title: z.string().trim().min(1).max(300).optional(),
      maxPages: z.number().int().min(1).max(10_000).default(50),
      maxDepth: z.number().int().min(0).max(20).default(3),
      include: z.array(Pattern).max(50).default([]),
      exclude: z.array(Pattern).max(50).default([]),
      schedule: Schedule.optional(),
    }),
  ])
  .openapi('CreateSource');

export const SourceSchema = z
  .object({
    id: z.string(),
    botId: z.string(),
    type: z.enum(['text', 'qa', 'url', 'website', 'file']),
    title: z.string(),
    status: z.enum(['queued', 'processing', 'ready', 'failed']),
    error: z.string().nullable(),
    progress: z.object({ done: z.number().int(), total: z.number().int(), failed: z.number().int() }),
    chunks: z.number().int(),
    characters: z.number().int(),
    config: z.record(z.string(), z.unknown()),
    schedule: Schedule,
    lastSyncedAt: z.string().datetime().nullable(),
    nextSyncAt: z.string().datetime().nullable(),
    createdAt: z.string().datetime(),
    updatedAt: z.string().datetime(),
  })
  .openapi('Source');

export const UpdateSourceSchema = z.object({ schedule: Schedule }).strict().openapi('UpdateSource');

export const DocumentSchema = z
  .object({
    id: z.string(),
    sourceId: z.string(),
    botId: z.string(),
    title: z.string(),
    url: z.string().nullable(),
    fileName: z.string().nullable(),
    mime: z.string(),
    sizeBytes: z.number().int(),
    contentHash: z.string().nullable(),
    status: z.enum(['pending', 'processing', 'ready', 'failed', 'skipped']),
    error: z.string().nullable(),
    characters: z.number().int(),
    chunks: z.number().int(),
    preview: z.string(),
    createdAt: z.string().datetime(),
    updatedAt: z.string().datetime(),
  })
  .openapi('Document');

export const SearchRequestSchema = z
  .object({
    query: z.string().trim().min(1).max(2000),
    topK: z.number().int().min(1).max(50).default(8),
    mode: z.enum(['hybrid', 'vector', 'keyword']).default('hybrid'),
    filter: z.object({ sourceIds: z.array(z.string().min(1).max(64)).min(1).max(20).optional() }).strict().optional(),
    minScore: z.number().min(0).max(1).optional().openapi({ description: "Leave out hits below this relevance; defaults to the bot's minScore" }),
    rerank: z.boolean().default(true).openapi({ description: "Apply the org's reranker, when one is configured" }),
  })
  .strict()
  .openapi('SearchRequest');

export const SearchHitSchema = z
  .object({
    chunkId: z.string(),
    score: z.number().openapi({ description: 'Ranking score of the stage that ordered the hit; compare only within one response' }),
    relevance: z.number().min(0).max(1).openapi({ description: 'Calibrated relevance: the same scale in every mode and for every embedder' }),
    text: z.string(),
    windowText: z.string().nullable(),
    headingPath: z.array(z.string()),
    position: z.number().int(),
    startOffset: z.number().int(),
    endOffset: z.number().int(),
    document: z.object({ id: z.string(), title: z.string(), locator: z.string() }),
    source: z.object({ id: z.string(), title: z.string(), type: z.string() }),
    ranks: z.object({ vector: z.number().int().optional(), keyword: z.number().int().optional(), rerank: z.number().int().optional() }),
  })
  .openapi('SearchHit');
