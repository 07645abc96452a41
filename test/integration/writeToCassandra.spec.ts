import cassandra from 'cassandra-driver';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTelemetrySchema,
  type Reading,
  telemetryKey,
  telemetryTargets,
} from '../../examples/pipelines/telemetry.js';
import { Envelope, type Settler } from '../../src/index.js';
import { batchWindow } from '../../src/operators/batchWindow.js';
import { writeToCassandra } from '../../src/operators/writeToCassandra.js';
import { freshKeyspace } from './support/cassandra.js';

const KS = 'sluice_it_write';
let ks: Awaited<ReturnType<typeof freshKeyspace>>;

beforeAll(async () => {
  ks = await freshKeyspace(KS);
  await createTelemetrySchema(ks.client, KS);
});
afterAll(async () => {
  await ks?.drop();
});

let sequence = 1000n;
function readingEnvelope(reading: Reading, log: string[], sequenceNumber = ++sequence) {
  const settler: Settler = {
    complete: async () => void log.push(`completed ${sequenceNumber}`),
    abandon: async () => void log.push(`abandoned ${sequenceNumber}`),
    deadLetter: async (reason, description) =>
      void log.push(`deadLettered ${sequenceNumber} ${reason} ${description}`),
    defer: async () => void log.push(`deferred ${sequenceNumber}`),
  };
  const envelope = Envelope.create(
    {
      messageId: `msg-${sequenceNumber}`,
      key: '',
      sequenceNumber,
      enqueuedTime: new Date(),
      deliveryCount: 0,
      body: reading,
      size: 64,
      entityPath: 'telemetry',
    },
    settler,
  );
  return envelope.withKey(telemetryKey(envelope));
}

const write = (
  envelopes: Envelope<Reading>[],
  extra: Partial<Parameters<typeof writeToCassandra<Reading>>[0]> = {},
) =>
  lastValueFrom(
    from(envelopes).pipe(
      batchWindow<Reading>({ maxCount: 10, maxWaitMs: 5 }),
      writeToCassandra<Reading>({
        client: ks.client,
        keyspace: KS,
        targets: telemetryTargets,
        consistency: cassandra.types.consistencies.one,
        ...extra,
      }),
      toArray(),
    ),
  );

