import { connect } from 'node:net';
import { ServiceBusClient } from '@azure/service-bus';
import rhea from 'rhea';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { config, fastRetry, type Harness, harness } from './helpers.js';

describe('emulator scheduling, TTL, duplicates, forwarding and bad clients', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness(
      config(
        {
          sched: {},
          ttl: { DefaultMessageTimeToLive: 'PT0.3S', DeadLetteringOnMessageExpiration: true },
          ttldrop: {},
          dedupe: { RequiresDuplicateDetection: true, DuplicateDetectionHistoryTimeWindow: 'PT1M' },
          inbox: { ForwardTo: 'outbox' },
          outbox: {},
          robust: { LockDuration: 'PT1S' },
          deferq: { LockDuration: 'PT30S' },
          sessions: { RequiresSession: true },
        },
        { fanout: { tofwd: { Properties: { ForwardTo: 'outbox' } }, kept: {} } },
      ),
    );
  });
  afterAll(async () => h?.close());

  it('holds scheduled messages until their time, and cancels them', async () => {
    const sender = h.client.createSender('sched');
    const at = new Date(Date.now() + 600);
    const [keep] = await sender.scheduleMessages({ body: 'later' }, at);
    const [drop] = await sender.scheduleMessages({ body: 'never' }, new Date(Date.now() + 60_000));
    expect(Number(drop)).toBeGreaterThan(Number(keep));
    expect(h.emulator.stats('sched')).toMatchObject({ scheduled: 2, active: 0 });
    const peeked = await h.client.createReceiver('sched').peekMessages(10);
    expect(peeked.map((p) => p.state)).toEqual(['scheduled', 'scheduled']);
    await sender.cancelScheduledMessages(drop!);
    expect(h.emulator.stats('sched').scheduled).toBe(1);
    await sender.sendMessages({ body: 'annotated', scheduledEnqueueTimeUtc: new Date(Date.now() + 300) });
    const receiver = h.client.createReceiver('sched', { receiveMode: 'receiveAndDelete' });
    const got = [];
    while (got.length < 2) got.push(...(await receiver.receiveMessages(2, { maxWaitTimeInMs: 3_000 })));
    expect(got.map((m) => m.body).sort()).toEqual(['annotated', 'later']);
    expect(got.every((m) => (m.enqueuedTimeUtc?.getTime() ?? 0) >= at.getTime() - 300)).toBe(true);
    expect(h.emulator.stats('sched').scheduled).toBe(0);
    await receiver.close();
  });

  it('dead-letters expired messages when configured and drops them otherwise', async () => {
    await h.client.createSender('ttl').sendMessages({ body: 'stale' });
    await h.client.createSender('ttldrop').sendMessages({ body: 'gone', timeToLive: 200 });
    const dlq = h.client.createReceiver('ttl', {
      subQueueType: 'deadLetter',
      receiveMode: 'receiveAndDelete',
    });
    const [dead] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(dead?.body).toBe('stale');
    expect(dead?.deadLetterReason).toBe('TTLExpiredException');
    const r = h.client.createReceiver('ttldrop', { receiveMode: 'receiveAndDelete' });
    const none = await r.receiveMessages(1, { maxWaitTimeInMs: 600 });
    expect(none).toEqual([]);
    expect(h.emulator.stats('ttldrop')).toMatchObject({ total: 0, deadLettered: 0 });
    await Promise.all([dlq.close(), r.close()]);
  });

  it('drops a duplicate message id inside the detection window', async () => {
    const sender = h.client.createSender('dedupe');
    await sender.sendMessages({ body: 1, messageId: 'same' });
    await sender.sendMessages({ body: 2, messageId: 'same' });
    await sender.sendMessages({ body: 3, messageId: 'other' });
    const got = await h.client
      .createReceiver('dedupe', { receiveMode: 'receiveAndDelete' })
      .receiveMessages(10, {
        maxWaitTimeInMs: 500,
      });
    expect(got.map((m) => m.body)).toEqual([1, 3]);
  });

  it('forwards messages from a queue with ForwardTo', async () => {
    await h.client.createSender('inbox').sendMessages({ body: 'fwd' });
    expect(h.emulator.stats('inbox').total).toBe(0);
    const [m] = await h.client
      .createReceiver('outbox', { receiveMode: 'receiveAndDelete' })
      .receiveMessages(1, {
        maxWaitTimeInMs: 1_000,
      });
    expect(m?.body).toBe('fwd');
  });

  it('forwards a subscription copy with ForwardTo and keeps the other subscription copy', async () => {
    await h.client.createSender('fanout').sendMessages({ body: 'sub-fwd' });
    expect(h.emulator.stats('fanout/Subscriptions/tofwd').total).toBe(0);
    expect(h.emulator.stats('fanout/Subscriptions/kept').active).toBe(1);
    const [m] = await h.client
      .createReceiver('outbox', { receiveMode: 'receiveAndDelete' })
      .receiveMessages(1, {
        maxWaitTimeInMs: 1_000,
      });
    expect(m?.body).toBe('sub-fwd');
  });

  it('keeps an abandoned deferred message deferred, with its delivery count raised', async () => {
    await h.client.createSender('deferq').sendMessages({ body: 'later' });
    const receiver = h.client.createReceiver('deferq');
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1_000 });
    await receiver.deferMessage(m!);
    const [d1] = await receiver.receiveDeferredMessages([m!.sequenceNumber!]);
    await receiver.abandonMessage(d1!);
    expect(h.emulator.stats('deferq')).toMatchObject({ deferred: 1, active: 0 });
    const [d2] = await receiver.receiveDeferredMessages([m!.sequenceNumber!]);
    expect(d2?.deliveryCount).toBe((d1?.deliveryCount ?? 0) + 1);
    await receiver.completeMessage(d2!);
    expect(h.emulator.stats('deferq').total).toBe(0);
    await receiver.close();
  });

  it('refuses a message without session id on a session entity, sent or scheduled', async () => {
    const sender = h.client.createSender('sessions');
    await expect(sender.sendMessages({ body: 'no-session' })).rejects.toThrow(/requires sessions/);
    await expect(
      sender.scheduleMessages({ body: 'no-session' }, new Date(Date.now() + 60_000)),
    ).rejects.toThrow(/requires sessions/);
    expect(h.emulator.stats('sessions')).toMatchObject({ total: 0, scheduled: 0 });
  });

  it('survives garbage bytes and keeps serving other clients', async () => {
    await new Promise<void>((resolve) => {
      const socket = connect(h.emulator.port, '127.0.0.1', () => {
        socket.write(Buffer.from('AMQP\u0000\u0001\u0000\u0000garbage-garbage-garbage'));
        socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
      });
      socket.on('error', () => resolve());
      socket.on('close', () => resolve());
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 300);
    });
    await h.client.createSender('robust').sendMessages({ body: 'still-up' });
    const r = h.client.createReceiver('robust', { receiveMode: 'receiveAndDelete' });
    const [m] = await r.receiveMessages(1, { maxWaitTimeInMs: 1_000 });
    expect(m?.body).toBe('still-up');
    await r.close();
  });

  it('redelivers the locked messages of a dropped connection once their locks expire', async () => {
    await h.client.createSender('robust').sendMessages([{ body: 'a' }, { body: 'b' }]);
    const doomed = new ServiceBusClient(h.emulator.connectionString, fastRetry);
    const r1 = doomed.createReceiver('robust', { maxAutoLockRenewalDurationInMs: 0 });
    const held = await r1.receiveMessages(2, { maxWaitTimeInMs: 1_000 });
    expect(held).toHaveLength(2);
    expect(h.emulator.stats('robust').locked).toBe(2);
    await doomed.close();
    const r2 = h.client.createReceiver('robust', { maxAutoLockRenewalDurationInMs: 0 });
    const again = [];
    while (again.length < 2) again.push(...(await r2.receiveMessages(2, { maxWaitTimeInMs: 3_000 })));
    expect(again.map((m) => m.body)).toEqual(['a', 'b']);
    expect(again.map((m) => m.deliveryCount)).toEqual([1, 1]);
    for (const m of again) await r2.completeMessage(m);
    await r2.close();
  });

  it('lets a plain AMQP client in with SASL PLAIN and the key, and refuses a wrong password', async () => {
    const open = (password: string) =>
      new Promise<{ ok: boolean; connection: rhea.Connection }>((resolve) => {
        const connection = rhea.create_container().connect({
          host: '127.0.0.1',
          port: h.emulator.port,
          username: 'RootManageSharedAccessKey',
          password,
          reconnect: false,
        });
        connection.on('connection_open', () => resolve({ ok: true, connection }));
        connection.on('connection_error', () => resolve({ ok: false, connection }));
        connection.on('disconnected', () => resolve({ ok: false, connection }));
      });
    const bad = await open('wrong');
    expect(bad.ok).toBe(false);
    const good = await open('SAS_KEY_VALUE');
    expect(good.ok).toBe(true);
    const accepted = await new Promise<boolean>((resolve) => {
      const sender = good.connection.open_sender({ target: { address: 'robust' } });
      sender.once('sendable', () => sender.send({ body: 'plain', message_id: 'p1' }));
      sender.on('accepted', () => resolve(true));
      sender.on('rejected', () => resolve(false));
    });
    expect(accepted).toBe(true);
    const body = await new Promise<unknown>((resolve) => {
      const receiver = good.connection.open_receiver({
        source: { address: 'robust' },
        credit_window: 1,
        snd_settle_mode: 1,
      });
      receiver.on('message', (ctx) => resolve(ctx.message?.body));
    });
    expect(body).toBe('plain');
    good.connection.close();
  });

  it('takes a message back from a receiver that never settles, when its lock expires', async () => {
    await h.client.createSender('robust').sendMessages({ body: 'ignored' });
    const connection = rhea.create_container().connect({
      host: '127.0.0.1',
      port: h.emulator.port,
      username: 'RootManageSharedAccessKey',
      password: 'SAS_KEY_VALUE',
      reconnect: false,
    });
    const firstCount = await new Promise<number | undefined>((resolve) => {
      const receiver = connection.open_receiver({
        source: { address: 'robust' },
        credit_window: 0,
        autoaccept: false,
      });
      receiver.add_credit(1);
      receiver.on('message', (ctx) => resolve(ctx.message?.delivery_count));
    });
    expect(firstCount ?? 0).toBe(0);
    // The silent receiver keeps its link open and never settles; the lock still runs out.
    const other = h.client.createReceiver('robust', { maxAutoLockRenewalDurationInMs: 0 });
    const [m] = await other.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(m?.body).toBe('ignored');
    expect(m?.deliveryCount).toBe(1);
    await other.completeMessage(m!);
    connection.close();
    await other.close();
  });
});
