import { isServiceBusError, ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSasToken } from '../src/auth.js';
import { startEmulator } from '../src/index.js';
import { config, fastRetry, type Harness, harness } from './helpers.js';

describe('emulator queues with the real SDK over TCP', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness(
      config({
        basic: { LockDuration: 'PT30S' },
        rad: {},
        settle: { LockDuration: 'PT30S', MaxDeliveryCount: 5 },
        expiry: { LockDuration: 'PT1S', MaxDeliveryCount: 5 },
        limit: { LockDuration: 'PT1S', MaxDeliveryCount: 2 },
        renew: { LockDuration: 'PT1S' },
        small: { MaxMessageSizeInKilobytes: 2 },
        credit: { LockDuration: 'PT30S' },
        window: { LockDuration: 'PT30S' },
        compete: { LockDuration: 'PT30S' },
      }),
    );
  });
  afterAll(async () => h?.close());

  it('round-trips message properties and assigns sequence numbers and enqueued time in peek-lock', async () => {
    const sender = h.client.createSender('basic');
    const before = Date.now();
    await sender.sendMessages({
      body: { hello: 'world' },
      messageId: 'id-1',
      correlationId: 'corr',
      subject: 'subj',
      contentType: 'application/json',
      partitionKey: 'pk',
      timeToLive: 60_000,
      applicationProperties: { tenant: 'a', n: 3 },
    });
    await sender.sendMessages([{ body: 'second' }, { body: 'third' }]);
    const receiver = h.client.createReceiver('basic');
    const got = await receiver.receiveMessages(3, { maxWaitTimeInMs: 2_000 });
    expect(got.map((m) => m.body)).toEqual([{ hello: 'world' }, 'second', 'third']);
    const [first] = got;
    expect(first?.messageId).toBe('id-1');
    expect(first?.correlationId).toBe('corr');
    expect(first?.subject).toBe('subj');
    expect(first?.contentType).toBe('application/json');
    expect(first?.partitionKey).toBe('pk');
    expect(first?.timeToLive).toBe(60_000);
    expect(first?.applicationProperties).toEqual({ tenant: 'a', n: 3 });
    expect(got.map((m) => Number(m.sequenceNumber))).toEqual([1, 2, 3]);
    expect(first?.deliveryCount).toBe(0);
    expect(first?.enqueuedTimeUtc?.getTime()).toBeGreaterThanOrEqual(before - 1);
    expect(first?.lockedUntilUtc?.getTime()).toBeGreaterThan(first?.enqueuedTimeUtc?.getTime() ?? 0);
    expect(first?.lockToken).toMatch(/^[0-9a-f-]{36}$/);
    for (const m of got) await receiver.completeMessage(m);
    expect(h.emulator.stats('basic')).toMatchObject({ active: 0, locked: 0, total: 0 });
    await receiver.close();
    await sender.close();
  });

  it('receiveAndDelete removes messages on delivery', async () => {
    const sender = h.client.createSender('rad');
    await sender.sendMessages([{ body: 1 }, { body: 2 }]);
    const receiver = h.client.createReceiver('rad', { receiveMode: 'receiveAndDelete' });
    const got = await receiver.receiveMessages(2, { maxWaitTimeInMs: 2_000 });
    expect(got.map((m) => m.body)).toEqual([1, 2]);
    expect(got[0]?.lockToken).toBeUndefined();
    expect(h.emulator.stats('rad').total).toBe(0);
    await receiver.close();
  });

  it('complete, abandon, dead-letter and defer each do what the service does', async () => {
    const sender = h.client.createSender('settle');
    await sender.sendMessages(['c', 'a', 'd', 'f'].map((body) => ({ body })));
    const receiver = h.client.createReceiver('settle', { maxAutoLockRenewalDurationInMs: 0 });
    const [c, a, d, f] = await receiver.receiveMessages(4, { maxWaitTimeInMs: 2_000 });
    await receiver.completeMessage(c!);
    await receiver.abandonMessage(a!, { reason: 'retry-later' });
    await receiver.deadLetterMessage(d!, {
      deadLetterReason: 'Invalid',
      deadLetterErrorDescription: 'no schema',
    });
    await receiver.deferMessage(f!);
    expect(h.emulator.stats('settle')).toMatchObject({ active: 1, deferred: 1, deadLettered: 1, locked: 0 });

    const [again] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    expect(again?.body).toBe('a');
    expect(again?.deliveryCount).toBe(1);
    expect(again?.applicationProperties).toMatchObject({ reason: 'retry-later' });
    await receiver.completeMessage(again!);

    const [deferred] = await receiver.receiveDeferredMessages([f!.sequenceNumber!]);
    expect(deferred?.body).toBe('f');
    await receiver.completeMessage(deferred!);

    const dlq = h.client.createReceiver('settle', { subQueueType: 'deadLetter' });
    const [dead] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    expect(dead?.body).toBe('d');
    expect(dead?.deadLetterReason).toBe('Invalid');
    expect(dead?.deadLetterErrorDescription).toBe('no schema');
    expect(Number(dead?.sequenceNumber)).toBe(Number(d?.sequenceNumber));
    await dlq.completeMessage(dead!);
    expect(h.emulator.stats('settle')).toMatchObject({ total: 0, deadLettered: 0 });
    await Promise.all([receiver.close(), dlq.close()]);
  });

  it('redelivers a message whose lock expired with the delivery count raised, and refuses the stale lock', async () => {
    await h.client.createSender('expiry').sendMessages({ body: 'x' });
    const receiver = h.client.createReceiver('expiry', { maxAutoLockRenewalDurationInMs: 0 });
    const [first] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    expect(first?.deliveryCount).toBe(0);
    const [second] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(second?.body).toBe('x');
    expect(second?.deliveryCount).toBe(1);
    expect(second?.lockToken).not.toBe(first?.lockToken);
    const stale = await receiver.completeMessage(first!).catch((e: unknown) => e);
    expect(isServiceBusError(stale) && stale.code).toBe('MessageLockLost');
    await receiver.completeMessage(second!);
    await receiver.close();
  });

  it('moves a message past MaxDeliveryCount to the dead-letter queue with MaxDeliveryCountExceeded', async () => {
    await h.client.createSender('limit').sendMessages({ body: 'poison' });
    const receiver = h.client.createReceiver('limit', { maxAutoLockRenewalDurationInMs: 0 });
    for (let i = 0; i < 2; i++) {
      const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
      expect(m?.deliveryCount).toBe(i);
      await receiver.abandonMessage(m!);
    }
    expect(h.emulator.stats('limit')).toMatchObject({ total: 0, deadLettered: 1 });
    const dlq = h.client.createReceiver('limit/$DeadLetterQueue', { receiveMode: 'receiveAndDelete' });
    const [dead] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    expect(dead?.body).toBe('poison');
    expect(dead?.deadLetterReason).toBe('MaxDeliveryCountExceeded');
    await Promise.all([receiver.close(), dlq.close()]);
  });

  it('renews a lock so the message is not redelivered, and peeks without locking', async () => {
    await h.client.createSender('renew').sendMessages({ body: 'keep' });
    const receiver = h.client.createReceiver('renew', { maxAutoLockRenewalDurationInMs: 0 });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    const before = m!.lockedUntilUtc!.getTime();
    const renewed = await receiver.renewMessageLock(m!);
    expect(renewed.getTime()).toBeGreaterThanOrEqual(before);
    const peeked = await h.client.createReceiver('renew').peekMessages(5);
    expect(peeked.map((p) => p.body)).toEqual(['keep']);
    expect(peeked[0]?.lockToken).toBeUndefined();
    await receiver.completeMessage(m!);
    expect(h.emulator.stats('renew').total).toBe(0);
    await receiver.close();
  });

  it('advertises max-message-size: the SDK caps batches and the emulator refuses an oversized message', async () => {
    const sender = h.client.createSender('small');
    const batch = await sender.createMessageBatch();
    expect(batch.maxSizeInBytes).toBe(2048);
    expect(batch.tryAddMessage({ body: 'x'.repeat(4096) })).toBe(false);
    const tooBig = await sender.createMessageBatch({ maxSizeInBytes: 8192 }).catch((e: unknown) => e);
    expect(String((tooBig as Error).message)).toMatch(/greater than maximum message size/);
    const refused = await sender.sendMessages({ body: Buffer.alloc(4096) }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Error);
    expect(h.emulator.stats('small').total).toBe(0);
  });

  it('never puts more messages in flight than the credit the receiver gave', async () => {
    const sender = h.client.createSender('credit');
    await sender.sendMessages(Array.from({ length: 20 }, (_, i) => ({ body: i })));
    const receiver = h.client.createReceiver('credit');
    const got = await receiver.receiveMessages(5, { maxWaitTimeInMs: 2_000 });
    expect(got).toHaveLength(5);
    // The SDK drains leftover credit after receiveMessages, so exactly the requested messages are locked.
    expect(h.emulator.stats('credit')).toMatchObject({ locked: 5, active: 15 });
    const rest = await receiver.receiveMessages(50, { maxWaitTimeInMs: 1_000 });
    expect(rest.map((m) => m.body)).toEqual(Array.from({ length: 15 }, (_, i) => i + 5));
    await receiver.close();
  });

  it('keeps one peek-lock link flowing past the 2048 unsettled deliveries of an AMQP session window', async () => {
    const sender = h.client.createSender('window');
    for (let i = 0; i < 25; i++) {
      await sender.sendMessages(Array.from({ length: 100 }, (_, j) => ({ body: i * 100 + j })));
    }
    const receiver = h.client.createReceiver('window');
    let done = 0;
    while (done < 2500) {
      const msgs = await receiver.receiveMessages(500, { maxWaitTimeInMs: 2_000 });
      expect(msgs.length).toBeGreaterThan(0);
      await Promise.all(msgs.map((m) => receiver.completeMessage(m)));
      done += msgs.length;
    }
    expect(h.emulator.stats('window').total).toBe(0);
    await receiver.close();
  });

  it('spreads messages among competing receivers and reports counters per entity', async () => {
    await h.client.createSender('compete').sendMessages(Array.from({ length: 10 }, (_, i) => ({ body: i })));
    const a = h.client.createReceiver('compete');
    const b = h.client.createReceiver('compete');
    const [fromA, fromB] = await Promise.all([
      a.receiveMessages(5, { maxWaitTimeInMs: 2_000 }),
      b.receiveMessages(5, { maxWaitTimeInMs: 2_000 }),
    ]);
    expect(fromA).toHaveLength(5);
    expect(fromB).toHaveLength(5);
    const bodies = [...fromA, ...fromB].map((m) => m.body as number).sort((x, y) => x - y);
    expect(bodies).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(h.emulator.counters().entities.compete).toMatchObject({ locked: 10, active: 0, sent: 10 });
    await Promise.all([...fromA.map((m) => a.completeMessage(m)), ...fromB.map((m) => b.completeMessage(m))]);
    expect(h.emulator.counters().entities.compete).toMatchObject({ locked: 0, total: 0 });
    await Promise.all([a.close(), b.close()]);
  });

  it('answers a link to an unknown entity with not-found', async () => {
    const err = await h.client
      .createSender('nope')
      .sendMessages({ body: 1 })
      .catch((e: unknown) => e);
    expect(isServiceBusError(err) && err.code).toBe('MessagingEntityNotFound');
  });
});

