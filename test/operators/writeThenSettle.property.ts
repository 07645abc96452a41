import fc from 'fast-check';
import { concatMap, from, lastValueFrom, map, of, timer, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Batch } from '../../src/batch.js';
import { GradientLimit } from '../../src/concurrencyLimit.js';
import { Envelope, type Settler } from '../../src/envelope.js';
import { TransientWriteError, WriteRejectedError } from '../../src/errors.js';
import { batchWindow } from '../../src/operators/batchWindow.js';
import { writeThenSettle } from '../../src/operators/writeThenSettle.js';

/**
 * Random message sets over a few keys, random write latencies, injected transient and permanent
 * failures. The sink records every acknowledged write and every settlement in one event log so
 * that order between them can be checked.
 */
interface Scenario {
  messages: { key: number; poison: boolean }[];
  latencies: number[];
  transientEvery: number;
  maxAttempts: number;
  concurrency: number;
  /** Batches from a 1 ms `batchWindow`, or made on demand by the writer from envelopes. */
  batching: 'window' | 'demand';
  /** A fixed concurrency, or an adaptive limit (1..concurrency) that moves with every window of 2 writes. */
  adaptive: boolean;
  /** Gaps between arrivals, in ms (0: same tick). */
  gaps: number[];
}

const scenario = fc.record<Scenario>({
  messages: fc.array(
    fc.record({
      key: fc.integer({ min: 0, max: 5 }),
      poison: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    }),
    {
      minLength: 1,
      maxLength: 60,
    },
  ),
  latencies: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 10 }),
  transientEvery: fc.integer({ min: 0, max: 4 }),
  maxAttempts: fc.integer({ min: 1, max: 4 }),
  concurrency: fc.integer({ min: 1, max: 4 }),
  batching: fc.constantFrom('window' as const, 'demand' as const),
  adaptive: fc.boolean(),
  gaps: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 5 }),
});

type Event =
  | { type: 'write-start'; key: string }
  | { type: 'write-ack'; key: string; ids: string[] }
  | { type: 'settle'; id: string; outcome: string; reason?: string };

async function runScenario(s: Scenario) {
  const events: Event[] = [];
  const settleCount = new Map<string, number>();
  const sequenceOfId = new Map<string, bigint>();
  const poison = new Set<string>();
  const envelopes = s.messages.map((m, i) => {
    const id = `m${i}`;
    const sequenceNumber = BigInt(i + 1);
    sequenceOfId.set(id, sequenceNumber);
    if (m.poison) poison.add(id);
    const record = (outcome: string, reason?: string) => async () => {
      settleCount.set(id, (settleCount.get(id) ?? 0) + 1);
      events.push({ type: 'settle', id, outcome, ...(reason === undefined ? {} : { reason }) });
    };
    const settler: Settler = {
      complete: record('completed'),
      abandon: record('abandoned'),
      deadLetter: (reason) => record('deadLettered', reason)(),
      defer: record('deferred'),
    };
    return Envelope.create(
      {
        messageId: id,
        key: `k${m.key}`,
        sequenceNumber,
        enqueuedTime: new Date(0),
        deliveryCount: 0,
        body: id,
        size: 1,
        entityPath: 'prop',
      },
      settler,
    );
  });

  let calls = 0;
  const busy = new Set<string>();
  let overlapped = false;
  let mostAtOnce = 0;
  const write = async (batch: Batch<string>) => {
    calls += 1;
    if (busy.has(batch.key)) overlapped = true;
    busy.add(batch.key);
    mostAtOnce = Math.max(mostAtOnce, busy.size);
    if (batch.envelopes.length > 4) throw new Error(`batch of ${batch.envelopes.length} over maxCount 4`);
    events.push({ type: 'write-start', key: batch.key });
    try {
      await new Promise((resolve) => setTimeout(resolve, s.latencies[calls % s.latencies.length]));
      if (batch.envelopes.some((e) => poison.has(e.messageId))) {
        throw new WriteRejectedError('Invalid value for column');
      }
      if (s.transientEvery > 0 && calls % s.transientEvery === 0) {
        throw new TransientWriteError('write timeout', 'timeout');
      }
      events.push({ type: 'write-ack', key: batch.key, ids: batch.envelopes.map((e) => e.messageId) });
    } finally {
      busy.delete(batch.key);
    }
  };

  const results = await lastValueFrom(
    from(envelopes).pipe(
      concatMap((e, i) => {
        const gap = s.gaps[i % s.gaps.length]!;
        return gap === 0 ? of(e) : timer(gap).pipe(map(() => e));
      }),
      s.batching === 'window' ? batchWindow<string>({ maxCount: 4, maxWaitMs: 1 }) : (x) => x,
      writeThenSettle<string>({
        write,
        batch: { maxCount: 4 },
        concurrency: s.adaptive
          ? new GradientLimit({ min: 1, max: s.concurrency, initial: 1, windowSize: 2 })
          : s.concurrency,
        retry: { maxAttempts: s.maxAttempts, sleep: async () => undefined },
        circuitOptions: { halfOpenAfterMs: 1 },
      }),
      toArray(),
    ),
  );
  return { events, settleCount, sequenceOfId, poison, results, overlapped, envelopes, mostAtOnce };
}

