import type { ServiceBusClient } from '@azure/service-bus';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type cassandra from 'cassandra-driver';
import { identity } from 'rxjs';
import { GradientLimit, type GradientLimitOptions } from '../concurrencyLimit.js';
import type { Envelope } from '../envelope.js';
import { type BatchWindowOptions, batchWindow } from '../operators/batchWindow.js';
import { decode } from '../operators/decode.js';
import { keyBy } from '../operators/keyBy.js';
import { validate } from '../operators/validate.js';
import type { BatchResult, RedeliveryOptions, RetryOptions } from '../operators/writeThenSettle.js';
import { type TableTarget, writeToCassandra } from '../operators/writeToCassandra.js';
import {
  fromServiceBus,
  type ServiceBusEntity,
  type ServiceBusSourceOptions,
} from '../sources/fromServiceBus.js';
import { definePipeline, type PipelineDefinition } from './pipeline.js';
import { sessionOrder } from './sessionOrder.js';

export interface ServiceBusToCassandraOptions<S extends StandardSchemaV1> {
  name: string;
  serviceBus: ServiceBusClient;
  entity: ServiceBusEntity;
  /** Consume a session-enabled entity. Default: the service's `SLUICE_SESSIONS`, else no sessions. */
  sessions?: ServiceBusSourceOptions['sessions'];
  /** Default: the service's `SLUICE_MAX_IN_FLIGHT`, else 1000. */
  maxInFlight?: number;
  /**
   * Receive loops on the queue or subscription (`fromServiceBus`'s `receivers`). Default: the
   * service's `SLUICE_RECEIVERS`, else the source's default (2).
   */
  receivers?: number;
  /** What a message body must be (zod, valibot, arktype, ...). */
  schema: S;
  /** The partition key of a message: the Cassandra partition key of the target tables. */
  key: (envelope: Envelope<StandardSchemaV1.InferOutput<S>>) => string;
  cassandra: cassandra.Client;
  keyspace: string;
  targets: readonly TableTarget<StandardSchemaV1.InferOutput<S>>[];
  consistency?: number;
  /**
   * Batches are made per partition when a writer is free (see `batchOnDemand`): at most `maxCount`
   * (default 50: the service's `SLUICE_BATCH_MAX_COUNT`) messages and `maxBytes` (256 KiB).
   * `maxWaitMs` (`SLUICE_BATCH_MAX_WAIT_MS`), off by default, holds each key's first message up to
   * that long for others to join it (the `batchWindow` of old): fewer, larger writes at the price of
   * that much latency, for a store that round trips cost more than rows.
   */
  batch?: BatchWindowOptions;
  /**
   * Most partitions written at once: the ceiling of the adaptive limit (see `writeLimit`).
   * Default: the service's `SLUICE_WRITE_CONCURRENCY`, else 512.
   */
  concurrency?: number;
  /**
   * The adaptive write limit's other settings (`GradientLimit`): by default it starts at 32, never
   * goes below 8, grows while Cassandra's latency holds and backs off on timeouts and overload.
   * `{ min: n, initial: n }` with `concurrency: n` fixes it at n.
   */
  writeLimit?: Omit<GradientLimitOptions, 'max'>;
  retry?: RetryOptions;
  redelivery?: RedeliveryOptions;
}

/**
 * Ceiling of the adaptive write limit: 512 batches of one partition, so up to 1,024 statements in
 * flight with two tables, what one driver connection per host takes (it queues past 2,048); with
 * the default `maxInFlight` of 1,000 messages the limit rarely binds before the source does.
 */
const WRITE_CONCURRENCY_MAX = 512;

/**
 * The common shape of a Sluice pipeline in one call: a queue or subscription, JSON bodies checked
 * against a schema, keyed by partition, batched per partition and written to one or more tables
 * before settlement. Write the chain out with `definePipeline` when it needs more steps.
 *
 * @example
 * ```ts
 * serviceBusToCassandra({ name: 'telemetry', serviceBus, entity: { queue: 'telemetry' }, schema: Reading,
 *   key: telemetryKey, cassandra: cql, keyspace: 'iot', targets: telemetryTargets })
 * ```
 */
export function serviceBusToCassandra<S extends StandardSchemaV1>(
  options: ServiceBusToCassandraOptions<S>,
): PipelineDefinition<BatchResult<StandardSchemaV1.InferOutput<S>>> {
  type T = StandardSchemaV1.InferOutput<S>;
  return definePipeline({
    name: options.name,
    source: (ctx) =>
      fromServiceBus({
        client: options.serviceBus,
        entity: options.entity,
        maxInFlight: options.maxInFlight ?? ctx.maxInFlight ?? 1000,
        ...receiversOf(options.receivers ?? ctx.defaults?.receivers),
        ...sessionsOf(options.sessions, ctx.defaults?.sessions),
        signal: ctx.signal,
        listener: ctx.listener,
        drainTimeoutMs: ctx.drainTimeoutMs,
        onReceiveError: ctx.onReceiveError,
        onReceiving: ctx.onReceiving,
      }),
    process: (envelopes, ctx) => {
      const batch = {
        maxCount: options.batch?.maxCount ?? ctx.defaults?.batchMaxCount ?? 50,
        ...(options.batch?.maxBytes === undefined ? {} : { maxBytes: options.batch.maxBytes }),
      };
      // Batches are made when a writer is free; a linger (the old time window) is opt-in.
      const lingerMs = options.batch?.maxWaitMs ?? ctx.defaults?.batchMaxWaitMs ?? 0;
      const max = options.concurrency ?? ctx.defaults?.writeConcurrency ?? WRITE_CONCURRENCY_MAX;
      const limiter = new GradientLimit({
        ...options.writeLimit,
        max,
        min: Math.min(max, options.writeLimit?.min ?? 8),
        initial: Math.min(max, options.writeLimit?.initial ?? 32),
      });
      ctx.onWriteLimiter(limiter);
      // With sessions on, a session's writes land in enqueue order: see `sessionOrder`.
      const bySession =
        options.sessions !== undefined || ctx.defaults?.sessions !== undefined
          ? sessionOrder<T>(options.key)
          : undefined;
      return envelopes.pipe(
        decode(),
        validate(options.schema),
        keyBy<T>(bySession?.keyOf ?? options.key),
        lingerMs > 0 ? batchWindow<T>({ ...batch, maxWaitMs: lingerMs }) : identity,
        writeToCassandra<T>({
          client: options.cassandra,
          keyspace: options.keyspace,
          targets: options.targets,
          batch,
          concurrency: limiter,
          ...(bySession === undefined ? {} : { orderKey: bySession.orderKey }),
          ...(options.consistency === undefined ? {} : { consistency: options.consistency }),
          ...(options.retry === undefined ? {} : { retry: options.retry }),
          ...(options.redelivery === undefined ? {} : { redelivery: options.redelivery }),
          circuit: ctx.circuit,
        }),
      );
    },
  });
}

function sessionsOf(
  sessions: ServiceBusSourceOptions['sessions'],
  fromOperator: number | undefined,
): Pick<ServiceBusSourceOptions, 'sessions'> {
  if (sessions !== undefined) return { sessions };
  return fromOperator === undefined ? {} : { sessions: { maxConcurrentSessions: fromOperator } };
}

function receiversOf(receivers: number | undefined): Pick<ServiceBusSourceOptions, 'receivers'> {
  return receivers === undefined ? {} : { receivers };
}
