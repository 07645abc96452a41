import type { OperatorFunction } from 'rxjs';
import type { Batch } from '../batch.js';
import type { Envelope } from '../envelope.js';
import { isSluiceError, TransientWriteError, WriteRejectedError } from '../errors.js';
import { orderByKey } from './orderByKey.js';

export interface RetryOptions {
  /** Attempts per batch (the first included) before its messages are abandoned. Default 5. */
  maxAttempts?: number;
  /** Ceiling of the first backoff. Default 100 ms. */
  initialDelayMs?: number;
  /** Ceiling of any backoff. Default 5 s. */
  maxDelayMs?: number;
  /** Waits between attempts; tests pass a virtual clock. */
  sleep?: (ms: number) => Promise<void>;
  /** Source of jitter in [0, 1). */
  random?: () => number;
}

export interface WriteThenSettleOptions<T> {
  /** Writes a batch durably; resolves only when the store acknowledged it. */
  write(batch: Batch<T>): Promise<void>;
  /** Most keys written at once. Default 16. */
  concurrency?: number;
  retry?: RetryOptions;
  /** Whether a failure may succeed on retry. Default: `SluiceError.retryable`, else false. */
  isTransient?(error: unknown): boolean;
}

/** What happened to one batch: the figures metrics and traces need. */
export interface BatchResult<T> {
  readonly batch: Batch<T>;
  readonly completed: number;
  readonly abandoned: number;
  readonly deadLettered: number;
  /** Write calls made, bisection included. */
  readonly attempts: number;
  /** Transient failures retried, by error class (`timeout`, `unavailable`, ...). */
  readonly retries: Readonly<Record<string, number>>;
  readonly durationMs: number;
}

/**
 * Writes batches and settles their messages by the outcome: complete after the write is
 * acknowledged, abandon after transient failures outlast the retry budget, dead-letter what the
 * store rejects.
 *
 * Per key, batches are written one at a time in order (see {@link orderByKey}); keys proceed
 * concurrently. A transient error (`retryable`) is retried with exponential backoff and full
 * jitter; when the budget is spent the messages are abandoned, Service Bus redelivers them and
 * MaxDeliveryCount eventually dead-letters a message that never gets through. A permanent error
 * is bisected: the halves are written separately until the offending messages stand alone, so
 * only they are dead-lettered (`WriteRejected`, with the store's error) and the rest land.
 *
 * @example
 * ```ts
 * batches$.pipe(writeThenSettle({ write: (batch) => store.put(batch.envelopes.map((e) => e.body)) }))
 * ```
 * @param options The write and how to retry it.
 * @return An operator that emits a `BatchResult` per batch once all its messages are settled.
 */
export function writeThenSettle<T>(
  options: WriteThenSettleOptions<T>,
): OperatorFunction<Batch<T>, BatchResult<T>> {
  const retry = {
    maxAttempts: options.retry?.maxAttempts ?? 5,
    initialDelayMs: options.retry?.initialDelayMs ?? 100,
    maxDelayMs: options.retry?.maxDelayMs ?? 5_000,
    sleep: options.retry?.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))),
    random: options.retry?.random ?? Math.random,
  };
  const isTransient = options.isTransient ?? ((error: unknown) => isSluiceError(error) && error.retryable);

  const writeBatch = async (batch: Batch<T>): Promise<BatchResult<T>> => {
    const started = performance.now();
    const tally = {
      completed: 0,
      abandoned: 0,
      deadLettered: 0,
      attempts: 0,
      retries: {} as Record<string, number>,
    };

    const attempt = async (part: Batch<T>): Promise<void> => {
      for (let round = 1; ; round++) {
        tally.attempts += 1;
        let failure: unknown;
        try {
          await options.write(part);
        } catch (error) {
          failure = error;
        }
        if (failure === undefined) {
          tally.completed += await settleAll(part.envelopes, (e) => e.complete());
          return;
        }
        if (isTransient(failure)) {
          const errorClass = failure instanceof TransientWriteError ? failure.errorClass : 'other';
          if (round >= retry.maxAttempts) {
            tally.abandoned += await settleAll(part.envelopes, (e) => e.abandon());
            return;
          }
          tally.retries[errorClass] = (tally.retries[errorClass] ?? 0) + 1;
          const ceiling = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (round - 1));
          await retry.sleep(retry.random() * ceiling);
          continue;
        }
        if (part.envelopes.length > 1) {
          // Halves keep the sequence order, and the left half is written first.
          const middle = Math.ceil(part.envelopes.length / 2);
          await attempt(slice(part, 0, middle));
          await attempt(slice(part, middle, part.envelopes.length));
          return;
        }
        const reason = failure instanceof Error ? failure.message : String(failure);
        const rejected =
          failure instanceof WriteRejectedError
            ? failure
            : new WriteRejectedError(reason, { cause: failure });
        tally.deadLettered += await settleAll(part.envelopes, (e) =>
          e.deadLetter(rejected.code, rejected.message),
        );
        return;
      }
    };

    await attempt(batch);
    return { batch, ...tally, durationMs: performance.now() - started };
  };

  return orderByKey((batch: Batch<T>) => writeBatch(batch), { concurrency: options.concurrency ?? 16 });
}

function slice<T>(batch: Batch<T>, start: number, end: number): Batch<T> {
  const envelopes = batch.envelopes.slice(start, end);
  return { key: batch.key, envelopes, bytes: envelopes.reduce((sum, e) => sum + e.size, 0) };
}

/**
 * Settles every envelope and counts those the broker took. A failed settlement is reported to the
 * source's listener; the message comes back after its lock expires and is rewritten idempotently.
 */
async function settleAll<T>(
  envelopes: readonly Envelope<T>[],
  settle: (e: Envelope<T>) => Promise<void>,
): Promise<number> {
  const results = await Promise.allSettled(envelopes.map(settle));
  return results.filter((r) => r.status === 'fulfilled').length;
}
