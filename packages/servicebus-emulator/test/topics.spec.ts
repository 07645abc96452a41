import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { config, type Harness, harness } from './helpers.js';

describe('emulator topics and subscriptions with the real SDK', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness(
      config(
        {},
        {
          events: {
            all: {},
            orders: {
              Rules: [
                {
                  Name: 'orders-only',
                  Properties: {
                    FilterType: 'Correlation',
                    CorrelationFilter: { Label: 'order', Properties: { region: 'eu' } },
                  },
                },
              ],
            },
          },
        },
      ),
    );
  });
  afterAll(async () => h?.close());

  it('copies each message to every subscription whose filter matches', async () => {
    const sender = h.client.createSender('events');
    await sender.sendMessages([
      { body: 'o-eu', subject: 'order', applicationProperties: { region: 'eu' } },
      { body: 'o-us', subject: 'order', applicationProperties: { region: 'us' } },
      { body: 'i-eu', subject: 'invoice', applicationProperties: { region: 'eu' } },
    ]);
    const all = h.client.createReceiver('events', 'all', { receiveMode: 'receiveAndDelete' });
    const orders = h.client.createReceiver('events', 'orders', { receiveMode: 'receiveAndDelete' });
    const fromAll = await all.receiveMessages(10, { maxWaitTimeInMs: 1_000 });
    const fromOrders = await orders.receiveMessages(10, { maxWaitTimeInMs: 1_000 });
    expect(fromAll.map((m) => m.body)).toEqual(['o-eu', 'o-us', 'i-eu']);
    expect(fromOrders.map((m) => m.body)).toEqual(['o-eu']);
    expect(Number(fromOrders[0]?.sequenceNumber)).toBe(Number(fromAll[0]?.sequenceNumber));
    await Promise.all([all.close(), orders.close()]);
  });

  it('dead-letters into the subscription dead-letter queue', async () => {
    await h.client.createSender('events').sendMessages({ body: 'bad' });
    const receiver = h.client.createReceiver('events', 'all');
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 1_000 });
    await receiver.deadLetterMessage(m!, {
      deadLetterReason: 'Nope',
      deadLetterErrorDescription: 'bad input',
    });
    const dlq = h.client.createReceiver('events', 'all', {
      subQueueType: 'deadLetter',
      receiveMode: 'receiveAndDelete',
    });
    const [dead] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 1_000 });
    expect(dead?.body).toBe('bad');
    expect(dead?.deadLetterReason).toBe('Nope');
    expect(h.emulator.stats('events/Subscriptions/orders').total).toBe(0);
    await Promise.all([receiver.close(), dlq.close()]);
  });
});

describe('emulator session-enabled subscriptions', () => {
  it('routes by session id through a topic into a session subscription', async () => {
    const h = await harness(config({}, { t: { s: { Properties: { RequiresSession: true } } } }));
    try {
      await h.client.createSender('t').sendMessages([
        { body: 1, sessionId: 'a' },
        { body: 2, sessionId: 'b' },
        { body: 3, sessionId: 'a' },
      ]);
      const r = await h.client.acceptSession('t', 's', 'a', { receiveMode: 'receiveAndDelete' });
      const got = await r.receiveMessages(5, { maxWaitTimeInMs: 500 });
      expect(got.map((m) => m.body)).toEqual([1, 3]);
      expect(h.emulator.stats('t/Subscriptions/s').active).toBe(1);
      await r.close();
    } finally {
      await h.close();
    }
  });
});
