/**
 * An in-memory stand-in for a Vectorize v2 index binding (`Vectorize` in workers-types),
 * with the binding's method signatures and return shapes: `{ mutationId }` for mutations,
 * `{ matches: [{ id, score, values?, metadata?, namespace? }], count }` for queries, plain
 * vectors for getByIds, `{ vectorCount, dimensions, processedUpToDatetime,
 * processedUpToMutation }` for describe.
 *
 * Like the real index it is eventually consistent: mutations are queued and become visible
 * only after `flush()` (the contract suite's `settle()`), and metadata indexes are captured
 * when a mutation is applied. It is written independently of the local index on purpose,
 * straightforward float math and all, so the contract suite compares two implementations.
 */
import type { MetadataIndexSpec } from '../../src/vector/metadata-filter';

interface StoredVector {
  id: string;
  namespace?: string;
  values: number[];
  metadata?: Record<string, VectorizeVectorMetadata>;
  indexed: Record<string, string | number | boolean>;
}

type Scalar = string | number | boolean | null;

const INDEXED_STRING_BYTES = 64;

function firstBytes(value: string, max: number): string {
  const bytes = new TextEncoder().encode(value);
  if (bytes.length <= max) return value;
  let end = max;
  while (end > 0 && (bytes[end]! & 0b1100_0000) === 0b1000_0000) end--;
  return new TextDecoder().decode(bytes.slice(0, end));
}

function lookup(metadata: Record<string, unknown> | undefined, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), metadata);
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}

export class FakeVectorize implements Vectorize {
  private readonly vectors = new Map<string, StoredVector>();
  private readonly pending: Array<() => void> = [];
  private processedMutations = 0;
  private processedAt = 0;
  private readonly dimensions: number;
  private readonly metadataIndexes: readonly MetadataIndexSpec[];

  constructor(options: { dimensions: number; metadataIndexes: readonly MetadataIndexSpec[] }) {
    this.dimensions = options.dimensions;
    this.metadataIndexes = options.metadataIndexes;
  }

  /** Applies every queued mutation, as the real index does a few seconds later. */
  async flush(): Promise<void> {
    for (const apply of this.pending.splice(0)) {
      apply();
      this.processedMutations++;
      this.processedAt = Date.now();
    }
  }

  private enqueue(apply: () => void): VectorizeAsyncMutation {
    this.pending.push(apply);
    return { mutationId: crypto.randomUUID() };
  }

  private store(vector: VectorizeVector): void {
    if (vector.values.length !== this.dimensions) throw new Error(`VECTOR_UPSERT_ERROR: expected ${this.dimensions} dimensions`);
    const indexed: StoredVector['indexed'] = {};
    for (const { propertyName, type } of this.metadataIndexes) {
      const value = lookup(vector.metadata, propertyName);
      if (typeof value !== type) continue;
      indexed[propertyName] = typeof value === 'string' ? firstBytes(value, INDEXED_STRING_BYTES) : (value as number | boolean);
    }
    this.vectors.set(vector.id, {
      id: vector.id,
      namespace: vector.namespace,
      values: Array.from(vector.values, (x) => Math.fround(x)),
      metadata: vector.metadata === undefined ? undefined : structuredClone(vector.metadata),
      indexed,
    });
  }

  async upsert(vectors: VectorizeVector[]): Promise<VectorizeAsyncMutation> {
    const copy = structuredClone(vectors);
    return this.enqueue(() => copy.forEach((v) => this.store(v)));
  }

  async insert(vectors: VectorizeVector[]): Promise<VectorizeAsyncMutation> {
    const copy = structuredClone(vectors);
    return this.enqueue(() => copy.forEach((v) => this.vectors.has(v.id) || this.store(v)));
  }

  async deleteByIds(ids: string[]): Promise<VectorizeAsyncMutation> {
    const copy = [...ids];
    return this.enqueue(() => copy.forEach((id) => this.vectors.delete(id)));
  }

