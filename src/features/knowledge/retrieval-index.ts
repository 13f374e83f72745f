/**
 * The embedder and vector index a given org's knowledge uses. Vectors of different embedders
 * are not comparable, so the embedder's id is part of every document's index key, and the
 * local backend keeps one index per vector size.
 */
import { createEmbedder } from '../../ai/create-embedder';
import type { Embedder } from '../../ai/embedder';
import { createVectorIndex, DEFAULT_INDEX_NAME, type VectorIndex } from '../../vector/vector-index';
import type { ServiceContext } from '../../context';
import { PROVIDER_KEY_SECRET, resolveProviderSettings } from '../settings/service';

export interface RetrievalIndex {
  embedder: Embedder;
  vectors: VectorIndex;
  /** Vectorize namespace: one per org. */
  namespace: string;
}

export async function retrievalIndexFor(ctx: ServiceContext, orgId: string): Promise<RetrievalIndex> {
  const settings = await resolveProviderSettings(ctx, orgId);
  const apiKey = settings.provider === 'offline' ? undefined : settings.secrets[PROVIDER_KEY_SECRET];
  const embedder = createEmbedder({
    apiKey,
    baseURL: settings.baseUrl ?? undefined,
    model: settings.embeddingModel ?? undefined,
    dimensions: settings.embeddingDimensions ?? undefined,
  });
  const local = ctx.config.vectorBackend === 'local';
  const vectors = createVectorIndex(ctx.env, ctx.config.vectorBackend, {
    dimensions: embedder.dimensions,
    indexName: local ? `${DEFAULT_INDEX_NAME}-${embedder.dimensions}` : undefined,
  });
  return { embedder, vectors, namespace: orgId };
}
