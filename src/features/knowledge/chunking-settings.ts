/**
 * A bot's chunking settings: the one schema bots use for requests and responses, and the
 * overlap rule the chunker enforces (resolveChunkOptions), so the API never stores settings
 * that would make every later ingestion fail.
 */
// Plain zod (no Hono): services read the defaults and the rule; the route schemas compose it.
import { z } from 'zod';
import { BOT_CHUNKING, CHUNKING } from '../../limits';
import { CHUNK_STRATEGIES } from './chunker/types';

export const ChunkingSchema = z.object({
  strategy: z.enum(CHUNK_STRATEGIES),
  chunkTokens: z.number().int().min(BOT_CHUNKING.minChunkTokens).max(BOT_CHUNKING.maxChunkTokens),
  overlapTokens: z
    .number()
    .int()
    .min(0)
    .max(BOT_CHUNKING.maxOverlapTokens)
    .describe(`At most ${CHUNKING.maxOverlapRatio * 100}% of chunkTokens (rounded down).`),
});

export type ChunkingSettings = z.infer<typeof ChunkingSchema>;

export const DEFAULT_CHUNKING: ChunkingSettings = {
  strategy: 'recursive',
  chunkTokens: CHUNKING.defaultChunkTokens,
  overlapTokens: CHUNKING.defaultOverlapTokens,
};

/**
 * Why the chunker would refuse these settings, or null. Checked on the merged settings, since a
 * PATCH may change chunkTokens alone.
 */
export function chunkingOverlapProblem(settings: Pick<ChunkingSettings, 'chunkTokens' | 'overlapTokens'>): string | null {
  const max = Math.floor(settings.chunkTokens * CHUNKING.maxOverlapRatio);
  return settings.overlapTokens <= max ? null : `Must be at most ${max}: half of chunkTokens (${settings.chunkTokens})`;
}
