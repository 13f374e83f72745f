/**
 * The VectorIndex contract: the same cases against
 *  (a) the local index (LocalVectorStore Durable Objects, real storage, through createVectorIndex), and
 *  (b) the Vectorize path (createVectorIndex with a recorded-shape fake in place of the binding).
 * Vectorize is eventually consistent, so every case awaits `settle()` between writing and
 * reading; the local index needs no settling, and nothing here may depend on that.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createVectorIndex, type VectorIndex } from '../../src/vector/vector-index';
import type { MetadataIndexSpec } from '../../src/vector/metadata-filter';
import { VectorIndexError } from '../../src/vector/vector-limits';
import { FakeVectorize } from '../support/fake-vectorize';

const DIMS = 8;
const METADATA_INDEXES: MetadataIndexSpec[] = [
  { propertyName: 'botId', type: 'string' },
  { propertyName: 'page', type: 'number' },
  { propertyName: 'public', type: 'boolean' },
  { propertyName: 'source.kind', type: 'string' },
];

interface Subject {
  index: VectorIndex;
  settle(): Promise<void>;
}

let indexCounter = 0;
const backends: Array<{ name: string; create(): Subject }> = [
  {
    name: 'local (LocalVectorStore Durable Objects)',
    create: () => ({
      index: createVectorIndex(env, 'local', { indexName: `contract-${++indexCounter}`, dimensions: DIMS, metadataIndexes: METADATA_INDEXES }),
      settle: async () => {},
    }),
  },
  {
    name: 'vectorize (recorded-shape fake binding)',
    create: () => {
      const binding = new FakeVectorize({ dimensions: DIMS, metadataIndexes: METADATA_INDEXES });
      return {
        index: createVectorIndex({ VECTOR_STORE: env.VECTOR_STORE, VECTORS: binding }, 'vectorize', { dimensions: DIMS }),
        settle: () => binding.flush(),
      };
    },
  },
];

/** A vector pointing mostly along axis `axis`, tilted by `tilt` towards the next axis. */
function toward(axis: number, tilt = 0): number[] {
  const v = new Array<number>(DIMS).fill(0);
  v[axis % DIMS] = 1;
  v[(axis + 1) % DIMS] = tilt;
  return v;
}

const ids = (result: VectorizeMatches) => result.matches.map((m) => m.id);

async function expectRefusal(promise: Promise<unknown>, code: string) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error, `expected a ${code} refusal`).toBeInstanceOf(VectorIndexError);
  expect((error as VectorIndexError).code).toBe(code);
}

