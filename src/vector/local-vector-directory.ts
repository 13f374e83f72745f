/**
 * The directory of one local vector index, inside a LocalVectorStore Durable Object: the
 * index's dimensions, where every id lives (id → namespace) and the mutation counter.
 *
 * Mutations run one at a time (a promise chain), because each spans several objects: a
 * write goes to the target shards, then removes moved ids from their old shards, then
 * commits the directory. The directory commits last, so a crash part-way leaves shards
 * ahead of the directory, never behind it: the id is findable by query in its new
 * namespace, getByIds still finds the old copy, and retrying the same mutation (jobs are
 * retried) converges. Upsert is idempotent, so that retry is always safe.
 */
import type { MetadataIndexSpec } from './metadata-filter';
import type { StoreResult, StoredVectorInput, WriteRequest } from './local-vector-store-protocol';

/** What the directory needs from a shard object (its RPC surface). */
export interface ShardClient {
  writeVectors(namespace: string, vectors: StoredVectorInput[], metadataIndexes: readonly MetadataIndexSpec[]): Promise<StoreResult<{ written: number }>>;
  deleteVectors(ids: string[]): Promise<number>;
}

export interface IdLocation {
  id: string;
  namespace: string;
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS directory_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS vector_locations (id TEXT PRIMARY KEY, namespace TEXT NOT NULL) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS vector_locations_by_namespace ON vector_locations (namespace)`,
];

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    let group = groups.get(k);
    if (!group) groups.set(k, (group = []));
    group.push(item);
  }
  return groups;
}

export class VectorDirectory {
  private readonly sql: SqlStorage;
  private mutationTail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly shard: (namespace: string) => ShardClient,
    private readonly now: () => number = Date.now,
  ) {
    this.sql = storage.sql;
    for (const statement of SCHEMA) this.sql.exec(statement);
  }

  private state(key: string): string | undefined {
    return this.sql.exec<{ value: string }>('SELECT value FROM directory_state WHERE key = ?', key).toArray()[0]?.value;
  }

  private setState(key: string, value: string | number) {
    this.sql.exec('INSERT INTO directory_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', key, String(value));
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.mutationTail.then(work, work);
    this.mutationTail = run.catch(() => undefined);
    return run;
  }

  /** Stamps a finished mutation; its sequence number is the mutation id. */
  private commitMutation(changes: () => void): string {
    let sequence = 0;
    this.storage.transactionSync(() => {
      changes();
      sequence = Number(this.state('mutation_sequence') ?? 0) + 1;
      this.setState('mutation_sequence', sequence);
      this.setState('mutated_at', this.now());
    });
    return String(sequence);
  }

  locate(ids: string[]): IdLocation[] {
    if (ids.length === 0) return [];
    return this.sql
      .exec<{ id: string; namespace: string }>(
        'SELECT id, namespace FROM vector_locations WHERE id IN (SELECT value FROM json_each(?))',
        JSON.stringify(ids),
      )
      .toArray()
      .map((row) => ({ id: row.id, namespace: row.namespace }));
  }

  namespaces(): string[] {
    return this.sql.exec<{ namespace: string }>('SELECT DISTINCT namespace FROM vector_locations').toArray().map((r) => r.namespace);
  }

  write(request: WriteRequest): Promise<StoreResult<{ mutationId: string }>> {
    return this.serialized(async () => {
      const { vectors, mode } = request;
      const batchDimensions = vectors[0]?.values.length;
      const indexDimensions = Number(this.state('dimensions') ?? 0) || request.dimensions;
      if (batchDimensions !== undefined && indexDimensions !== undefined && batchDimensions !== indexDimensions) {
        return { ok: false, code: 'dimension_mismatch', message: `vectors have ${batchDimensions} dimensions; this index has ${indexDimensions}` };
      }

      const previous = new Map(this.locate(vectors.map((v) => v.id)).map((l) => [l.id, l.namespace]));
      // Within one batch, insert keeps the first vector of an id and upsert the last, as Vectorize does.
      const chosen = new Map<string, StoredVectorInput>();
      for (const vector of vectors) {
        if (mode === 'insert' && (previous.has(vector.id) || chosen.has(vector.id))) continue;
        chosen.set(vector.id, vector);
      }
      const toWrite = [...chosen.values()];

      for (const [namespace, group] of groupBy(toWrite, (v) => v.namespace)) {
        const result = await this.shard(namespace).writeVectors(namespace, group, request.metadataIndexes);
        if (!result.ok) return result;
      }
      const moved = toWrite.filter((v) => previous.has(v.id) && previous.get(v.id) !== v.namespace);
      for (const [oldNamespace, group] of groupBy(moved, (v) => previous.get(v.id)!)) {
        await this.shard(oldNamespace).deleteVectors(group.map((v) => v.id));
      }

      const mutationId = this.commitMutation(() => {
        if (batchDimensions !== undefined && !this.state('dimensions')) this.setState('dimensions', batchDimensions);
        for (const v of toWrite) {
          this.sql.exec(
            'INSERT INTO vector_locations (id, namespace) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET namespace = excluded.namespace',
            v.id,
            v.namespace,
          );
        }
      });
      return { ok: true, value: { mutationId } };
    });
  }

  delete(ids: string[]): Promise<StoreResult<{ mutationId: string }>> {
    return this.serialized(async () => {
      const located = this.locate(ids);
      for (const [namespace, group] of groupBy(located, (l) => l.namespace)) {
        await this.shard(namespace).deleteVectors(group.map((l) => l.id));
      }
      const mutationId = this.commitMutation(() => {
        this.sql.exec('DELETE FROM vector_locations WHERE id IN (SELECT value FROM json_each(?))', JSON.stringify(located.map((l) => l.id)));
      });
      return { ok: true, value: { mutationId } };
    });
  }

  describe(configuredDimensions?: number): VectorizeIndexInfo {
    return {
      vectorCount: this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM vector_locations').one().n,
      dimensions: Number(this.state('dimensions') ?? 0) || configuredDimensions || 0,
      processedUpToDatetime: Number(this.state('mutated_at') ?? 0),
      processedUpToMutation: Number(this.state('mutation_sequence') ?? 0),
    };
  }
}
