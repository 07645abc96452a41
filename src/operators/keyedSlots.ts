import { from, Observable, type ObservableInput, type OperatorFunction, type Subscription } from 'rxjs';
import { UserFunctionError } from '../errors.js';
import { bySequence, sequenceOf } from './sequence.js';

/** What waits for one key, in arrival order, and whether that is still sequence order. */
export interface KeyQueue<I> {
  items: I[];
  sorted: boolean;
}

/** Puts a key's waiting items in sequence order, once after an out-of-order arrival. */
export function sortQueue<I>(queue: KeyQueue<I>): I[] {
  if (!queue.sorted) {
    queue.items.sort(bySequence);
    queue.sorted = true;
  }
  return queue.items;
}

export interface KeyedSlotsOptions<I, U, R> {
  /** The operator's name, for the error of a key function that throws. */
  name: string;
  keyOf(item: I): string;
  /** Most units of work running at once, read each time a slot could be filled. */
  limit(): number;
  /** Removes from a key's (non-empty) queue what its next unit of work takes. */
  take(queue: KeyQueue<I>): U;
  project(unit: U): ObservableInput<R>;
}

/**
 * The scheduler under `orderByKey` and `batchOnDemand`: items wait per key; a key with something
 * waiting and no work running is ready; while fewer than `limit()` run, the oldest ready key's
 * next unit (`take`) starts. One unit per key at a time, keys served in the order they became
 * ready, the outputs of `project` forwarded as they come. Unsubscribing unsubscribes every running
 * unit and drops what waits.
 */
export function keyedSlots<I, U, R>(options: KeyedSlotsOptions<I, U, R>): OperatorFunction<I, R> {
  const { keyOf, limit, take, project } = options;
  return (source) =>
    new Observable<R>((subscriber) => {
      const waiting = new Map<string, KeyQueue<I>>();
      // Ready keys, consumed from `readyHead` (a shift per start would be quadratic).
      const ready: string[] = [];
      let readyHead = 0;
      const running = new Map<string, Subscription | undefined>();
      let sourceDone = false;

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
          while (readyHead < ready.length && running.size < limit() && !subscriber.closed) {
            const key = ready[readyHead]!;
            readyHead += 1;
            const queue = waiting.get(key)!;
            const unit = take(queue);
            if (queue.items.length === 0) waiting.delete(key);
            start(key, unit);
          }
          if (readyHead > 1024 && readyHead * 2 > ready.length) {
            ready.splice(0, readyHead);
            readyHead = 0;
          }
        } while (again);
        pumping = false;
        if (sourceDone && running.size === 0 && waiting.size === 0 && !subscriber.closed)
          subscriber.complete();
      };

      const start = (key: string, unit: U) => {
        let inner: ObservableInput<R>;
        try {
          inner = project(unit);
        } catch (error) {
          subscriber.error(error);
          return;
        }
        // Marked running before subscribing: a synchronous inner's completion clears it again.
        running.set(key, undefined);
        if (isPromiseLike(inner)) {
          // A promise (a write, mostly): followed with `then`, as `from` would, without an
          // observable and a subscription around it per unit. Nothing to cancel on teardown; what
          // it settles to after that is dropped.
          inner.then(
            (value) => {
              if (subscriber.closed) return;
              subscriber.next(value);
              finish(key);
            },
            (error: unknown) => subscriber.error(error),
          );
          return;
        }
        let finished = false;
        const subscription = from(inner).subscribe({
          next: (value) => subscriber.next(value),
          error: (error) => subscriber.error(error),
          complete: () => {
            finished = true;
            finish(key);
          },
        });
        if (!finished) running.set(key, subscription);
      };

      // A key's unit of work completed: the key is ready again if something waits for it.
      const finish = (key: string) => {
        running.delete(key);
        if (waiting.has(key)) ready.push(key);
        pump();
      };

      const subscription = source.subscribe({
        next(item) {
          let key: string;
          try {
            key = keyOf(item);
          } catch (error) {
            // No message can take the blame for a key function that fails: the pipeline stops.
            subscriber.error(new UserFunctionError(`${options.name} keyOf`, error));
            return;
          }
          const queue = waiting.get(key);
          if (queue !== undefined) {
            const last = queue.items[queue.items.length - 1];
            if (last !== undefined && sequenceOf(item) < sequenceOf(last)) queue.sorted = false;
            queue.items.push(item);
            return;
          }
          waiting.set(key, { items: [item], sorted: true });
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
        for (const inner of running.values()) inner?.unsubscribe();
        running.clear();
        waiting.clear();
        ready.length = 0;
        readyHead = 0;
      };
    });
}

function isPromiseLike<R>(input: ObservableInput<R>): input is PromiseLike<R> {
  return typeof (input as Partial<PromiseLike<R>>).then === 'function';
}
