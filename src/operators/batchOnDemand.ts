import { filter, type ObservableInput, type OperatorFunction } from 'rxjs';
import type { Batch } from '../batch.js';
import type { Envelope } from '../envelope.js';
import { type KeyQueue, keyedSlots, sortQueue } from './keyedSlots.js';

export interface BatchOnDemandOptions {
  /** Most envelopes in one batch. Default 100. */
  maxCount?: number;
  /**
   * Most body bytes in one batch. Default 256 KiB: well under Cassandra's default
   * `batch_size_fail_threshold` (640 KiB) once column overhead is added. An envelope bigger than
   * this on its own is written alone.
   */
  maxBytes?: number;
  /**
   * Most batches worked on at once: a number, or a limiter whose `limit` is read each time a slot
   * could be filled (see `GradientLimit`). Default 16.
   */
  concurrency?: number | { readonly limit: number };
  /**
   * The key whose batches run one at a time. Default: the envelope's `key`, its partition. A coarser
   * key (a session) runs its partitions' batches one at a time too, in sequence order; a batch
   * still never spans two partitions (two envelope keys).
   */
  keyOf?: (item: Envelope<unknown>) => string;
}

/**
 * Batches envelopes per partition key **when there is capacity to write them**, and runs
 * `project` on each batch: one batch at a time per key, keys concurrently up to `concurrency`.
 *
 * An envelope whose key has no batch running and a free slot is sent at once, alone: nothing waits
 * on a timer when the writers are idle. While a key's batch runs (or all slots are taken), its
 * envelopes wait; when the key's batch ends and a slot is free, everything waiting for the key is
 * taken as the next batch (up to `maxCount` and `maxBytes`, lowest sequence number first). So
 * batches stay small when the store keeps up and grow by themselves under load, and a batch never
 * spans two partitions. Per key, a batch starts only after the previous one's `project` completed.
 * Keys are served in the order they became ready. A `Batch` in the input (from `batchWindow`) is
 * kept as it is: it waits its turn with its key's envelopes and is sent alone.
 *
 * Unsubscribing unsubscribes every running `project` and drops what is waiting.
 *
 * ```
 * source:  a1 b1 a2 a3 b2 |        (project takes 3 frames; a1, b1 start at once)
 * batches: a1 b1 --- [a2 a3] [b2]   (a2 and a3 waited for a1: one batch)
 * ```
 *
 * @example
 * ```ts
 * envelopes$.pipe(keyBy(byDevice), batchOnDemand((batch) => write(batch), { maxCount: 50, concurrency: limiter }))
 * ```
 * @param project The work for one batch (a write); its output is forwarded.
 * @param options Batch bounds, concurrency and key function.
 * @return An operator that emits the outputs of `project` as they come.
 */
export function batchOnDemand<T, R>(
  project: (batch: Batch<T>) => ObservableInput<R>,
  options: BatchOnDemandOptions = {},
): OperatorFunction<Envelope<T> | Batch<T>, R> {
  const maxCount = options.maxCount ?? 100;
  const maxBytes = options.maxBytes ?? 256 * 1024;
  const concurrency = options.concurrency ?? 16;
  const keyOf = options.keyOf ?? ((item: Envelope<unknown>) => item.key);
  if (!(maxCount >= 1)) throw new RangeError(`batchOnDemand: maxCount must be at least 1, got ${maxCount}`);
  if (!(maxBytes >= 1)) throw new RangeError(`batchOnDemand: maxBytes must be at least 1, got ${maxBytes}`);
  if (typeof concurrency === 'number' && !(concurrency >= 1))
    throw new RangeError(`batchOnDemand: concurrency must be at least 1, got ${concurrency}`);
  // A limiter that reports less than one (or not a number) still lets one batch through: never a stall.
  const limit =
    typeof concurrency === 'number'
      ? () => concurrency
      : () => {
          const n = concurrency.limit;
          return n >= 1 ? n : 1;
        };

  const take = (queue: KeyQueue<Envelope<T> | Batch<T>>): Batch<T> => {
    const items = sortQueue(queue);
    const first = items[0]!;
    if (isBatch(first)) {
      items.shift();
      return first;
    }
    let n = 0;
    let bytes = 0;
    const partition = first.key;
    while (n < items.length && n < maxCount) {
      const item = items[n]!;
      if (isBatch(item) || item.key !== partition) break;
      if (n > 0 && bytes + item.size > maxBytes) break;
      bytes += item.size;
      n += 1;
    }
    // The queue is in sequence order, so the batch is too.
    const envelopes = (n === items.length ? items.splice(0) : items.splice(0, n)) as Envelope<T>[];
    return { key: partition, envelopes, bytes };
  };

  const slots = keyedSlots<Envelope<T> | Batch<T>, Batch<T>, R>({
    name: 'batchOnDemand',
    // A batch made upstream waits with the order key of its envelopes.
    keyOf: (item) =>
      isBatch(item) ? (item.envelopes[0] === undefined ? item.key : keyOf(item.envelopes[0])) : keyOf(item),
    limit,
    take,
    project,
  });
  return (source) =>
    source.pipe(
      filter((item) => !isBatch(item) || item.envelopes.length > 0),
      slots,
    );
}

function isBatch<T>(item: Envelope<T> | Batch<T>): item is Batch<T> {
  return Array.isArray((item as Partial<Batch<T>>).envelopes);
}
