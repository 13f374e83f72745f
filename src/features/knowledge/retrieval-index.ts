/**
 * The embedder and vector index a given org's knowledge uses. Vectors of different embedders
 * are not comparable, so the embedder's id is part of every document's index key, and the
 * local backend keeps one index per vector size.
 */
import { createEmbedder } from '../../ai/create-embedder';
import { egressFetch, fetcherFromBinding } from '../../egress';
import { RERANK } from '../../limits';
import type { Embedder } from '../../ai/embedder';
import { createVectorIndex, DEFAULT_INDEX_NAME, type VectorIndex } from '../../vector/vector-index';
import type { ServiceContext } from '../../context';
import { PROVIDER_KEY_SECRET, RERANK_KEY_SECRET, resolveProviderSettings } from '../settings/service';
import type { FetchLike, RerankerConfig } from './retrieval/rerank';

export interface RetrievalIndex {
  embedder: Embedder;
  vectors: VectorIndex;
  /** Vectorize namespace: one per org. */
  namespace: string;
  /** The org's reranker, when one is configured, with the guarded fetch that reaches it. */
  reranker: { config: RerankerConfig; apiKey: string | undefined; fetch: FetchLike } | null;
}

export async function retrievalIndexFor(ctx: ServiceContext, orgId: string): Promise<RetrievalIndex> {
  // Only the provider key is decrypted here (none for the offline provider): an unrelated secret
  // that can no longer be opened must not break search, indexing or purges.
  const settings = await resolveProviderSettings(ctx, orgId, ({ provider }) => (provider === 'offline' ? [] : [PROVIDER_KEY_SECRET]));
  const apiKey = settings.provider === 'offline' ? undefined : settings.secrets[PROVIDER_KEY_SECRET];
  const embedder = createEmbedder({
    apiKey,
    baseURL: settings.baseUrl ?? undefined,
    model: settings.embeddingModel ?? undefined,
    dimensions: settings.embeddingDimensions ?? undefined,
  }, { fetch: fetcherFromBinding(ctx.env.WEB_FETCHER), egressPolicy: ctx.config.egress });
  const local = ctx.config.vectorBackend === 'local';
  const vectors = createVectorIndex(ctx.env, ctx.config.vectorBackend, {
    dimensions: embedder.dimensions,
    indexName: local ? `${DEFAULT_INDEX_NAME}-${embedder.dimensions}` : undefined,
  });
  // The reranker's URL passed the egress policy when it was saved; the guard checks it (and
  // every redirect hop) again on each call, and bounds the wait and the response size.
  const reranker = settings.reranker
    ? {
        config: settings.reranker,
        apiKey: await rerankKey(ctx, orgId),
        fetch: egressFetch({
          policy: ctx.config.egress,
          fetcher: fetcherFromBinding(ctx.env.WEB_FETCHER),
          timeoutMs: RERANK.timeoutMs,
          maxBytes: RERANK.maxResponseBytes,
        }),
      }
    : null;
  return { embedder, vectors, namespace: orgId, reranker };
}

/**
 * The reranker is an optional improvement, never a dependency: a key that cannot be opened is
 * logged and the reranker is called without it (it then fails, and search keeps the fused order).
 */
async function rerankKey(ctx: ServiceContext, orgId: string): Promise<string | undefined> {
  try {
    return (await resolveProviderSettings(ctx, orgId, () => [RERANK_KEY_SECRET])).secrets[RERANK_KEY_SECRET];
  } catch (err) {
    console.warn(JSON.stringify({ level: 'warn', msg: 'reranker key could not be decrypted', orgId, error: err instanceof Error ? err.message : String(err) }));
    return undefined;
  }
}
