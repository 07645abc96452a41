import type { ServiceBusClient } from '@azure/service-bus';
import type cassandra from 'cassandra-driver';
import { z } from 'zod';
import { assertIdentifier } from '../../src/cassandra/tableMapping.js';
import type { Envelope } from '../../src/envelope.js';
import type { BatchWindowOptions } from '../../src/operators/batchWindow.js';
import type { BatchResult, RetryOptions } from '../../src/operators/writeThenSettle.js';
import type { TableTarget } from '../../src/operators/writeToCassandra.js';
import type { PipelineDefinition } from '../../src/pipelines/pipeline.js';
import { serviceBusToCassandra } from '../../src/pipelines/serviceBusToCassandra.js';
import type { ServiceBusEntity } from '../../src/sources/fromServiceBus.js';

/**
 * IoT telemetry: readings by device, partitioned by (device, day) so a partition stays bounded,
 * clustered by reading time; and the latest reading per device, last-write-wins by reading time.
 */
export const Reading = z.object({
  deviceId: z.string().min(1).max(128),
  /** When the device took the reading (ISO-8601). */
  at: z.iso.datetime({ offset: true }),
  metric: z.string().min(1).max(64),
  value: z.number().finite(),
});
export type Reading = z.infer<typeof Reading>;

/** The partition key of a reading: matches `readings`' partition key (device_id, day). */
export const telemetryKey = (envelope: Envelope<Reading>): string =>
  `${envelope.body.deviceId}:${dayOf(envelope.body.at)}`;

/** The UTC day (`YYYY-MM-DD`) of an ISO-8601 time. */
export function dayOf(at: string): string {
  // A UTC time already starts with its day: no Date to parse and format, twice per message.
  if (UTC_TIME.test(at)) return at.slice(0, 10);
  return new Date(at).toISOString().slice(0, 10);
}
const UTC_TIME = /^\d{4}-\d{2}-\d{2}T[^+-]*Z$/;

export async function createTelemetrySchema(client: cassandra.Client, keyspace: string): Promise<void> {
  assertIdentifier('createTelemetrySchema: keyspace', keyspace);
  await client.execute(
    `CREATE TABLE IF NOT EXISTS ${keyspace}.readings (
       device_id text, day date, reading_at timestamp, seq bigint,
       message_id text, metric text, value double, enqueued_at timestamp,
       PRIMARY KEY ((device_id, day), reading_at, message_id)
     ) WITH CLUSTERING ORDER BY (reading_at DESC, message_id ASC)`,
  );
  await client.execute(
    `CREATE TABLE IF NOT EXISTS ${keyspace}.device_latest (
       device_id text PRIMARY KEY, reading_at timestamp, metric text, value double, seq bigint
     )`,
  );
}

/**
 * Where a reading goes. The history row's primary key is the message's identity (device, day,
 * time, message id): a redelivery, and a producer's retry that sends the same message id again,
 * rewrite the same row. The latest-state row takes the
 * reading time as write timestamp, so a late, older reading never replaces a newer one.
 */
export const telemetryTargets: readonly TableTarget<Reading>[] = [
  {
    table: 'readings',
    mapping: {
      device_id: (e) => e.body.deviceId,
      day: (e) => dayOf(e.body.at),
      reading_at: (e) => e.body.at,
      seq: (e) => e.sequenceNumber,
      message_id: (e) => e.messageId,
      metric: (e) => e.body.metric,
      value: (e) => e.body.value,
      enqueued_at: (e) => e.enqueuedTime,
    },
  },
  {
    table: 'device_latest',
    mapping: {
      device_id: (e) => e.body.deviceId,
      reading_at: (e) => e.body.at,
      metric: (e) => e.body.metric,
      value: (e) => e.body.value,
      seq: (e) => e.sequenceNumber,
    },
    timestamp: (e) => new Date(e.body.at),
  },
];

export interface TelemetryPipelineOptions {
  name?: string;
  serviceBus: ServiceBusClient;
  entity: ServiceBusEntity;
  cassandra: cassandra.Client;
  keyspace: string;
  consistency?: number;
  /** Default 1000. */
  maxInFlight?: number;
  /** Receive loops on the queue. Default: the service's `SLUICE_RECEIVERS`, else 2. */
  receivers?: number;
  batch?: BatchWindowOptions;
  /** Most partitions written at once: the adaptive write limit's ceiling. Default 512. */
  concurrency?: number;
  retry?: RetryOptions;
}

/** The telemetry pipeline of the demo and the tests: decode, validate, key by (device, day), batch, write both tables, settle. */
export function telemetryPipeline(
  options: TelemetryPipelineOptions,
): PipelineDefinition<BatchResult<Reading>> {
  return serviceBusToCassandra({
    ...options,
    name: options.name ?? 'telemetry',
    schema: Reading,
    key: telemetryKey,
    targets: telemetryTargets,
  });
}