describe.each(backends)('VectorIndex contract: $name', ({ create }) => {
  it('ranks the nearest vectors first with cosine scores, topK defaulting to 5', async () => {
    const { index, settle } = create();
    await index.upsert([
      { id: 'far', values: toward(4) },
      { id: 'near', values: toward(0, 0.1) },
      { id: 'nearer', values: toward(0, 0.01) },
      { id: 'middle', values: toward(0, 1) },
      { id: 'x1', values: toward(5) },
      { id: 'x2', values: toward(6) },
      { id: 'x3', values: toward(7, 0.2) },
    ]);
    await settle();

    const result = await index.query(toward(0));
    expect(ids(result).slice(0, 3)).toEqual(['nearer', 'near', 'middle']);
    expect(result.count).toBe(5);
    expect(result.matches).toHaveLength(5);
    expect(result.matches[0]!.score).toBeCloseTo(1 / Math.sqrt(1 + 0.01 ** 2), 5);
    expect(result.matches[2]!.score).toBeCloseTo(Math.SQRT1_2, 5);
    const scores = result.matches.map((m) => m.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));

    const top2 = await index.query(toward(0), { topK: 2 });
    expect(ids(top2)).toEqual(['nearer', 'near']);
    expect(top2.matches[0]).toEqual({ id: 'nearer', score: expect.any(Number) });
  });

  it('keeps namespaces apart, and searches all of them when no namespace is given', async () => {
    const { index, settle } = create();
    await index.upsert([
      { id: 'a-1', values: toward(0), namespace: 'org_a' },
      { id: 'a-2', values: toward(1), namespace: 'org_a' },
      { id: 'b-1', values: toward(0, 0.05), namespace: 'org_b' },
    ]);
    await settle();

    const inA = await index.query(toward(0), { namespace: 'org_a', topK: 10 });
    expect(ids(inA)).toEqual(['a-1', 'a-2']);
    expect(inA.matches.every((m) => m.namespace === 'org_a')).toBe(true);
    expect(ids(await index.query(toward(0), { namespace: 'org_b', topK: 10 }))).toEqual(['b-1']);
    expect(ids(await index.query(toward(0), { namespace: 'org_none', topK: 10 }))).toEqual([]);
    expect(ids(await index.query(toward(0), { topK: 10 }))).toEqual(['a-1', 'b-1', 'a-2']);
  });

  describe('metadata filters', () => {
    async function seeded() {
      const subject = create();
      const base = toward(0);
      await subject.index.upsert([
        { id: 'p1', values: base, metadata: { botId: 'bot_a', page: 1, public: true, source: { kind: 'file' } } },
        { id: 'p2', values: base, metadata: { botId: 'bot_a', page: 2, public: false, source: { kind: 'url' } } },
        { id: 'p3', values: base, metadata: { botId: 'bot_b', page: 3, public: true, source: { kind: 'file' } } },
        { id: 'p4', values: base, metadata: { botId: 'bot_c', page: 10 } },
        { id: 'p5', values: base, metadata: { note: 'no indexed properties' } },
      ]);
      await subject.settle();
      const matching = async (filter: VectorizeVectorMetadataFilter) =>
        ids(await subject.index.query(base, { filter, topK: 10 })).sort();
      return { ...subject, matching };
    }

    it('supports implicit and explicit $eq, and $ne (which also matches vectors without the property)', async () => {
      const { matching } = await seeded();
      expect(await matching({ botId: 'bot_a' })).toEqual(['p1', 'p2']);
      expect(await matching({ botId: { $eq: 'bot_b' } })).toEqual(['p3']);
      expect(await matching({ public: true })).toEqual(['p1', 'p3']);
      expect(await matching({ page: 10 })).toEqual(['p4']);
      expect(await matching({ botId: { $ne: 'bot_a' } })).toEqual(['p3', 'p4', 'p5']);
      expect(await matching({ botId: { $eq: null } })).toEqual(['p5']);
    });

    it('supports $in and $nin', async () => {
      const { matching } = await seeded();
      expect(await matching({ botId: { $in: ['bot_a', 'bot_c'] } })).toEqual(['p1', 'p2', 'p4']);
      expect(await matching({ botId: { $nin: ['bot_a', 'bot_c'] } })).toEqual(['p3', 'p5']);
      expect(await matching({ page: { $in: [2, 3] } })).toEqual(['p2', 'p3']);
    });

    it('supports $lt $lte $gt $gte, a lower with an upper bound, and string ranges', async () => {
      const { matching } = await seeded();
      expect(await matching({ page: { $lt: 2 } })).toEqual(['p1']);
      expect(await matching({ page: { $lte: 2 } })).toEqual(['p1', 'p2']);
      expect(await matching({ page: { $gt: 2 } })).toEqual(['p3', 'p4']);
      expect(await matching({ page: { $gte: 2, $lt: 10 } })).toEqual(['p2', 'p3']);
      expect(await matching({ botId: { $gte: 'bot_b' } })).toEqual(['p3', 'p4']);
    });

    it('ANDs properties, reaches nested metadata with dots, and matches nothing on an unindexed property', async () => {
      const { matching } = await seeded();
      expect(await matching({ botId: 'bot_a', public: true })).toEqual(['p1']);
      expect(await matching({ 'source.kind': 'file' })).toEqual(['p1', 'p3']);
      expect(await matching({ 'source.kind': 'file', page: { $gt: 1 } })).toEqual(['p3']);
      expect(await matching({ note: 'no indexed properties' })).toEqual([]);
    });

    it('applies the filter before topK', async () => {
      const { index, settle } = create();
      await index.upsert([
        ...Array.from({ length: 30 }, (_, i) => ({ id: `close-${i}`, values: toward(0, i / 100), metadata: { botId: 'bot_x' } })),
        { id: 'far-but-wanted', values: toward(4), metadata: { botId: 'bot_y' } },
      ]);
      await settle();
      expect(ids(await index.query(toward(0), { topK: 3, filter: { botId: 'bot_y' } }))).toEqual(['far-but-wanted']);
    });
  });

  it("returns metadata as asked: 'none' (default), 'indexed' (indexed properties only), 'all', and values on request", async () => {
    const { index, settle } = create();
    const metadata = { botId: 'bot_a', page: 7, title: 'Refund policy', source: { kind: 'file', path: '/a.pdf' } };
    await index.upsert([{ id: 'doc', values: toward(2), metadata }]);
    await settle();

    const none = await index.query(toward(2), { returnMetadata: 'none' });
    expect(none.matches[0]).not.toHaveProperty('metadata');
    expect(none.matches[0]).not.toHaveProperty('values');
    expect((await index.query(toward(2))).matches[0]).not.toHaveProperty('metadata');

    const indexed = await index.query(toward(2), { returnMetadata: 'indexed' });
    expect(indexed.matches[0]!.metadata).toEqual({ botId: 'bot_a', page: 7, source: { kind: 'file' } });

    const all = await index.query(toward(2), { returnMetadata: 'all', returnValues: true });
    expect(all.matches[0]!.metadata).toEqual(metadata);
    expect(all.matches[0]!.values).toHaveLength(DIMS);
    expect(Array.from(all.matches[0]!.values!)).toEqual(toward(2));
  });

  it('gets vectors by id whatever their namespace, skipping unknown ids', async () => {
    const { index, settle } = create();
    await index.upsert([
      { id: 'one', values: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], namespace: 'org_a', metadata: { botId: 'bot_a' } },
      { id: 'two', values: toward(3) },
    ]);
    await settle();

    const got = await index.getByIds(['two', 'missing', 'one']);
    expect(got.map((v) => v.id).sort()).toEqual(['one', 'two']);
    const one = got.find((v) => v.id === 'one')!;
    expect(one.namespace).toBe('org_a');
    expect(one.metadata).toEqual({ botId: 'bot_a' });
    Array.from(one.values).forEach((x, i) => expect(x).toBeCloseTo((i + 1) / 10, 6));
    expect(got.find((v) => v.id === 'two')!.namespace).toBeUndefined();
    expect(await index.getByIds([])).toEqual([]);
  });

  it('queries by the id of a stored vector', async () => {
    const { index, settle } = create();
    await index.upsert([
      { id: 'anchor', values: toward(5) },
      { id: 'neighbour', values: toward(5, 0.2) },
      { id: 'stranger', values: toward(1) },
    ]);
    await settle();
    expect(ids(await index.queryById('anchor', { topK: 2 }))).toEqual(['anchor', 'neighbour']);
    expect(await index.queryById('nobody')).toEqual({ matches: [], count: 0 });
  });

  it('deleteByIds removes vectors from queries, getByIds and the count', async () => {
    const { index, settle } = create();
    await index.upsert([
      { id: 'keep', values: toward(0, 0.5), namespace: 'org_a' },
      { id: 'drop', values: toward(0), namespace: 'org_a' },
      { id: 'drop-too', values: toward(0) },
    ]);
    await settle();
    const mutation = await index.deleteByIds(['drop', 'drop-too', 'never-existed']);
    expect(mutation).toEqual({ mutationId: expect.any(String) });
    await settle();

    expect(ids(await index.query(toward(0), { topK: 10 }))).toEqual(['keep']);
    expect(ids(await index.query(toward(0), { namespace: 'org_a', topK: 10 }))).toEqual(['keep']);
    expect(await index.getByIds(['drop', 'drop-too'])).toEqual([]);
    expect((await index.describe()).vectorCount).toBe(1);
  });

  it('upsert replaces the whole vector: values, metadata (old fields gone) and namespace', async () => {
    const { index, settle } = create();
    await index.upsert([{ id: 'doc', values: toward(0), namespace: 'org_a', metadata: { botId: 'bot_a', page: 1 } }]);
    await settle();
    await index.upsert([{ id: 'doc', values: toward(6), metadata: { page: 2 } }]);
    await settle();

    const [doc] = await index.getByIds(['doc']);
    expect(doc!.metadata).toEqual({ page: 2 });
    expect(doc!.namespace).toBeUndefined();
    expect(Array.from(doc!.values)).toEqual(toward(6));
    expect(ids(await index.query(toward(0), { namespace: 'org_a' }))).toEqual([]);
    expect(ids(await index.query(toward(6), { filter: { botId: 'bot_a' } }))).toEqual([]);
    expect(ids(await index.query(toward(6), { filter: { page: 2 } }))).toEqual(['doc']);

    await index.upsert([{ id: 'doc', values: toward(6) }]);
    await settle();
    expect((await index.getByIds(['doc']))[0]).not.toHaveProperty('metadata');
    expect((await index.describe()).vectorCount).toBe(1);
  });

  it('insert leaves existing ids untouched', async () => {
    const { index, settle } = create();
    await index.insert([{ id: 'doc', values: toward(0), metadata: { page: 1 } }]);
    await settle();
    const mutation = await index.insert([
      { id: 'doc', values: toward(3), metadata: { page: 9 } },
      { id: 'new', values: toward(3) },
    ]);
    expect(mutation).toEqual({ mutationId: expect.any(String) });
    await settle();
    const got = await index.getByIds(['doc', 'new']);
    expect(got.find((v) => v.id === 'doc')!.metadata).toEqual({ page: 1 });
    expect(got.map((v) => v.id).sort()).toEqual(['doc', 'new']);
  });

  it('describes the vector count and dimensions', async () => {
    const { index, settle } = create();
    await index.upsert(Array.from({ length: 12 }, (_, i) => ({ id: `v${i}`, values: toward(i, 0.3), namespace: i % 2 ? 'odd' : undefined })));
    await settle();
    const info = await index.describe();
    expect(info).toEqual({
      vectorCount: 12,
      dimensions: DIMS,
      processedUpToDatetime: expect.any(Number),
      processedUpToMutation: expect.any(Number),
    });
  });

  describe("refuses what Vectorize refuses, before calling it", () => {
    const big = (n: number) => Array.from({ length: n }, () => 0.5);

    it('vectors over 1536 dimensions, or of a size other than the index', async () => {
      const { index } = create();
      await expectRefusal(index.upsert([{ id: 'huge', values: big(1537) }]), 'too_many_dimensions');
      await expectRefusal(index.upsert([{ id: 'short', values: big(DIMS - 1) }]), 'dimension_mismatch');
      await expectRefusal(index.query(big(DIMS + 1)), 'dimension_mismatch');
      await expectRefusal(index.upsert([{ id: 'nan', values: [...big(DIMS - 1), Number.NaN] }]), 'invalid_vector');
    });

    it('ids over 64 bytes (UTF-8), and empty ids', async () => {
      const { index } = create();
      await expectRefusal(index.upsert([{ id: 'x'.repeat(65), values: toward(0) }]), 'invalid_id');
      await expectRefusal(index.upsert([{ id: 'é'.repeat(33), values: toward(0) }]), 'invalid_id');
      await expectRefusal(index.upsert([{ id: '', values: toward(0) }]), 'invalid_id');
      await expectRefusal(index.getByIds(['y'.repeat(65)]), 'invalid_id');
      await expectRefusal(index.deleteByIds(['y'.repeat(65)]), 'invalid_id');
      await expect(index.upsert([{ id: 'x'.repeat(64), values: toward(0) }])).resolves.toEqual({ mutationId: expect.any(String) });
    });

    it('topK over 100, or over 20 with values or all metadata', async () => {
      const { index } = create();
      await expectRefusal(index.query(toward(0), { topK: 101 }), 'invalid_top_k');
      await expectRefusal(index.query(toward(0), { topK: 0 }), 'invalid_top_k');
      await expectRefusal(index.query(toward(0), { topK: 21, returnMetadata: 'all' }), 'invalid_top_k');
      await expectRefusal(index.query(toward(0), { topK: 21, returnValues: true }), 'invalid_top_k');
      await expect(index.query(toward(0), { topK: 100, returnMetadata: 'indexed' })).resolves.toMatchObject({ count: 0 });
      await expect(index.query(toward(0), { topK: 20, returnMetadata: 'all' })).resolves.toMatchObject({ count: 0 });
    });

    it('metadata over 10 KiB', async () => {
      const { index } = create();
      await expectRefusal(index.upsert([{ id: 'fat', values: toward(0), metadata: { text: 'x'.repeat(10 * 1024) } }]), 'metadata_too_large');
      await expect(index.upsert([{ id: 'fits', values: toward(0), metadata: { text: 'x'.repeat(10 * 1024 - 20) } }])).resolves.toBeDefined();
    });

    it('more than 1000 vectors per call', async () => {
      const { index } = create();
      const batch = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `v${i}`, values: toward(i) }));
      await expectRefusal(index.upsert(batch(1001)), 'too_many_vectors');
      await expectRefusal(index.insert(batch(1001)), 'too_many_vectors');
      await expect(index.upsert(batch(1000))).resolves.toEqual({ mutationId: expect.any(String) });
    });

    it('filters of 2 KB or more, unknown operators, invalid combinations and keys', async () => {
      const { index } = create();
      await expectRefusal(index.query(toward(0), { filter: { botId: { $in: Array.from({ length: 300 }, (_, i) => `bot_${i}`) } } }), 'invalid_filter');
      await expectRefusal(index.query(toward(0), { filter: { botId: { $regex: 'a.*' } } as never }), 'invalid_filter');
      await expectRefusal(index.query(toward(0), { filter: { page: { $lt: 3, $lte: 4 } } }), 'invalid_filter');
      await expectRefusal(index.query(toward(0), { filter: { page: { $eq: 3, $gt: 1 } } }), 'invalid_filter');
      await expectRefusal(index.query(toward(0), { filter: { $botId: 'x' } }), 'invalid_filter');
      await expectRefusal(index.query(toward(0), { filter: {} }), 'invalid_filter');
    });

    it('namespaces over 64 bytes', async () => {
      const { index } = create();
      await expectRefusal(index.upsert([{ id: 'v', values: toward(0), namespace: 'n'.repeat(65) }]), 'invalid_namespace');
      await expectRefusal(index.query(toward(0), { namespace: 'n'.repeat(65) }), 'invalid_namespace');
    });
  });
});
