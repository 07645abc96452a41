import { map, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { orderByKey } from '../../src/operators/orderByKey.js';

interface Item {
  key: string;
  sequenceNumber: bigint;
  name: string;
}
const items: Record<string, Item> = {
  a: { key: 'x', sequenceNumber: 1n, name: 'a' },
  b: { key: 'y', sequenceNumber: 2n, name: 'b' },
  c: { key: 'x', sequenceNumber: 3n, name: 'c' },
  d: { key: 'y', sequenceNumber: 4n, name: 'd' },
  e: { key: 'x', sequenceNumber: 0n, name: 'e' },
  f: { key: 'z', sequenceNumber: 5n, name: 'f' },
};
const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
// Each item's work takes 3 frames and then emits the item's name.
const work = (item: Item) => timer(3).pipe(map(() => item.name));

describe('orderByKey', () => {
  it('runs different keys in parallel and one key at a time', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const result = cold('abcd|', items).pipe(orderByKey(work));
      // a and b start at 0 and 1; c waits for a (done at 3), d waits for b (done at 4).
      expectObservable(result).toBe('---ab-c(d|)', { a: 'a', b: 'b', c: 'c', d: 'd' });
    });
  });

  it('takes the lowest sequence number first among the items waiting for a key', () => {
    scheduler().run(({ cold, expectObservable }) => {
      // c (seq 3) and e (seq 0) both wait for a: e, the older message, goes first.
      const result = cold('a-ce|', items).pipe(orderByKey(work));
      expectObservable(result).toBe('---a--e--(c|)', { a: 'a', c: 'c', e: 'e' });
    });
  });

  it('holds back only the busy key when the concurrency bound is reached', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const slow = (item: Item) => timer(item.key === 'x' ? 10 : 2).pipe(map(() => item.name));
      // Two slots: x is slow, y and z share the other slot and finish long before x.
      const result = cold('abf|', items).pipe(orderByKey(slow, { concurrency: 2 }));
      expectObservable(result).toBe('---b-f----(a|)', { a: 'a', b: 'b', f: 'f' });
    });
  });

  it('passes an error of the work on', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const result = cold('a|', items).pipe(orderByKey(() => cold('-#')));
      expectObservable(result).toBe('-#');
    });
  });

  it('refuses a concurrency below one', () => {
    expect(() => orderByKey(work, { concurrency: 0 })).toThrow(/concurrency/);
  });
});
