import { isServiceBusError, ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../src/index.js';
import { config, fastRetry, type Harness, harness } from './helpers.js';

describe('emulator sessions with the real SDK', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness(
      config({
        orders: { RequiresSession: true, LockDuration: 'PT30S' },
        short: { RequiresSession: true, LockDuration: 'PT1S' },
        empty: { RequiresSession: true },
      }),
    );
  });
  afterAll(async () => h?.close());

  it('gives two receivers two sessions, FIFO within each, and one receiver per session', async () => {
    const sender = h.client.createSender('orders');
    const sent = [];
    for (let i = 0; i < 6; i++) sent.push({ body: i, sessionId: i % 2 === 0 ? 'even' : 'odd' });
    await sender.sendMessages(sent);
    const r1 = await h.client.acceptNextSession('orders');
    const r2 = await h.client.acceptNextSession('orders');
    expect(new Set([r1.sessionId, r2.sessionId])).toEqual(new Set(['even', 'odd']));
    const busy = await h.client.acceptSession('orders', r1.sessionId).catch((e: unknown) => e);
    expect(isServiceBusError(busy) && busy.code).toBe('SessionCannotBeLocked');
    for (const r of [r1, r2]) {
      const got = await r.receiveMessages(10, { maxWaitTimeInMs: 1_000 });
      const expected = r.sessionId === 'even' ? [0, 2, 4] : [1, 3, 5];
      expect(got.map((m) => m.body)).toEqual(expected);
      expect(got.every((m) => m.sessionId === r.sessionId)).toBe(true);
      for (const m of got) await r.completeMessage(m);
    }
    await Promise.all([r1.close(), r2.close()]);
    expect(h.emulator.stats('orders').total).toBe(0);
  });

  it('keeps session state and renews the session lock', async () => {
    await h.client.createSender('orders').sendMessages({ body: 's', sessionId: 'stateful' });
    const r = await h.client.acceptSession('orders', 'stateful');
    expect(await r.getSessionState()).toBeUndefined();
    await r.setSessionState({ step: 2 });
    expect(await r.getSessionState()).toEqual({ step: 2 });
    const before = r.sessionLockedUntilUtc!.getTime();
    await r.renewSessionLock();
    expect(r.sessionLockedUntilUtc!.getTime()).toBeGreaterThanOrEqual(before);
    const [m] = await r.receiveMessages(1, { maxWaitTimeInMs: 1_000 });
    await r.completeMessage(m!);
    await r.close();
    const again = await h.client.acceptSession('orders', 'stateful');
    expect(await again.getSessionState()).toEqual({ step: 2 });
    await again.close();
  });

  it('releases a session whose lock expired so another receiver can take it', async () => {
    await h.client.createSender('short').sendMessages({ body: 'late', sessionId: 'x' });
    const first = await h.client.acceptSession('short', 'x', { maxAutoLockRenewalDurationInMs: 0 });
    const [m] = await first.receiveMessages(1, { maxWaitTimeInMs: 1_000 });
    expect(m?.deliveryCount).toBe(0);
    let second: Awaited<ReturnType<typeof h.client.acceptSession>> | undefined;
    for (let i = 0; i < 50 && !second; i++) {
      second = await h.client.acceptSession('short', 'x').catch(() => undefined);
      if (!second) await new Promise((r) => setTimeout(r, 100));
    }
    expect(second?.sessionId).toBe('x');
    const [redelivered] = await second!.receiveMessages(1, { maxWaitTimeInMs: 3_000 });
    expect(redelivered?.body).toBe('late');
    expect(redelivered?.deliveryCount).toBe(1);
    await second!.completeMessage(redelivered!);
    await Promise.all([first.close().catch(() => undefined), second!.close()]);
  });

  it('redelivers the messages of a session whose lock lapsed before the sweep saw it', async () => {
    // No sweep during the test: only the accept itself can notice that the first lock lapsed.
    const emulator = await startEmulator({
      config: config({ lapsed: { RequiresSession: true, LockDuration: 'PT1S' } }),
      port: 0,
      sweepIntervalMs: 3_600_000,
    });
    const client = new ServiceBusClient(emulator.connectionString, fastRetry);
    try {
      await client.createSender('lapsed').sendMessages({ body: 'again', sessionId: 'y' });
      const first = await client.acceptSession('lapsed', 'y', { maxAutoLockRenewalDurationInMs: 0 });
      const [m] = await first.receiveMessages(1, { maxWaitTimeInMs: 1_000 });
      expect(m?.body).toBe('again');
      await new Promise((r) => setTimeout(r, 1_200));
      const second = await client.acceptSession('lapsed', 'y');
      const [redelivered] = await second.receiveMessages(1, { maxWaitTimeInMs: 3_000 });
      expect(redelivered?.body).toBe('again');
      expect(redelivered?.deliveryCount).toBe(1);
      await second.completeMessage(redelivered!);
      await Promise.all([first.close().catch(() => undefined), second.close()]);
    } finally {
      await client.close();
      await emulator.close();
    }
  });

  it('times out acceptNextSession with the service error when no session has messages', async () => {
    const quick = new ServiceBusClient(h.emulator.connectionString, {
      retryOptions: { maxRetries: 0, timeoutInMs: 800 },
    });
    const err = await quick
      .acceptNextSession('empty', { maxAutoLockRenewalDurationInMs: 0 })
      .catch((e: unknown) => e);
    expect(isServiceBusError(err) && err.code).toBe('ServiceTimeout');
    await quick.close();
  });

  it('refuses a plain receiver on a session entity', async () => {
    const r = h.client.createReceiver('orders');
    const err = await r.receiveMessages(1, { maxWaitTimeInMs: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    await r.close();
  });
});
