import type { ObservableInput, OperatorFunction } from 'rxjs';
import { keyedSlots, sortQueue } from './keyedSlots.js';

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

  return keyedSlots<T, T, R>({
    name: 'orderByKey',
    keyOf,
    limit: () => concurrency,
    // Lowest sequence number first: a redelivered older item goes back in its place.
    take: (queue) => sortQueue(queue).shift()!,
    project,
  });
}
