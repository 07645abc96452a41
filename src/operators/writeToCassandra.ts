import cassandra from 'cassandra-driver';
import { from, type Observable, type OperatorFunction, switchMap } from 'rxjs';
import type { Batch } from '../batch.js';
import { classifyCassandraError } from '../cassandra/classifyError.js';
import { type ColumnMapping, planTable, type TablePlan } from '../cassandra/tableMapping.js';
import { type TimestampSource, WriteTimestamps } from '../cassandra/writeTimestamp.js';
import type { BatchResult, RetryOptions } from './writeThenSettle.js';
import { writeThenSettle } from './writeThenSettle.js';

export interface WriteToCassandraOptions<T> {
  client: cassandra.Client;
  /** Default: the client's keyspace. */
  keyspace?: string;
  table: string;
  /** Column → value of a message. The primary key must come from the message (its id, or key and sequence). */
  mapping: ColumnMapping<T>;
  /** Consistency a write must reach before its messages are completed. Default LOCAL_QUORUM. */
  consistency?: number;
  /** Where write timestamps come from. Default: the enqueued time (see `WriteTimestamps`). */
  timestamp?: TimestampSource<T>;
  retry?: RetryOptions;
  /** Most partitions written at once. Default 16. */
  concurrency?: number;
  /** Hears each acknowledged statement (for spans and metrics). */
  onWrite?: (info: { batch: Batch<T>; rows: number; durationMs: number; statement: string }) => void;
}

/**
 * Writes each batch to a Cassandra table, then settles its messages: completed only once
 * Cassandra acknowledged at the requested consistency.
 *
 * Before the first message is taken, the table's metadata is read and the mapping checked
 * (table exists, mapped columns exist, every primary-key column mapped); a mismatch errors the
 * stream with a `SchemaMismatchError` naming the column, and nothing is settled. Statements are
 * prepared; a batch is one partition (see `batchWindow`), written as an UNLOGGED batch, which
 * Cassandra applies atomically and in isolation within a partition without the batch log's cost.
 * Write timestamps come from the messages, so replays are invisible and late events never
 * overwrite newer ones. Errors are classified once (`classifyCassandraError`): transient ones are
 * retried then abandoned, permanent ones bisected down to the offending messages.
 *
 * @example
 * ```ts
 * batches$.pipe(writeToCassandra({
 *   client, table: 'readings',
 *   mapping: { device_id: (e) => e.body.deviceId, day: (e) => e.body.at.slice(0, 10), at: (e) => e.body.at,
 *              seq: (e) => e.sequenceNumber, value: (e) => e.body.value },
 * }))
 * ```
 * @param options Client, table, mapping, consistency, timestamps and retry.
 * @return An operator that emits a `BatchResult` per batch.
 */
export function writeToCassandra<T>(
  options: WriteToCassandraOptions<T>,
): OperatorFunction<Batch<T>, BatchResult<T>> {
  const consistency = options.consistency ?? cassandra.types.consistencies.localQuorum;
  return (source) =>
    // The plan is made on subscription, before the source is subscribed: a bad mapping stops the
    // pipeline before a single message is received, let alone settled.
    from(planTable(options.client, options.keyspace, options.table, options.mapping)).pipe(
      switchMap((plan) =>
        source.pipe(
          writeThenSettle<T>({
            write: writer(options, plan, consistency),
            ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
            ...(options.retry === undefined ? {} : { retry: options.retry }),
          }),
        ),
      ),
    ) as Observable<BatchResult<T>>;
}

function writer<T>(options: WriteToCassandraOptions<T>, plan: TablePlan<T>, consistency: number) {
  const timestamps = new WriteTimestamps<T>(options.timestamp);
  // A retried or bisected batch rewrites its rows with the timestamps they were first given.
  const assigned = new WeakMap<object, bigint>();
  const timestampOf = (envelope: Batch<T>['envelopes'][number]) => {
    let timestamp = assigned.get(envelope);
    if (timestamp === undefined) {
      timestamp = timestamps.next(envelope);
      assigned.set(envelope, timestamp);
    }
    return cassandra.types.Long.fromString(timestamp.toString());
  };
  return async (batch: Batch<T>): Promise<void> => {
    const started = performance.now();
    try {
      const queries = batch.envelopes.map((envelope) => ({
        query: plan.insert,
        params: [...plan.row(envelope), timestampOf(envelope)],
      }));
      if (queries.length === 1) {
        await options.client.execute(queries[0]!.query, queries[0]!.params, {
          prepare: true,
          consistency,
          isIdempotent: true,
        });
      } else {
        await options.client.batch(queries, {
          prepare: true,
          consistency,
          logged: false,
          isIdempotent: true,
        });
      }
    } catch (error) {
      throw classifyCassandraError(error);
    }
    options.onWrite?.({
      batch,
      rows: batch.envelopes.length,
      durationMs: performance.now() - started,
      statement: plan.insert,
    });
  };
}
