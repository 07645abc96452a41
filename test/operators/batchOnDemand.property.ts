import fc from 'fast-check';
import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Batch } from '../../src/batch.js';
import type { Envelope } from '../../src/envelope.js';
import { batchOnDemand } from '../../src/operators/batchOnDemand.js';
import { recordingEnvelopes } from '../support/envelopes.js';

// With an order key coarser than the partition (a session, as `serviceBusToCassandra` uses with
// sessions on): batches never span two partitions, one order key's batches never overlap and come
// in sequence order, every envelope is in exactly one batch, and the bound holds.
describe('batchOnDemand with an order key', () => {
  it('keeps one partition per batch, one batch at a time per order key in sequence order, each envelope once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            session: fc.constantFrom('s0', 's1', 's2', 's3'),
            partition: fc.constantFrom('p0', 'p1', 'p2'),
            delayMs: fc.integer({ min: 0, max: 4 }),
          }),
          { minLength: 1, maxLength: 60 },
        ),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 5 }),
        async (messages, concurrency, maxCount) => {
          const { make } = recordingEnvelopes();
          const envelopes = messages.map((m, i) =>
            make(m, { key: m.partition, sequenceNumber: BigInt(i + 1), messageId: `m${i + 1}` }),
          );
          const sessionOf = (e: Envelope<unknown>) => (e.body as { session: string }).session;
          let clock = 0;
          let running = 0;
          let mostRunning = 0;
          const written: { batch: Batch<(typeof messages)[number]>; start: number; end: number }[] = [];
          const write = async (batch: Batch<(typeof messages)[number]>) => {
            running += 1;
            mostRunning = Math.max(mostRunning, running);
            const start = clock++;
            await new Promise((resolve) => setTimeout(resolve, batch.envelopes[0]!.body.delayMs));
            running -= 1;
            written.push({ batch, start, end: clock++ });
          };
          await lastValueFrom(
            from(envelopes).pipe(
              batchOnDemand(write, { keyOf: sessionOf, concurrency, maxCount }),
              toArray(),
            ),
          );

          const ids = written.flatMap((w) => w.batch.envelopes.map((e) => e.messageId));
          expect([...ids].sort()).toEqual(envelopes.map((e) => e.messageId).sort());
          expect(mostRunning).toBeLessThanOrEqual(concurrency);
          for (const { batch } of written) {
            expect(batch.envelopes.length).toBeLessThanOrEqual(maxCount);
            expect(new Set(batch.envelopes.map((e) => e.key))).toEqual(new Set([batch.key]));
            expect(new Set(batch.envelopes.map(sessionOf)).size).toBe(1);
          }
          for (const session of ['s0', 's1', 's2', 's3']) {
            const mine = written
              .filter((w) => sessionOf(w.batch.envelopes[0]!) === session)
              .sort((a, b) => a.start - b.start);
            const sequence = mine.flatMap((w) => w.batch.envelopes.map((e) => Number(e.sequenceNumber)));
            expect(sequence).toEqual([...sequence].sort((a, b) => a - b));
            for (let i = 1; i < mine.length; i++) expect(mine[i]!.start).toBeGreaterThan(mine[i - 1]!.end);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
