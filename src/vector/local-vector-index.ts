/**
 * LocalVectorIndex: the VectorIndex for VECTOR_BACKEND=local, backed by LocalVectorStore
 * Durable Objects (one shard per namespace plus one directory per index; see
 * local-vector-store-protocol.ts). Build it with createVectorIndex, which adds Vectorize's
 * limits in front; this class assumes requests already passed them.
 *
 * Routing: mutations go to the directory (it knows where every id lives and runs mutations
 * one at a time); a query with a namespace goes straight to that namespace's shard, the
 * latency-critical path; a query without one fans out to every shard and merges.
 */
import type { LocalVectorStore } from '../durable/LocalVectorStore';
import { VECTORIZE_RULES } from '../limits';
import {
  DEFAULT_NAMESPACE,
  INDEX_NAME_PATTERN,
  directoryObjectName,
  shardObjectName,
  type ReturnMetadataLevel,
  type ShardQuery,
  type StoreResult,
} from './local-vector-store-protocol';
import type { MetadataIndexSpec } from './metadata-filter';
import type { VectorIndex } from './vector-index';
import { VectorIndexError } from './vector-limits';

export interface LocalVectorIndexOptions {
  indexName: string;
  dimensions?: number;
  metadataIndexes: readonly MetadataIndexSpec[];
}

function unwrap<T>(result: StoreResult<T>): T {
  if (!result.ok) throw new VectorIndexError(result.code, result.message);
  return result.value;
}

function returnMetadataLevel(value: VectorizeQueryOptions['returnMetadata']): ReturnMetadataLevel {
  if (value === true) return 'all';
  if (value === false || value === undefined) return 'none';
  return value;
}

export class LocalVectorIndex implements VectorIndex {
  private readonly store: DurableObjectNamespace<LocalVectorStore>;

  constructor(
    store: DurableObjectNamespace,
    private readonly options: LocalVectorIndexOptions,
  ) {
    if (!INDEX_NAME_PATTERN.test(options.indexName)) {
      throw new RangeError(`local index name "${options.indexName}" must be lowercase letters, digits and dashes`);
    }
    // Env declares the binding untyped; this is the class wrangler.toml binds VECTOR_STORE to.
    this.store = store as unknown as DurableObjectNamespace<LocalVectorStore>;
  }

  private directory() {
    return this.store.get(this.store.idFromName(directoryObjectName(this.options.indexName)));
  }

  private shard(namespace: string) {
    return this.store.get(this.store.idFromName(shardObjectName(this.options.indexName, namespace)));
  }

  upsert(vectors: VectorizeVector[]): Promise<VectorizeAsyncMutation> {
    return this.write('upsert', vectors);
  }

  insert(vectors: VectorizeVector[]): Promise<VectorizeAsyncMutation> {
    return this.write('insert', vectors);
  }

  private async write(mode: 'upsert' | 'insert', vectors: VectorizeVector[]): Promise<VectorizeAsyncMutation> {
    const result = await this.directory().applyWrite({
      indexName: this.options.indexName,
      mode,
      dimensions: this.options.dimensions,
      metadataIndexes: this.options.metadataIndexes,
      vectors: vectors.map((v) => ({
        id: v.id,
        namespace: v.namespace ?? DEFAULT_NAMESPACE,
        // Float32Array: the stored precision (as Vectorize's), and a quarter of the RPC bytes of number[].
        values: Float32Array.from(v.values),
        ...(v.metadata === undefined ? {} : { metadata: v.metadata }),
      })),
    });
    return unwrap(result);
  }

  async query(vector: VectorFloatArray | number[], options: VectorizeQueryOptions = {}): Promise<VectorizeMatches> {
    const topK = options.topK ?? VECTORIZE_RULES.defaultTopK;
    const query: ShardQuery = {
      vector: Float32Array.from(vector),
      topK,
      filter: options.filter,
      returnValues: options.returnValues ?? false,
      returnMetadata: returnMetadataLevel(options.returnMetadata),
      metadataIndexes: this.options.metadataIndexes,
    };
    if (options.namespace !== undefined) return unwrap(await this.shard(options.namespace).queryVectors(query));

    const namespaces = await this.directory().listNamespaces(this.options.indexName);
    const perShard = await Promise.all(namespaces.map(async (ns) => unwrap(await this.shard(ns).queryVectors(query))));
    const matches = perShard
      .flatMap((result) => result.matches)
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, topK);
    return { matches, count: matches.length };
  }

  async queryById(vectorId: string, options: VectorizeQueryOptions = {}): Promise<VectorizeMatches> {
    const [stored] = await this.getByIds([vectorId]);
    if (!stored) return { matches: [], count: 0 };
    return this.query(stored.values, options);
  }

  async getByIds(ids: string[]): Promise<VectorizeVector[]> {
    if (ids.length === 0) return [];
    const locations = await this.directory().locateIds(this.options.indexName, ids);
    const idsByNamespace = new Map<string, string[]>();
    for (const { id, namespace } of locations) {
      const group = idsByNamespace.get(namespace);
      if (group) group.push(id);
      else idsByNamespace.set(namespace, [id]);
    }
    const found = (await Promise.all([...idsByNamespace].map(([ns, nsIds]) => this.shard(ns).getVectors(nsIds)))).flat();
    const byId = new Map(found.map((v) => [v.id, v as VectorizeVector]));
    return [...new Set(ids)].flatMap((id) => (byId.has(id) ? [byId.get(id)!] : []));
  }

  async deleteByIds(ids: string[]): Promise<VectorizeAsyncMutation> {
    return unwrap(await this.directory().applyDelete(this.options.indexName, ids));
  }

  describe(): Promise<VectorizeIndexInfo> {
    return this.directory().describeIndex(this.options.indexName, this.options.dimensions);
  }
}
