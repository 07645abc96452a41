import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Envelope } from '../../src/envelope.js';
import { SettleFailedError } from '../../src/errors.js';
import { LockRenewer } from '../../src/sources/lockRenewer.js';
import { defaultKeyOf, type EnvelopeSource, toEnvelope } from '../../src/sources/serviceBusEnvelope.js';
import { Sweep, type SweepEntry } from '../../src/sources/sweep.js';

// Per-message cost: a source holds one timer for all its settlement deadlines and lock renewals,
// however many messages are in flight. Fake timers count them.
beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

const N = 1_000;

function message(i: number, lockMs: number): ServiceBusReceivedMessage {
  return {
    messageId: `m${i}`,
    sequenceNumber: { toString: () => String(i) },
    body: Buffer.from('x'),
    lockedUntilUtc: new Date(Date.now() + lockMs),
    applicationProperties: {},
  } as unknown as ServiceBusReceivedMessage;
}

/** A receiver whose settlements never answer (a lost connection), or answer at once. */
function receiver(answer: boolean) {
  const renewed: string[] = [];
  const fake = {
    completeMessage: () => (answer ? Promise.resolve() : new Promise<void>(() => undefined)),
    renewMessageLock: async (m: ServiceBusReceivedMessage) => {
      renewed.push(String(m.messageId));
      return new Date(Date.now() + 2_000);
    },
  };
  return { receiver: fake as unknown as ServiceBusReceiver, renewed };
}

describe('Sweep', () => {
  it('runs what is due with one timer, and nothing cancelled', async () => {
    const sweep = new Sweep();
    const fired: number[] = [];
    const entries: SweepEntry[] = Array.from({ length: N }, (_, i) => ({
      at: 0,
      due: () => fired.push(i),
    }));
    for (const [i, entry] of entries.entries()) sweep.schedule(entry, Date.now() + 100 + i);
    expect(vi.getTimerCount()).toBe(1);
    for (const entry of entries.slice(0, N / 2)) sweep.cancel(entry);
    await vi.advanceTimersByTimeAsync(100 + N);
    expect(fired).toEqual(Array.from({ length: N / 2 }, (_, i) => N / 2 + i));
    expect(sweep.size).toBe(0);
  });

  it('moves an entry scheduled again, earlier or later', async () => {
    const sweep = new Sweep();
    const fired: string[] = [];
    const a: SweepEntry = { at: 0, due: () => fired.push('a') };
    const b: SweepEntry = { at: 0, due: () => fired.push('b') };
    sweep.schedule(a, Date.now() + 1_000);
    sweep.schedule(b, Date.now() + 500);
    sweep.schedule(a, Date.now() + 100);
    await vi.advanceTimersByTimeAsync(200);
    expect(fired).toEqual(['a']);
    sweep.schedule(b, Date.now() + 2_000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fired).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fired).toEqual(['a', 'b']);
  });
});

describe('settlement deadlines and lock renewal on the sweep', () => {
  const source = (r: ServiceBusReceiver, sweep: Sweep): EnvelopeSource => ({
    receiver: r,
    entityPath: 'q',
    keyOf: defaultKeyOf,
    listener: undefined,
    settleTimeoutMs: 10_000,
    sweep,
  });

  it('lets go of settlements that get no answer by their deadline, with one timer for all of them', async () => {
    const sweep = new Sweep();
    const { receiver: r } = receiver(false);
    let done = 0;
    const envelopes = Array.from({ length: N }, (_, i) =>
      toEnvelope(message(i, 60_000), source(r, sweep), () => done++),
    );
    const settling = envelopes.map((e) =>
      e.complete().then(
        () => 'settled',
        (error: unknown) => error,
      ),
    );
    await vi.advanceTimersByTimeAsync(0); // the disposition gate's turn
    // One timer for every deadline (the disposition gate's turn has passed).
    expect(vi.getTimerCount()).toBe(1);
    expect(sweep.size).toBe(N);
    await vi.advanceTimersByTimeAsync(9_999);
    expect(done).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    const outcomes = await Promise.all(settling);
    expect(done).toBe(N);
    expect(
      outcomes.every((o) => o instanceof SettleFailedError && /no answer within 10000 ms/.test(o.message)),
    ).toBe(true);
    expect(sweep.size).toBe(0);
  });

  it('takes answered settlements off the sweep', async () => {
    const sweep = new Sweep();
    const { receiver: r } = receiver(true);
    const envelopes = Array.from({ length: N }, (_, i) =>
      toEnvelope(message(i, 60_000), source(r, sweep), () => undefined),
    );
    await vi.advanceTimersByTimeAsync(0);
    await Promise.all(envelopes.map((e) => e.complete()));
    expect(sweep.size).toBe(0);
    // The sweep's timer and the disposition gate's end of turn (a setImmediate), whatever N is.
    expect(vi.getTimerCount()).toBeLessThanOrEqual(2);
  });

  it('renews the locks of held messages at half their lock time, with one timer, until they are settled', async () => {
    const sweep = new Sweep();
    const { receiver: r, renewed } = receiver(true);
    const renewer = new LockRenewer(r, 300_000, undefined, sweep);
    const held = Array.from({ length: N }, (_, i) => {
      const m = message(i, 2_000);
      const envelope: Envelope<unknown> = toEnvelope(m, source(r, sweep), () => undefined);
      return { envelope, renewal: renewer.start(m, envelope) };
    });
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(renewed).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(renewed).toHaveLength(N);
    // Settle half; only the other half is renewed again.
    const completed = Promise.all(
      held.slice(0, N / 2).map(({ envelope, renewal }) => {
        renewal?.stop();
        return envelope.complete();
      }),
    );
    // Completes are held a moment to share a frame (the disposition gate's linger).
    await vi.advanceTimersByTimeAsync(10);
    await completed;
    await vi.advanceTimersByTimeAsync(990);
    expect(renewed).toHaveLength(N + N / 2);
    expect(new Set(renewed.slice(N))).toEqual(new Set(held.slice(N / 2).map((h) => h.envelope.messageId)));
    expect(vi.getTimerCount()).toBe(1);
  });
});
