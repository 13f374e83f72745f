/**
 * Brute-force cosine search over int8-quantized unit vectors, the hot loop of the local
 * vector index. Each stored vector is normalised, then quantized with its own scale
 * (max |component| → 127), so unit[i] ≈ code[i] · scale. A query is quantized the same way;
 * the integer dot product times the stored scale ranks vectors by cosine within ~1% of the
 * float score, and callers re-score the best candidates exactly.
 *
 * Layout (PairedInt8Codes): the codes of vectors 2p and 2p+1 share one Int32 per dimension,
 * `low + high · 2^24`. One multiply-add of a query code with that word advances both dot
 * products at once, exactly: a 512-dimension partial sum of int8 products stays below 2^23
 * in magnitude, so the two lanes never mix and float64 holds the total exactly. Measured in
 * V8 this scans 2x faster than the best plain int8 loop (Workers cannot compile WebAssembly
 * at runtime, so there is no SIMD), for 2 bytes per code instead of 1: 50k × 384 dimensions
 * is 38 MB instead of 19 MB, still well inside a 128 MB isolate.
 */

export const INT8_MAX = 127;

/**
 * Writes the int8 codes of `values / |values|` into `codes` at `offset` and returns the
 * scale (0 for the zero vector, whose codes are all 0).
 */
export function quantizeUnitVector(values: ArrayLike<number>, codes: Int8Array, offset = 0): number {
  const n = values.length;
  let sumOfSquares = 0;
  let maxAbs = 0;
  for (let i = 0; i < n; i++) {
    const x = values[i]!;
    sumOfSquares += x * x;
    const a = Math.abs(x);
    if (a > maxAbs) maxAbs = a;
  }
  if (maxAbs === 0) {
    codes.fill(0, offset, offset + n);
    return 0;
  }
  const norm = Math.sqrt(sumOfSquares);
  const toCode = INT8_MAX / maxAbs;
  for (let i = 0; i < n; i++) codes[offset + i] = Math.round(values[i]! * toCode);
  return maxAbs / norm / INT8_MAX;
}

/** The query side: its int8 codes as float64, the type the paired scan multiplies in. */
export function quantizeQuery(values: ArrayLike<number>): Float64Array {
  const codes = new Int8Array(values.length);
  quantizeUnitVector(values, codes);
  return Float64Array.from(codes);
}

/** Exact cosine similarity; 0 when either vector is zero. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    dot += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa === 0 || bb === 0 ? 0 : dot / Math.sqrt(aa * bb);
}

/** Keeps the `capacity` highest-scoring slots seen (a min-heap on score). */
export class TopCandidates {
  private readonly scores: Float64Array;
  private readonly slots: Int32Array;
  private size = 0;

  constructor(readonly capacity: number) {
    this.scores = new Float64Array(Math.max(1, capacity));
    this.slots = new Int32Array(Math.max(1, capacity));
  }

  offer(score: number, slot: number): void {
    if (this.capacity === 0) return;
    if (this.size < this.capacity) {
      let i = this.size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (this.scores[parent]! <= score) break;
        this.scores[i] = this.scores[parent]!;
        this.slots[i] = this.slots[parent]!;
        i = parent;
      }
      this.scores[i] = score;
      this.slots[i] = slot;
      return;
    }
    if (score <= this.scores[0]!) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.size) break;
      const right = left + 1;
      const child = right < this.size && this.scores[right]! < this.scores[left]! ? right : left;
      if (this.scores[child]! >= score) break;
      this.scores[i] = this.scores[child]!;
      this.slots[i] = this.slots[child]!;
      i = child;
    }
    this.scores[i] = score;
    this.slots[i] = slot;
  }

  /** What was kept, any order. */
  kept(): Array<{ slot: number; score: number }> {
    return Array.from({ length: this.size }, (_, i) => ({ slot: this.slots[i]!, score: this.scores[i]! }));
  }
}

const LANE = 2 ** 24;
/** Dimensions summed before the lanes are separated: 512 · 127² < 2^23 keeps them apart. */
const DIMENSIONS_PER_SPLIT = 512;

/** The int8 codes of a growing set of vectors ("slots"), two slots per Int32 word per dimension. */
export class PairedInt8Codes {
  words: Int32Array;

  constructor(
    readonly dims: number,
    slotCapacity: number,
  ) {
    this.words = new Int32Array(Math.max(1, Math.ceil(slotCapacity / 2)) * dims);
  }