  async getByIds(ids: string[]): Promise<VectorizeVector[]> {
    return [...new Set(ids)].flatMap((id) => {
      const v = this.vectors.get(id);
      if (!v) return [];
      return [{ id: v.id, values: [...v.values], ...(v.metadata ? { metadata: structuredClone(v.metadata) } : {}), ...(v.namespace ? { namespace: v.namespace } : {}) }];
    });
  }

  async describe(): Promise<VectorizeIndexInfo> {
    return {
      vectorCount: this.vectors.size,
      dimensions: this.dimensions,
      processedUpToDatetime: this.processedAt,
      processedUpToMutation: this.processedMutations,
    };
  }

  async queryById(vectorId: string, options?: VectorizeQueryOptions): Promise<VectorizeMatches> {
    const stored = this.vectors.get(vectorId);
    return stored ? this.query(stored.values, options) : { matches: [], count: 0 };
  }

  async query(vector: VectorFloatArray | number[], options: VectorizeQueryOptions = {}): Promise<VectorizeMatches> {
    if (vector.length !== this.dimensions) throw new Error(`VECTOR_QUERY_ERROR: expected ${this.dimensions} dimensions`);
    const level = options.returnMetadata === true ? 'all' : options.returnMetadata === false ? 'none' : (options.returnMetadata ?? 'none');
    const matches = [...this.vectors.values()]
      .filter((v) => options.namespace === undefined || v.namespace === options.namespace)
      .filter((v) => this.passes(v, options.filter))
      .map((v) => ({ v, score: cosine(vector, v.values) }))
      .sort((a, b) => b.score - a.score || a.v.id.localeCompare(b.v.id))
      .slice(0, options.topK ?? 5)
      .map(({ v, score }): VectorizeMatch => ({
        id: v.id,
        score,
        ...(options.returnValues ? { values: [...v.values] } : {}),
        ...(level === 'all' ? { metadata: structuredClone(v.metadata ?? {}) } : {}),
        ...(level === 'indexed' ? { metadata: this.indexedAsObject(v) } : {}),
        ...(v.namespace ? { namespace: v.namespace } : {}),
      }));
    return { matches, count: matches.length };
  }

  private indexedAsObject(vector: StoredVector): Record<string, VectorizeVectorMetadata> {
    const out: Record<string, any> = {};
    for (const [path, value] of Object.entries(vector.indexed)) {
      const keys = path.split('.');
      const parent = keys.slice(0, -1).reduce((node, key) => (node[key] ??= {}), out);
      parent[keys.at(-1)!] = value;
    }
    return out;
  }

  private passes(vector: StoredVector, filter: VectorizeVectorMetadataFilter | undefined): boolean {
    if (!filter) return true;
    const indexedNames = this.metadataIndexes.map((i) => i.propertyName);
    return Object.entries(filter).every(([property, condition]) => {
      if (!indexedNames.includes(property)) return false; // unindexed properties never match
      const actual = vector.indexed[property];
      const ops: Record<string, unknown> =
        condition !== null && typeof condition === 'object' ? (condition as Record<string, unknown>) : { $eq: condition };
      return Object.entries(ops).every(([op, operand]) => this.compare(op, actual, operand));
    });
  }

  private compare(op: string, actual: string | number | boolean | undefined, operand: unknown): boolean {
    const norm = (x: unknown) => (typeof x === 'string' ? firstBytes(x, INDEXED_STRING_BYTES) : x);
    const same = (x: unknown) => (x === null ? actual === undefined : actual === norm(x));
    switch (op) {
      case '$eq':
        return same(operand);
      case '$ne':
        return !same(operand);
      case '$in':
        return (operand as Scalar[]).some(same);
      case '$nin':
        return !(operand as Scalar[]).some(same);
    }
    const bound = norm(operand) as string | number;
    if (typeof actual !== typeof bound) return false;
    const a = actual as string | number;
    if (op === '$lt') return a < bound;
    if (op === '$lte') return a <= bound;
    if (op === '$gt') return a > bound;
    return a >= bound;
  }
}
