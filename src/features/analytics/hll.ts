/**
 * HyperLogLog sketches of distinct visitors (Flajolet et al. 2007). Exact distinct counts over a
 * long range cost a sort of every conversation in it; a sketch per UTC day is a fixed 4,096
 * registers, and the union of any days is the register-wise maximum, so a 90-day range merges
 * 90 small sketches instead of sorting 200,000 visitor ids.
 *
 * Error: the standard error of the estimate is 1.04 / √4096 ≈ 1.6% (within 3.3% for 95% of
 * ranges); small counts (up to 2.5 × 4,096 distinct) use linear counting, which is near-exact.
 * The overview counts exactly whenever the range holds few conversations (limits.ts
 * ANALYTICS.exactVisitorsUpTo), so only large ranges are estimated.
 *
 * Stored as base64 text: D1 hands BLOBs to JavaScript as arrays of numbers, 4,096 of them per
 * sketch; a 5.5 KB string is cheaper to move and decode.
 */
import { base64FromBytes } from '../../lib/crypto';
import { hashString } from '../../lib/hash';

const P = 12;
export const REGISTERS = 1 << P;
const RANK_BITS = 32 - P;

export const emptySketch = () => new Uint8Array(REGISTERS);

/** Adds a value: the top P bits pick a register, which keeps the longest run of leading zeros seen (+1) in the rest. */
export function addToSketch(registers: Uint8Array, value: string): void {
  const h = hashString(value);
  const index = h >>> RANK_BITS;
  const rest = (h << P) >>> 0;
  const rank = rest === 0 ? RANK_BITS + 1 : Math.clz32(rest) + 1;
  if (rank > registers[index]!) registers[index] = rank;
}

/** The union of two sketches, into `into`. */
export function mergeSketch(into: Uint8Array, from: Uint8Array): void {
  for (let i = 0; i < REGISTERS; i++) if (from[i]! > into[i]!) into[i] = from[i]!;
}

export function estimateSketch(registers: Uint8Array): number {
  let sum = 0;
  let zeros = 0;
  for (let i = 0; i < REGISTERS; i++) {
    const r = registers[i]!;
    sum += 2 ** -r;
    if (r === 0) zeros++;
  }
  const alpha = 0.7213 / (1 + 1.079 / REGISTERS);
  const raw = (alpha * REGISTERS * REGISTERS) / sum;
  if (raw <= 2.5 * REGISTERS && zeros > 0) return Math.round(REGISTERS * Math.log(REGISTERS / zeros));
  // 32-bit hashes saturate near 2^32: the original paper's large-range correction.
  const two32 = 2 ** 32;
  if (raw > two32 / 30) return Math.round(-two32 * Math.log(1 - raw / two32));
  return Math.round(raw);
}

export const encodeSketch = (registers: Uint8Array) => base64FromBytes(registers);

/** A stored sketch, or null when the text is not one (never trusted blindly: it is read back from the database). */
export function decodeSketch(text: string): Uint8Array | null {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return null;
  }
  if (binary.length !== REGISTERS) return null;
  const registers = new Uint8Array(REGISTERS);
  for (let i = 0; i < REGISTERS; i++) registers[i] = binary.charCodeAt(i);
  return registers;
}
