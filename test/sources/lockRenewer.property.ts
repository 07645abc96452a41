import { ServiceBusError } from '@azure/service-bus';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SessionLockKeeper } from '../../src/sources/lockRenewer.js';
import { Sweep } from '../../src/sources/sweep.js';
import { heldMessage } from '../support/heldMessage.js';

// The renewal rule, for message and session locks alike, under any run of broker answers: a lock is
// only ever renewed while it is still held, never after the broker said it is lost, and it does not
// lapse within the renewal period as long as one attempt in each lock's lifetime gets through.
beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

const START = 1_000_000;
type Answer = 'ok' | 'blip' | 'lost';

describe('lock renewal (property)', () => {
  it('renews only a held lock, stops at a lost one, and keeps it through failed attempts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('message', 'session'),
        fc.integer({ min: 1_000, max: 30_000 }),
        fc.integer({ min: 10_000, max: 120_000 }),
        fc.array(fc.constantFrom<Answer>('ok', 'blip', 'blip', 'lost'), { maxLength: 40 }),
        fc.integer({ min: 0, max: 400 }),
        async (kind, lockMs, periodMs, script, answerMs) => {
          vi.setSystemTime(START);
          let lockedUntil = START + lockMs;
          let lostAt: number | undefined;
          const answers = [...script]; // consumed here; the counterexample keeps the original
          const calls: { at: number; heldUntil: number; answer: Answer }[] = [];
          const renew = async (): Promise<Date> => {
            const answer = answers.shift() ?? 'ok';
            calls.push({ at: Date.now(), heldUntil: lockedUntil, answer });
            await new Promise((resolve) => setTimeout(resolve, answerMs));
            if (answer === 'blip') throw new ServiceBusError('timed out', 'ServiceTimeout');
            if (answer === 'lost') {
              lostAt = Date.now();
              throw new ServiceBusError('lost', kind === 'message' ? 'MessageLockLost' : 'SessionLockLost');
            }
            lockedUntil = Date.now() + lockMs;
            return new Date(lockedUntil);
          };
          const sweep = new Sweep();
          let stop: () => void;
          if (kind === 'session') {
            const keeper = new SessionLockKeeper(
              {
                get sessionLockedUntilUtc() {
                  return new Date(lockedUntil);
                },
                renewSessionLock: renew,
              },
              periodMs,
              sweep,
              () => undefined,
            );
            stop = () => keeper.stop();
          } else {
            const { renewal } = heldMessage({ lockedUntil, renew, periodMs, sweep });
            stop = () => renewal?.stop();
          }
          // Time passes in small steps, so that every renewal is due when the rule says.
          for (let t = 0; t < periodMs + lockMs; t += 25) await vi.advanceTimersByTimeAsync(25);
          stop();
          sweep.clear();

          for (const call of calls) expect(call.at).toBeLessThan(call.heldUntil);
          if (lostAt !== undefined) expect(calls.every((c) => c.at <= lostAt!)).toBe(true);
          // Kept through the period: unless the broker said it was lost, a lock that lapsed before
          // the period's end was tried until its last 50 ms, the last attempts all failing.
          const lostEarly = calls.some((c) => c.answer === 'lost');
          if (!lostEarly && lockedUntil < START + periodMs) {
            const last = calls.at(-1);
            expect(last?.answer).toBe('blip');
            expect(last!.at + answerMs).toBeGreaterThanOrEqual(last!.heldUntil - 50);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
