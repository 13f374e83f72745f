/**
 * One namespace of the local vector index, inside a LocalVectorStore Durable Object.
 *
 * SQLite (ctx.storage.sql) is the source of truth: per vector its exact float32 values, its
 * int8 codes and scale, its full metadata and the indexed projection captured at write time.
 * Memory holds a dense, swap-on-delete copy of what the scan needs (int8 codes, scales, ids,
 * indexed metadata), rebuilt lazily from SQLite on the first query after the object wakes.
 * Writes go to SQLite first, then to the memory copy if it is loaded, so a failed write
 * never leaves memory ahead of storage.
 *
 * Query: metadata filter → int8 scan keeping the best candidates → exact float cosine on
 * those candidates (values read back from SQLite) → topK. Scores are exact for every
 * returned match; only which candidates reach re-scoring is approximate.
 */
import {
  compileMetadataFilter,
  indexedMetadataAsObject,
  projectIndexedMetadata,
  type IndexedMetadata,
  type MetadataIndexSpec,
} from './metadata-filter';
import { cosineSimilarity, PairedInt8Codes, quantizeQuery, quantizeUnitVector, scanPairs, TopCandidates } from './int8-scan';
import type { ShardQuery, ShardStats, StoreResult, StoredVectorInput } from './local-vector-store-protocol';

