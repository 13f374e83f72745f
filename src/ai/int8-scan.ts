/**
 * Brute-force cosine search over int8-quantized unit vectors, the hot loop of the local
 * vector index. Each stored vector is normalised, then quantized with its own scale
 * (max |component| → 127), so unit[i] ≈ code[i] · scale. A query is quantized the same way;
 * the integer dot product times the stored scale ranks vectors by cosine within ~1% of the
 * float score, and callers re-score the best candidates exactly.
 *
 * Why plain JS and this loop shape: Workers cannot compile WebAssembly at runtime, and the
 * two-vectors-per-pass, four-wide unrolled integer loop measured ~2x faster than the naive
 * float loop in V8 (it reuses each query component twice and stays in int32 arithmetic:
 * |sum| ≤ 1536 · 127² < 2³¹).
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

/** The query side: codes as int32 so the scan multiplies without conversions. */
export function quantizeQuery(values: ArrayLike<number>): Int32Array {
  const codes = new Int8Array(values.length);
  quantizeUnitVector(values, codes);
  return Int32Array.from(codes);
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

  /** Slots kept, any order. */
  keptSlots(): number[] {
    return Array.from(this.slots.subarray(0, this.size));
  }
}

/**
 * Scores `slotCount` slots listed in `slots` against the query and offers each to `top`.
 * `codes` holds `dims` int8 codes per slot; `scales` one scale per slot.
 */
export function scanInt8(
  codes: Int8Array,
  scales: Float32Array,
  dims: number,
  query: Int32Array,
  slots: Int32Array,
  slotCount: number,
  top: TopCandidates,
): void {
  const unrolled = dims - (dims & 3);
  let k = 0;
  for (; k + 1 < slotCount; k += 2) {
    const s0 = slots[k]!;
    const s1 = slots[k + 1]!;
    const b0 = s0 * dims;
    const b1 = s1 * dims;
    let a0 = 0;
    let a1 = 0;
    let i = 0;
    for (; i < unrolled; i += 4) {
      const q0 = query[i]!;
      const q1 = query[i + 1]!;
      const q2 = query[i + 2]!;
      const q3 = query[i + 3]!;
      a0 = (a0 + q0 * codes[b0 + i]! + q1 * codes[b0 + i + 1]! + q2 * codes[b0 + i + 2]! + q3 * codes[b0 + i + 3]!) | 0;
      a1 = (a1 + q0 * codes[b1 + i]! + q1 * codes[b1 + i + 1]! + q2 * codes[b1 + i + 2]! + q3 * codes[b1 + i + 3]!) | 0;
    }
    for (; i < dims; i++) {
      a0 = (a0 + query[i]! * codes[b0 + i]!) | 0;
      a1 = (a1 + query[i]! * codes[b1 + i]!) | 0;
    }
    top.offer(a0 * scales[s0]!, s0);
    top.offer(a1 * scales[s1]!, s1);
  }
  if (k < slotCount) {
    const s = slots[k]!;
    const base = s * dims;
    let acc = 0;
    for (let i = 0; i < dims; i++) acc = (acc + query[i]! * codes[base + i]!) | 0;
    top.offer(acc * scales[s]!, s);
  }
}
