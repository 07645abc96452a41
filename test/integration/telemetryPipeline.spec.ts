import { ServiceBusClient, type ServiceBusMessage } from '@azure/service-bus';
import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import { telemetryPipeline } from '../../examples/pipelines/telemetry.js';
import { type RunningPipeline, runPipeline } from '../../src/index.js';
import { receiveAll } from '../support/receiveAll.js';
import { telemetryWorld } from './support/telemetryWorld.js';

// The acceptance scenario of the pipeline core: the real SDK against the emulator, the real
// Cassandra, 20,000 messages over 500 devices with 2% invalid bodies, and a crash half-way.
const TOTAL = Number(process.env.SLUICE_E2E_MESSAGES ?? 20_000);
const DEVICES = 500;
const KS = 'sluice_it_telemetry';

const w = telemetryWorld(KS, { telemetry: { LockDuration: 'PT5S', MaxDeliveryCount: 10 } });

/** Message i: a valid reading, or (every 50th) an invalid body of one of two kinds. */
function message(i: number): { message: ServiceBusMessage; valid: boolean; reason?: string } {
  const deviceId = `device-${String(i % DEVICES).padStart(4, '0')}`;
  const at = new Date(Date.UTC(2026, 10, 24, 0, 0, 0) + Math.floor(i / DEVICES) * 1000).toISOString();
  if (i % 50 === 7) {
    return i % 100 === 7
      ? {
          message: { body: Buffer.from('{"deviceId": "broken'), messageId: `m-${i}` },
          valid: false,
          reason: 'DecodeFailed',
        }
      : {
          message: {
            body: Buffer.from(JSON.stringify({ deviceId, at, metric: 'temp', value: 'NaN?' })),
            messageId: `m-${i}`,
          },
          valid: false,
          reason: 'ValidationFailed',
        };
  }
  return {
    message: {
      body: Buffer.from(JSON.stringify({ deviceId, at, metric: 'temp', value: i })),
      messageId: `m-${i}`,
      contentType: 'application/json',
    },
    valid: true,
  };
}

async function publish(client: ServiceBusClient, from: number, to: number): Promise<void> {
  const sender = client.createSender('telemetry');
  let batch = await sender.createMessageBatch();
  for (let i = from; i < to; i++) {
    const { message: m } = message(i);
    if (!batch.tryAddMessage(m)) {
      await sender.sendMessages(batch);
      batch = await sender.createMessageBatch();
      batch.tryAddMessage(m);
    }
  }
  if (batch.count > 0) await sender.sendMessages(batch);
  await sender.close();
}

async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const start = (serviceBus: ServiceBusClient): RunningPipeline =>
  runPipeline(
    telemetryPipeline({
      serviceBus,
      entity: { queue: 'telemetry' },
      cassandra: w.ks.client,
      keyspace: KS,
      consistency: cassandra.types.consistencies.one,
      maxInFlight: 1000,
    }),
    { drainTimeoutMs: 2_000 },
  );

describe('the telemetry pipeline end to end', () => {
  it('writes exactly the valid messages, dead-letters exactly the invalid ones, and survives a crash half-way', async () => {
    const producer = new ServiceBusClient(w.emulator.connectionString);
    await publish(producer, 0, TOTAL);

    // First run: crash once a third has been written. The client goes away without settling what
    // it holds; the emulator gives those messages out again when their locks expire.
    const firstClient = new ServiceBusClient(w.emulator.connectionString);
    const first = start(firstClient);
    await waitFor(() => first.counts().completed >= TOTAL / 3, 120_000);
    await firstClient.close();
    await first.stop();
    const firstCounts = first.counts();
    expect(firstCounts.completed).toBeGreaterThanOrEqual(TOTAL / 3);

    // Second run: picks up everything left, including the redelivered messages.
    const secondClient = new ServiceBusClient(w.emulator.connectionString);
    const second = start(secondClient);
    const valid = Array.from({ length: TOTAL }, (_, i) => message(i)).filter((m) => m.valid).length;
    const countRows = async () =>
      Number((await w.ks.client.execute(`SELECT count(*) AS n FROM ${KS}.readings`)).first().get('n'));
    // Done when every message has left the queue one way or the other and nothing is in flight.
    // (Messages the crashed consumer held come back only when their locks expire.)
    await waitFor(async () => {
      const stats = w.emulator.stats('telemetry');
      return (
        stats.active + stats.locked === 0 &&
        second.counts().inFlight === 0 &&
        stats.deadLettered + (await countRows()) >= TOTAL
      );
    }, 180_000);
    await second.stop();
    await secondClient.close();

    // Every valid message exactly once (a duplicate would be a second row with another key).
    expect(await countRows()).toBe(valid);
    const ids = new Set<string>();
    // The driver's result stream is a Readable, which is async-iterable; its typings do not say so.
    const rows = w.ks.client.stream(`SELECT message_id FROM ${KS}.readings`, [], { prepare: true });
    for await (const row of rows as unknown as AsyncIterable<cassandra.types.Row>) {
      ids.add(row.get('message_id'));
    }
    expect(ids.size).toBe(valid);

    // Latest state per device is the newest reading of that device.
    const latest = await w.ks.client.execute(`SELECT device_id, value FROM ${KS}.device_latest`);
    const newestByDevice = new Map<number, number>();
    for (let i = 0; i < TOTAL; i++) if (message(i).valid) newestByDevice.set(i % DEVICES, i);
    expect(latest.rowLength).toBe(newestByDevice.size);
    for (const row of latest.rows) {
      const device = Number(String(row.get('device_id')).slice(-4));
      expect(row.get('value')).toBe(newestByDevice.get(device));
    }

    // The dead-letter queue holds exactly the invalid messages, each with its reason.
    const dead = new Map(
      (await receiveAll(producer, 'telemetry', { deadLetter: true })).map((m) => [
        String(m.messageId),
        String(m.deadLetterReason),
      ]),
    );
    const expected = new Map(
      Array.from({ length: TOTAL }, (_, i) => [i, message(i)] as const)
        .filter(([, m]) => !m.valid)
        .map(([i, m]) => [`m-${i}`, m.reason!]),
    );
    expect(dead).toEqual(expected);
    expect(w.emulator.stats('telemetry').active).toBe(0);
    await producer.close();
  });
});
