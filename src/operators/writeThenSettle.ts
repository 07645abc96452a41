import { mergeMap, Observable, type OperatorFunction } from 'rxjs';
import type { Batch } from '../batch.js';
import type { ConcurrencyLimiter } from '../concurrencyLimit.js';
import type { Envelope } from '../envelope.js';
import { isSluiceError, messageOf, TransientWriteError, WriteRejectedError } from '../errors.js';
import { backoffDelay, cappedDelay, sleep, WriteCircuit, type WriteCircuitOptions } from '../resilience.js';
import { type BatchOnDemandOptions, batchOnDemand } from './batchOnDemand.js';

export interface RetryOptions {
  /** Write attempts per batch and delivery (the first included) before its messages go back. Default 5. */
  maxAttempts?: number;
  /** Ceiling of the first backoff. Default 100 ms. */
  initialDelayMs?: number;
  /** Ceiling of any backoff. Default 5 s. */
  maxDelayMs?: number;
  /** Waits between attempts; tests pass a virtual clock. Must resolve early when `signal` aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Source of jitter in [0, 1). */
  random?: () => number;
}

/**
 * What happens to messages whose write's attempts are spent. With `reschedule` (the default), a
 * message is sent back as a scheduled copy that appears after a delay growing with its attempts,
 * then completed; after `maxAttempts` redeliveries it is dead-lettered `RetriesExhausted` with the
 * last error. Where a copy cannot keep its place (subscriptions, sessions), or with `abandon`, the
 * message is abandoned and Service Bus's MaxDeliveryCount bounds the retries.
 */
export type RedeliveryOptions =
  | { mode?: 'reschedule'; maxAttempts?: number; initialDelayMs?: number; maxDelayMs?: number }
  | { mode: 'abandon' };

export interface WriteThenSettleOptions<T> {
  /**
   * Writes a batch durably; resolves only when the store acknowledged it. `signal` aborts when the
   * pipeline is torn down: start nothing new after it.
   */
  write(batch: Batch<T>, signal: AbortSignal): Promise<void>;
  /**
   * Most batches (so partitions) written at once: a fixed number, or a limiter that adapts it to
   * the store's latency (`GradientLimit`), told of every write call's latency and of the transient
   * failures (`isTransient`), which make it back off. Default 16.
   */
  concurrency?: number | ConcurrencyLimiter;
  /**
   * Bounds of the batches made on demand from envelopes (see `batchOnDemand`): default 100
   * messages, 256 KiB. Batches made upstream (`batchWindow`) are written as they come.
   */
  batch?: Pick<BatchOnDemandOptions, 'maxCount' | 'maxBytes'>;
  /**
   * The key whose batches are written one at a time, lowest sequence number first. Default: the
   * envelope's own key (its partition). A coarser key (a session) orders writes across partitions;
   * a batch still holds one partition.
   */
  orderKey?: (envelope: Envelope<T>) => string;
  retry?: RetryOptions;
  redelivery?: RedeliveryOptions;
  /** Shared with readiness: see {@link WriteCircuit}. Default: one per operator, with `circuitOptions`. */
  circuit?: WriteCircuit;
  circuitOptions?: WriteCircuitOptions;
  /** Whether a failure may succeed on retry. Default: `SluiceError.retryable`, else false. */
  isTransient?(error: unknown): boolean;
}

/** What happened to one batch: the figures metrics and traces need. */
export interface BatchResult<T> {
  readonly batch: Batch<T>;
  readonly completed: number;
  readonly abandoned: number;
  readonly deadLettered: number;
  /** Sent back for a delayed redelivery. */
  readonly rescheduled: number;
  /** Write calls made, bisection included. */
  readonly attempts: number;
  /** Transient failures retried, by error class (`timeout`, `unavailable`, ...). */
  readonly retries: Readonly<Record<string, number>>;
  readonly durationMs: number;
}

const REDELIVERY_DEFAULTS = { maxAttempts: 10, initialDelayMs: 5_000, maxDelayMs: 300_000 };

