import { z } from '@hono/zod-openapi';
import { ANSWER_CORRECTION, QA_SOURCE_MAX_PAIRS, TEXT_SOURCE_MAX_CHARS, WEBSITE_DEFAULT_MAX_PAGES, WEBSITE_MAX_DEPTH, WEBSITE_MAX_PAGES, WEBSITE_MAX_PATTERNS } from '../../limits';

/** Shape only; whether the Worker may fetch it is the egress policy's call (422 at the route). */
const PublicUrl = z
  .string()
  .max(2000)
  .url()
  .refine((v) => /^https?:\/\//i.test(v), 'Must be an http(s) URL')
  .openapi({ example: 'https://docs.example.com/' });

const Schedule = z.enum(['none', 'daily', 'weekly']).openapi({ description: 'Automatic re-sync by the cron trigger' });
const Pattern = z.string().min(1).max(200).openapi({ example: '/docs/*' });

export const CreateSourceSchema = z
  .discriminatedUnion('type', [
    z.object({
      type: z.literal('text'),
      title: z.string().trim().min(1).max(300),
      text: z.string().min(1).max(TEXT_SOURCE_MAX_CHARS),
      schedule: Schedule.optional(),
    }),
    z.object({
      type: z.literal('qa'),
      title: z.string().trim().min(1).max(300).optional(),
      pairs: z
        .array(z.object({ question: z.string().trim().min(1).max(ANSWER_CORRECTION.maxQuestionChars), answer: z.string().trim().min(1).max(ANSWER_CORRECTION.maxAnswerChars) }))
        .min(1)
        .max(QA_SOURCE_MAX_PAIRS),
      schedule: Schedule.optional(),
    }),
    z.object({ type: z.literal('url'), url: PublicUrl, title: z.string().trim().min(1).max(300).optional(), schedule: Schedule.optional() }),
    z.object({
      type: z.literal('website'),
      url: PublicUrl,
      title: z.string().trim().min(1).max(300).optional(),
      // No zod default: the route lowers the default to the operator's ceiling and refuses more.
      maxPages: z
        .number()
        .int()
        .min(1)
        .max(WEBSITE_MAX_PAGES)
        .optional()
        .openapi({
          description: `Pages to crawl at most: ${WEBSITE_DEFAULT_MAX_PAGES} when absent. The operator's CRAWL_MAX_PAGES (default 500) is the ceiling: a larger value is a 400.`,
        }),
      maxDepth: z.number().int().min(0).max(WEBSITE_MAX_DEPTH).default(3),
      include: z.array(Pattern).max(WEBSITE_MAX_PATTERNS).default([]),
      exclude: z.array(Pattern).max(WEBSITE_MAX_PATTERNS).default([]),
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
    externalId: z
      .string()
      .nullable()
      .openapi({ description: "The id another system knows this source by (an inbound webhook's knowledge.upsert set it); null for sources made here" }),
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
    // Omitted values come from the bot's retrieval settings (topK, minScore, hybrid; fusion and its weight always do).
    topK: z.number().int().min(1).max(50).optional().openapi({ description: "Results to return; the bot's retrieval.topK when omitted." }),
    mode: z
      .enum(['hybrid', 'vector', 'keyword'])
      .optional()
      .openapi({ description: "hybrid or vector by the bot's retrieval.hybrid when omitted." }),
    minScore: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .openapi({ description: "Leave out hits whose calibrated relevance (0..1, the same scale in every mode) is below this; the bot's retrieval.minScore when omitted." }),
    filter: z.object({ sourceIds: z.array(z.string().min(1).max(64)).min(1).max(20).optional() }).strict().optional(),
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
