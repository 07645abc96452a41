import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DispositionGate } from '../../src/sources/dispositionGate.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** What rhea does: dispositions updated before its nextTick flush go out in one frame batch. */
function rhea() {
  const flushes: { complete: boolean; id: number }[][] = [];
  let pending: { complete: boolean; id: number }[] = [];
  const update = (entry: { complete: boolean; id: number }) => {
    if (pending.length === 0)
      process.nextTick(() => {
        flushes.push(pending);
        pending = [];
      });
    pending.push(entry);
  };
  return { flushes, update };
}

describe('DispositionGate', () => {
  it('starts completes together and any other outcome alone in its turn, and starts every call once', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Bursts of settlements, each burst issued synchronously, with turns passing in between.
        fc.array(fc.array(fc.boolean(), { maxLength: 8 }), { minLength: 1, maxLength: 6 }),
        async (bursts) => {
          const gate = new DispositionGate(0);
          const { flushes, update } = rhea();
          const settled: Promise<number>[] = [];
          let id = 0;
          for (const burst of bursts) {
            for (const complete of burst) {
              const mine = id++;
              // Like the SDK: a few awaits before the delivery is updated.
              settled.push(
                gate.settle(complete, async () => {
                  await Promise.resolve();
                  await Promise.resolve();
                  update({ complete, id: mine });
                  return mine;
                }),
              );
            }
            await nextTurn();
          }
          const results = await Promise.all(settled);
          await nextTurn();
          expect(results).toEqual(Array.from({ length: id }, (_, i) => i));
          expect(
            flushes
              .flat()
              .map((f) => f.id)
              .sort((a, b) => a - b),
          ).toEqual(results);
          for (const flush of flushes) {
            expect(flush.every((f) => f.complete) || flush.length === 1).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('holds completes for the linger and sends them in delivery-id order, one flush, other outcomes alone', async () => {
    // Only the linger's setTimeout is faked: rhea's nextTick flush and the gate's turns stay real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    await fc.assert(
      fc.asyncProperty(
        // Settlements in turns: [delivery id order is shuffled, complete or not].
        fc.array(fc.array(fc.boolean(), { maxLength: 8 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 20 }),
        fc.infiniteStream(fc.nat()),
        async (bursts, maxHeld, shuffle) => {
          const gate = new DispositionGate(5, maxHeld);
          const { flushes, update } = rhea();
          const total = bursts.flat().length;
          const ids = Array.from({ length: total }, (_, i) => i);
          const seeds = shuffle.take(total);
          for (const [i, seed] of [...seeds].entries()) {
            const j = i + (seed % (total - i));
            [ids[i], ids[j]] = [ids[j]!, ids[i]!];
          }
          const settled: Promise<number>[] = [];
          let n = 0;
          for (const burst of bursts) {
            for (const complete of burst) {
              const id = ids[n++]!;
              settled.push(
                gate.settle(
                  complete,
                  async () => {
                    await Promise.resolve();
                    update({ complete, id });
                    return id;
                  },
                  id,
                ),
              );
            }
            await nextTurn();
          }
          await vi.advanceTimersByTimeAsync(5);
          const results = await Promise.all(settled);
          await nextTurn();
          expect([...results].sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));
          expect(
            flushes
              .flat()
              .map((f) => f.id)
              .sort((a, b) => a - b),
          ).toEqual([...ids].sort((a, b) => a - b));
          for (const flush of flushes) {
            expect(flush.every((f) => f.complete) || flush.length === 1).toBe(true);
          }
          // Issued within one linger and never more than maxHeld at once, completes leave sorted.
          const completes = flushes.filter((f) => f.every((x) => x.complete));
          if (bursts.flat().every(Boolean) && total <= maxHeld) {
            expect(completes.length).toBeLessThanOrEqual(1);
            const only = completes[0]?.map((f) => f.id) ?? [];
            expect(only).toEqual([...only].sort((a, b) => a - b));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('passes a failed send on to its caller and goes on with the rest', async () => {
    const gate = new DispositionGate(0);
    const failing = gate.settle(false, async () => {
      throw new Error('refused');
    });
    const throwing = gate.settle(false, () => {
      throw new Error('sync throw');
    });
    const fine = gate.settle(true, async () => 'ok');
    await expect(failing).rejects.toThrow('refused');
    await expect(throwing).rejects.toThrow('sync throw');
    await expect(fine).resolves.toBe('ok');
  });
});
