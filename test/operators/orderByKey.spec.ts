import { map, Subject, timer } from 'rxjs';
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

  it('follows promises like observables: one key at a time, its error passed on, nothing after teardown', async () => {
    // Promises the test resolves by hand, in the order it chooses.
    const pending = new Map<string, { resolve: (v: string) => void; reject: (e: unknown) => void }>();
    const started: string[] = [];
    const project = (item: Item) =>
      new Promise<string>((resolve, reject) => {
        started.push(item.name);
        pending.set(item.name, { resolve, reject });
      });
    const tick = () => new Promise((r) => setTimeout(r, 0));

    const source = new Subject<Item>();
    const out: string[] = [];
    let completed = false;
    source.pipe(orderByKey(project, { concurrency: 2 })).subscribe({
      next: (v) => out.push(v),
      complete: () => {
        completed = true;
      },
    });
    source.next(items.a!);
    source.next(items.c!);
    source.next(items.b!);
    expect(started).toEqual(['a', 'b']); // c waits for a (same key)
    pending.get('b')!.resolve('B');
    pending.get('a')!.resolve('A');
    await tick();
    expect(out).toEqual(['B', 'A']);
    expect(started).toEqual(['a', 'b', 'c']);
    source.complete();
    expect(completed).toBe(false); // c still runs
    pending.get('c')!.resolve('C');
    await tick();
    expect(out).toEqual(['B', 'A', 'C']);
    expect(completed).toBe(true);

    const failing = new Subject<Item>();
    const errors: unknown[] = [];
    failing.pipe(orderByKey(project)).subscribe({ error: (e) => errors.push(e) });
    failing.next(items.d!);
    pending.get('d')!.reject(new Error('boom'));
    await tick();
    expect(errors).toEqual([new Error('boom')]);

    const tornDown = new Subject<Item>();
    const late: unknown[] = [];
    const subscription = tornDown
      .pipe(orderByKey(project))
      .subscribe({ next: (v) => late.push(v), error: (e) => late.push(e) });
    tornDown.next(items.e!);
    tornDown.next(items.f!);
    subscription.unsubscribe();
    pending.get('e')!.resolve('E');
    pending.get('f')!.reject(new Error('after teardown'));
    await tick();
    expect(late).toEqual([]);
  });

  it('refuses a concurrency below one', () => {
    expect(() => orderByKey(work, { concurrency: 0 })).toThrow(/concurrency/);
  });
});
