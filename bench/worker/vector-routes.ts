/**
 * Benchmark-only routes for the local vector index (bench/vector-search.mjs). Mounted only by
 * the benchmark entry (bench/worker/index.ts), never in production. They fill a namespace with
 * seeded random unit vectors, time queries from inside the Worker (Worker → Durable Object
 * → back, what a search request pays) and report the shard's memory.
 */
import { z } from 'zod';
import { createRouter, fieldErrors } from '../../src/http/router';
import { validationFailed } from '../../src/http/problem';
import type { LocalVectorStore } from '../../src/durable/LocalVectorStore';
import { createVectorIndex } from '../../src/vector/vector-index';
import { shardObjectName } from '../../src/vector/local-vector-store-protocol';
import { VECTORIZE } from '../../src/limits';

export const VECTOR_BENCH_INDEX = 'bench-vectors';
const BOTS = 8;
const SOURCES = 100;

const Namespace = z.string().min(1).max(64);
const FillBody = z.object({
  namespace: Namespace,
  /** Ids continue from here, so a large fill can be split over several requests. */
  startAt: z.number().int().min(0).default(0),
  count: z.number().int().min(1).max(20_000),
  dimensions: z.number().int().min(1).max(VECTORIZE.maxDimensions).default(384),
  seed: z.number().int().default(1),
});
const QueryBody = z.object({
  namespace: Namespace,
  queries: z.number().int().min(1).max(2_000),
  topK: z.number().int().min(1).max(VECTORIZE.maxTopKWithoutMetadata).default(10),
  dimensions: z.number().int().min(1).max(VECTORIZE.maxDimensions).default(384),
  /** Restrict to one bot (1 in BOTS of the vectors), as a real search does. */
  filterByBot: z.boolean().default(false),
  seed: z.number().int().default(2),
});

async function parse<T extends z.ZodType>(schema: T, request: Request): Promise<z.infer<T>> {
  const result = schema.safeParse(await request.json().catch(() => undefined));
  if (!result.success) throw validationFailed(fieldErrors(result.error));
  return result.data;
}

/** mulberry32: tiny, seedable, good enough to spread benchmark vectors over the sphere. */
function seededRandom(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomVector(next: () => number, dimensions: number): Float32Array {
  const v = new Float32Array(dimensions);
  for (let i = 0; i < dimensions; i++) v[i] = next() * 2 - 1;
  return v;
}

export function vectorBenchRoutes() {
  const router = createRouter();
  const index = (env: Parameters<typeof createVectorIndex>[0], dimensions: number) =>
    createVectorIndex(env, 'local', { indexName: VECTOR_BENCH_INDEX, dimensions });

  router.post('/__bench/vectors/fill', async (c) => {
    const body = await parse(FillBody, c.req.raw);
    const vectors = index(c.env, body.dimensions);
    const next = seededRandom(body.seed * 1_000_003 + body.startAt);
    const started = performance.now();
    for (let offset = 0; offset < body.count; offset += VECTORIZE.maxUpsertBatch) {
      const size = Math.min(VECTORIZE.maxUpsertBatch, body.count - offset);
      await vectors.upsert(
        Array.from({ length: size }, (_, i) => {
          const n = body.startAt + offset + i;
          return {
            id: `vec-${n}`,
            namespace: body.namespace,
            values: randomVector(next, body.dimensions),
            metadata: { botId: `bot_${n % BOTS}`, sourceId: `src_${n % SOURCES}`, chunk: n },
          };
        }),
      );
    }
    return c.json({ upserted: body.count, elapsedMs: performance.now() - started });
  });

  router.post('/__bench/vectors/query', async (c) => {
    const body = await parse(QueryBody, c.req.raw);
    const vectors = index(c.env, body.dimensions);
    const next = seededRandom(body.seed);
    const timingsMs: number[] = [];
    let matches = 0;
    for (let q = 0; q < body.queries; q++) {
      const vector = randomVector(next, body.dimensions);
      // The clock only moves across I/O in Workers; each query is an RPC, so this is wall time.
      const started = performance.now();
      const result = await vectors.query(vector, {
        namespace: body.namespace,
        topK: body.topK,
        ...(body.filterByBot ? { filter: { botId: `bot_${q % BOTS}` } } : {}),
      });
      timingsMs.push(performance.now() - started);
      matches += result.count;
    }
    return c.json({ timingsMs, matches });
  });

  router.get('/__bench/vectors/stats', async (c) => {
    const parsed = Namespace.safeParse(c.req.query('namespace'));
    if (!parsed.success) throw validationFailed(fieldErrors(parsed.error, 'query'));
    const namespace = parsed.data;
    const store = c.env.VECTOR_STORE as unknown as DurableObjectNamespace<LocalVectorStore>;
    const shard = store.get(store.idFromName(shardObjectName(VECTOR_BENCH_INDEX, namespace)));
    return c.json(await shard.shardStats());
  });

  /** Drops a shard's in-memory copy, as an eviction would, so the next query measures the reload. */
  router.post('/__bench/vectors/evict', async (c) => {
    const { namespace } = await parse(z.object({ namespace: Namespace }), c.req.raw);
    const store = c.env.VECTOR_STORE as unknown as DurableObjectNamespace<LocalVectorStore>;
    await store.get(store.idFromName(shardObjectName(VECTOR_BENCH_INDEX, namespace))).forgetMemory();
    return c.json({ evicted: namespace });
  });

  return router;
}
