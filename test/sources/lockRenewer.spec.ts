import { ServiceBusError } from '@azure/service-bus';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Envelope } from '../../src/envelope.js';
import { SessionLockKeeper } from '../../src/sources/lockRenewer.js';
import { Sweep } from '../../src/sources/sweep.js';
import { heldMessage } from '../support/heldMessage.js';

// A renewal that fails once (a management call timing out, a connection blip) must not end the
// renewals: the lock is still good until it runs out, and the SDK's own renewal gives up there.
beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

const LOCK_MS = 4_000;

/** Answers each renewal from `script` in turn ('ok' extends the lock), then 'ok'. */
function answers(script: ('ok' | 'blip' | 'lost')[], lostCode: string) {
  const calls: number[] = [];
  const renew = async (): Promise<Date> => {
    calls.push(Date.now());
    const next = script.shift() ?? 'ok';
    if (next === 'blip') throw new ServiceBusError('management call timed out', 'ServiceTimeout');
    if (next === 'lost') throw new ServiceBusError('lock lost', lostCode as 'SessionLockLost');
    return new Date(Date.now() + LOCK_MS);
  };
  return { calls, renew };
}

describe('message lock renewal', () => {
  function held(renew: () => Promise<Date>) {
    const sweep = new Sweep();
    const lost: Error[] = [];
    const renewedFor: string[] = [];
    const listener = {
      onLockLost: (_e: Envelope<unknown>, error: Error) => lost.push(error),
      onLockRenewed: (e: Envelope<unknown>) => renewedFor.push(e.messageId),
    };
    const { renewal } = heldMessage({
      lockedUntil: Date.now() + LOCK_MS,
      renew,
      periodMs: 60_000,
      sweep,
      listener,
    });
    return { renewal, lost, renewedFor, sweep };
  }

  it('tries again after a failed renewal, at half of what is left of the lock, and keeps the lock', async () => {
    const { calls, renew } = answers(['blip', 'blip'], 'MessageLockLost');
    const { lost, renewedFor, renewal } = held(renew);
    // Due at 2 s (half of 4 s); fails; again at 3 s (half of the 2 s left); fails; again at 3.5 s.
    await vi.advanceTimersByTimeAsync(3_600);
    expect(calls.map((t) => t - 1_000_000)).toEqual([2_000, 3_000, 3_500]);
    expect(renewedFor).toEqual(['m1']);
    // Renewed at 3.5 s until 7.5 s: the next is due at 5.5 s.
    await vi.advanceTimersByTimeAsync(2_000);
    expect(calls).toHaveLength(4);
    expect(lost).toEqual([]);
    renewal?.stop();
  });

  it('stops once the lock has run out, and at once when the broker says it is lost', async () => {
    const failing = answers(Array(50).fill('blip'), 'MessageLockLost');
    held(failing.renew);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(failing.calls.every((t) => t < 1_000_000 + LOCK_MS)).toBe(true);
    const before = failing.calls.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(failing.calls).toHaveLength(before);

    const gone = answers(['lost'], 'MessageLockLost');
    const { lost } = held(gone.renew);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(gone.calls).toHaveLength(1);
    expect(lost).toHaveLength(1);
  });
});

describe('SessionLockKeeper', () => {
  function session(renew: () => Promise<Date>) {
    return {
      sessionLockedUntilUtc: new Date(Date.now() + LOCK_MS),
      renewSessionLock: renew,
    };
  }

  it('renews at half the remaining lock time, tries again after a failure, until stopped', async () => {
    const { calls, renew } = answers(['blip'], 'SessionLockLost');
    const lost: unknown[] = [];
    const keeper = new SessionLockKeeper(session(renew), 60_000, new Sweep(), (e) => lost.push(e));
    await vi.advanceTimersByTimeAsync(3_100);
    // At 2 s (fails), 3 s (renewed until 7 s).
    expect(calls.map((t) => t - 1_000_000)).toEqual([2_000, 3_000]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(calls.map((t) => t - 1_000_000)).toEqual([2_000, 3_000, 5_000]);
    keeper.stop();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(calls).toHaveLength(3);
    expect(lost).toEqual([]);
  });

  it('reports a lost session lock once and renews no more; gives up when the lock has run out', async () => {
    const gone = answers(['lost'], 'SessionLockLost');
    const lost: unknown[] = [];
    new SessionLockKeeper(session(gone.renew), 60_000, new Sweep(), (e) => lost.push(e));
    await vi.advanceTimersByTimeAsync(20_000);
    expect(gone.calls).toHaveLength(1);
    expect(lost).toHaveLength(1);

    const failing = answers(Array(50).fill('blip'), 'SessionLockLost');
    const start = Date.now();
    new SessionLockKeeper(session(failing.renew), 60_000, new Sweep(), (e) => lost.push(e));
    await vi.advanceTimersByTimeAsync(20_000);
    expect(failing.calls.length).toBeGreaterThan(3);
    expect(failing.calls.every((t) => t < start + LOCK_MS)).toBe(true);
    const before = failing.calls.length;
    await vi.advanceTimersByTimeAsync(20_000);
    expect(failing.calls).toHaveLength(before);
  });

  it('stops renewing after the renewal period', async () => {
    const { calls, renew } = answers([], 'SessionLockLost');
    new SessionLockKeeper(session(renew), 10_000, new Sweep(), () => undefined);
    await vi.advanceTimersByTimeAsync(60_000);
    // Renewed until the lock lasts to the end of the 10 s period: at 2, 4 and 6 s (until 10 s).
    expect(calls.map((t) => t - 1_000_000)).toEqual([2_000, 4_000, 6_000]);
  });
});
