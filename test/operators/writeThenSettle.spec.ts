import type cassandra from 'cassandra-driver';
import { from, lastValueFrom, map, Subject, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Batch } from '../../src/batch.js';
import { GradientLimit } from '../../src/concurrencyLimit.js';
import type { Envelope } from '../../src/envelope.js';
import { TransientWriteError } from '../../src/errors.js';
import { writeThenSettle } from '../../src/operators/writeThenSettle.js';
import { writeToCassandra } from '../../src/operators/writeToCassandra.js';
import { definePipeline, runPipeline } from '../../src/pipelines/pipeline.js';
import { sleep } from '../../src/resilience.js';
import { MemoryQueue } from '../../src/testing/memoryQueue.js';
import { recordingEnvelopes } from '../support/envelopes.js';

const batchOf = <T>(key: string, envelopes: Batch<T>['envelopes']): Batch<T> => ({
  key,
  envelopes,
  bytes: 1,
});

describe('writeThenSettle teardown', () => {
  it('after an early unsubscribe, settles nothing and starts no write', async () => {
    const { make, log } = recordingEnvelopes();
    const batches = new Subject<Batch<string>>();
    const signals: AbortSignal[] = [];
    let writes = 0;
    const subscription = batches
      .pipe(
        writeThenSettle<string>({
          write: async (_batch, signal) => {
            writes += 1;
            signals.push(signal);
            await sleep(30);
          },
        }),
      )
      .subscribe();
    batches.next(batchOf('a', [make('1', { key: 'a' })]));
    await sleep(5);
    subscription.unsubscribe();
    batches.next(batchOf('b', [make('2', { key: 'b' })]));
    await sleep(60);
    expect(writes).toBe(1);
    expect(signals[0]!.aborted).toBe(true);
    expect(log).toEqual([]);
  });

  it('with envelopes batched on demand and an adaptive limit, an unsubscribe mid-write aborts it, settles nothing and starts nothing', async () => {
    const { make, log } = recordingEnvelopes();
    const envelopes = new Subject<Envelope<string>>();
    const limiter = new GradientLimit({ min: 1, max: 4, initial: 1 });
    const signals: AbortSignal[] = [];
    const written: string[][] = [];
    const subscription = envelopes
      .pipe(
        writeThenSettle<string>({
          concurrency: limiter,
          write: async (batch, signal) => {
            written.push(batch.envelopes.map((e) => e.body));
            signals.push(signal);
            await sleep(30);
          },
        }),
      )
      .subscribe();
    envelopes.next(make('a1', { key: 'a' }));
    // One slot: b1 and a2 wait for a1's write.
    envelopes.next(make('b1', { key: 'b' }));
    envelopes.next(make('a2', { key: 'a' }));
    await sleep(5);
    expect(limiter.inFlight).toBe(1);
    subscription.unsubscribe();
    await sleep(60);
    expect(written).toEqual([['a1']]);
    expect(signals[0]!.aborted).toBe(true);
    expect(limiter.inFlight).toBe(0);
    expect(limiter.limit).toBe(1);
    expect(log).toEqual([]);
  });

  it('after an unsubscribe during a retry backoff, the backoff ends and no further write is made', async () => {
    const { make, log } = recordingEnvelopes();
    let writes = 0;
    let sleeps = 0;
    let abortedSleeps = 0;
    const subscription = from([batchOf('a', [make('1', { key: 'a' })])])
      .pipe(
        writeThenSettle<string>({
          write: async () => {
            writes += 1;
            throw new TransientWriteError('timed out', 'timeout');
          },
          retry: {
            maxAttempts: 5,
            sleep: async (_ms, signal) => {
              sleeps += 1;
              await sleep(10_000, signal);
              if (signal.aborted) abortedSleeps += 1;
            },
          },
        }),
      )
      .subscribe();
    await sleep(20);
    subscription.unsubscribe();
    await sleep(20);
    expect({ writes, sleeps, abortedSleeps }).toEqual({ writes: 1, sleeps: 1, abortedSleeps: 1 });
    expect(log).toEqual([]);
  });
});

