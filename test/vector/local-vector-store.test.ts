/**
 * What the local vector index promises beyond the shared contract: its approximate int8
 * scan returns exactly what an exact float search returns, its memory survives eviction by
 * reloading from SQLite, mutations are serialized across namespaces, and metadata indexes
 * apply to vectors written after they exist (as in Vectorize).
 */
import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createVectorIndex } from '../../src/vector/vector-index';
import { VectorShard } from '../../src/vector/local-vector-shard';
import { shardObjectName } from '../../src/vector/local-vector-store-protocol';
import { VectorIndexError } from '../../src/vector/vector-limits';
import type { LocalVectorStore } from '../../src/durable/LocalVectorStore';

const store = env.VECTOR_STORE as unknown as DurableObjectNamespace<LocalVectorStore>;

/** Deterministic pseudo-random numbers (mulberry32), so failures reproduce. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomVectors(count: number, dims: number, seed: number): number[][] {
  const next = random(seed);
  return Array.from({ length: count }, () => Array.from({ length: dims }, () => next() * 2 - 1));
}

function exactTopK(query: number[], vectors: number[][], k: number): string[] {
  const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  const f32 = (v: number[]) => Array.from(Float32Array.from(v));
  const q = f32(query);
  return vectors
    .map((v, i) => {
      const s = f32(v);
      return { id: `v${i}`, score: s.reduce((acc, x, j) => acc + x * q[j]!, 0) / (norm(s) * norm(q)) };
    })
    .sort((a, b) => b.score - a.score)
    .slice(0, k)
    .map((m) => m.id);
}

async function upsertAll(index: ReturnType<typeof createVectorIndex>, vectors: number[][], namespace?: string) {
  for (let start = 0; start < vectors.length; start += 1000) {
    await index.upsert(vectors.slice(start, start + 1000).map((values, i) => ({ id: `v${start + i}`, values, namespace })));
  }
}

describe('local vector index', () => {
  it('returns the same top 10 as an exact float search (int8 scan + exact re-scoring)', async () => {
    const dims = 384;
    const vectors = randomVectors(1000, dims, 7);
    const index = createVectorIndex(env, 'local', { indexName: 'exactness', dimensions: dims });
    await upsertAll(index, vectors, 'org_a');

    for (const query of randomVectors(20, dims, 99)) {
      const result = await index.query(query, { namespace: 'org_a', topK: 10 });
      expect(result.matches.map((m) => m.id)).toEqual(exactTopK(query, vectors, 10));
    }
  });

  it('reloads its in-memory vectors from SQLite after eviction, with identical answers', async () => {
    const dims = 64;
    const vectors = randomVectors(200, dims, 3);
    const index = createVectorIndex(env, 'local', { indexName: 'eviction', dimensions: dims });
    await upsertAll(index, vectors, 'org_a');
    const query = vectors[17]!;
    const before = await index.query(query, { namespace: 'org_a', topK: 5, returnValues: true });
    expect(before.matches[0]!.id).toBe('v17');

    const shard = store.get(store.idFromName(shardObjectName('eviction', 'org_a')));
    expect(await shard.shardStats()).toMatchObject({ loaded: true, vectorCount: 200, dimensions: dims });
    // A fresh engine over the same storage is what the object looks like after a wake.
    await runInDurableObject(shard, (_instance, state) => {
      const woken = new VectorShard(state.storage);
      expect(woken.stats()).toMatchObject({ loaded: false, memoryBytes: 0 });
      const answer = woken.query({ vector: Float32Array.from(query), topK: 5, returnValues: true, returnMetadata: 'none', metadataIndexes: [] });
      expect(answer).toEqual({ ok: true, value: before });
      expect(woken.stats().loaded).toBe(true);
    });

    await shard.forgetMemory();
    expect((await shard.shardStats()).loaded).toBe(false);
    expect(await index.query(query, { namespace: 'org_a', topK: 5, returnValues: true })).toEqual(before);
    expect((await shard.shardStats()).memoryBytes).toBeGreaterThan(200 * dims);
  });

  it('keeps one copy of an id when concurrent upserts move it between namespaces', async () => {
    const index = createVectorIndex(env, 'local', { indexName: 'races', dimensions: 4 });
    await Promise.all(
      ['ns_a', 'ns_b', 'ns_c', 'ns_d'].map((namespace, i) => index.upsert([{ id: 'contested', values: [1, i, 0, 0], namespace }])),
    );
    const everywhere = await index.query([1, 0, 0, 0], { topK: 10 });
    expect(everywhere.matches.map((m) => m.id)).toEqual(['contested']);
    const [stored] = await index.getByIds(['contested']);
    expect(everywhere.matches[0]!.namespace).toBe(stored!.namespace);
    expect((await index.describe()).vectorCount).toBe(1);
  });

  it('indexes metadata at write time: vectors written before a metadata index existed are not filterable', async () => {
    const dims = 4;
    const withoutIndex = createVectorIndex(env, 'local', { indexName: 'late-index', dimensions: dims, metadataIndexes: [] });
    await withoutIndex.upsert([{ id: 'old', values: [1, 0, 0, 0], metadata: { botId: 'bot_a' } }]);

    const withIndex = createVectorIndex(env, 'local', { indexName: 'late-index', dimensions: dims });
    expect((await withIndex.query([1, 0, 0, 0], { filter: { botId: 'bot_a' } })).matches).toEqual([]);
    await withIndex.upsert([{ id: 'old', values: [1, 0, 0, 0], metadata: { botId: 'bot_a' } }]); // re-upsert indexes it
    expect((await withIndex.query([1, 0, 0, 0], { filter: { botId: 'bot_a' } })).matches.map((m) => m.id)).toEqual(['old']);
  });

  it('pins the dimensions of an index with its first write, for every client', async () => {
    const first = createVectorIndex(env, 'local', { indexName: 'pinned' });
    await first.upsert([{ id: 'a', values: [1, 0, 0, 0] }]);
    const second = createVectorIndex(env, 'local', { indexName: 'pinned' });
    const refused = await second.upsert([{ id: 'b', values: [1, 0, 0, 0, 0, 0] }]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(VectorIndexError);
    expect((refused as VectorIndexError).code).toBe('dimension_mismatch');
    expect(await second.describe()).toMatchObject({ vectorCount: 1, dimensions: 4 });
  });

  it('refuses to use one object in both roles', async () => {
    const shard = store.get(store.idFromName(shardObjectName('roles', 'org_a')));
    await shard.shardStats();
    await runInDurableObject(shard, (instance) => {
      expect(() => instance.listNamespaces('roles')).toThrow(/is a shard; it was called as a directory/);
    });
  });
});
