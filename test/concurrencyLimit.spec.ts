import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FixedLimit, GradientLimit, type GradientLimitOptions } from '../src/concurrencyLimit.js';

/** A limiter on a fake clock, and a way to run windows of writes at a latency and a load. */
function harness(options: GradientLimitOptions = {}) {
  let now = 0;
  const changes: number[] = [];
  const limiter = new GradientLimit({ ...options, now: () => now, onChange: (n) => changes.push(n) });
  /**
   * `count` writes, each taking `rtt` ms, kept `inFlight` at once (default: the whole limit): a
   * new write starts whenever one ends, as the writer does.
   */
  const run = (count: number, rtt: number, outcome: 'success' | 'dropped' = 'success', inFlight?: number) => {
    const running: { end: number; sample: ReturnType<GradientLimit['start']> }[] = [];
    for (let started = 0, done = 0; done < count; ) {
      while (started < count && running.length < Math.min(inFlight ?? limiter.limit, limiter.limit)) {
        running.push({ end: now + rtt, sample: limiter.start() });
        started += 1;
      }
      const next = running.shift()!;
      now = Math.max(now, next.end);
      next.sample[outcome]();
      done += 1;
    }
  };
  return { limiter, run, changes };
}

describe('GradientLimit', () => {
  it('starts at its initial limit within its bounds', () => {
    expect(new GradientLimit().limit).toBe(32);
    expect(new GradientLimit({ max: 10 }).limit).toBe(10);
    expect(new GradientLimit({ min: 50, max: 100 }).limit).toBe(50);
  });

  it('doubles while latency holds (slow start), then keeps growing slowly up to max', () => {
    const { limiter, run, changes } = harness({ initial: 8, max: 1000, windowSize: 4 });
    // A window of 4 writes with the limit in use: the limit doubles.
    run(4, 5);
    expect(limiter.limit).toBe(16);
    run(64, 5);
    expect(changes.slice(0, 3)).toEqual([16, 32, 64]);
    run(20_000, 5);
    expect(limiter.limit).toBe(1000);
    expect(changes.at(-1)).toBe(1000);
  });

  it('shrinks when latency rises well above its long-run average, and grows again once it holds', () => {
    const { limiter, run } = harness({ initial: 200, max: 1000, windowSize: 10 });
    run(5_000, 5);
    const before = limiter.limit;
    run(200, 50);
    const after = limiter.limit;
    expect(after).toBeLessThan(before * 0.8);
    // Latency back to normal: growth resumes.
    run(5_000, 5);
    expect(limiter.limit).toBeGreaterThan(after);
  });

  it('backs off on timeouts and overload (drops), down to min', () => {
    const { limiter, run } = harness({ initial: 400, max: 1000, windowSize: 10, min: 8 });
    run(100, 5, 'dropped');
    expect(limiter.limit).toBeLessThan(400 * 0.75 ** 9);
    run(10_000, 5, 'dropped');
    expect(limiter.limit).toBe(8);
  });

  it('does not grow a limit the writer does not use', () => {
    const { limiter, run } = harness({ initial: 64, max: 1000, windowSize: 10 });
    run(10_000, 5, 'success', 10);
    expect(limiter.limit).toBe(64);
  });

  it('ignores writes that say nothing about the store, and counts each end once', () => {
    const { limiter } = harness({ initial: 16, windowSize: 1 });
    const sample = limiter.start();
    expect(limiter.inFlight).toBe(1);
    sample.ignore();
    sample.success();
    expect(limiter.inFlight).toBe(0);
    expect(limiter.limit).toBe(16);
  });

  it('stays within its bounds whatever the samples', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 0, max: 500 }),
        fc.array(fc.record({ rtt: fc.integer({ min: 0, max: 1000 }), drop: fc.boolean() }), {
          maxLength: 300,
        }),
        (min, extra, samples) => {
          const max = min + extra;
          let now = 0;
          const limiter = new GradientLimit({ min, max, windowSize: 3, now: () => now });
          for (const s of samples) {
            const sample = limiter.start();
            now += s.rtt;
            if (s.drop) sample.dropped();
            else sample.success();
            expect(limiter.limit).toBeGreaterThanOrEqual(min);
            expect(limiter.limit).toBeLessThanOrEqual(max);
            expect(Number.isInteger(limiter.limit)).toBe(true);
          }
          expect(limiter.inFlight).toBe(0);
        },
      ),
    );
  });

  it('refuses bounds that make no sense', () => {
    expect(() => new GradientLimit({ min: 0 })).toThrow(/min/);
    expect(() => new GradientLimit({ min: 10, max: 5 })).toThrow(/max/);
    expect(() => new GradientLimit({ backoff: 1 })).toThrow(/backoff/);
  });
});

describe('FixedLimit', () => {
  it('keeps its limit and counts what is in flight', () => {
    const limit = new FixedLimit(4);
    const s = limit.start();
    expect(limit.inFlight).toBe(1);
    s.dropped();
    s.dropped();
    expect(limit.inFlight).toBe(0);
    expect(limit.limit).toBe(4);
    expect(() => new FixedLimit(0)).toThrow();
  });
});
