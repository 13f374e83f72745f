/**
 * Deterministic offline embeddings by signed feature hashing ("the hashing trick"): every
 * feature from text-features.ts lands in one of `dimensions` buckets with a +1/-1 sign taken
 * from its hash, then the vector is L2-normalised. Colliding features cancel out on average
 * instead of piling up, which keeps unrelated texts near cosine 0.
 *
 * Properties relied upon elsewhere: no network, same output on every run and machine (the
 * hash is defined here, not taken from the platform), unit length for any text with at least
 * one feature. Text with no features (empty, punctuation only) gives the zero vector.
 */
import type { Embedder, EmbedOptions } from './embedder';
import { extractFeatures } from './text-features';
import { hashString } from '../lib/hash';

export const OFFLINE_EMBEDDING_DIMENSIONS = 384;
/** Bump when features, weights or hashing change: old vectors then belong to another space. */
const OFFLINE_EMBEDDER_VERSION = 2;

export class OfflineHashEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions: number;

  constructor(options: { dimensions?: number } = {}) {
    const dimensions = options.dimensions ?? OFFLINE_EMBEDDING_DIMENSIONS;
    if (!Number.isInteger(dimensions) || dimensions < 8) throw new RangeError(`dimensions must be an integer ≥ 8, got ${dimensions}`);
    this.dimensions = dimensions;
    this.id = `offline-hash-v${OFFLINE_EMBEDDER_VERSION}/${dimensions}`;
  }

  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    options.signal?.throwIfAborted();
    return texts.map((text) => this.embedText(text));
  }

  /** Synchronous form for callers that embed in a tight loop (evaluations, benchmarks). */
  embedText(text: string): Float32Array {
    const vector = new Float64Array(this.dimensions);
    for (const [feature, weight] of extractFeatures(text)) {
      const hash = hashString(feature);
      const bucket = (hash >>> 1) % this.dimensions;
      vector[bucket]! += hash & 1 ? weight : -weight;
    }
    return normalize(vector);
  }
}

function normalize(vector: Float64Array): Float32Array {
  let sumOfSquares = 0;
  for (const x of vector) sumOfSquares += x * x;
  const out = new Float32Array(vector.length);
  if (sumOfSquares === 0) return out;
  const inverseNorm = 1 / Math.sqrt(sumOfSquares);
  for (let i = 0; i < vector.length; i++) out[i] = vector[i]! * inverseNorm;
  return out;
}
