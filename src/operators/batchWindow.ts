import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import type { Batch } from '../batch.js';
import type { Envelope } from '../envelope.js';
import { compareSequence } from './sequence.js';

export interface BatchWindowOptions {
  /** Close a key's window at this many envelopes. Default 100. */
  maxCount?: number;
  /**
   * Close a key's window before it would pass this many body bytes. Default 256 KiB: well under
   * Cassandra's default `batch_size_fail_threshold` (640 KiB) once column overhead is added.
   * An envelope bigger than this on its own is written alone.
   */
  maxBytes?: number;
  /** Close a key's window this long after its first envelope arrived. Default 50 ms. */
  maxWaitMs?: number;
  /** Where the timers run; a `TestScheduler` in marble tests. */
  scheduler?: SchedulerLike;
}

/**
 * Groups envelopes into batches of one partition key each.
 *
 * Each key has its own window, which closes on count, bytes or time, whichever comes first; a
 * batch therefore never spans two Cassandra partitions (a multi-partition batch makes one
 * coordinator do the work of many). Envelopes in a batch are sorted by sequence number. Open
 * windows are flushed when the source completes.
 *
 * ```
 * source:  a1 b1 a2 ---------- b2 |
 * batches: ------ [a1 a2] (maxCount 2)  [b1 b2] on time or completion
 * ```
 *
 * @example
 * ```ts
 * source.pipe(decode(), keyBy(byDevice), batchWindow({ maxCount: 50, maxWaitMs: 20 }), writeToCassandra(options))
 * ```
 * @param options Count, bytes and time bounds of a window.
 * @return An operator that emits one `Batch` per closed window.
 */
export function batchWindow<T>(options: BatchWindowOptions = {}): OperatorFunction<Envelope<T>, Batch<T>> {
  const maxCount = options.maxCount ?? 100;
  const maxBytes = options.maxBytes ?? 256 * 1024;
  const maxWaitMs = options.maxWaitMs ?? 50;
  const scheduler = options.scheduler ?? asyncScheduler;
  if (!(maxCount >= 1)) throw new RangeError(`batchWindow: maxCount must be at least 1, got ${maxCount}`);
  if (!(maxBytes >= 1)) throw new RangeError(`batchWindow: maxBytes must be at least 1, got ${maxBytes}`);
  if (!(maxWaitMs >= 0)) throw new RangeError(`batchWindow: maxWaitMs must be 0 or more, got ${maxWaitMs}`);

  return (source) =>
    new Observable<Batch<T>>((subscriber) => {
      interface Window {
        envelopes: Envelope<T>[];
        bytes: number;
        timer: Subscription;
      }
      const windows = new Map<string, Window>();

      const flush = (key: string) => {
        const window = windows.get(key);
        if (window === undefined) return;
        windows.delete(key);
        window.timer.unsubscribe();
        window.envelopes.sort(compareSequence);
        subscriber.next({ key, envelopes: window.envelopes, bytes: window.bytes });
      };

      const subscription = source.subscribe({
        next(envelope) {
          const key = envelope.key;
          let window = windows.get(key);
          if (window !== undefined && window.bytes + envelope.size > maxBytes) {
            flush(key);
            window = undefined;
          }
          if (window === undefined) {
            window = {
              envelopes: [],
              bytes: 0,
              timer: scheduler.schedule(() => flush(key), maxWaitMs),
            };
            windows.set(key, window);
          }
          window.envelopes.push(envelope);
          window.bytes += envelope.size;
          if (window.envelopes.length >= maxCount || window.bytes >= maxBytes) flush(key);
        },
        error: (error) => subscriber.error(error),
        complete: () => {
          for (const key of [...windows.keys()]) flush(key);
          subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        for (const window of windows.values()) window.timer.unsubscribe();
        windows.clear();
      };
    });
}
