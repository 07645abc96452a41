import { finalize, map, NEVER, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { Batch } from '../../src/batch.js';
import { UserFunctionError } from '../../src/errors.js';
import { batchOnDemand } from '../../src/operators/batchOnDemand.js';
import { recordingEnvelopes } from '../support/envelopes.js';

const { make } = recordingEnvelopes();
// Marble letters name envelopes; each envelope's body is its key plus its sequence number.
const envelopesFor = (values: Record<string, { key: string; seq: number; size?: number }>) =>
  Object.fromEntries(
    Object.entries(values).map(([letter, v]) => [
      letter,
      make(`${v.key}${v.seq}`, { key: v.key, sequenceNumber: BigInt(v.seq), size: v.size ?? 10 }),
    ]),
  );
const bodies = (batch: Batch<string>) => `${batch.key}:${batch.envelopes.map((e) => e.body).join(',')}`;
const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

const values = envelopesFor({
  a: { key: 'x', seq: 1 },
  b: { key: 'x', seq: 2 },
  c: { key: 'x', seq: 3 },
  d: { key: 'y', seq: 4 },
  e: { key: 'y', seq: 5 },
  z: { key: 'x', seq: 0 },
});

describe('batchOnDemand', () => {
  it('writes an envelope at once when its key is idle: no timer adds latency', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const started: number[] = [];
      const write = (batch: Batch<string>) => {
        started.push(Date.now());
        return timer(3).pipe(map(() => bodies(batch)));
      };
      // d arrives at 5 while nothing runs: it is written at 5, done at 8.
      const source = cold('a 4ms d 10ms |', values);
      expectObservable(source.pipe(batchOnDemand(write))).toBe('---A 4ms D 7ms |', { A: 'x:x1', D: 'y:y4' });
    });
  });

  it('writes all that waited for a key as one batch when its write ends, in sequence order', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const write = (batch: Batch<string>) => timer(3).pipe(map(() => bodies(batch)));
      // a goes at 0; c, z and b wait for it and go together at 3 (z, the oldest, first).
      const result = cold('aczb|', values).pipe(batchOnDemand(write));
      expectObservable(result).toBe('---A--(B|)', { A: 'x:x1', B: 'x:x0,x2,x3' });
    });
  });

  it('keeps batches within maxCount and maxBytes', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const write = (batch: Batch<string>) => timer(2).pipe(map(() => bodies(batch)));
      const result = cold('abc|', values).pipe(batchOnDemand(write, { maxCount: 1 }));
      expectObservable(result).toBe('--A-B-(C|)', { A: 'x:x1', B: 'x:x2', C: 'x:x3' });
      const bytes = cold('abc|', values).pipe(batchOnDemand(write, { maxBytes: 15 }));
      expectObservable(bytes).toBe('--A-B-(C|)', { A: 'x:x1', B: 'x:x2', C: 'x:x3' });
    });
  });

  it('lets other keys wait for a slot, and batches what waited meanwhile', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const write = (batch: Batch<string>) => timer(3).pipe(map(() => bodies(batch)));
      // One slot: a runs 0-3; d and e (key y) wait and go together at 3; b waits behind y.
      const result = cold('ade-b|', values).pipe(batchOnDemand(write, { concurrency: 1 }));
      expectObservable(result).toBe('---A--D--(B|)', { A: 'x:x1', D: 'y:y4,y5', B: 'x:x2' });
    });
  });

  it('reads a limiter on every chance to start a write', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const limiter = { limit: 1 };
      const write = (batch: Batch<string>) =>
        timer(3).pipe(
          map(() => {
            limiter.limit = 2;
            return bodies(batch);
          }),
        );
      // a alone at first; once the limit is 2, d and b run side by side.
      const result = cold('adb|', values).pipe(batchOnDemand(write, { concurrency: limiter }));
      expectObservable(result).toBe('---A--(DB|)', { A: 'x:x1', D: 'y:y4', B: 'x:x2' });
    });
  });

  it('writes a batch made upstream as it came, in its turn', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const write = (batch: Batch<string>) => timer(2).pipe(map(() => bodies(batch)));
      const upstream: Batch<string> = { key: 'x', envelopes: [values.b!, values.c!], bytes: 20 };
      const result = cold('aBd|', { ...values, B: upstream }).pipe(batchOnDemand(write));
      expectObservable(result).toBe('--A-(DB|)', { A: 'x:x1', D: 'y:y4', B: 'x:x2,x3' });
    });
  });

  it('stops all work on unsubscribe: running writes are unsubscribed, waiting ones never start', () => {
    let started = 0;
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const inner = cold('----x|');
      const write = () => {
        started += 1;
        return inner;
      };
      const result = cold('a-b-d|', values).pipe(batchOnDemand(write));
      expectObservable(result, '^--!').toBe('---');
      // a and d would each start a write; only a did, and it was cut at 3.
      expectSubscriptions(inner.subscriptions).toBe('^--!');
    });
    expect(started).toBe(1);
  });

  it('tears down a never-ending write', () => {
    let tornDown = false;
    scheduler().run(({ cold, expectObservable }) => {
      const write = () => NEVER.pipe(finalize(() => (tornDown = true)));
      expectObservable(cold('a|', values).pipe(batchOnDemand(write)), '^-!').toBe('--');
    });
    // The teardown ran when the subscription was cut.
    expect(tornDown).toBe(true);
  });

  it('sends an error of the key function or of the work to error', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const boom = new Error('boom');
      const badKey = cold('a|', values).pipe(
        batchOnDemand(() => timer(1), {
          keyOf: () => {
            throw boom;
          },
        }),
      );
      expectObservable(badKey).toBe('#', undefined, new UserFunctionError('batchOnDemand keyOf', boom));
      const badWork = cold('a|', values).pipe(
        batchOnDemand(() => {
          throw boom;
        }),
      );
      expectObservable(badWork).toBe('#', undefined, boom);
      expectObservable(cold('a|', values).pipe(batchOnDemand(() => cold('-#', undefined, boom)))).toBe(
        '-#',
        undefined,
        boom,
      );
    });
  });

  it('refuses bounds below one', () => {
    expect(() => batchOnDemand(() => timer(1), { maxCount: 0 })).toThrow(/maxCount/);
    expect(() => batchOnDemand(() => timer(1), { concurrency: 0 })).toThrow(/concurrency/);
  });
});
