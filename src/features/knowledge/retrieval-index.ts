/**
 * The embedder and vector index a given org's knowledge uses. Vectors of different embedders
 * are not comparable, so the embedder's id is part of every document's index key, and the
 * local backend keeps one index per vector size.
 */
import { createEmbedder } from '../../ai/create-embedder';
import type { Embedder } from '../../ai/embedder';
import { createVectorIndex, DEFAULT_INDEX_NAME, type VectorIndex } from '../../vector/vector-index';
import type { ServiceContext } from '../../context';
import { resolveProviderSettings } from '../settings/service';
import type { RerankerConfig } from './retrieval/rerank';

/** The settings secret that holds the provider API key. */
export const PROVIDER_KEY_SECRET = 'api_key';
/** The settings secret that holds the reranker's API key. */
export const RERANK_KEY_SECRET = 'rerank_api_key';

export interface RetrievalIndex {
  embedder: Embedder;
  vectors: VectorIndex;
  /** Vectorize namespace: one per org. */
  namespace: string;
  /** The org's reranker, when one is configured. */
  reranker: { config: RerankerConfig; apiKey: string | undefined } | null;
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
  const reranker = settings.reranker ? { config: settings.reranker, apiKey: settings.secrets[RERANK_KEY_SECRET] } : null;
  return { embedder, vectors, namespace: orgId, reranker };
}
