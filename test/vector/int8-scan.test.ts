import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cosineSimilarity, PairedInt8Codes, quantizeQuery, quantizeUnitVector, scanPairs, TopCandidates } from '../../src/vector/int8-scan';
import { rescoreCandidateCount } from '../../src/vector/local-vector-shard';

const finiteVector = (dims: number) => fc.array(fc.float({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true }), { minLength: dims, maxLength: dims });
/** int8 codes, often at the extremes where paired lanes are closest to overflowing. */
const code = fc.oneof(fc.constantFrom(-127, 127), fc.integer({ min: -127, max: 127 }));

describe('int8 quantization', () => {
  it('keeps the cosine between a query and a stored vector within 0.02', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }).chain((d) => fc.tuple(finiteVector(d), finiteVector(d))), ([stored, query]) => {
        const codes = new Int8Array(stored.length);
        const scale = quantizeUnitVector(stored, codes);
        const queryCodes = new Int8Array(query.length);
        const queryScale = quantizeUnitVector(query, queryCodes);
        expect(Array.from(quantizeQuery(query))).toEqual(Array.from(queryCodes));
        let dot = 0;
        for (let i = 0; i < codes.length; i++) dot += queryCodes[i]! * codes[i]!;
        expect(Math.abs(dot * scale * queryScale - cosineSimilarity(stored, query))).toBeLessThan(0.02);
      }),
    );
  });

  it('maps the zero vector to zero codes and scale 0', () => {
    const codes = new Int8Array(4).fill(9);
    expect(quantizeUnitVector([0, 0, 0, 0], codes)).toBe(0);
    expect(Array.from(codes)).toEqual([0, 0, 0, 0]);
    expect(cosineSimilarity([0, 0], [1, 0])).toBe(0);
  });
});

describe('PairedInt8Codes', () => {
  it('reads back what was written to any slot, whatever its pair partner holds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }).chain((dims) =>
          fc.tuple(fc.constant(dims), fc.array(fc.tuple(fc.integer({ min: 0, max: 11 }), fc.array(code, { minLength: dims, maxLength: dims })), { maxLength: 40 })),
        ),
        ([dims, writes]) => {
          const codes = new PairedInt8Codes(dims, 3);
          const model = new Map<number, number[]>();
          for (const [slot, values] of writes) {
            codes.grow(slot + 1);
            codes.write(slot, values);
            model.set(slot, values);
          }
          for (const [slot, values] of model) expect(Array.from(codes.read(slot))).toEqual(values);
          for (const slot of model.keys()) codes.clear(slot);
          for (const slot of model.keys()) expect(Array.from(codes.read(slot)).every((x) => x === 0)).toBe(true);
        },
      ),
    );
  });
});

describe('scanPairs', () => {
  it('computes every dot product exactly, for any dimensions up to 1536 and any subset of slots', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1536 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer(),
        fc.boolean(),
        (dims, count, seed, extremes) => {
          let state = seed;
          const next = () => {
            state = (Math.imul(state, 1103515245) + 12345) | 0;
            return extremes ? ((state >>> 16) & 1 ? 127 : -127) : ((state >>> 8) % 255) - 127;
          };
          const vectors = Array.from({ length: count }, () => Array.from({ length: dims }, next));
          const query = Float64Array.from({ length: dims }, next);
          const codes = new PairedInt8Codes(dims, count);
          vectors.forEach((v, slot) => codes.write(slot, v));
          const accepted = Uint8Array.from({ length: count }, (_, slot) => (slot % 3 === 1 ? 0 : 1));
          const pairs = Int32Array.from({ length: Math.ceil(count / 2) }, (_, p) => p);

          const top = new TopCandidates(count);
          scanPairs(codes, new Float32Array(count).fill(1), query, pairs, pairs.length, count, accepted, top);
          const expected = vectors
            .map((v, slot) => ({ slot, score: v.reduce((sum, c, i) => sum + c * query[i]!, 0) }))
            .filter(({ slot }) => accepted[slot] === 1);
          expect(top.kept().sort((a, b) => a.slot - b.slot)).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('re-scores enough candidates for int8 rounding not to change the top K', () => {
    expect(rescoreCandidateCount(1)).toBe(17);
    expect(rescoreCandidateCount(10)).toBe(26);
    expect(rescoreCandidateCount(100)).toBe(200);
  });
});

describe('TopCandidates', () => {
  it('keeps exactly the highest scores', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { maxLength: 300 }), fc.integer({ min: 0, max: 40 }), (scores, k) => {
        const top = new TopCandidates(k);
        scores.forEach((s, slot) => top.offer(s, slot));
        const kept = top.kept().map(({ slot, score }) => {
          expect(score).toBe(scores[slot]);
          return score;
        });
        expect(kept.sort((a, b) => b - a)).toEqual([...scores].sort((a, b) => b - a).slice(0, k));
      }),
    );
  });
});
