import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cosineSimilarity, quantizeQuery, quantizeUnitVector, scanInt8, TopCandidates } from '../../src/ai/int8-scan';
import { rescoreCandidateCount } from '../../src/ai/local-vector-shard';

const finiteVector = (dims: number) => fc.array(fc.float({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true }), { minLength: dims, maxLength: dims });

describe('int8 quantization', () => {
  it('keeps the cosine between a query and a stored vector within 0.02', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }).chain((d) => fc.tuple(finiteVector(d), finiteVector(d))), ([stored, query]) => {
        const codes = new Int8Array(stored.length);
        const scale = quantizeUnitVector(stored, codes);
        const q = quantizeQuery(query);
        const exact = cosineSimilarity(stored, query);
        let dot = 0;
        for (let i = 0; i < q.length; i++) dot += q[i]! * codes[i]!;
        const qCodes = new Int8Array(query.length);
        const qScale = quantizeUnitVector(query, qCodes);
        expect(Math.abs(dot * scale * qScale - exact)).toBeLessThan(0.02);
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

describe('TopCandidates', () => {
  it('keeps exactly the highest scores', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { maxLength: 300 }), fc.integer({ min: 0, max: 40 }), (scores, k) => {
        const top = new TopCandidates(k);
        scores.forEach((s, slot) => top.offer(s, slot));
        const kept = top.keptSlots().map((slot) => scores[slot]!).sort((a, b) => b - a);
        expect(kept).toEqual([...scores].sort((a, b) => b - a).slice(0, k));
      }),
    );
  });
});

describe('scanInt8', () => {
  it('scans any subset of slots, odd counts and dimensions included', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 13 }), fc.integer({ min: 1, max: 25 }), fc.integer(), (dims, count, seed) => {
        let state = seed;
        const next = () => ((state = (Math.imul(state, 1103515245) + 12345) | 0) >>> 8) / (1 << 24) - 0.5;
        const vectors = Array.from({ length: count }, () => Array.from({ length: dims }, next));
        const codes = new Int8Array(count * dims);
        const scales = new Float32Array(count);
        vectors.forEach((v, slot) => (scales[slot] = quantizeUnitVector(v, codes, slot * dims)));
        const query = Array.from({ length: dims }, next);
        const slots = Int32Array.from({ length: count }, (_, i) => i).filter((i) => i % 3 !== 1);

        const top = new TopCandidates(slots.length);
        scanInt8(codes, scales, dims, quantizeQuery(query), slots, slots.length, top);
        expect(top.keptSlots().sort((a, b) => a - b)).toEqual(Array.from(slots));
      }),
    );
  });

  it('re-scores enough candidates for int8 rounding not to change the top K', () => {
    expect(rescoreCandidateCount(1)).toBe(17);
    expect(rescoreCandidateCount(10)).toBe(26);
    expect(rescoreCandidateCount(100)).toBe(200);
  });
});
