import fc from 'fast-check';
import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { orderByKey } from '../../src/operators/orderByKey.js';

interface Item {
  key: string;
  sequenceNumber: bigint;
  delay: number;
}

const items = fc
  .array(fc.record({ key: fc.integer({ min: 0, max: 6 }), delay: fc.integer({ min: 0, max: 4 }) }), {
    minLength: 1,
    maxLength: 80,
  })
  .map((raw) =>
    raw.map((r, i): Item => ({ key: `k${r.key}`, sequenceNumber: BigInt(i + 1), delay: r.delay })),
  );

describe('orderByKey properties', () => {
  it('never overlaps work of one key, never exceeds the bound, and runs each item once, in sequence order per key', async () => {
    await fc.assert(
      fc.asyncProperty(items, fc.integer({ min: 1, max: 5 }), async (input, concurrency) => {
        const busy = new Set<string>();
        let running = 0;
        let maxRunning = 0;
        const started: Item[] = [];
        const output = await lastValueFrom(
          from(input).pipe(
            orderByKey(
              async (item: Item) => {
                expect(busy.has(item.key)).toBe(false);
                busy.add(item.key);
                running += 1;
                maxRunning = Math.max(maxRunning, running);
                started.push(item);
                await new Promise((resolve) => setTimeout(resolve, item.delay));
                running -= 1;
                busy.delete(item.key);
                return item;
              },
              { concurrency },
            ),
            toArray(),
          ),
        );
        expect(maxRunning).toBeLessThanOrEqual(concurrency);
        expect(output).toHaveLength(input.length);
        expect(new Set(output).size).toBe(input.length);
        const lastByKey = new Map<string, bigint>();
        for (const item of started) {
          expect(item.sequenceNumber).toBeGreaterThan(lastByKey.get(item.key) ?? 0n);
          lastByKey.set(item.key, item.sequenceNumber);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('does not let a slow key hold back the others', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 20 }), async (others) => {
        // Key "slow" blocks until every other item is done; with two slots the rest must get through.
        let release!: () => void;
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        let done = 0;
        const input: Item[] = [
          { key: 'slow', sequenceNumber: 1n, delay: 0 },
          ...Array.from({ length: others }, (_, i) => ({
            key: `k${i % 3}`,
            sequenceNumber: BigInt(i + 2),
            delay: 0,
          })),
        ];
        const output = await lastValueFrom(
          from(input).pipe(
            orderByKey(
              async (item: Item) => {
                if (item.key === 'slow') await gate;
                else if (++done === others) release();
                return item.key;
              },
              { concurrency: 2 },
            ),
            toArray(),
          ),
        );
        expect(output[output.length - 1]).toBe('slow');
      }),
      { numRuns: 20 },
    );
  });
});
