import { ServiceBusClient, type ServiceBusReceivedMessage } from '@azure/service-bus';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../src/index.js';
import { config, fastRetry } from './helpers.js';

const MAX_DELIVERY = 3;

type Command =
  | { kind: 'send'; count: number }
  | { kind: 'receive'; count: number }
  | { kind: 'complete'; pick: number }
  | { kind: 'abandon'; pick: number }
  | { kind: 'deadLetter'; pick: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ kind: fc.constant('send' as const), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('receive' as const), count: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ kind: fc.constant('complete' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('abandon' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('deadLetter' as const), pick: fc.nat() }),
);

describe('emulator settlement invariants (fast-check, real SDK)', () => {
  it('never loses or duplicates a message; delivery counts rise by one per abandon; the DLQ gets exactly the messages past their limit', async () => {
    const emulator = await startEmulator({
      port: 0,
      config: config(
        Object.fromEntries(
          Array.from({ length: 40 }, (_, i) => [
            `p${i}`,
            { LockDuration: 'PT30S', MaxDeliveryCount: MAX_DELIVERY },
          ]),
        ),
      ),
    });
    const client = new ServiceBusClient(emulator.connectionString, fastRetry);
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 12 }), async (commands) => {
          const queue = `p${run++ % 40}`;
          const sender = client.createSender(queue);
          const receiver = client.createReceiver(queue, { maxAutoLockRenewalDurationInMs: 0 });
          let nextId = 0;
          const sent: number[] = [];
          const held: ServiceBusReceivedMessage[] = [];
          const abandons = new Map<number, number>();
          const completed = new Set<number>();
          const dlqExpected = new Map<number, string>();
          const take = (pick: number) => (held.length ? held.splice(pick % held.length, 1)[0] : undefined);
          for (const c of commands) {
            if (c.kind === 'send') {
              const ids = Array.from({ length: c.count }, () => nextId++);
              await sender.sendMessages(ids.map((id) => ({ body: id })));
              sent.push(...ids);
            } else if (c.kind === 'receive') {
              const got = await receiver.receiveMessages(c.count, { maxWaitTimeInMs: 150 });
              expect(got.length).toBeLessThanOrEqual(c.count);
              for (const m of got) {
                const id = m.body as number;
                expect(held.some((h) => h.body === id)).toBe(false);
                expect(completed.has(id) || dlqExpected.has(id)).toBe(false);
                expect(m.deliveryCount).toBe(abandons.get(id) ?? 0);
                held.push(m);
              }
            } else {
              const m = take(c.pick);
              if (!m) continue;
              const id = m.body as number;
              if (c.kind === 'complete') {
                await receiver.completeMessage(m);
                completed.add(id);
              } else if (c.kind === 'deadLetter') {
                await receiver.deadLetterMessage(m, {
                  deadLetterReason: 'Explicit',
                  deadLetterErrorDescription: 'test',
                });
                dlqExpected.set(id, 'Explicit');
              } else {
                await receiver.abandonMessage(m);
                const n = (abandons.get(id) ?? 0) + 1;
                abandons.set(id, n);
                if (n >= MAX_DELIVERY) dlqExpected.set(id, 'MaxDeliveryCountExceeded');
              }
            }
          }
          for (const m of held) {
            await receiver.completeMessage(m);
            completed.add(m.body as number);
          }
          const stats = emulator.stats(queue);
          const remaining = sent.filter((id) => !completed.has(id) && !dlqExpected.has(id));
          expect(stats.total).toBe(remaining.length);
          expect(stats.deadLettered).toBe(dlqExpected.size);
          const drain = client.createReceiver(queue, { receiveMode: 'receiveAndDelete' });
          const left: number[] = [];
          while (left.length < remaining.length) {
            const got = await drain.receiveMessages(remaining.length - left.length, { maxWaitTimeInMs: 500 });
            if (got.length === 0) break;
            left.push(...got.map((m) => m.body as number));
          }
          expect(left).toEqual(remaining);
          const dlq = client.createReceiver(queue, {
            subQueueType: 'deadLetter',
            receiveMode: 'receiveAndDelete',
          });
          const dead: ServiceBusReceivedMessage[] = [];
          while (dead.length < dlqExpected.size) {
            const got = await dlq.receiveMessages(dlqExpected.size - dead.length, { maxWaitTimeInMs: 500 });
            if (got.length === 0) break;
            dead.push(...got);
          }
          expect(new Map(dead.map((m) => [m.body as number, m.deadLetterReason]))).toEqual(dlqExpected);
          expect(emulator.stats(queue)).toMatchObject({ total: 0, deadLettered: 0 });
          await Promise.all([sender.close(), receiver.close(), drain.close(), dlq.close()]);
        }),
        { numRuns: 20 },
      );
    } finally {
      await client.close();
      await emulator.close();
    }
  }, 60_000);
});