/** Candidates re-scored exactly per query: enough that int8 rounding never changes the topK in practice. */
export function rescoreCandidateCount(topK: number): number {
  return Math.max(topK * 2, topK + 16);
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS shard_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS vectors (
     id TEXT PRIMARY KEY,
     vector_values BLOB NOT NULL,
     codes BLOB NOT NULL,
     scale REAL NOT NULL,
     metadata TEXT,
     indexed_metadata TEXT
   ) WITHOUT ROWID`,
];

/** The scan's working set: slots 0..count-1 are live; deleting moves the last slot into the hole. */
class ShardMemory {
  count = 0;
  ids: string[] = [];
  slotOf = new Map<string, number>();
  codes: PairedInt8Codes;
  scales: Float32Array;
  indexed: (IndexedMetadata | undefined)[] = [];

  constructor(
    readonly dims: number,
    capacity: number,
  ) {
    this.codes = new PairedInt8Codes(dims, Math.max(2, capacity));
    this.scales = new Float32Array(Math.max(2, capacity));
  }

  private ensureCapacity(slots: number) {
    if (slots <= this.scales.length) return;
    const capacity = Math.max(slots, Math.ceil(this.scales.length * 1.5), 64);
    this.codes.grow(capacity);
    const scales = new Float32Array(capacity);
    scales.set(this.scales.subarray(0, this.count));
    this.scales = scales;
  }

  put(id: string, codes: Int8Array, scale: number, indexed: IndexedMetadata | undefined) {
    let slot = this.slotOf.get(id);
    if (slot === undefined) {
      this.ensureCapacity(this.count + 1);
      slot = this.count++;
      this.slotOf.set(id, slot);
      this.ids[slot] = id;
    }
    this.codes.write(slot, codes);
    this.scales[slot] = scale;
    this.indexed[slot] = indexed;
  }

  remove(id: string): boolean {
    const slot = this.slotOf.get(id);
    if (slot === undefined) return false;
    const last = --this.count;
    if (slot !== last) {
      const lastId = this.ids[last]!;
      this.codes.write(slot, this.codes.read(last));
      this.scales[slot] = this.scales[last]!;
      this.indexed[slot] = this.indexed[last];
      this.ids[slot] = lastId;
      this.slotOf.set(lastId, slot);
    }
    this.codes.clear(last);
    this.ids.length = last;
    this.indexed.length = last;
    this.slotOf.delete(id);
    return true;
  }

  estimatedBytes(): number {
    let bytes = this.codes.byteLength + this.scales.byteLength;
    for (let slot = 0; slot < this.count; slot++) {
      bytes += 2 * this.ids[slot]!.length + 90; // string + Map entry + array slot
      const indexed = this.indexed[slot];
      if (indexed) for (const [k, v] of Object.entries(indexed)) bytes += 2 * k.length + (typeof v === 'string' ? 2 * v.length : 8) + 24;
    }
    return bytes;
  }
}

interface VectorRow {
  id: string;
  vector_values: ArrayBuffer;
  metadata: string | null;
  [key: string]: SqlStorageValue;
}

export class VectorShard {
  private memory: ShardMemory | undefined;
  private readonly sql: SqlStorage;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    for (const statement of SCHEMA) this.sql.exec(statement);
  }

  private readMeta(key: string): string | undefined {
    const row = this.sql.exec<{ value: string }>('SELECT value FROM shard_meta WHERE key = ?', key).toArray()[0];
    return row?.value;
  }

  private get dimensions(): number {
    return Number(this.readMeta('dimensions') ?? 0);
  }

  private get namespace(): string {
    return this.readMeta('namespace') ?? '';
  }

  private loaded(): ShardMemory {
    if (this.memory) return this.memory;
    const dims = this.dimensions;
    const total = this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM vectors').one().n;
    const memory = new ShardMemory(dims, total);
    for (const row of this.sql.exec<{ id: string; codes: ArrayBuffer; scale: number; indexed_metadata: string | null }>(
      'SELECT id, codes, scale, indexed_metadata FROM vectors',
    )) {
      memory.put(row.id, new Int8Array(row.codes), row.scale, row.indexed_metadata ? JSON.parse(row.indexed_metadata) : undefined);
    }
    this.memory = memory;
    return memory;
  }

  write(namespace: string, vectors: StoredVectorInput[], metadataIndexes: readonly MetadataIndexSpec[]): StoreResult<{ written: number }> {
    if (vectors.length === 0) return { ok: true, value: { written: 0 } };
    const storedNamespace = this.readMeta('namespace');
    if (storedNamespace !== undefined && storedNamespace !== namespace) {
      throw new Error(`shard of namespace "${storedNamespace}" was sent vectors of namespace "${namespace}"`);
    }
    const dims = this.dimensions || vectors[0]!.values.length;
    const wrongSize = vectors.find((v) => v.values.length !== dims);
    if (wrongSize) {
      return { ok: false, code: 'dimension_mismatch', message: `vector ${wrongSize.id} has ${wrongSize.values.length} dimensions; this index has ${dims}` };
    }

    const rows = vectors.map((v) => {
      const codes = new Int8Array(dims);
      const scale = quantizeUnitVector(v.values, codes);
      const indexed = projectIndexedMetadata(v.metadata, metadataIndexes);
      return { id: v.id, values: Float32Array.from(v.values), codes, scale, metadata: v.metadata, indexed };
    });

    // One transaction: the whole batch lands or none of it does.
    this.storage.transactionSync(() => {
      this.sql.exec('INSERT OR IGNORE INTO shard_meta (key, value) VALUES (?, ?), (?, ?)', 'namespace', namespace, 'dimensions', String(dims));
      for (const row of rows) {
        this.sql.exec(
          `INSERT INTO vectors (id, vector_values, codes, scale, metadata, indexed_metadata) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET vector_values = excluded.vector_values, codes = excluded.codes, scale = excluded.scale,
             metadata = excluded.metadata, indexed_metadata = excluded.indexed_metadata`,
          row.id,
          row.values.buffer,
          row.codes.buffer,
          row.scale,
          row.metadata === undefined ? null : JSON.stringify(row.metadata),
          row.indexed === undefined ? null : JSON.stringify(row.indexed),
        );
      }
    });

    if (this.memory && this.memory.dims !== dims) this.memory = undefined; // was empty; reload lazily with the dimensions
    for (const row of rows) this.memory?.put(row.id, row.codes, row.scale, row.indexed);
    return { ok: true, value: { written: rows.length } };
  }

  delete(ids: string[]): number {
    if (ids.length === 0) return 0;
    const deleted = this.sql.exec('DELETE FROM vectors WHERE id IN (SELECT value FROM json_each(?))', JSON.stringify(ids)).rowsWritten;
    for (const id of ids) this.memory?.remove(id);
    return deleted;
  }

  private rowsById(ids: string[], withMetadata: boolean): Map<string, VectorRow> {
    const rows = this.sql.exec<VectorRow>(
      `SELECT id, vector_values, ${withMetadata ? 'metadata' : 'NULL AS metadata'} FROM vectors WHERE id IN (SELECT value FROM json_each(?))`,
      JSON.stringify(ids),
    );
    const byId = new Map<string, VectorRow>();
    for (const row of rows) byId.set(row.id, row);
    return byId;
  }

  get(ids: string[]): VectorizeVector[] {
    const namespace = this.namespace;
    const rows = this.rowsById(ids, true);
    const vectors: VectorizeVector[] = [];
    for (const id of new Set(ids)) {
      const row = rows.get(id);
      if (!row) continue;
      vectors.push({
        id,
        values: Array.from(new Float32Array(row.vector_values)),
        ...(row.metadata ? { metadata: JSON.parse(row.metadata) } : {}),
        ...(namespace ? { namespace } : {}),
      });
    }
    return vectors;
  }

  query(query: ShardQuery): StoreResult<VectorizeMatches> {
    const memory = this.loaded();
    const none: StoreResult<VectorizeMatches> = { ok: true, value: { matches: [], count: 0 } };
    if (memory.count === 0) return none;
    if (query.vector.length !== memory.dims) {
      return { ok: false, code: 'dimension_mismatch', message: `query vector has ${query.vector.length} dimensions; this index has ${memory.dims}` };
    }
    const filter = compileMetadataFilter(query.filter, query.metadataIndexes);
    if (filter.kind === 'none') return none;

    // Pairs holding at least one accepted slot get scanned (both lanes cost the same as one).
    let accepted: Uint8Array | null = null;
    let acceptedCount = memory.count;
    if (filter.kind === 'predicate') {
      accepted = new Uint8Array(memory.count);
      acceptedCount = 0;
      for (let slot = 0; slot < memory.count; slot++) {
        if (filter.test(memory.indexed[slot])) {
          accepted[slot] = 1;
          acceptedCount++;
        }
      }
      if (acceptedCount === 0) return none;
    }
    const pairs = new Int32Array((memory.count + 1) >> 1);
    let pairCount = 0;
    for (let pair = 0; pair < pairs.length; pair++) {
      if (accepted === null || accepted[2 * pair] === 1 || accepted[2 * pair + 1] === 1) pairs[pairCount++] = pair;
    }

    const top = new TopCandidates(Math.min(acceptedCount, rescoreCandidateCount(query.topK)));
    scanPairs(memory.codes, memory.scales, quantizeQuery(query.vector), pairs, pairCount, memory.count, accepted, top);
    const candidateIds = top.kept().map(({ slot }) => memory.ids[slot]!);

    const rows = this.rowsById(candidateIds, query.returnMetadata === 'all');
    const scored = candidateIds
      .flatMap((id) => {
        const row = rows.get(id);
        if (!row) return [];
        const values = new Float32Array(row.vector_values);
        return [{ id, row, values, score: cosineSimilarity(query.vector, values) }];
      })
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, query.topK);

    const namespace = this.namespace;
    const indexedNames = query.metadataIndexes.map((i) => i.propertyName);
    const matches: VectorizeMatch[] = scored.map(({ id, row, values, score }) => {
      const match: VectorizeMatch = { id, score };
      if (query.returnValues) match.values = Array.from(values);
      if (query.returnMetadata === 'all') match.metadata = row.metadata ? JSON.parse(row.metadata) : {};
      if (query.returnMetadata === 'indexed') match.metadata = indexedMetadataAsObject(memory.indexed[memory.slotOf.get(id)!], indexedNames);
      if (namespace) match.namespace = namespace;
      return match;
    });
    return { ok: true, value: { matches, count: matches.length } };
  }

  stats(): ShardStats {
    const vectorCount = this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM vectors').one().n;
    return {
      namespace: this.namespace,
      vectorCount,
      dimensions: this.dimensions,
      loaded: this.memory !== undefined,
      memoryBytes: this.memory?.estimatedBytes() ?? 0,
    };
  }

  /** Drops the in-memory copy, as an eviction would; the next query reloads it from SQLite. */
  forgetMemory(): void {
    this.memory = undefined;
  }
}