/**
 * Writes batches and settles their messages by the outcome: complete after the write is
 * acknowledged, send back for a delayed redelivery after transient failures outlast the retry
 * budget, dead-letter what the store rejects.
 *
 * Envelopes are batched per partition key on demand (see {@link batchOnDemand}): what waits for a
 * key when it may be written next is one batch, so batches grow under load and nothing waits on a
 * timer when the writers are idle; batches made upstream (`batchWindow`) are written as they come.
 * Per key, batches are written one at a time in order; keys proceed concurrently, up to
 * `concurrency` (fixed, or adapted to the store's latency by a limiter). A key's next write starts as soon as its previous write is acknowledged, while that
 * batch's settlements are still on their way to Service Bus: write timestamps come from the
 * messages, so only the writes need order, and a slot is not held for a broker round trip. A transient error (`retryable`) is retried with exponential backoff and full
 * jitter. When transient failures pile up across keys the write circuit opens: batches wait,
 * holding their messages (and so the source's credit: receiving stops) while one probe write a
 * second checks the store; they all resume when it succeeds. Only write calls actually made spend
 * a batch's budget. A permanent error is bisected: the halves are written separately until the
 * offending messages stand alone, so only they are dead-lettered (`WriteRejected`, with the
 * store's error) and the rest land.
 *
 * Unsubscribing stops everything: no write starts, no backoff continues and nothing is settled
 * afterwards (the source hands what is unsettled back to Service Bus).
 *
 * ```
 * batches: --a---b---|
 * writes:  --[a]-[b]-|          (a fails transiently once: retried after a jittered backoff)
 * result:  ------A---B|         (BatchResult once every message of the batch is settled)
 * ```
 *
 * @example
 * ```ts
 * envelopes$.pipe(keyBy(byDevice), writeThenSettle({
 *   write: (batch, signal) => store.put(batch.envelopes.map((e) => e.body), { signal }),
 *   concurrency: new GradientLimit({ max: 512 }),
 * }))
 * ```
 * @param options The write and how to retry it.
 * @return An operator that emits a `BatchResult` per batch once all its messages are settled.
 */
