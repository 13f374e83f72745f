/**
 * The VectorIndex port: exactly the Vectorize (v2) binding's methods and types, so production
 * passes the real `VECTORS` binding and local mode passes LocalVectorIndex, and the same
 * contract tests hold for both (test/ai/vector-index.contract.test.ts).
 *
 * Layout in production: one Vectorize index (wrangler.toml `index_name = "kyrochat-chunks"`),
 * one namespace per org, and metadata indexes on botId and sourceId for filtering inside an
 * org. Deploy step, once per environment, BEFORE the first vector is inserted (Vectorize only
 * indexes metadata of vectors written after the metadata index exists):
 *
 *   npx wrangler vectorize create kyrochat-chunks --dimensions=<embedder dimensions> --metric=cosine
 *   npx wrangler vectorize create-metadata-index kyrochat-chunks --property-name=botId --type=string
 *   npx wrangler vectorize create-metadata-index kyrochat-chunks --property-name=sourceId --type=string
 *   npx wrangler vectorize list-metadata-index kyrochat-chunks   # check
 *
 * Consistency: Vectorize applies mutations asynchronously (queryable seconds later); the
 * local index applies them before the call returns. Callers must not rely on reading their
 * own writes: never query right after an upsert expecting to see it, and never treat a
 * missing match as proof that a vector does not exist. Treat `mutationId` as opaque.
 *
 * Ids are unique across the whole index, not per namespace: upserting an existing id under
 * another namespace moves it. Query without `namespace` searches every namespace.
 */
import { LocalVectorIndex } from './local-vector-index';
import type { MetadataIndexSpec } from './metadata-filter';
import { VectorIndexError, withVectorizeLimits } from './vector-limits';

/**
 * The index could not be reached or failed (Vectorize down, a Durable Object reset): worth
 * retrying later, never the caller's fault. Requests the index refuses stay VectorIndexError.
 */
export class VectorIndexUnavailableError extends Error {
  override readonly name = 'VectorIndexUnavailableError';
  constructor(operation: string, cause: unknown) {
    super(`vector index ${operation} failed: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`, { cause });
  }
}

/** Every failure of `index` that is not a refusal becomes a VectorIndexUnavailableError. */
function withUnavailability(index: VectorIndex): VectorIndex {
  const guard =
    <A extends unknown[], R>(operation: string, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await call(...args);
      } catch (error) {
        if (error instanceof VectorIndexError) throw error;
        throw new VectorIndexUnavailableError(operation, error);
      }
    };
  return {
    upsert: guard('upsert', (v) => index.upsert(v)),
    insert: guard('insert', (v) => index.insert(v)),
    query: guard('query', (v, o) => index.query(v, o)),
    queryById: guard('queryById', (id, o) => index.queryById(id, o)),
    getByIds: guard('getByIds', (ids) => index.getByIds(ids)),
    deleteByIds: guard('deleteByIds', (ids) => index.deleteByIds(ids)),
    describe: guard('describe', () => index.describe()),
  };
}

export interface VectorIndex {
  /** Inserts or replaces whole vectors (metadata too: absent metadata erases the old). ≤ 1000 per call. */
  upsert(vectors: VectorizeVector[]): Promise<VectorizeAsyncMutation>;
  /** Inserts vectors whose ids are new; an id that already exists keeps its current vector. */
  insert(vectors: VectorizeVector[]): Promise<VectorizeAsyncMutation>;
  /** Nearest vectors by cosine similarity, best first; `score` is the similarity (1 = same direction). */
  query(vector: VectorFloatArray | number[], options?: VectorizeQueryOptions): Promise<VectorizeMatches>;
  /** `query` with a stored vector's values; no matches when the id is unknown. */
  queryById(vectorId: string, options?: VectorizeQueryOptions): Promise<VectorizeMatches>;
  /** Stored vectors with values and metadata, whatever their namespace; unknown ids are skipped. */
  getByIds(ids: string[]): Promise<VectorizeVector[]>;
  deleteByIds(ids: string[]): Promise<VectorizeAsyncMutation>;
  describe(): Promise<VectorizeIndexInfo>;
}

// The port must stay interchangeable with the binding, both ways.
type Assignable<From extends To, To> = From;
type BindingIsAVectorIndex = Assignable<Vectorize, VectorIndex>;
type VectorIndexIsABinding = Assignable<VectorIndex, Omit<Vectorize, never>>;

/** The metadata indexes KyroChat's knowledge chunks are filtered on (see the deploy step above). */
export const KNOWLEDGE_METADATA_INDEXES: readonly MetadataIndexSpec[] = [
  { propertyName: 'botId', type: 'string' },
  { propertyName: 'sourceId', type: 'string' },
];

/** wrangler.toml's `index_name`; the local index uses it to name its Durable Objects. */
export const DEFAULT_INDEX_NAME = 'kyrochat-chunks';

export type VectorBackend = 'local' | 'vectorize';

export interface VectorIndexBindings {
  VECTOR_STORE: DurableObjectNamespace;
  /** Typed as the beta `VectorizeIndex` in some Env declarations; a v2 index is a `Vectorize`. */
  VECTORS?: Vectorize | VectorizeIndex;
}

export interface VectorIndexOptions {
  /** The index's dimensions (the embedder's). Vectors of another size are refused before any call. */
  dimensions?: number;
  /** Local only: separates local indexes; default wrangler.toml's index name. */
  indexName?: string;
  /** Local only: the metadata indexes to emulate; production's come from the deploy step. */
  metadataIndexes?: readonly MetadataIndexSpec[];
}

/**
 * The index for a backend (config `VECTOR_BACKEND`), with Vectorize's limits enforced before
 * every call. 'vectorize' uses the binding itself; 'local' the LocalVectorStore Durable Objects.
 */
export function createVectorIndex(env: VectorIndexBindings, backend: VectorBackend, options: VectorIndexOptions = {}): VectorIndex {
  const limits = { dimensions: options.dimensions };
  if (backend === 'vectorize') {
    if (!env.VECTORS) throw new Error('VECTOR_BACKEND=vectorize needs the VECTORS binding (a [[vectorize]] entry in wrangler.toml)');
    // A v2 index binding is a `Vectorize` at runtime whatever the declared type says.
    return withUnavailability(withVectorizeLimits(env.VECTORS as unknown as VectorIndex, limits));
  }
  const local = new LocalVectorIndex(env.VECTOR_STORE, {
    indexName: options.indexName ?? DEFAULT_INDEX_NAME,
    dimensions: options.dimensions,
    metadataIndexes: options.metadataIndexes ?? KNOWLEDGE_METADATA_INDEXES,
  });
  return withUnavailability(withVectorizeLimits(local, limits));
}
