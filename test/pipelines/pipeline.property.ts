import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Batch } from '../../src/batch.js';
import { TransientWriteError, WriteRejectedError } from '../../src/errors.js';
import { batchWindow } from '../../src/operators/batchWindow.js';
import { decode } from '../../src/operators/decode.js';
import { keyBy } from '../../src/operators/keyBy.js';
import { validate } from '../../src/operators/validate.js';
import { writeThenSettle } from '../../src/operators/writeThenSettle.js';
import { definePipeline, runPipeline } from '../../src/pipelines/pipeline.js';
import { MemoryQueue } from '../../src/testing/memoryQueue.js';

const Event = z.object({ device: z.string(), n: z.number().int(), poison: z.boolean() });
type Event = z.infer<typeof Event>;

/** A message is valid JSON of the schema, invalid JSON, or JSON that breaks the schema. */
const message = fc.record({
  device: fc.integer({ min: 0, max: 7 }),
  kind: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'notJson', 'badField', 'poison'),
});

const scenario = fc.record({
  messages: fc.array(message, { minLength: 1, maxLength: 120 }),
  maxInFlight: fc.integer({ min: 1, max: 40 }),
  latencies: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 8 }),
  // 0: no transient failures; k: every k-th write call times out (k = 1 would fail forever, which is MaxDeliveryCount's job).
  transientEvery: fc.constantFrom(0, 2, 3, 5),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

async function run(s: Scenario) {
  const queue = new MemoryQueue({ maxDeliveryCount: 50 });
  queue.send(
    s.messages.map((m, i) => ({
      messageId: `m${i}`,
      body:
        m.kind === 'notJson'
          ? Buffer.from(`{"device":`)
          : Buffer.from(
              JSON.stringify({
                device: `d${m.device}`,
                n: i,
                poison: m.kind === 'poison',
                ...(m.kind === 'badField' ? { n: 'x' } : {}),
              }),
            ),
    })),
  );
  let maxUnsettled = 0;
  const written: { device: string; n: number }[] = [];
  let calls = 0;
  const pipeline = definePipeline({
    name: 'prop',
    source: (ctx) => queue.source({ ...ctx, maxInFlight: s.maxInFlight }),
    process: (envelopes) =>
      envelopes.pipe(
        decode(),
        validate(Event),
        keyBy((e) => e.body.device),
        batchWindow<Event>({ maxCount: 5, maxWaitMs: 1 }),
        writeThenSettle<Event>({
          retry: { maxAttempts: 3, sleep: async () => undefined },
          write: async (batch: Batch<Event>) => {
            calls += 1;
            await new Promise((resolve) => setTimeout(resolve, s.latencies[calls % s.latencies.length]));
            if (batch.envelopes.some((e) => e.body.poison)) throw new WriteRejectedError('poison row');
            if (s.transientEvery > 0 && calls % s.transientEvery === 0)
              throw new TransientWriteError('timeout', 'timeout');
            for (const e of batch.envelopes) written.push({ device: e.body.device, n: e.body.n });
          },
        }),
      ),
  });
  const running = runPipeline(pipeline);
  // Sample the pipeline's own in-flight count as it runs.
  const poll = setInterval(() => {
    maxUnsettled = Math.max(maxUnsettled, running.counts().inFlight);
  }, 0);
  const total = s.messages.length;
  while (queue.completed.length + queue.deadLetters.length < total)
    await new Promise((r) => setTimeout(r, 2));
  await running.stop();
  clearInterval(poll);
  return { queue, written, counts: running.counts(), maxUnsettled };
}

describe('a pipeline over a queue (properties)', () => {
  it('settles every message exactly once, keeps in-flight bounded, dead-letters only bad input with its reason', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const { queue, written, counts, maxUnsettled } = await run(s);
        const outcomes = new Map<string, string>();
        for (const id of queue.completed) {
          expect(outcomes.has(id)).toBe(false);
          outcomes.set(id, 'completed');
        }
        for (const d of queue.deadLetters) {
          expect(outcomes.has(d.messageId)).toBe(false);
          outcomes.set(d.messageId, d.reason);
        }
        expect(outcomes.size).toBe(s.messages.length);
        s.messages.forEach((m, i) => {
          const expected = {
            ok: 'completed',
            notJson: 'DecodeFailed',
            badField: 'ValidationFailed',
            poison: 'WriteRejected',
          }[m.kind]!;
          expect(outcomes.get(`m${i}`)).toBe(expected);
        });
        expect(maxUnsettled).toBeLessThanOrEqual(s.maxInFlight);
        expect(counts.inFlight).toBe(0);
        expect(counts.doubleSettlements).toBe(0);
        // Per device, the writes that succeeded follow the send order.
        const byDevice = new Map<string, number>();
        for (const w of written) {
          expect(w.n).toBeGreaterThanOrEqual(byDevice.get(w.device) ?? -1);
          byDevice.set(w.device, w.n);
        }
      }),
      { numRuns: 40 },
    );
  });
});
