/**
 * What LocalVectorIndex (the client, in the Worker) and the LocalVectorStore Durable Objects
 * say to each other: object names and RPC payloads.
 *
 * One local index is a set of objects of the one LocalVectorStore class:
 * - a shard per namespace, `vector-shard/<index>/<namespace>`: stores that namespace's
 *   vectors and answers queries over them; vectors without a namespace live in the shard
 *   of DEFAULT_NAMESPACE;
 * - one directory, `vector-directory/<index>`: the index's dimensions, the id → namespace map
 *   (Vectorize ids are unique index-wide, so getByIds/deleteByIds need no namespace) and
 *   the mutation counter. Every mutation goes through it, one at a time.
 * Queries with a namespace go straight to that shard; queries without one fan out to all.
 */
import type { VectorIndexErrorCode } from './vector-limits';
import type { MetadataIndexSpec } from './metadata-filter';

export const DEFAULT_NAMESPACE = '';

/** Index names are like Vectorize's (lowercase letters, digits, dashes), so names split unambiguously. */
export const INDEX_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;

export const shardObjectName = (indexName: string, namespace: string) => `vector-shard/${indexName}/${namespace}`;
export const directoryObjectName = (indexName: string) => `vector-directory/${indexName}`;

export interface StoredVectorInput {
  id: string;
  namespace: string;
  values: Float32Array;
  metadata?: Record<string, VectorizeVectorMetadata>;
}

export interface WriteRequest {
  indexName: string;
  mode: 'upsert' | 'insert';
  vectors: StoredVectorInput[];
  /** The dimensions the client was configured with, if any; the first write pins the index's. */
  dimensions?: number;
  /** Captured per vector at write time, as Vectorize does. */
  metadataIndexes: readonly MetadataIndexSpec[];
}

export type ReturnMetadataLevel = 'none' | 'indexed' | 'all';

export interface ShardQuery {
  vector: Float32Array;
  topK: number;
  filter?: VectorizeVectorMetadataFilter;
  returnValues: boolean;
  returnMetadata: ReturnMetadataLevel;
  metadataIndexes: readonly MetadataIndexSpec[];
}

export interface ShardStats {
  namespace: string;
  vectorCount: number;
  dimensions: number;
  /** Whether the in-memory int8 copy is loaded (false right after a wake, until first query). */
  loaded: boolean;
  /** Rough bytes held in memory by the loaded copy (typed arrays, ids, indexed metadata). */
  memoryBytes: number;
}

/** Expected refusals travel as values: RPC would strip an Error subclass down to its message. */
export type StoreResult<T> = { ok: true; value: T } | { ok: false; code: VectorIndexErrorCode; message: string };
