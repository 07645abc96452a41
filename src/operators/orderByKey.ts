import { from, Observable, type ObservableInput, type OperatorFunction, type Subscription } from 'rxjs';
import { UserFunctionError } from '../errors.js';
import { sequenceOf } from './sequence.js';

export interface OrderByKeyOptions<T> {
  /** Most keys worked on at once. Default 16. */
  concurrency?: number;
  /** The key of an item. Default: its `key` property (envelopes and batches have one). */
  keyOf?: (item: T) => string;
}

/**
 * Runs `project` for each item, one at a time per key and in sequence-number order, with
 * different keys running concurrently.
 *
 * Like `mergeMap` with a per-key `concatMap` inside: work on one key never overlaps, so writes of
 * one partition land in order, while a slow or retrying key holds back only itself (up to
 * `concurrency` keys progress at once; no global head-of-line blocking). Among the items waiting
 * for the same key, the one with the lowest sequence number goes first, which puts a redelivered
 * older message back in its place.
 *
 * ```
 * source:  a1 b1 a2 b2 |      (project takes 2 frames)
 * result:  --A1B1-A2B2|       (a and b in parallel, a2 after a1)
 * ```
 *
 * @example
 * ```ts
 * batches$.pipe(orderByKey((batch) => writeBatch(batch), { concurrency: 32 }))
 * ```
 * @param project The work for one item; its output is forwarded.
 * @param options Concurrency bound and key function.
 * @return An operator that emits the outputs of `project` as they come.
 */
export function orderByKey<T, R>(
  project: (item: T) => ObservableInput<R>,
  options: OrderByKeyOptions<T> = {},
): OperatorFunction<T, R> {
  const concurrency = options.concurrency ?? 16;
  const keyOf = options.keyOf ?? ((item: T) => (item as { key: string }).key);
  if (!(concurrency >= 1))
    throw new RangeError(`orderByKey: concurrency must be at least 1, got ${concurrency}`);

  return (source) =>
    new Observable<R>((subscriber) => {
      // Items of keys that are busy or waiting for a slot, lowest sequence first when taken.
      const waiting = new Map<string, T[]>();
      // Keys with waiting items and no work running, in the order they became ready.
      const ready: string[] = [];
      const running = new Map<string, Subscription>();
      let sourceDone = false;

      const take = (queue: T[]): T => {
        let best = 0;
        for (let i = 1; i < queue.length; i++) {
          if (sequenceOf(queue[i]) < sequenceOf(queue[best])) best = i;
        }
        return queue.splice(best, 1)[0]!;
      };

      // Synchronous inners complete inside `start` and call `pump` again: loop instead of recursing.
      let pumping = false;
      let again = false;
      const pump = () => {
        if (pumping) {
          again = true;
          return;
        }
        pumping = true;
        do {
          again = false;
          while (running.size < concurrency && ready.length > 0 && !subscriber.closed) {
            const key = ready.shift()!;
            const queue = waiting.get(key)!;
            const item = take(queue);
            if (queue.length === 0) waiting.delete(key);
            start(key, item);
          }
        } while (again);
        pumping = false;
        if (sourceDone && running.size === 0 && waiting.size === 0) subscriber.complete();
      };

      const start = (key: string, item: T) => {
        let inner: ObservableInput<R>;
        try {
          inner = project(item);
        } catch (error) {
          subscriber.error(error);
          return;
        }
        let finished = false;
        const subscription = from(inner).subscribe({
          next: (value) => subscriber.next(value),
          error: (error) => subscriber.error(error),
          complete: () => {
            finished = true;
            running.delete(key);
            if (waiting.has(key)) ready.push(key);
            pump();
          },
        });
        // A synchronous inner completes before `subscribe` returns: do not mark it running then.
        if (!finished) running.set(key, subscription);
      };

      const subscription = source.subscribe({
        next(item) {
          let key: string;
          try {
            key = keyOf(item);
          } catch (error) {
            // No message can take the blame for a key function that fails: the pipeline stops.
            subscriber.error(new UserFunctionError('orderByKey keyOf', error));
            return;
          }
          const queue = waiting.get(key);
          if (queue !== undefined) {
            queue.push(item);
            return;
          }
          waiting.set(key, [item]);
          if (!running.has(key)) {
            ready.push(key);
            pump();
          }
        },
        error: (error) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          pump();
        },
      });

      return () => {
        subscription.unsubscribe();
        for (const inner of running.values()) inner.unsubscribe();
        running.clear();
        waiting.clear();
        ready.length = 0;
      };
    });
}