describe('writeThenSettle properties', () => {
  it('settles every envelope exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const { settleCount, envelopes } = await runScenario(s);
        for (const e of envelopes) expect(settleCount.get(e.messageId)).toBe(1);
      }),
      { numRuns: 60 },
    );
  });

  it('completes a message only after a write containing it was acknowledged', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const { events } = await runScenario(s);
        const acked = new Set<string>();
        for (const event of events) {
          if (event.type === 'write-ack') for (const id of event.ids) acked.add(id);
          if (event.type === 'settle' && event.outcome === 'completed')
            expect(acked.has(event.id)).toBe(true);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('writes each key one batch at a time, and acknowledged writes of a key follow sequence order', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const { events, overlapped, sequenceOfId, mostAtOnce } = await runScenario(s);
        expect(overlapped).toBe(false);
        expect(mostAtOnce).toBeLessThanOrEqual(s.concurrency);
        const lastByKey = new Map<string, bigint>();
        for (const event of events) {
          if (event.type !== 'write-ack') continue;
          for (const id of event.ids) {
            const seq = sequenceOfId.get(id)!;
            // Strictly increasing unless a retry rewrote the same messages (never an older one after a newer).
            expect(seq).toBeGreaterThan(lastByKey.get(event.key) ?? 0n);
            lastByKey.set(event.key, seq);
          }
        }
      }),
      { numRuns: 60 },
    );
  });

  it('dead-letters exactly the rejected messages, with reason WriteRejected; transient failures only abandon', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const { events, poison } = await runScenario(s);
        const deadLettered = events.filter((e) => e.type === 'settle' && e.outcome === 'deadLettered');
        for (const e of deadLettered) {
          expect(poison.has((e as { id: string }).id)).toBe(true);
          expect((e as { reason?: string }).reason).toBe('WriteRejected');
        }
        // A poison message is dead-lettered unless transient failures exhausted its batch first (abandoned).
        for (const id of poison) {
          const outcome = events.find((e) => e.type === 'settle' && e.id === id) as { outcome: string };
          expect(['deadLettered', 'abandoned']).toContain(outcome.outcome);
        }
        if (s.transientEvery === 0) {
          expect(deadLettered.length).toBe(poison.size);
          expect(events.some((e) => e.type === 'settle' && e.outcome === 'abandoned')).toBe(false);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('reports per batch what happened, adding up to the batch', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const { results, envelopes } = await runScenario(s);
        let total = 0;
        for (const r of results) {
          expect(r.completed + r.abandoned + r.deadLettered + r.rescheduled).toBe(r.batch.envelopes.length);
          expect(r.attempts).toBeGreaterThanOrEqual(1);
          total += r.batch.envelopes.length;
        }
        expect(total).toBe(envelopes.length);
      }),
      { numRuns: 40 },
    );
  });
});
