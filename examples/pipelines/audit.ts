import type { ServiceBusClient } from '@azure/service-bus';
import type cassandra from 'cassandra-driver';
import { z } from 'zod';
import { assertIdentifier } from '../../src/cassandra/tableMapping.js';
import type { BatchResult } from '../../src/operators/writeThenSettle.js';
import type { TableTarget } from '../../src/operators/writeToCassandra.js';
import type { PipelineDefinition } from '../../src/pipelines/pipeline.js';
import { serviceBusToCassandra } from '../../src/pipelines/serviceBusToCassandra.js';
import type { ServiceBusEntity } from '../../src/sources/fromServiceBus.js';

/**
 * An audit log: every event of an entity (an order, an account) in the order it happened, and
 * the entity's latest state. Events of one entity share a partition, so the key is the entity id;
 * producers that need order across consumers send them in a session per entity.
 */
export const AuditEvent = z.object({
  entityType: z.string().min(1).max(64),
  entityId: z.string().min(1).max(128),
  /** What happened, e.g. `order.shipped`. */
  action: z.string().min(1).max(128),
  actor: z.string().min(1).max(256),
  occurredAt: z.iso.datetime({ offset: true }),
  /** The entity's state after the event, as the producer sees it. */
  state: z.record(z.string(), z.string()).default({}),
});
export type AuditEvent = z.infer<typeof AuditEvent>;

export async function createAuditSchema(client: cassandra.Client, keyspace: string): Promise<void> {
  assertIdentifier('createAuditSchema: keyspace', keyspace);
  await client.execute(
    `CREATE TABLE IF NOT EXISTS ${keyspace}.audit_events (
       entity_type text, entity_id text, occurred_at timestamp, message_id text,
       action text, actor text, state map<text, text>, seq bigint,
       PRIMARY KEY ((entity_type, entity_id), occurred_at, message_id)
     ) WITH CLUSTERING ORDER BY (occurred_at ASC, message_id ASC)`,
  );
  await client.execute(
    `CREATE TABLE IF NOT EXISTS ${keyspace}.entity_state (
       entity_type text, entity_id text, last_action text, last_actor text, occurred_at timestamp,
       state map<text, text>,
       PRIMARY KEY ((entity_type, entity_id))
     )`,
  );
}

export const auditKey = (body: AuditEvent): string => `${body.entityType}/${body.entityId}`;

/** History keyed by the message's identity; latest state last-write-wins by when the event happened. */
export const auditTargets: readonly TableTarget<AuditEvent>[] = [
  {
    table: 'audit_events',
    mapping: {
      entity_type: (e) => e.body.entityType,
      entity_id: (e) => e.body.entityId,
      occurred_at: (e) => e.body.occurredAt,
      message_id: (e) => e.messageId,
      action: (e) => e.body.action,
      actor: (e) => e.body.actor,
      state: (e) => e.body.state,
      seq: (e) => e.sequenceNumber,
    },
  },
  {
    table: 'entity_state',
    mapping: {
      entity_type: (e) => e.body.entityType,
      entity_id: (e) => e.body.entityId,
      last_action: (e) => e.body.action,
      last_actor: (e) => e.body.actor,
      occurred_at: (e) => e.body.occurredAt,
      state: (e) => e.body.state,
    },
    timestamp: (e) => new Date(e.body.occurredAt),
  },
];

export interface AuditPipelineOptions {
  name?: string;
  serviceBus: ServiceBusClient;
  entity: ServiceBusEntity;
  /** Consume a session-enabled entity (a session per audited entity). */
  sessions?: { maxConcurrentSessions?: number; idleTimeoutMs?: number };
  cassandra: cassandra.Client;
  keyspace: string;
  consistency?: number;
  maxInFlight?: number;
}

export function auditPipeline(options: AuditPipelineOptions): PipelineDefinition<BatchResult<AuditEvent>> {
  return serviceBusToCassandra({
    ...options,
    name: options.name ?? 'audit',
    maxInFlight: options.maxInFlight ?? 500,
    schema: AuditEvent,
    key: (e) => auditKey(e.body),
    targets: auditTargets,
    batch: { maxCount: 20, maxWaitMs: 20 },
  });
}
