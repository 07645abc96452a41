import { ServiceBusClient, type ServiceBusMessage } from '@azure/service-bus';
import fc from 'fast-check';
import { firstValueFrom, lastValueFrom, mergeMap, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../packages/servicebus-emulator/src/index.js';
import { type Envelope, fromServiceBus, type SettlementListener } from '../../src/index.js';
import { emulatorConfig } from '../support/emulatorConfig.js';

// The real @azure/service-bus SDK, over TCP, against the project's emulator.
type Emulator = Awaited<ReturnType<typeof startEmulator>>;

const queueNames = Array.from({ length: 12 }, (_, i) => `prop-${i}`);

let emulator: Emulator;
let client: ServiceBusClient;

beforeAll(async () => {
  emulator = await startEmulator({
    port: 0,
    config: emulatorConfig({
      ...Object.fromEntries(queueNames.map((n) => [n, {}])),
      burst: {},
      renew: { LockDuration: 'PT2S' },
      renewSessions: { LockDuration: 'PT2S', RequiresSession: true },
      sessions: { RequiresSession: true },
      idleSessions: { RequiresSession: true },
      drain: { LockDuration: 'PT1M' },
      trace: {},
      idle: {},
      overlap: {},
      types: {},
    }),
  });
  client = new ServiceBusClient(emulator.connectionString);
});

afterAll(async () => {
  await client?.close();
  await emulator?.close();
});

async function send(queueName: string, messages: ServiceBusMessage[]): Promise<void> {
  const sender = client.createSender(queueName);
  try {
    for (let i = 0; i < messages.length; i += 100) await sender.sendMessages(messages.slice(i, i + 100));
  } finally {
    await sender.close();
  }
}

async function countActive(queueName: string): Promise<number> {
  const receiver = client.createReceiver(queueName, { receiveMode: 'peekLock' });
  try {
    return (await receiver.peekMessages(1000)).length;
  } finally {
    await receiver.close();
  }
}

async function countActiveSession(queueName: string, sessionId: string): Promise<number> {
  const receiver = await client.acceptSession(queueName, sessionId);
  try {
    return (await receiver.peekMessages(1000)).length;
  } finally {
    await receiver.close();
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('fromServiceBus', () => {
  it('never holds more than maxInFlight unsettled messages, and receives each message once, with one receive loop or several', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 60 }),
        fc.array(fc.integer({ min: 0, max: 15 }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 1, max: 3 }),
        async (maxInFlight, count, settleDelays, receivers) => {
          const name = queueNames[run++ % queueNames.length]!;
          await send(
            name,
            Array.from({ length: count }, (_, i) => ({ body: { i }, messageId: `m-${run}-${i}` })),
          );
          let inFlight = 0;
          let maxSeen = 0;
          const seen: string[] = [];
          const envelopes$ = fromServiceBus({
            client,
            entity: { queue: name },
            maxInFlight,
            receivers,
            receiveBatchSize: 7,
            maxWaitTimeInMs: 200,
          });
          await lastValueFrom(
            envelopes$.pipe(
              mergeMap(async (envelope, index) => {
                inFlight += 1;
                maxSeen = Math.max(maxSeen, inFlight);
                seen.push(envelope.messageId);
                await delay(settleDelays[index % settleDelays.length]!);
                inFlight -= 1;
                await envelope.complete();
              }),
              take(count),
            ),
          );
          expect(maxSeen).toBeLessThanOrEqual(maxInFlight);
          expect(new Set(seen).size).toBe(count);
          expect(await countActive(name)).toBe(0);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('resumes receiving after bursts as soon as in-flight drops below the bound', async () => {
    const received: Envelope<unknown>[] = [];
    const stop = new AbortController();
    const done = new Promise<void>((resolve, reject) => {
      fromServiceBus({
        client,
        entity: { queue: 'burst' },
        maxInFlight: 10,
        maxWaitTimeInMs: 200,
        signal: stop.signal,
      })
        .pipe(
          mergeMap(async (envelope) => {
            received.push(envelope);
            // Settle in clumps, the way a batch writer does.
            if (received.length % 10 === 0) await delay(30);
            await envelope.complete();
          }),
        )
        .subscribe({ complete: resolve, error: reject });
    });
    for (let burst = 0; burst < 4; burst++) {
      await send(
        'burst',
        Array.from({ length: 75 }, (_, i) => ({ body: { burst, i } })),
      );
      const target = (burst + 1) * 75;
      for (let waited = 0; received.length < target && waited < 20_000; waited += 50) await delay(50);
      expect(received.length).toBe(target);
      await delay(300); // an idle gap between bursts, where push-mode receivers have been seen to stall
    }
    stop.abort();
    await done;
    expect(await countActive('burst')).toBe(0);
  });

  it('renews the locks of messages held longer than the lock duration', async () => {
    let renewed = 0;
    let lost = 0;
    const listener: SettlementListener = {
      onLockRenewed: () => renewed++,
      onLockLost: () => lost++,
    };
    await send('renew', [{ body: 'slow', messageId: 'slow-1' }]);
    const envelope = await firstValueFrom(
      fromServiceBus({ client, entity: { queue: 'renew' }, maxInFlight: 1, listener, maxWaitTimeInMs: 200 }),
    );
    await delay(4_500); // more than twice the 2 s lock
    await envelope.complete();
    expect(envelope.lockLost).toBe(false);
    expect(renewed).toBeGreaterThanOrEqual(2);
    expect(lost).toBe(0);
    expect(await countActive('renew')).toBe(0);
  });

  it("keeps a session's lock while its messages are held longer than the lock duration", async () => {
    // Sluice keeps session locks itself (the SDK's renewal gives up after one failure): a session
    // held for more than twice its 2 s lock must still be ours when its message is completed.
    await send('renewSessions', [{ body: 'slow', messageId: 'slow-s', sessionId: 'held' }]);
    const errors: unknown[] = [];
    const stop = new AbortController();
    const envelope = await firstValueFrom(
      fromServiceBus({
        client,
        entity: { queue: 'renewSessions' },
        sessions: { maxConcurrentSessions: 1, idleTimeoutMs: 10_000 },
        maxInFlight: 1,
        maxWaitTimeInMs: 200,
        signal: stop.signal,
        onReceiveError: (e) => errors.push(e),
      }),
    );
    await delay(4_500);
    await envelope.complete();
    stop.abort();
    expect(envelope.lockLost).toBe(false);
    expect(errors).toEqual([]);
    expect(await countActiveSession('renewSessions', 'held')).toBe(0);
  });

  it('on an idle session queue, reports a working receive while the accept waits for a session', async () => {
    // The accept waits up to a minute for a session; readiness must not wait with it.
    const stop = new AbortController();
    let receiving = 0;
    const errors: unknown[] = [];
    const subscription = fromServiceBus({
      client,
      entity: { queue: 'idleSessions' },
      sessions: { maxConcurrentSessions: 1 },
      signal: stop.signal,
      onReceiving: () => {
        receiving += 1;
      },
      onReceiveError: (error) => errors.push(error),
    }).subscribe();
    try {
      const started = Date.now();
      while (receiving === 0 && Date.now() - started < 15_000) await delay(100);
      expect(receiving).toBeGreaterThan(0);
      expect(errors).toEqual([]);
    } finally {
      stop.abort();
      subscription.unsubscribe();
    }
  });

  it('consumes sessions concurrently, each in FIFO order', async () => {
    const sessions = ['s-a', 's-b', 's-c', 's-d'];
    await send(
      'sessions',
      sessions.flatMap((sessionId) =>
        Array.from({ length: 15 }, (_, i) => ({
          body: { sessionId, i },
          sessionId,
          messageId: `${sessionId}-${i}`,
        })),
      ),
    );
    const envelopes = await lastValueFrom(
      fromServiceBus({
        client,
        entity: { queue: 'sessions' },
        sessions: { maxConcurrentSessions: 2, idleTimeoutMs: 300 },
        maxWaitTimeInMs: 200,
      }).pipe(
        mergeMap(async (envelope) => {
          await envelope.complete();
          return envelope;
        }),
        take(60),
        toArray(),
      ),
    );
    for (const sessionId of sessions) {
      const mine = envelopes.filter((e) => e.key === sessionId);
      expect(mine.map((e) => (e.body as Buffer).toString())).toEqual(
        Array.from({ length: 15 }, (_, i) => JSON.stringify({ sessionId, i })),
      );
      const sequence = mine.map((e) => e.sequenceNumber);
      expect([...sequence].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(sequence);
    }
  });

  it('stops receiving on abort and abandons what is not settled by the drain deadline', async () => {
    await send(
      'drain',
      Array.from({ length: 6 }, (_, i) => ({ body: { i }, messageId: `d-${i}` })),
    );
    const stop = new AbortController();
    const held: Envelope<unknown>[] = [];
    await new Promise<void>((resolve, reject) => {
      fromServiceBus({
        client,
        entity: { queue: 'drain' },
        maxInFlight: 6,
        maxWaitTimeInMs: 200,
        signal: stop.signal,
        drainTimeoutMs: 300,
      }).subscribe({
        next: (envelope) => {
          held.push(envelope);
          if (held.length === 6) stop.abort();
        },
        complete: resolve,
        error: reject,
      });
    });
    // Settle half within the deadline; the rest must be abandoned, not left locked for a minute.
    await Promise.all(held.slice(0, 3).map((e) => e.complete()));
    await delay(1_000);
    expect(held.slice(3).map((e) => e.outcome)).toEqual(['abandoned', 'abandoned', 'abandoned']);
    const receiver = client.createReceiver('drain');
    const again = await receiver.receiveMessages(10, { maxWaitTimeInMs: 1_000 });
    expect(again.map((m) => m.messageId).sort()).toEqual(['d-3', 'd-4', 'd-5']);
    expect(again.every((m) => m.deliveryCount === 1)).toBe(true);
    await Promise.all(again.map((m) => receiver.completeMessage(m)));
    await receiver.close();
  });

  it('hands over a message that reaches an idle pipeline without waiting to fill a receive batch', async () => {
    // The SDK holds a receive call until it has its count or until a second after the first
    // message (maxTimeAfterFirstMessageInMs): a lone message must not wait for that hold.
    const stop = new AbortController();
    let receiving = 0;
    const first = firstValueFrom(
      fromServiceBus({
        client,
        entity: { queue: 'idle' },
        maxWaitTimeInMs: 10_000,
        receiveBatchSize: 100,
        signal: stop.signal,
        onReceiving: () => receiving++,
      }),
    );
    await delay(300); // a receive call is outstanding on an empty queue
    expect(receiving).toBe(0);
    // Started before the send, so it ends before the SDK's hold (timed from the message's arrival).
    const hold = delay(1_000).then(() => 'the SDK hold passed first');
    await send('idle', [{ body: 'alone', messageId: 'idle-1' }]);
    const winner = await Promise.race([first.then((e) => e), hold]);
    expect(typeof winner).not.toBe('string');
    const envelope = winner as Envelope<unknown>;
    expect(envelope.messageId).toBe('idle-1');
    await envelope.complete();
    stop.abort();
    expect(await countActive('idle')).toBe(0);
  });

  it('keeps a receive call outstanding while the messages of another are in the pipeline', async () => {
    // Overlapping receives: while the pipeline holds the first message (unsettled), a second one
    // sent afterwards is still handed over; nothing waits for the first receive's batch to be done.
    await send('overlap', [{ body: 'a', messageId: 'o-1' }]);
    const stop = new AbortController();
    const seen: Envelope<unknown>[] = [];
    const both = new Promise<void>((resolve, reject) => {
      fromServiceBus({
        client,
        entity: { queue: 'overlap' },
        maxInFlight: 10,
        receiveBatchSize: 5,
        maxWaitTimeInMs: 10_000,
        signal: stop.signal,
      }).subscribe({
        next: (envelope) => {
          seen.push(envelope);
          if (seen.length === 1) void send('overlap', [{ body: 'b', messageId: 'o-2' }]);
          if (seen.length === 2) resolve();
        },
        error: reject,
      });
    });
    const hold = delay(1_000).then(() => 'the SDK hold passed first');
    expect(await Promise.race([both.then(() => 'both'), hold])).toBe('both');
    expect(seen.map((e) => e.messageId)).toEqual(['o-1', 'o-2']);
    await Promise.all(seen.map((e) => e.complete()));
    stop.abort();
    expect(await countActive('overlap')).toBe(0);
  });

  it('hands application properties over as sent, a timestamp as a Date (the SDK would walk them to make it a number)', async () => {
    const at = new Date('2026-11-30T10:00:00.000Z');
    await send('types', [{ body: 'x', applicationProperties: { at, n: 7, s: 'seven' } }]);
    const envelope = await firstValueFrom(
      fromServiceBus({ client, entity: { queue: 'types' }, maxWaitTimeInMs: 200 }),
    );
    await envelope.complete();
    expect(envelope.applicationProperties).toEqual({ at, n: 7, s: 'seven' });
  });

  it("continues the producer's trace context and keys by partition key", async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await send('trace', [
      { body: 'x', partitionKey: 'device-7', applicationProperties: { 'Diagnostic-Id': traceparent } },
    ]);
    const envelope = await firstValueFrom(
      fromServiceBus({ client, entity: { queue: 'trace' }, maxWaitTimeInMs: 200 }),
    );
    await envelope.complete();
    expect(envelope.traceContext).toEqual({ traceparent });
    expect(envelope.key).toBe('device-7');
    expect(typeof envelope.sequenceNumber).toBe('bigint');
  });
});
