import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Envelope, type SettleOutcome, type Settler } from '../src/envelope.js';
import { AlreadySettledError, LockLostError, SettleFailedError } from '../src/errors.js';

function envelope(settler: Partial<Settler> = {}) {
  const sent: string[] = [];
  const events: string[] = [];
  const full: Settler = {
    complete: async () => void sent.push('complete'),
    abandon: async () => void sent.push('abandon'),
    deadLetter: async (reason) => void sent.push(`deadLetter:${reason}`),
    defer: async () => void sent.push('defer'),
    ...settler,
  };
  const e = Envelope.create(
    {
      messageId: 'm1',
      key: 'k',
      sequenceNumber: 1n,
      enqueuedTime: new Date(0),
      deliveryCount: 0,
      body: 'x',
      size: 1,
      entityPath: 'q',
    },
    full,
    {
      onSettled: (_e, outcome, detail) =>
        events.push(`settled:${outcome}${detail ? `:${detail.reason}` : ''}`),
      onDoubleSettle: (_e, attempted) => events.push(`double:${attempted}`),
      onLockLost: () => events.push('lockLost'),
      onSettleFailed: (_e, outcome) => events.push(`failed:${outcome}`),
    },
  );
  return { e, sent, events };
}

const settle = (e: Envelope<unknown>, how: SettleOutcome) =>
  how === 'completed'
    ? e.complete()
    : how === 'abandoned'
      ? e.abandon()
      : how === 'deferred'
        ? e.defer()
        : e.deadLetter('R', 'why');

describe('Envelope settlement', () => {
  it('settles exactly once whatever the calls, through any derived envelope, counting the extra ones', async () => {
    const outcome = fc.constantFrom<SettleOutcome>('completed', 'abandoned', 'deadLettered', 'deferred');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(outcome, fc.nat(2)), { minLength: 1, maxLength: 6 }),
        async (calls) => {
          const { e, sent, events } = envelope();
          const views = [e, e.withBody(42), e.withKey('other')];
          // Concurrent calls: the second must be refused even before the first has resolved.
          const results = await Promise.allSettled(calls.map(([how, view]) => settle(views[view]!, how)));
          expect(sent).toHaveLength(1);
          expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
          for (const r of results.slice(1)) {
            expect(r.status === 'rejected' && r.reason instanceof AlreadySettledError).toBe(true);
          }
          expect(events.filter((x) => x.startsWith('double:'))).toHaveLength(calls.length - 1);
          expect(views.every((v) => v.outcome === calls[0]![0])).toBe(true);
        },
      ),
    );
  });

  it('reports a lost lock without failing the caller', async () => {
    const { e, events } = envelope({
      complete: async () => {
        throw new LockLostError('gone');
      },
    });
    await expect(e.complete()).resolves.toBeUndefined();
    expect(e.lockLost).toBe(true);
    expect(events).toEqual(['lockLost']);
  });

  it('passes other settlement failures on, and reports them', async () => {
    const { e, events } = envelope({
      abandon: async () => {
        throw new SettleFailedError('connection closed', { retryable: true });
      },
    });
    await expect(e.abandon()).rejects.toBeInstanceOf(SettleFailedError);
    expect(events).toEqual(['failed:abandoned']);
    await expect(e.complete()).rejects.toBeInstanceOf(AlreadySettledError);
  });

  it('tells the listener the dead-letter reason', async () => {
    const { e, events, sent } = envelope();
    await e.deadLetter('ValidationFailed', 'value: expected number');
    expect(sent).toEqual(['deadLetter:ValidationFailed']);
    expect(events).toEqual(['settled:deadLettered:ValidationFailed']);
  });
});
