// What every e2e consumer moves: N telemetry readings over K devices, the two telemetry tables'
// statements, and the check that a run left exactly the expected rows behind.
import cassandra from 'cassandra-driver';
import type { Reading } from '../../examples/pipelines/telemetry.js';

const DAY_START = Date.parse('2026-11-30T00:00:00.000Z');

/** Reading i of a run: device i mod K, 10 ms apart (1,000,000 readings stay within one day). */
export function reading(i: number, keys: number): Reading {
  return {
    deviceId: `dev-${i % keys}`,
    at: new Date(DAY_START + i * 10).toISOString(),
    metric: 'temperature',
    value: i,
  };
}

export function cassandraClient(keyspace?: string): cassandra.Client {
  return new cassandra.Client({
    contactPoints: (process.env.CASSANDRA_CONTACT_POINTS ?? '127.0.0.1').split(','),
    localDataCenter: process.env.CASSANDRA_LOCAL_DC ?? 'datacenter1',
    ...(keyspace === undefined ? {} : { keyspace }),
  });
}

/** The two prepared statements the telemetry pipeline writes per message (same columns, `USING TIMESTAMP`). */
export function telemetryStatements(keyspace: string) {
  const readings = `INSERT INTO "${keyspace}"."readings" ("device_id", "day", "reading_at", "seq", "message_id", "metric", "value", "enqueued_at") VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`;
  const latest = `INSERT INTO "${keyspace}"."device_latest" ("device_id", "reading_at", "metric", "value", "seq") VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?`;
  const options = {
    prepare: true,
    consistency: cassandra.types.consistencies.localQuorum,
    isIdempotent: true,
  };
  return {
    /** Writes reading `r` (message `id`, sequence `seq`): both inserts, awaited. */
    async write(client: cassandra.Client, r: Reading, id: string, seq: number, enqueued: Date) {
      const at = new Date(r.at);
      const micros = cassandra.types.Long.fromNumber(at.getTime() * 1000);
      const seqLong = cassandra.types.Long.fromNumber(seq);
      await client.execute(
        readings,
        [r.deviceId, r.at.slice(0, 10), at, seqLong, id, r.metric, r.value, enqueued, micros],
        options,
      );
      await client.execute(latest, [r.deviceId, at, r.metric, r.value, seqLong, micros], options);
    },
  };
}

/** Problems with what a run left in `keyspace` after N readings over K keys; empty when right. */
export async function checkRows(
  client: cassandra.Client,
  keyspace: string,
  messages: number,
  keys: number,
): Promise<string[]> {
  const problems: string[] = [];
  const slow = { readTimeout: 300_000 };
  const count = async (table: string) =>
    Number((await client.execute(`SELECT COUNT(*) AS n FROM "${keyspace}"."${table}"`, [], slow)).rows[0]!.n);
  const readings = await count('readings');
  if (readings !== messages) problems.push(`readings has ${readings} rows, expected ${messages}`);
  const expectedLatest = Math.min(messages, keys);
  const latest = await client.execute(`SELECT device_id, value FROM "${keyspace}"."device_latest"`, [], {
    ...slow,
    fetchSize: 5_000,
  });
  let rows = 0;
  let wrong = 0;
  for await (const row of latest) {
    rows += 1;
    const device = Number(String(row.device_id).slice(4));
    const last = device + Math.floor((messages - 1 - device) / keys) * keys;
    if (row.value !== last) wrong += 1;
  }
  if (rows !== expectedLatest) problems.push(`device_latest has ${rows} rows, expected ${expectedLatest}`);
  if (wrong > 0) problems.push(`${wrong} devices with a stale latest reading`);
  return problems;
}
