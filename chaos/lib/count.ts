import { ServiceBusClient } from '@azure/service-bus';
import type cassandra from 'cassandra-driver';
import Long from 'long';
import { type Broker, QUEUE } from './broker.js';
import type { Expected } from './readings.js';

export interface DeadLetter {
  messageId: string;
  reason: string;
}

/** What the suite found, message by message, against what it sent. */
export interface Outcome {
  /** Valid readings with no row, not dead-lettered and not left in the queue: gone. */
  lost: number;
  /** Rows that are not exactly one per valid reading (unknown ids, poison written). */
  extraRows: number;
  /** Valid readings in the dead-letter queue, by reason. */
  wronglyDeadLettered: number;
  wrongReasons: Record<string, number>;
  /** Poison messages not in the dead-letter queue. */
  poisonNotDeadLettered: number;
  /** Poison messages dead-lettered with another reason than theirs. */
  poisonWrongReason: number;
  /** Messages left active or locked in the queue. */
  stuck: number;
  /** Devices whose device_latest row is not their latest reading. */
  latestWrong: number;
  /** Deliveries beyond one per message (from the broker's counters). */
  extraDeliveries: number;
}

/** Every message id in `readings`, paged. */
async function rowIds(cql: cassandra.Client, keyspace: string): Promise<string[]> {
  const ids: string[] = [];
  let pageState: string | undefined;
  do {
    const page = await cql.execute(`SELECT message_id FROM ${keyspace}.readings`, [], {
      fetchSize: 5_000,
      ...(pageState === undefined ? {} : { pageState }),
    });
    for (const row of page.rows) ids.push(row.get('message_id') as string);
    pageState = page.pageState ?? undefined;
  } while (pageState);
  return ids;
}

/** Peeks (no lock, nothing changed) every message of the suite's queue or its dead-letter queue. */
export async function peekAll(connectionString: string, deadLetter: boolean): Promise<DeadLetter[]> {
  const client = new ServiceBusClient(connectionString);
  const receiver = deadLetter
    ? client.createReceiver(QUEUE, { subQueueType: 'deadLetter' })
    : client.createReceiver(QUEUE);
  const out: DeadLetter[] = [];
  try {
    let from = 0;
    for (;;) {
      const page = await receiver.peekMessages(250, { fromSequenceNumber: Long.fromNumber(from) });
      if (page.length === 0) break;
      for (const m of page) {
        out.push({ messageId: String(m.messageId), reason: m.deadLetterReason ?? '(none)' });
        from = Math.max(from, (m.sequenceNumber?.toNumber() ?? from - 1) + 1);
      }
    }
  } finally {
    await receiver.close();
    await client.close();
  }
  return out;
}

/** Counts exactly: every id sent is found as a row, a dead letter, a message left, or lost. */
export async function countOutcome(
  expected: Expected,
  cql: cassandra.Client,
  keyspace: string,
  broker: Broker,
): Promise<Outcome> {
  const [ids, dead, left, stats, counters] = [
    await rowIds(cql, keyspace),
    await peekAll(broker.connectionString, true),
    await peekAll(broker.connectionString, false),
    await broker.stats(),
    await broker.counters(),
  ];
  const inQueue = new Set(left.map((m) => m.messageId));
  const valid = new Set(expected.valid.map((r) => r.messageId));
  const rows = new Set(ids);
  const deadById = new Map(dead.map((d) => [d.messageId, d.reason]));
  const wrongReasons: Record<string, number> = {};
  let wronglyDeadLettered = 0;
  let lost = 0;
  for (const r of expected.valid) {
    const reason = deadById.get(r.messageId);
    if (reason !== undefined) {
      wronglyDeadLettered += 1;
      wrongReasons[reason] = (wrongReasons[reason] ?? 0) + 1;
    } else if (!rows.has(r.messageId) && !inQueue.has(r.messageId)) lost += 1;
  }
  // Still in the queue is not lost yet: counted as stuck instead.
  const stuck = stats.active + stats.locked;
  let poisonNotDeadLettered = 0;
  let poisonWrongReason = 0;
  for (const p of expected.poison) {
    const reason = deadById.get(p.messageId);
    if (reason === undefined) poisonNotDeadLettered += 1;
    else if (reason !== p.reason) poisonWrongReason += 1;
  }
  const extraRows = ids.length - [...rows].filter((id) => valid.has(id)).length;
  const sent = expected.valid.length + expected.poison.length;
  return {
    lost,
    extraRows,
    wronglyDeadLettered,
    wrongReasons,
    poisonNotDeadLettered,
    poisonWrongReason,
    stuck,
    latestWrong: await latestWrong(expected, cql, keyspace),
    extraDeliveries: Math.max(0, counters.server.messagesDelivered - sent),
  };
}

/** Devices whose device_latest row is not the reading with the latest time sent for them. */
async function latestWrong(expected: Expected, cql: cassandra.Client, keyspace: string): Promise<number> {
  const latest = new Map<string, { at: string; value: number }>();
  for (const r of expected.valid) {
    const seen = latest.get(r.deviceId);
    if (seen === undefined || r.at > seen.at) latest.set(r.deviceId, { at: r.at, value: r.value });
  }
  const result = await cql.execute(`SELECT device_id, reading_at, value FROM ${keyspace}.device_latest`, [], {
    fetchSize: 100_000,
  });
  const found = new Map(
    result.rows.map((row) => [
      row.get('device_id') as string,
      { at: (row.get('reading_at') as Date).toISOString(), value: row.get('value') as number },
    ]),
  );
  let wrong = 0;
  for (const [device, want] of latest) {
    const got = found.get(device);
    if (got === undefined || got.at !== want.at || got.value !== want.value) wrong += 1;
  }
  return wrong;
}
