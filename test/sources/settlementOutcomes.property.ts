import { ServiceBusClient, type ServiceBusReceivedMessage } from '@azure/service-bus';
import fc from 'fast-check';
import { firstValueFrom, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../packages/servicebus-emulator/src/index.js';
import { type Envelope, fromServiceBus } from '../../src/index.js';
import { emulatorConfig } from '../support/emulatorConfig.js';
import { receiveAll } from '../support/receiveAll.js';

// rhea, under the SDK, merges the dispositions pending in one flush into ranges that carry the
// first delivery's state. This drives the real SDK against the emulator (which applies a range to
// every delivery in it, as the service does) and checks that each message ends with its own outcome.
type Emulator = Awaited<ReturnType<typeof startEmulator>>;
type Outcome =
  | { kind: 'complete' }
  | { kind: 'abandon' }
  | { kind: 'defer' }
  | { kind: 'deadLetter'; reason: string; description: string };

const queues = Array.from({ length: 8 }, (_, i) => `outcomes-${i}`);
let emulator: Emulator;
let client: ServiceBusClient;

beforeAll(async () => {
  emulator = await startEmulator({
    port: 0,
    config: emulatorConfig(Object.fromEntries(queues.map((q) => [q, { LockDuration: 'PT1M' }]))),
  });
  client = new ServiceBusClient(emulator.connectionString, { retryOptions: { maxRetries: 0 } });
});

afterAll(async () => {
  await client?.close();
  await emulator?.close();
});

const outcomeArb: fc.Arbitrary<Outcome> = fc.oneof(
  fc.constant<Outcome>({ kind: 'complete' }),
  fc.constant<Outcome>({ kind: 'abandon' }),
  fc.constant<Outcome>({ kind: 'defer' }),
  fc
    .tuple(fc.integer({ min: 0, max: 3 }), fc.string({ maxLength: 12 }))
    .map(([r, d]): Outcome => ({ kind: 'deadLetter', reason: `Reason-${r}`, description: `why ${d}` })),
);

function settle(envelope: Envelope<unknown>, outcome: Outcome): Promise<void> {
  switch (outcome.kind) {
    case 'complete':
      return envelope.complete();
    case 'abandon':
      return envelope.abandon();
    case 'defer':
      return envelope.defer();
    case 'deadLetter':
      return envelope.deadLetter(outcome.reason, outcome.description);
  }
}

async function drain(entity: string): Promise<{ id: string; reason?: unknown; description?: unknown }[]> {
  const [queue, sub] = entity.split('/');
  const messages = await receiveAll(client, queue!, { deadLetter: sub !== undefined, waitMs: 200 });
  return messages.map((m) => ({
    id: String(m.messageId),
    reason: m.deadLetterReason,
    description: m.deadLetterErrorDescription,
  }));
}

describe('settlement through the SDK', () => {
  it('gives every message exactly its own outcome when different outcomes are settled in one tick', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(outcomeArb, { minLength: 2, maxLength: 10 }), async (outcomes) => {
        run += 1;
        const queue = queues[run % queues.length]!;
        const sender = client.createSender(queue);
        await sender.sendMessages(
          outcomes.map((_, i) => ({ body: Buffer.from(`${i}`), messageId: `r${run}-${i}` })),
        );
        await sender.close();

        // One receive brings them all on adjacent delivery ids; then all are settled synchronously.
        const envelopes = await firstValueFrom(
          fromServiceBus({
            client,
            entity: { queue },
            maxInFlight: outcomes.length,
            receiveBatchSize: outcomes.length,
            maxWaitTimeInMs: 300,
            drainTimeoutMs: 5_000,
          }).pipe(take(outcomes.length), toArray()),
        );
        const byId = new Map(outcomes.map((o, i) => [`r${run}-${i}`, o]));
        await Promise.all(envelopes.map((e) => settle(e, byId.get(e.messageId)!)));

        const expectIds = (kind: Outcome['kind']) =>
          [...byId]
            .filter(([, o]) => o.kind === kind)
            .map(([id]) => id)
            .sort();

        const deadLettered = await drain(`${queue}/$DeadLetterQueue`);
        expect(deadLettered.map((d) => d.id).sort()).toEqual(expectIds('deadLetter'));
        for (const d of deadLettered) {
          const wanted = byId.get(d.id) as Extract<Outcome, { kind: 'deadLetter' }>;
          expect({ reason: d.reason, description: d.description }).toEqual({
            reason: wanted.reason,
            description: wanted.description,
          });
        }
        expect((await drain(queue)).map((d) => d.id).sort()).toEqual(expectIds('abandon'));
        expect(emulator.stats(queue).deferred).toBe(expectIds('defer').length);
        // Clean up the deferred ones so the next run on this queue starts empty.
        const receiver = client.createReceiver(queue, { receiveMode: 'receiveAndDelete' });
        const deferredSeqs = envelopes
          .filter((e) => byId.get(e.messageId)!.kind === 'defer')
          .map((e) => (e.raw as ServiceBusReceivedMessage).sequenceNumber!);
        const deferred = await receiver.receiveDeferredMessages(deferredSeqs);
        await receiver.close();
        expect(deferred.map((m) => String(m.messageId)).sort()).toEqual(expectIds('defer'));
        expect(emulator.stats(queue).total).toBe(0);
      }),
      { numRuns: 20, seed: 1030 },
    );
  }, 120_000);
});
