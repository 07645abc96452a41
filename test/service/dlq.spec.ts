import { ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../packages/servicebus-emulator/src/index.js';
import { peekDeadLetters, replayDeadLetters } from '../../src/service/dlq.js';
import { emulatorConfig } from '../support/emulatorConfig.js';

type Emulator = Awaited<ReturnType<typeof startEmulator>>;
let emulator: Emulator;
let client: ServiceBusClient;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, config: emulatorConfig({ orders: {} }) });
  client = new ServiceBusClient(emulator.connectionString);
  // Six messages dead-lettered for two reasons, as a pipeline would.
  const sender = client.createSender('orders');
  await sender.sendMessages(
    Array.from({ length: 6 }, (_, i) => ({
      body: Buffer.from(`{"n":${i}}`),
      messageId: `o-${i}`,
      applicationProperties: { tenant: 't1' },
    })),
  );
  await sender.close();
  const receiver = client.createReceiver('orders');
  const got = await receiver.receiveMessages(6, { maxWaitTimeInMs: 2_000 });
  for (const m of got) {
    const n = Number(String(m.messageId).slice(2));
    await receiver.deadLetterMessage(m, {
      deadLetterReason: n < 4 ? 'ValidationFailed' : 'WriteRejected',
      deadLetterErrorDescription: n < 4 ? 'n: expected string' : 'Cassandra rejected the write',
    });
  }
  await receiver.close();
});

afterAll(async () => {
  await client?.close();
  await emulator?.close();
});

describe('dead-letter tools', () => {
  it('peek groups by reason with counts and examples, and changes nothing', async () => {
    const groups = await peekDeadLetters(client, 'orders');
    expect(groups.map((g) => [g.reason, g.count])).toEqual([
      ['ValidationFailed', 4],
      ['WriteRejected', 2],
    ]);
    expect(groups[0]!.examples).toHaveLength(3);
    expect(groups[0]!.examples[0]).toMatchObject({
      messageId: 'o-0',
      description: 'n: expected string',
      body: '{"n":0}',
    });
    expect(emulator.stats('orders/$DeadLetterQueue').active).toBe(6);
  });

  it('a dry run counts and changes nothing; replay by reason resends and only then completes the dead-lettered copy', async () => {
    expect(await replayDeadLetters(client, 'orders', { reason: 'WriteRejected', dryRun: true })).toEqual({
      replayed: 2,
      skipped: 0,
    });
    expect(emulator.stats('orders/$DeadLetterQueue').active).toBe(6);

    const result = await replayDeadLetters(client, 'orders', { reason: 'WriteRejected' });
    expect(result.replayed).toBe(2);
    const receiver = client.createReceiver('orders');
    const back = await receiver.receiveMessages(10, { maxWaitTimeInMs: 1_000 });
    expect(back.map((m) => m.messageId).sort()).toEqual(['o-4', 'o-5']);
    expect(back[0]!.applicationProperties).toMatchObject({
      tenant: 't1',
      'sluice-replayed-from': 'deadletter',
    });
    expect(back[0]!.deliveryCount).toBe(0);
    await Promise.all(back.map((m) => receiver.completeMessage(m)));
    await receiver.close();
    // The four of the other reason wait in the DLQ, unlocked.
    const left = await peekDeadLetters(client, 'orders');
    expect(left.map((g) => [g.reason, g.count])).toEqual([['ValidationFailed', 4]]);
  });

  it('replays at most --limit messages', async () => {
    const result = await replayDeadLetters(client, 'orders', { limit: 3 });
    expect(result.replayed).toBe(3);
    expect((await peekDeadLetters(client, 'orders'))[0]!.count).toBe(1);
  });

  it('refuses to guess where a subscription replays to', async () => {
    await expect(replayDeadLetters(client, 'events/Subscriptions/audit')).rejects.toThrow(/--to <topic>/);
  });
});