export function writeThenSettle<T>(
  options: WriteThenSettleOptions<T>,
): OperatorFunction<Envelope<T> | Batch<T>, BatchResult<T>> {
  const retry = {
    maxAttempts: options.retry?.maxAttempts ?? 5,
    initialDelayMs: options.retry?.initialDelayMs ?? 100,
    maxDelayMs: options.retry?.maxDelayMs ?? 5_000,
    sleep: options.retry?.sleep ?? sleep,
    random: options.retry?.random ?? Math.random,
  };
  const redelivery =
    options.redelivery?.mode === 'abandon' ? undefined : { ...REDELIVERY_DEFAULTS, ...options.redelivery };
  const isTransient = options.isTransient ?? ((error: unknown) => isSluiceError(error) && error.retryable);
  const limiter = typeof options.concurrency === 'object' ? options.concurrency : undefined;
  // Each write call is one sample of the limiter: its latency, or a drop when it failed transiently.
  const timedWrite =
    limiter === undefined
      ? (part: Batch<T>, signal: AbortSignal) => options.write(part, signal)
      : async (part: Batch<T>, signal: AbortSignal) => {
          const sample = limiter.start();
          try {
            await options.write(part, signal);
          } catch (error) {
            if (!signal.aborted && isTransient(error)) sample.dropped();
            else sample.ignore();
            throw error;
          }
          if (signal.aborted) sample.ignore();
          else sample.success();
        };

  // Sends a batch's messages back after its write's attempts are spent (rare: only on failure).
  const giveBack = async (part: Batch<T>, failure: unknown, tally: Tally<T>) => {
    const settled = await Promise.allSettled(
      part.envelopes.map(async (e): Promise<'abandoned' | 'deadLettered' | 'rescheduled'> => {
        if (redelivery === undefined || !e.canReschedule) {
          await e.abandon();
          return 'abandoned';
        }
        if (e.attempt >= redelivery.maxAttempts) {
          await e.deadLetter(
            'RetriesExhausted',
            `write failed after ${e.attempt + 1} deliveries; last error: ${messageOf(failure)}`,
          );
          return 'deadLettered';
        }
        await e.reschedule(new Date(Date.now() + cappedDelay(e.attempt + 1, redelivery)));
        return 'rescheduled';
      }),
    );
    for (const r of settled) if (r.status === 'fulfilled') tally[r.value] += 1;
  };

  // Resolves once the batch's writes are done, with its settlement still under way: the next write
  // of the key may start then (write timestamps come from the messages, so only writes need order),
  // while waiting for Service Bus to acknowledge the settlements overlaps with it.
  const writeBatch = async (
    batch: Batch<T>,
    circuit: WriteCircuit,
    signal: AbortSignal,
  ): Promise<{ settled: Promise<BatchResult<T>> }> => {
    const started = performance.now();
    // The settlements under way; the tally becomes the batch's result once they are done.
    const settling: Promise<void>[] = [];
    const tally: Tally<T> = {
      batch,
      completed: 0,
      abandoned: 0,
      deadLettered: 0,
      rescheduled: 0,
      attempts: 0,
      retries: {},
      durationMs: 0,
    };

    const attempt = async (part: Batch<T>): Promise<void> => {
      for (let spent = 1; ; spent++) {
        if (signal.aborted) return;
        tally.attempts += 1;
        let failure: unknown;
        try {
          if (!(await circuit.run(() => timedWrite(part, signal), signal))) return;
        } catch (error) {
          failure = error;
        }
        if (signal.aborted) return;
        if (failure === undefined) {
          settling.push(settleAll(part.envelopes, complete, tally, 'completed'));
          return;
        }
        if (isTransient(failure)) {
          if (spent >= retry.maxAttempts) {
            settling.push(giveBack(part, failure, tally));
            return;
          }
          const errorClass = failure instanceof TransientWriteError ? failure.errorClass : 'other';
          tally.retries[errorClass] = (tally.retries[errorClass] ?? 0) + 1;
          await retry.sleep(backoffDelay(spent, retry, retry.random), signal);
          continue;
        }
        if (part.envelopes.length > 1) {
          // Halves keep the sequence order, and the left half is written first.
          const middle = Math.ceil(part.envelopes.length / 2);
          await attempt(slice(part, 0, middle));
          await attempt(slice(part, middle, part.envelopes.length));
          return;
        }
        const rejected =
          failure instanceof WriteRejectedError
            ? failure
            : new WriteRejectedError(messageOf(failure), { cause: failure });
        settling.push(
          settleAll(
            part.envelopes,
            (e) => e.deadLetter(rejected.code, rejected.message),
            tally,
            'deadLettered',
          ),
        );
        return;
      }
    };

    await attempt(batch);
    const done = () => {
      tally.durationMs = performance.now() - started;
      return tally;
    };
    // Mostly one settlement per batch: no Promise.all around it then.
    return {
      settled: (settling.length === 1 ? settling[0]! : Promise.all(settling)).then(done),
    };
  };

  return (source) =>
    new Observable<BatchResult<T>>((subscriber) => {
      // Made on subscription, so each run of the chain has its own circuit unless one is shared.
      const circuit = options.circuit ?? new WriteCircuit(isTransient, options.circuitOptions);
      // One signal for every write of this subscription, aborted on teardown: a controller per batch
      // costs an allocation and an event target per message when batches hold one.
      const stop = new AbortController();
      // A promise, which the slots follow without an observable per batch; after teardown (the
      // signal aborted) what it resolves to is dropped there.
      const write = (batch: Batch<T>) => writeBatch(batch, circuit, stop.signal);
      const subscription = source
        .pipe(
          batchOnDemand(write, {
            ...options.batch,
            concurrency: options.concurrency ?? 16,
            ...(options.orderKey === undefined
              ? {}
              : { keyOf: options.orderKey as (e: Envelope<unknown>) => string }),
          }),
          mergeMap(({ settled }) => settled),
        )
        .subscribe(subscriber);
      return () => {
        subscription.unsubscribe();
        stop.abort();
      };
    });
}

function slice<T>(batch: Batch<T>, start: number, end: number): Batch<T> {
  const envelopes = batch.envelopes.slice(start, end);
  return { key: batch.key, envelopes, bytes: envelopes.reduce((sum, e) => sum + e.size, 0) };
}

/** A batch's result while it is being made. */
type Tally<T> = { -readonly [K in keyof BatchResult<T>]: BatchResult<T>[K] } & {
  retries: Record<string, number>;
};

const complete = (e: Envelope<unknown>) => e.complete();

/**
 * Settles every envelope and counts those the broker took under `outcome`. A failed settlement is
 * reported to the source's listener; the message comes back after its lock expires and is
 * rewritten idempotently.
 */
async function settleAll<T>(
  envelopes: readonly Envelope<T>[],
  settle: (e: Envelope<T>) => Promise<void>,
  tally: Tally<T>,
  outcome: 'completed' | 'deadLettered',
): Promise<void> {
  if (envelopes.length === 1) {
    // One message (the common batch when writers keep up): no arrays, no allSettled.
    try {
      await settle(envelopes[0]!);
      tally[outcome] += 1;
    } catch {
      // Reported to the listener by the envelope; not counted.
    }
    return;
  }
  const results = await Promise.allSettled(envelopes.map(settle));
  for (const r of results) if (r.status === 'fulfilled') tally[outcome] += 1;
}