describe('writeToCassandra against the real Cassandra', () => {
  it('refuses to start, naming the column, when the mapping misses a primary-key column', async () => {
    const log: string[] = [];
    const envelope = readingEnvelope(
      { deviceId: 'd', at: '2026-11-24T00:00:00Z', metric: 't', value: 1 },
      log,
    );
    const { message_id: _id, ...mapping } = telemetryTargets[0]!.mapping;
    await expect(write([envelope], { targets: undefined, table: 'readings', mapping })).rejects.toThrow(
      /primary-key column 'message_id' of sluice_it_write\.readings is not mapped/,
    );
    await expect(
      write([envelope], {
        targets: undefined,
        table: 'readings',
        mapping: { ...telemetryTargets[0]!.mapping, colour: () => 'red' },
      }),
    ).rejects.toThrow(/column 'colour', which sluice_it_write\.readings does not have/);
    await expect(write([envelope], { targets: undefined, table: 'nope', mapping })).rejects.toThrow(
      /does not exist/,
    );
    expect(log).toEqual([]); // nothing settled
  });

  it('writes readings and the latest state, completing each message after the write', async () => {
    const log: string[] = [];
    const envelopes = Array.from({ length: 25 }, (_, i) =>
      readingEnvelope(
        {
          deviceId: `dev-${i % 3}`,
          at: new Date(Date.UTC(2026, 10, 24, 8, 0, i)).toISOString(),
          metric: 'temp',
          value: i,
        },
        log,
      ),
    );
    const results = await write(envelopes);
    expect(results.reduce((n, r) => n + r.completed, 0)).toBe(25);
    expect(log.filter((l) => l.startsWith('completed'))).toHaveLength(25);
    const rows = await ks.client.execute(
      `SELECT device_id, value FROM ${KS}.readings WHERE device_id = ? AND day = ?`,
      ['dev-0', '2026-11-24'],
      { prepare: true },
    );
    expect(rows.rows.map((r) => r.get('value')).sort((a, b) => a - b)).toEqual([
      0, 3, 6, 9, 12, 15, 18, 21, 24,
    ]);
    const latest = await ks.client.execute(
      `SELECT value FROM ${KS}.device_latest WHERE device_id = ?`,
      ['dev-1'],
      { prepare: true },
    );
    expect(latest.first().get('value')).toBe(22);
  });

  it('rewrites the same row on redelivery, and never lets a late older reading replace the latest', async () => {
    const log: string[] = [];
    const newer = readingEnvelope(
      { deviceId: 'lww', at: '2026-11-24T10:00:00.000Z', metric: 'temp', value: 2 },
      log,
    );
    await write([newer]);
    const older = readingEnvelope(
      { deviceId: 'lww', at: '2026-11-24T09:00:00.000Z', metric: 'temp', value: 1 },
      log,
    );
    await write([older]);
    // Redelivery of the newer message: same primary key, same row.
    await write([readingEnvelope(newer.body, log, newer.sequenceNumber)]);
    const latest = await ks.client.execute(
      `SELECT value, reading_at FROM ${KS}.device_latest WHERE device_id = 'lww'`,
    );
    expect(latest.first().get('value')).toBe(2);
    // The cell's write time is the message's: the reading's time (this table's timestamp source) in
    // ms × 1000 + sequence number mod 1000.
    const written = await ks.client.execute(
      `SELECT writetime(value) AS t FROM ${KS}.device_latest WHERE device_id = 'lww'`,
    );
    expect(String(written.first().get('t'))).toBe(
      String(BigInt(Date.parse(newer.body.at)) * 1000n + (newer.sequenceNumber % 1000n)),
    );
    const history = await ks.client.execute(
      `SELECT count(*) AS n FROM ${KS}.readings WHERE device_id = 'lww' AND day = '2026-11-24'`,
    );
    expect(Number(history.first().get('n'))).toBe(2);
  });

  it('dead-letters only the message Cassandra cannot take, and writes its batch-mates', async () => {
    const log: string[] = [];
    const good = [0, 1, 2, 3].map((i) =>
      readingEnvelope(
        { deviceId: 'mixed', at: `2026-11-24T11:00:0${i}.000Z`, metric: 'temp', value: i },
        log,
      ),
    );
    // A metric name the column type accepts but a value that does not fit the mapping's column type.
    const bad = readingEnvelope(
      {
        deviceId: 'mixed',
        at: '2026-11-24T11:00:09.000Z',
        metric: 'temp',
        value: 'hot' as unknown as number,
      },
      log,
    );
    const results = await write([good[0]!, good[1]!, bad, good[2]!, good[3]!]);
    expect(results.reduce((n, r) => n + r.deadLettered, 0)).toBe(1);
    expect(log.filter((l) => l.startsWith('completed'))).toHaveLength(4);
    expect(log.find((l) => l.startsWith('deadLettered'))).toMatch(
      /WriteRejected Column 'value' expects a number/,
    );
    const n = await ks.client.execute(
      `SELECT count(*) AS n FROM ${KS}.readings WHERE device_id = 'mixed' AND day = '2026-11-24'`,
    );
    expect(Number(n.first().get('n'))).toBe(4);
  });

  it('writes bigint columns exactly beyond 2^53, and dead-letters one beyond 64 bits naming the column', async () => {
    const log: string[] = [];
    const reading = (i: number): Reading => ({
      deviceId: 'bigseq',
      at: `2026-11-24T13:00:0${i}.000Z`,
      metric: 'temp',
      value: i,
    });
    const exact = readingEnvelope(reading(1), log, 2n ** 60n + 7n);
    const negative = readingEnvelope(reading(2), log, -(2n ** 62n) - 3n);
    const small = readingEnvelope(reading(3), log, 42n);
    const tooBig = readingEnvelope(reading(4), log, 2n ** 64n + 1n);
    const results = await write([exact, negative, small, tooBig]);
    expect(results.reduce((n, r) => n + r.completed, 0)).toBe(3);
    expect(log.find((l) => l.startsWith('deadLettered'))).toMatch(
      /WriteRejected Column 'seq' expects an integer within 64 bits/,
    );
    const rows = await ks.client.execute(
      `SELECT seq, day FROM ${KS}.readings WHERE device_id = 'bigseq' AND day = '2026-11-24'`,
    );
    expect(rows.rows.map((r) => r.get('seq').toString()).sort()).toEqual(
      [String(2n ** 60n + 7n), String(-(2n ** 62n) - 3n), '42'].sort(),
    );
    expect(rows.rows.map((r) => r.get('day').toString())).toEqual(Array(3).fill('2026-11-24'));
  });

  it('retries transient driver errors and completes once the write gets through', async () => {
    const log: string[] = [];
    const envelope = readingEnvelope(
      { deviceId: 'flaky', at: '2026-11-24T12:00:00.000Z', metric: 'temp', value: 7 },
      log,
    );
    // Fault injection on a real client: the first two writes time out the way a coordinator reports it.
    const client = ks.client;
    const execute = client.execute.bind(client);
    let failures = 2;
    const flaky = Object.create(client) as cassandra.Client;
    flaky.execute = ((query: string, params?: unknown, options?: unknown) => {
      if (query.startsWith('INSERT') && failures-- > 0) {
        return Promise.reject(
          Object.assign(
            new cassandra.errors.ResponseError(cassandra.types.responseErrorCodes.writeTimeout, 'timeout'),
            { received: 0, blockFor: 1 },
          ),
        );
      }
      return execute(query, params as never, options as never);
    }) as typeof client.execute;
    const [result] = await write([envelope], {
      client: flaky,
      targets: [telemetryTargets[0]!],
      retry: { initialDelayMs: 1 },
    });
    expect(result).toMatchObject({ completed: 1, retries: { timeout: 2 }, attempts: 3 });
    expect(log).toEqual([`completed ${envelope.sequenceNumber}`]);
  });
});
