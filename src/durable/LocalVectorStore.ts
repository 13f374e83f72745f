/**
 * LocalVectorStore: the storage behind the local (Vectorize-compatible) vector index, used
 * when VECTOR_BACKEND=local (development, tests, self-hosting without Vectorize). Production
 * with Vectorize never calls it. Clients go through LocalVectorIndex (src/vector), never here.
 *
 * One class, two kinds of object, told apart by name (src/vector/local-vector-store-protocol.ts):
 * - shard `vector-shard/<index>/<namespace>`: one per namespace; stores its vectors and
 *   answers queries by brute-force int8 cosine (src/vector/local-vector-shard.ts);
 * - directory `vector-directory/<index>`: one per index; dimensions, id → namespace, the
 *   mutation counter; runs every mutation, one at a time (src/vector/local-vector-directory.ts).
 *
 * Invariants:
 * - An object is a shard or a directory for life: its first call records the role, and a
 *   call meant for the other role fails loudly (it would mean a naming bug).
 * - A shard holds vectors of exactly one namespace and one dimension count.
 * - Every vector in a shard is listed in the directory under that namespace, except during a
 *   mutation in flight or after one that failed part-way (shards run ahead; a retry converges).
 * - Mutations are applied before the RPC returns: the local index is immediately consistent
 *   (Vectorize is not; callers must not depend on it).
 *
 * Survives hibernation and eviction: everything in SQLite (ctx.storage.sql): vectors with
 * exact values, int8 codes, metadata, indexed metadata; the directory's tables. Lost and
 * rebuilt: a shard's in-memory int8 copy (reloaded from SQLite by the first query after a
 * wake: ~45 MB and well under a second for 50k × 384 dims, see bench/vector-search.mjs) and
 * the directory's mutation queue (empty when idle).
 */
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';
import { VectorDirectory, type IdLocation } from '../vector/local-vector-directory';
import { VectorShard } from '../vector/local-vector-shard';
import {
  INDEX_NAME_PATTERN,
  shardObjectName,
  type ShardQuery,
  type ShardStats,
  type StoreResult,
  type StoredVectorInput,
  type WriteRequest,
} from '../vector/local-vector-store-protocol';
import type { MetadataIndexSpec } from '../vector/metadata-filter';

type Role = 'shard' | 'directory';

export class LocalVectorStore extends DurableObject<Env> {
  private shard: VectorShard | undefined;
  private directory: VectorDirectory | undefined;

  private claimRole(role: Role): void {
    const sql = this.ctx.storage.sql;
    sql.exec('CREATE TABLE IF NOT EXISTS store_role (role TEXT NOT NULL)');
    const current = sql.exec<{ role: Role }>('SELECT role FROM store_role').toArray()[0]?.role;
    if (current === undefined) sql.exec('INSERT INTO store_role (role) VALUES (?)', role);
    else if (current !== role) throw new Error(`this LocalVectorStore object is a ${current}; it was called as a ${role}`);
  }

  private asShard(): VectorShard {
    if (!this.shard) {
      this.claimRole('shard');
      this.shard = new VectorShard(this.ctx.storage);
    }
    return this.shard;
  }

  private asDirectory(indexName: string): VectorDirectory {
    if (!this.directory) {
      if (!INDEX_NAME_PATTERN.test(indexName)) throw new Error(`invalid local index name "${indexName}"`);
      this.claimRole('directory');
      const store = this.env.VECTOR_STORE as unknown as DurableObjectNamespace<LocalVectorStore>;
      this.directory = new VectorDirectory(this.ctx.storage, (namespace) => store.get(store.idFromName(shardObjectName(indexName, namespace))));
    }
    return this.directory;
  }

  // --- shard role ------------------------------------------------------------------------
  writeVectors(namespace: string, vectors: StoredVectorInput[], metadataIndexes: readonly MetadataIndexSpec[]): StoreResult<{ written: number }> {
    return this.asShard().write(namespace, vectors, metadataIndexes);
  }

  deleteVectors(ids: string[]): number {
    return this.asShard().delete(ids);
  }

  getVectors(ids: string[]): VectorizeVector[] {
    return this.asShard().get(ids);
  }

  queryVectors(query: ShardQuery): StoreResult<VectorizeMatches> {
    return this.asShard().query(query);
  }

  shardStats(): ShardStats {
    return this.asShard().stats();
  }

  /** Drops the in-memory copy as an eviction would; tests and the benchmark measure the reload. */
  forgetMemory(): void {
    this.asShard().forgetMemory();
  }

  // --- directory role --------------------------------------------------------------------
  applyWrite(request: WriteRequest): Promise<StoreResult<{ mutationId: string }>> {
    return this.asDirectory(request.indexName).write(request);
  }

  applyDelete(indexName: string, ids: string[]): Promise<StoreResult<{ mutationId: string }>> {
    return this.asDirectory(indexName).delete(ids);
  }

  locateIds(indexName: string, ids: string[]): IdLocation[] {
    return this.asDirectory(indexName).locate(ids);
  }

  listNamespaces(indexName: string): string[] {
    return this.asDirectory(indexName).namespaces();
  }

  describeIndex(indexName: string, configuredDimensions?: number): VectorizeIndexInfo {
    return this.asDirectory(indexName).describe(configuredDimensions);
  }
}