describe('emulator authentication', () => {
  it('refuses a client with the wrong key and accepts the configured one', async () => {
    const emulator = await startEmulator({ port: 0, config: config({ q: {} }) });
    try {
      const wrong = new ServiceBusClient(
        emulator.connectionString.replace('SAS_KEY_VALUE', 'wrong-key'),
        fastRetry,
      );
      const err = await wrong
        .createSender('q')
        .sendMessages({ body: 1 })
        .catch((e: unknown) => e);
      expect(isServiceBusError(err) && err.code).toBe('UnauthorizedAccess');
      await wrong.close();
      expect(emulator.counters().server.cbsRejected).toBeGreaterThan(0);
      const right = new ServiceBusClient(emulator.connectionString, fastRetry);
      await right.createSender('q').sendMessages({ body: 1 });
      expect(emulator.stats('q').active).toBe(1);
      await right.close();
    } finally {
      await emulator.close();
    }
  });

  it('checks a SAS token given directly: accepted while valid, refused once expired', async () => {
    const emulator = await startEmulator({ port: 0, config: config({ q: {} }) });
    const key = { name: 'RootManageSharedAccessKey', key: 'SAS_KEY_VALUE' };
    const audience = `sb://localhost:${emulator.port}/q`;
    const host = `localhost:${emulator.port}`;
    const connect = (se: number) =>
      new ServiceBusClient(
        `Endpoint=sb://${host};SharedAccessSignature=${createSasToken(audience, key, se)};UseDevelopmentEmulator=true`,
        fastRetry,
      );
    try {
      const valid = connect(Math.floor(Date.now() / 1000) + 600);
      await valid.createSender('q').sendMessages({ body: 'ok' });
      await valid.close();
      const expired = connect(Math.floor(Date.now() / 1000) - 10);
      const err = await expired
        .createSender('q')
        .sendMessages({ body: 'late' })
        .catch((e: unknown) => e);
      expect(isServiceBusError(err) && err.code).toBe('UnauthorizedAccess');
      await expired.close();
      expect(emulator.stats('q').active).toBe(1);
    } finally {
      await emulator.close();
    }
  });

  it('names the port it actually listens on in the connection string', async () => {
    const emulator = await startEmulator({ port: 0 });
    try {
      expect(emulator.port).toBeGreaterThan(0);
      expect(emulator.connectionString).toBe(
        `Endpoint=sb://localhost:${emulator.port};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true`,
      );
    } finally {
      await emulator.close();
    }
  });
});
