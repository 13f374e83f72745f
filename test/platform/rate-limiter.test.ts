import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/durable/RateLimiter';
import { fixedClock } from '../../src/lib/clock';

// A whole second, so one-second granules of a 60 s window line up with the test's arithmetic.
const T0 = 1_800_000_000_000;
const MINUTE = { windowSeconds: 60 };

function limiterFor(key: string) {
  return env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(key));
}

/** A limiter whose clock the test moves by hand. */
async function limiterWithClock(key: string) {
  const stub = limiterFor(key);
  const clock = fixedClock(T0);
  await runInDurableObject(stub, (instance: RateLimiter) => {
    instance.clock = clock;
  });
  return { stub, clock };
}

async function storedTables(stub: DurableObjectStub<RateLimiter>) {
  return runInDurableObject(stub, (_instance, state) =>
    state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'granules'").toArray(),
  );
}

describe('RateLimiter durable object', () => {
  it('admits exactly the limit out of a burst of concurrent calls', async () => {
    const stub = limiterFor('burst');
    const decisions = await Promise.all(Array.from({ length: 25 }, () => stub.consume({ limit: 10, ...MINUTE })));

    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    expect(decisions.filter((d) => !d.allowed)).toHaveLength(15);
    expect(decisions.filter((d) => d.allowed).map((d) => d.remaining).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const denied of decisions.filter((d) => !d.allowed)) {
      expect(denied.remaining).toBe(0);
      expect(denied.retryAfterSeconds).toBeGreaterThan(0);
      expect(denied.retryAfterSeconds).toBeLessThanOrEqual(61);
    }
  });

  it('counts cost units, not calls', async () => {
    const stub = limiterFor('cost');
    expect(await stub.consume({ limit: 5, ...MINUTE, cost: 3 })).toMatchObject({ allowed: true, remaining: 2 });
    expect(await stub.consume({ limit: 5, ...MINUTE, cost: 3 })).toMatchObject({ allowed: false, remaining: 2 });
    expect(await stub.consume({ limit: 5, ...MINUTE, cost: 2 })).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('reports remaining, reset and retry-after from the sliding window', async () => {
    const { stub, clock } = await limiterWithClock('timing');
    expect(await stub.consume({ limit: 2, ...MINUTE })).toEqual({ allowed: true, limit: 2, granted: 1, remaining: 1, resetSeconds: 61, retryAfterSeconds: 0 });
    clock.advance(20_000);
    expect(await stub.consume({ limit: 2, ...MINUTE })).toEqual({ allowed: true, limit: 2, granted: 1, remaining: 0, resetSeconds: 61, retryAfterSeconds: 0 });
    clock.advance(10_000);
    // The first hit (booked at T0, granule ending T0+1s) frees a unit at T0+61s: 31 s from now.
    expect(await stub.consume({ limit: 2, ...MINUTE })).toEqual({ allowed: false, limit: 2, granted: 0, remaining: 0, resetSeconds: 51, retryAfterSeconds: 31 });
  });

  it('leases: a partial grant takes what is left, and a held lease is counted until its last unit could be spent', async () => {
    const { stub, clock } = await limiterWithClock('lease');
    const policy = { limit: 10, ...MINUTE, partial: true, holdMs: 5_000 };
    expect(await stub.consume({ ...policy, cost: 7 })).toMatchObject({ allowed: true, granted: 7, remaining: 3 });
    expect(await stub.consume({ ...policy, cost: 7 })).toMatchObject({ allowed: true, granted: 3, remaining: 0 });
    expect(await stub.consume({ ...policy, cost: 1 })).toMatchObject({ allowed: false, granted: 0 });
    // Booked at T0 + 5 s (the end of the hold), so still counted at T0 + 61 s and free at T0 + 66 s.
    clock.advance(61_000);
    expect((await stub.consume({ limit: 10, ...MINUTE })).allowed).toBe(false);
    clock.advance(5_000);
    expect(await stub.consume({ limit: 10, ...MINUTE })).toMatchObject({ allowed: true, remaining: 9 });
    await expect(runInDurableObject(stub, (instance: RateLimiter) => instance.consume({ limit: 10, ...MINUTE, holdMs: 61_000 }))).rejects.toThrow(RangeError);
  });

  it('slides: old hits age out one by one instead of the whole window resetting at once', async () => {
    const { stub, clock } = await limiterWithClock('slide');
    const limit = { limit: 3, ...MINUTE };
    await stub.consume(limit);
    await stub.consume(limit);
    clock.advance(30_000);
    await stub.consume(limit);
    expect((await stub.consume(limit)).allowed).toBe(false);

    clock.advance(30_999); // T0+60.999s: the first two hits still count (conservative edge)
    expect((await stub.consume(limit)).allowed).toBe(false);

    clock.advance(1); // T0+61s: the first two hits have aged out, the third has not
    expect(await stub.consume(limit)).toMatchObject({ allowed: true, remaining: 1 });
    expect(await stub.consume(limit)).toMatchObject({ allowed: true, remaining: 0 });
    expect((await stub.consume(limit)).allowed).toBe(false);
  });

  it('keeps separate keys independent', async () => {
    const a = limiterFor('ip:192.0.2.1');
    const b = limiterFor('ip:192.0.2.2');
    expect((await a.consume({ limit: 1, ...MINUTE })).allowed).toBe(true);
    expect((await a.consume({ limit: 1, ...MINUTE })).allowed).toBe(false);
    expect((await b.consume({ limit: 1, ...MINUTE })).allowed).toBe(true);
  });

  it('keeps its counts in storage, so a fresh instance (after eviction) admits no more', async () => {
    const stub = limiterFor('evicted');
    await stub.consume({ limit: 2, ...MINUTE });
    await stub.consume({ limit: 2, ...MINUTE });

    const afterRestart = await runInDurableObject(stub, (_instance, state) =>
      new RateLimiter(state, env).consume({ limit: 2, ...MINUTE }),
    );
    expect(afterRestart.allowed).toBe(false);
  });

  it('rejects nonsense policies instead of guessing', async () => {
    // Called on the instance, not through the stub: the test runner reports every rejected
    // DO RPC as an unhandled error even when awaited (cloudflare/workers-sdk#14736).
    await runInDurableObject(limiterFor('invalid'), async (instance: RateLimiter) => {
      await expect(instance.consume({ limit: 0, ...MINUTE })).rejects.toThrow(/limit must be a positive integer/);
      await expect(instance.consume({ limit: 5, windowSeconds: 1.5 })).rejects.toThrow(/windowSeconds/);
      await expect(instance.consume({ limit: 5, ...MINUTE, cost: 6 })).rejects.toThrow(/exceeds limit/);
    });
  });

  it('schedules cleanup and deletes all storage once every hit has aged out', async () => {
    const { stub, clock } = await limiterWithClock('cleanup');
    await stub.consume({ limit: 5, ...MINUTE });
    clock.advance(30_000);
    await stub.consume({ limit: 5, ...MINUTE });

    const alarmAt = await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
    expect(alarmAt).toBe(T0 + 31_000 + 60_000);

    // Early run (alarms are at-least-once): the first hit goes, the second stays and re-arms.
    clock.advance(31_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await storedTables(stub)).toHaveLength(1);
    expect(await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm())).toBe(T0 + 91_000);
    expect(await stub.consume({ limit: 5, ...MINUTE })).toMatchObject({ allowed: true, remaining: 3 });

    clock.advance(61_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await storedTables(stub)).toHaveLength(0);
    expect(await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm())).toBeNull();

    // An emptied object starts over cleanly.
    expect(await stub.consume({ limit: 5, ...MINUTE })).toMatchObject({ allowed: true, remaining: 4 });
  });
});
