import type { ServiceBusClient } from '@azure/service-bus';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type cassandra from 'cassandra-driver';
import { identity } from 'rxjs';
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

export interface ServiceBusToCassandraOptions<S extends StandardSchemaV1> {
  name: string;
  serviceBus: ServiceBusClient;
  entity: ServiceBusEntity;
  /** Consume a session-enabled entity. Default: the service's `SLUICE_SESSIONS`, else no sessions. */
  sessions?: ServiceBusSourceOptions['sessions'];
  /** Default: the service's `SLUICE_MAX_IN_FLIGHT`, else 1000. */
  maxInFlight?: number;
  /** What a message body must be (zod, valibot, arktype, ...). */
  schema: S;
  /** The partition key of a message: the Cassandra partition key of the target tables. */
  key: (envelope: Envelope<StandardSchemaV1.InferOutput<S>>) => string;
  cassandra: cassandra.Client;
  keyspace: string;
  targets: readonly TableTarget<StandardSchemaV1.InferOutput<S>>[];
  consistency?: number;
  /** Default 50 messages, 20 ms. */
  batch?: BatchWindowOptions;
  /** Partitions written at once. Default 32. */
  concurrency?: number;
  retry?: RetryOptions;
  redelivery?: RedeliveryOptions;
}

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
      return envelopes.pipe(
        decode(),
        validate(options.schema),
        keyBy<T>(options.key),
        lingerMs > 0 ? batchWindow<T>({ ...batch, maxWaitMs: lingerMs }) : identity,
        writeToCassandra<T>({
          client: options.cassandra,
          keyspace: options.keyspace,
          targets: options.targets,
          batch,
          concurrency: options.concurrency ?? ctx.defaults?.writeConcurrency ?? 32,
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