describe('writeThenSettle when the store is down', () => {
  it('holds the messages instead of giving them back, probes gently, and resumes as soon as the store is back', async () => {
    const { make, log } = recordingEnvelopes();
    let down = true;
    let writes = 0;
    let writesWhileDown = 0;
    setTimeout(() => {
      down = false;
    }, 400);
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
    const started = Date.now();
    const results = await lastValueFrom(
      from(keys.map((k) => batchOf(k, [make(k, { key: k })]))).pipe(
        writeThenSettle<string>({
          concurrency: 20,
          write: async () => {
            writes += 1;
            if (down) {
              writesWhileDown += 1;
              throw new TransientWriteError('no host', 'connection');
            }
          },
          retry: { maxAttempts: 10, initialDelayMs: 10, maxDelayMs: 20 },
          circuitOptions: { failureThreshold: 5, halfOpenAfterMs: 50 },
        }),
        toArray(),
      ),
    );
    const tookMs = Date.now() - started;
    expect(results.reduce((n, r) => n + r.completed, 0)).toBe(20);
    expect(log.every((r) => r.outcome === 'completed')).toBe(true);
    // Without the circuit, 20 keys retrying every ≤20 ms for 400 ms make hundreds of calls.
    expect(writesWhileDown).toBeLessThan(20 + 400 / 50 + 5);
    expect(writes - writesWhileDown).toBe(20);
    expect(tookMs).toBeLessThan(400 + 50 * 4 + 500);
  });
});

describe('delayed redelivery', () => {
  it('sends a message whose write keeps failing back for later, then writes it; after maxAttempts dead-letters it RetriesExhausted', async () => {
    const queue = new MemoryQueue({ maxDeliveryCount: 2 });
    queue.send([
      { body: 'heals', messageId: 'heals', key: 'heals' },
      { body: 'never', messageId: 'never', key: 'never' },
      { body: 'fine', messageId: 'fine', key: 'fine' },
    ]);
    const attemptsSeen: Record<string, number[]> = {};
    const stop = new AbortController();
    const running = runPipeline(
      definePipeline({
        name: 'redelivery',
        source: (ctx) => queue.source({ ...ctx, signal: AbortSignal.any([ctx.signal, stop.signal]) }),
        process: (envelopes) =>
          envelopes.pipe(
            // Each message is its own batch.
            map((e) => batchOf(e.key, [e])),
            writeThenSettle<unknown>({
              write: async (batch) => {
                const e = batch.envelopes[0]!;
                attemptsSeen[e.messageId] = [...(attemptsSeen[e.messageId] ?? []), e.attempt];
                if (e.messageId === 'never' || (e.messageId === 'heals' && e.attempt < 2))
                  throw new TransientWriteError('timed out', 'timeout');
              },
              retry: { maxAttempts: 2, sleep: async () => undefined },
              redelivery: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 20 },
              circuitOptions: { failureThreshold: 1_000 },
            }),
          ),
      }),
    );
    for (let waited = 0; queue.deadLetters.length < 1 && waited < 5_000; waited += 20) await sleep(20);
    stop.abort();
    await running.stop();
    queue.clearScheduled();
    expect(queue.deadLetters.map((d) => [d.messageId, d.reason])).toEqual([['never', 'RetriesExhausted']]);
    expect(queue.deadLetters[0]!.description).toMatch(/after 4 deliveries; last error: timed out/);
    // Two write attempts per delivery, attempts counted per redelivery, never a MaxDeliveryCount.
    expect(attemptsSeen.heals).toEqual([0, 0, 1, 1, 2]);
    expect(attemptsSeen.never).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
    expect(attemptsSeen.fine).toEqual([0]);
    expect(running.counts().rescheduled).toBe(2 + 3);
  });
});

describe('writeToCassandra', () => {
  it('reads the table metadata on subscription, not when the chain is assembled, and again on resubscription', async () => {
    let lookups = 0;
    const client = {
      keyspace: 'ks',
      connect: async () => undefined,
      metadata: {
        getTable: async () => {
          lookups += 1;
          return null;
        },
      },
    } as unknown as cassandra.Client;
    const chain = from<Batch<unknown>[]>([]).pipe(
      writeToCassandra({ client, table: 'missing', mapping: { id: (e) => e.messageId } }),
    );
    await sleep(5);
    expect(lookups).toBe(0);
    await expect(lastValueFrom(chain, { defaultValue: undefined })).rejects.toThrow(/missing/);
    await expect(lastValueFrom(chain, { defaultValue: undefined })).rejects.toThrow(/missing/);
    expect(lookups).toBe(2);
  });
});
