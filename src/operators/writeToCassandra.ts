import cassandra from 'cassandra-driver';
import { defer, type Observable, type OperatorFunction, switchMap } from 'rxjs';
import type { Batch } from '../batch.js';
import { classifyCassandraError } from '../cassandra/classifyError.js';
import { type ColumnMapping, planTable, type TablePlan } from '../cassandra/tableMapping.js';
import { messageTimestamp, type TimestampSource } from '../cassandra/writeTimestamp.js';
import type { ConcurrencyLimiter } from '../concurrencyLimit.js';
import type { Envelope } from '../envelope.js';
import { SchemaMismatchError } from '../errors.js';
import type { WriteCircuit } from '../resilience.js';
import { type WriteSpanInfo, withWriteSpan } from '../telemetry/tracing.js';
import type { BatchOnDemandOptions } from './batchOnDemand.js';
import type { BatchResult, RedeliveryOptions, RetryOptions } from './writeThenSettle.js';
import { writeThenSettle } from './writeThenSettle.js';

/** One table a batch is written to. */
export interface TableTarget<T> {
  table: string;
  /** Column → value of a message. The primary key must come from the message (its id, or key and sequence). */
  mapping: ColumnMapping<T>;
  /** Where write timestamps come from. Default: the enqueued time (see `messageTimestamp`). */
  timestamp?: TimestampSource<T>;
}

export interface WriteToCassandraOptions<T> extends Partial<TableTarget<T>> {
  client: cassandra.Client;
  /** Default: the client's keyspace. */
  keyspace?: string;
  /**
   * Several tables written from the same batch (a history table and a latest-state table, say);
   * the messages are completed when every table acknowledged. Instead of `table` and `mapping`.
   */
  targets?: readonly TableTarget<T>[];
  /** Consistency a write must reach before its messages are completed. Default LOCAL_QUORUM. */
  consistency?: number;
  retry?: RetryOptions;
  /** What happens when a batch's retries are spent (default: delayed redelivery; see `writeThenSettle`). */
  redelivery?: RedeliveryOptions;
  /** The write circuit, when readiness should see it (`PipelineContext.circuit`). */
  circuit?: WriteCircuit;
  /**
   * Most partitions written at once: a number, or a limiter adapting it to Cassandra's latency
   * (`GradientLimit`; timeouts and overload errors make it back off). Default 16.
   */
  concurrency?: number | ConcurrencyLimiter;
  /** Bounds of the batches made on demand from envelopes: default 100 messages, 256 KiB. */
  batch?: Pick<BatchOnDemandOptions, 'maxCount' | 'maxBytes'>;
  /** Batches of one order key are written one at a time (see `writeThenSettle`). Default: the partition. */
  orderKey?: (envelope: Envelope<T>) => string;
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
 * prepared; envelopes are batched per partition on demand (see `batchOnDemand`; batches from
 * `batchWindow` are taken as they come); a batch is one partition, written as an UNLOGGED batch, which
 * Cassandra applies atomically and in isolation within a partition without the batch log's cost.
 * Write timestamps come from the messages, so replays are invisible and late events never
 * overwrite newer ones. Errors are classified once (`classifyCassandraError`): transient ones are
 * retried then abandoned, permanent ones bisected down to the offending messages.
 *
 * @example
 * ```ts
 * keyed$.pipe(writeToCassandra({
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
): OperatorFunction<Envelope<T> | Batch<T>, BatchResult<T>> {
  const consistency = options.consistency ?? cassandra.types.consistencies.localQuorum;
  const targets = targetsOf(options);
  return (source) =>
    // The plans are made on subscription (each subscription makes its own), before the source is
    // subscribed: a bad mapping stops the pipeline before a single message is received.
    defer(() =>
      Promise.all(targets.map((t) => planTable(options.client, options.keyspace, t.table, t.mapping))),
    ).pipe(
      switchMap((plans) =>
        source.pipe(
          writeThenSettle<T>({
            write: writer(options, targets, plans, consistency),
            ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
            ...(options.batch === undefined ? {} : { batch: options.batch }),
            ...(options.orderKey === undefined ? {} : { orderKey: options.orderKey }),
            ...(options.retry === undefined ? {} : { retry: options.retry }),
            ...(options.redelivery === undefined ? {} : { redelivery: options.redelivery }),
            ...(options.circuit === undefined ? {} : { circuit: options.circuit }),
          }),
        ),
      ),
    ) as Observable<BatchResult<T>>;
}

function targetsOf<T>(options: WriteToCassandraOptions<T>): readonly TableTarget<T>[] {
  if (options.targets !== undefined && options.targets.length > 0) return options.targets;
  if (options.table === undefined || options.mapping === undefined) {
    throw new SchemaMismatchError('writeToCassandra: give { table, mapping } or a non-empty { targets }');
  }
  return [
    {
      table: options.table,
      mapping: options.mapping,
      ...(options.timestamp ? { timestamp: options.timestamp } : {}),
    },
  ];
}

function writer<T>(
  options: WriteToCassandraOptions<T>,
  targets: readonly TableTarget<T>[],
  plans: readonly TablePlan<T>[],
  consistency: number,
) {
  const { client } = options;
  // The driver has the names at run time but not in its typings.
  const consistencyName =
    (cassandra.types as unknown as { consistencyToString: Record<number, string> }).consistencyToString[
      consistency
    ] ?? String(consistency);
  // Built once and shared by every call: the driver only reads its options.
  const execution = { prepare: true, consistency, isIdempotent: true };
  const unlogged = { ...execution, logged: false };

  const tables = plans.map((plan, i) => {
    const source = targets[i]!.timestamp ?? 'enqueued';
    // From the bits: parsing the decimal string cost five times as much, twice per message.
    const timestampOf = (envelope: Envelope<T>) => {
      const micros = BigInt.asIntN(64, messageTimestamp(envelope, source));
      return cassandra.types.Long.fromBits(Number(micros & 0xffffffffn) | 0, Number(micros >> 32n) | 0);
    };
    const span: WriteSpanInfo = {
      keyspace: plan.keyspace,
      table: plan.table,
      statement: plan.insert,
      consistency: consistencyName,
    };
    return { plan, timestampOf, span };
  });

  const writeTable = async (batch: Batch<T>, { plan, timestampOf, span }: (typeof tables)[number]) => {
    const started = performance.now();
    const { envelopes } = batch;
    // The values are bound before the span starts: a message that does not map never reaches the driver.
    if (envelopes.length === 1) {
      const params = plan.params(envelopes[0]!, timestampOf(envelopes[0]!));
      await withWriteSpan(batch, span, () => client.execute(plan.insert, params, execution));
    } else {
      const queries = envelopes.map((envelope) => ({
        query: plan.insert,
        params: plan.params(envelope, timestampOf(envelope)),
      }));
      await withWriteSpan(batch, span, () => client.batch(queries, unlogged));
    }
    options.onWrite?.({
      batch,
      rows: envelopes.length,
      durationMs: performance.now() - started,
      statement: plan.insert,
    });
  };

  return async (batch: Batch<T>, signal: AbortSignal): Promise<void> => {
    // The driver cannot cancel a statement once sent; a torn-down pipeline sends none.
    if (signal.aborted) return;
    try {
      await Promise.all(tables.map((table) => writeTable(batch, table)));
    } catch (error) {
      throw classifyCassandraError(error);
    }
  };
}