  get slotCapacity(): number {
    return (this.words.length / Math.max(1, this.dims)) * 2;
  }

  get byteLength(): number {
    return this.words.byteLength;
  }

  grow(slotCapacity: number): void {
    if (slotCapacity <= this.slotCapacity) return;
    const words = new Int32Array(Math.ceil(slotCapacity / 2) * this.dims);
    words.set(this.words);
    this.words = words;
  }

  write(slot: number, codes: ArrayLike<number>): void {
    const base = (slot >> 1) * this.dims;
    const high = slot & 1;
    for (let i = 0; i < this.dims; i++) {
      const word = this.words[base + i]!;
      const low = (word << 8) >> 8; // sign-extend the low 24 bits
      const hi = (word - low) / LANE;
      this.words[base + i] = high ? low + codes[i]! * LANE : codes[i]! + hi * LANE;
    }
  }

  read(slot: number, out: Int8Array = new Int8Array(this.dims)): Int8Array {
    const base = (slot >> 1) * this.dims;
    for (let i = 0; i < this.dims; i++) {
      const word = this.words[base + i]!;
      const low = (word << 8) >> 8;
      out[i] = slot & 1 ? (word - low) / LANE : low;
    }
    return out;
  }

  clear(slot: number): void {
    this.write(slot, new Int8Array(this.dims));
  }
}

/**
 * Scores the listed pairs (pair p = slots 2p and 2p+1) against the query and offers to `top`
 * every slot below `slotCount` that `accepted` allows (all when null). `query` holds the
 * query's int8 codes; `scales` one scale per slot.
 */
export function scanPairs(
  codes: PairedInt8Codes,
  scales: Float32Array,
  query: Float64Array,
  pairs: Int32Array,
  pairCount: number,
  slotCount: number,
  accepted: Uint8Array | null,
  top: TopCandidates,
): void {
  const { words, dims } = codes;
  const offer = (low: number, high: number, pair: number) => {
    const s0 = pair * 2;
    if (s0 < slotCount && (accepted === null || accepted[s0] === 1)) top.offer(low * scales[s0]!, s0);
    if (s0 + 1 < slotCount && (accepted === null || accepted[s0 + 1] === 1)) top.offer(high * scales[s0 + 1]!, s0 + 1);
  };
  // Two pairs per pass reuse each query code twice; the split loop keeps lanes exact for any size.
  let k = 0;
  for (; k + 1 < pairCount; k += 2) {
    const p0 = pairs[k]!;
    const p1 = pairs[k + 1]!;
    const b0 = p0 * dims;
    const b1 = p1 * dims;
    let low0 = 0;
    let high0 = 0;
    let low1 = 0;
    let high1 = 0;
    for (let from = 0; from < dims; from += DIMENSIONS_PER_SPLIT) {
      const to = Math.min(dims, from + DIMENSIONS_PER_SPLIT);
      const unrolledTo = to - ((to - from) & 3);
      let x = 0;
      let y = 0;
      let i = from;
      for (; i < unrolledTo; i += 4) {
        const q0 = query[i]!;
        const q1 = query[i + 1]!;
        const q2 = query[i + 2]!;
        const q3 = query[i + 3]!;
        x += q0 * words[b0 + i]! + q1 * words[b0 + i + 1]! + q2 * words[b0 + i + 2]! + q3 * words[b0 + i + 3]!;
        y += q0 * words[b1 + i]! + q1 * words[b1 + i + 1]! + q2 * words[b1 + i + 2]! + q3 * words[b1 + i + 3]!;
      }
      for (; i < to; i++) {
        x += query[i]! * words[b0 + i]!;
        y += query[i]! * words[b1 + i]!;
      }
      const hx = Math.round(x / LANE);
      const hy = Math.round(y / LANE);
      high0 += hx;
      low0 += x - hx * LANE;
      high1 += hy;
      low1 += y - hy * LANE;
    }
    offer(low0, high0, p0);
    offer(low1, high1, p1);
  }
  if (k < pairCount) {
    const p = pairs[k]!;
    const base = p * dims;
    let low = 0;
    let high = 0;
    for (let from = 0; from < dims; from += DIMENSIONS_PER_SPLIT) {
      const to = Math.min(dims, from + DIMENSIONS_PER_SPLIT);
      let x = 0;
      for (let i = from; i < to; i++) x += query[i]! * words[base + i]!;
      const hx = Math.round(x / LANE);
      high += hx;
      low += x - hx * LANE;
    }
    offer(low, high, p);
  }
}
