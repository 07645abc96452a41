import { ServiceBusClient, type ServiceBusReceivedMessage } from '@azure/service-bus';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../src/index.js';
import { type BadAction, badAction, type Hold, runBadAction } from './badClients.js';
import { config, fastRetry } from './helpers.js';

const LOCK_MS = 1_000;
const MAX_DELIVERY = 4;
const MESSAGES = 60;
// Lock expiry is swept every 50 ms; the rest is a loaded 2-core machine and the good receiver's polling.
const SLACK_MS = 2_500;

interface Completion {
  id: number;
  at: number;
  deliveryCount: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await sleep(25);
}

/** One scenario: a well-behaved SDK client sends and completes MESSAGES while bad clients misbehave. */
async function scenario(actions: BadAction[]): Promise<void> {
  const emulator = await startEmulator({
    port: 0,
    config: config({
      fuzz: { LockDuration: 'PT1S', MaxDeliveryCount: MAX_DELIVERY, MaxMessageSizeInKilobytes: 64 },
      junk: { MaxMessageSizeInKilobytes: 64 },
    }),
  });
  const client = new ServiceBusClient(emulator.connectionString, fastRetry);
  const completions: Completion[] = [];
  const holds: Hold[] = [];
  let stop = false;
  try {
    const sender = client.createSender('fuzz');
    const receiver = client.createReceiver('fuzz');
    const consume = (async () => {
      while (!stop) {
        let got: ServiceBusReceivedMessage[] = [];
        got = await receiver.receiveMessages(20, { maxWaitTimeInMs: 150 });
        for (const m of got) {
          try {
            await receiver.completeMessage(m);
            const id = (m.body as { id: number }).id;
            completions.push({ id, at: Date.now(), deliveryCount: m.deliveryCount ?? -1 });
          } catch {
            // Its lock ran out before the completion: it comes back and is counted then.
          }
        }
      }
    })();
    const produce = (async () => {
      for (let i = 0; i < MESSAGES; i += 10) {
        await sender.sendMessages(Array.from({ length: 10 }, (_, k) => ({ body: { id: i + k } })));
        await sleep(30);
      }
    })();
    for (const a of actions) holds.push(...(await runBadAction(emulator.port, 'fuzz', 'junk', a)));
    await produce;
    const settled = () => completions.length + emulator.stats('fuzz').deadLettered >= MESSAGES;
    await until(settled, LOCK_MS + SLACK_MS + 3_000);
    stop = true;
    await consume;

    const dlq = client.createReceiver('fuzz', {
      subQueueType: 'deadLetter',
      receiveMode: 'receiveAndDelete',
    });
    const dead: number[] = [];
    for (let empty = 0; empty < 2; ) {
      const got = await dlq.receiveMessages(50, { maxWaitTimeInMs: 200 });
      if (got.length === 0) empty++;
      dead.push(...got.map((m) => (m.body as { id: number }).id));
    }
    const done = completions.map((c) => c.id);
    // Nothing lost, nothing twice: every message completed once by the good client or dead-lettered once.
    expect([...done, ...dead].sort((a, b) => a - b)).toEqual(Array.from({ length: MESSAGES }, (_, i) => i));
    expect(emulator.stats('fuzz')).toMatchObject({ total: 0, deadLettered: 0 });

    for (const c of completions) {
      const mine = holds.filter((h) => h.id === c.id && h.gotAt <= c.at);
      // Every bad hold that ended without dead-lettering cost exactly one delivery.
      expect(c.deliveryCount, `delivery count of ${c.id}`).toBe(mine.length);
      const last = mine.reduce<Hold | undefined>((a, h) => (a && a.gotAt > h.gotAt ? a : h), undefined);
      if (!last) continue;
      // A dropped client's lock is released on time: not before it expires, not long after.
      expect(c.at - last.endedAt, `redelivery of ${c.id}`).toBeLessThanOrEqual(LOCK_MS + SLACK_MS);
      if (last.dropped)
        expect(c.at - last.gotAt, `early redelivery of ${c.id}`).toBeGreaterThanOrEqual(LOCK_MS - 100);
    }
    // The bad clients' connections are all gone; only the good client's remains.
    await until(() => emulator.counters().server.connections === 1, 2_000);
    expect(emulator.counters().server.connections).toBe(1);
    await Promise.all([sender.close(), receiver.close(), dlq.close()]);
  } finally {
    stop = true;
    await client.close();
    await emulator.close();
  }
}

describe('emulator under misbehaving clients (fast-check, fixed seed)', () => {
  it('never crashes, keeps serving a good SDK client, releases dropped locks on time and loses no message', async () => {
    await fc.assert(fc.asyncProperty(fc.array(badAction, { minLength: 8, maxLength: 16 }), scenario), {
      seed: 20261130,
      numRuns: 4,
      endOnFailure: true,
      interruptAfterTimeLimit: 25_000,
    });
  }, 60_000);
});
