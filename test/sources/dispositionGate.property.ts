import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DispositionGate } from '../../src/sources/dispositionGate.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('DispositionGate', () => {
  it('starts completes together and any other outcome alone in its turn, and starts every call once', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Bursts of settlements, each burst issued synchronously, with turns passing in between.
        fc.array(fc.array(fc.boolean(), { maxLength: 8 }), { minLength: 1, maxLength: 6 }),
        async (bursts) => {
          const gate = new DispositionGate();
          // What rhea does: dispositions updated before its nextTick flush go out in one frame batch.
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

  it('passes a failed send on to its caller and goes on with the rest', async () => {
    const gate = new DispositionGate();
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
