import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { planEmbeddingBatches } from '../../src/ai/embedding-batches';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, retryAfterFromHeaders } from '../../src/ai/retry';

describe('planEmbeddingBatches', () => {
  it('covers every input once, in order, within both limits, and closes a batch only when the next input would not fit', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 200 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 50, max: 300 }),
        (tokens, maxInputs, maxTokens) => {
          const batches = planEmbeddingBatches(tokens, { maxInputsPerRequest: maxInputs, maxTokensPerRequest: maxTokens });
          expect(batches.flatMap((b) => Array.from({ length: b.end - b.start }, (_, i) => b.start + i))).toEqual(tokens.map((_, i) => i));
          batches.forEach((batch, i) => {
            const sum = tokens.slice(batch.start, batch.end).reduce((a, b) => a + b, 0);
            expect(batch.tokens).toBe(sum);
            expect(batch.end - batch.start).toBeLessThanOrEqual(maxInputs);
            expect(sum).toBeLessThanOrEqual(maxTokens);
            const next = batches[i + 1];
            if (next) expect(batch.end - batch.start === maxInputs || sum + tokens[next.start]! > maxTokens).toBe(true);
          });
        },
      ),
    );
  });

  it('refuses an input that no request could hold', () => {
    expect(() => planEmbeddingBatches([1, 500], { maxInputsPerRequest: 10, maxTokensPerRequest: 100 })).toThrow(/input 1 has 500 tokens/);
  });
});

describe('retry timing', () => {
  const now = Date.parse('2026-11-21T12:00:00Z');

  it('reads Retry-After as seconds, HTTP date or retry-after-ms', () => {
    expect(retryAfterFromHeaders(new Headers({ 'retry-after': '3' }), now)).toBe(3000);
    expect(retryAfterFromHeaders(new Headers({ 'retry-after': '0.5' }), now)).toBe(500);
    expect(retryAfterFromHeaders(new Headers({ 'retry-after': 'Sat, 21 Nov 2026 12:00:10 GMT' }), now)).toBe(10_000);
    expect(retryAfterFromHeaders(new Headers({ 'retry-after': 'Sat, 21 Nov 2026 11:00:00 GMT' }), now)).toBe(0);
    expect(retryAfterFromHeaders(new Headers({ 'retry-after-ms': '250', 'retry-after': '9' }), now)).toBe(250);
    expect(retryAfterFromHeaders(new Headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(retryAfterFromHeaders(new Headers(), now)).toBeUndefined();
    expect(retryAfterFromHeaders(undefined, now)).toBeUndefined();
  });

  it('backs off with full jitter under a doubling ceiling', () => {
    const policy = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect([0, 1, 2, 3, 4].map((n) => backoffDelayMs(n, policy, () => 0.999))).toEqual([99, 199, 399, 799, 999]);
    expect(backoffDelayMs(3, policy, () => 0)).toBe(0);
  });
});
