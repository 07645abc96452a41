import { ServiceBusClient } from '@azure/service-bus';
import cassandra from 'cassandra-driver';
import { describe, expect, inject, it } from 'vitest';
import { telemetryPipeline } from '../../examples/pipelines/telemetry.js';
import { runPipeline } from '../../src/index.js';
import { tcpProxy } from '../support/tcpProxy.js';
import { until } from '../support/wait.js';
import { telemetryWorld } from './support/telemetryWorld.js';

// Cassandra goes away mid-run (every connection cut and refused, as a dead node looks to a client)
// and comes back. With MaxDeliveryCount 3, a pipeline that abandons on failure would dead-letter
// good data; Sluice must hold what it has, stop receiving, and resume within seconds.
const KS = 'sluice_it_outage';
const TOTAL = 3_000;
const MAX_IN_FLIGHT = 200;
const OUTAGE_MS = 10_000;

const w = telemetryWorld(KS, { telemetry: { LockDuration: 'PT5S', MaxDeliveryCount: 3 } });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a Cassandra outage', () => {
  it('costs no delivery: receiving stops, nothing is abandoned or dead-lettered, and writes resume within seconds', async () => {
    const node = inject('cassandra');
    const proxy = await tcpProxy(node.port);
    const cql = new cassandra.Client({
      contactPoints: node.contactPoints,
      localDataCenter: node.localDataCenter,
      protocolOptions: { port: proxy.port },
      keyspace: KS,
      policies: { reconnection: new cassandra.policies.reconnection.ConstantReconnectionPolicy(500) },
      socketOptions: { readTimeout: 3_000 },
    });
    await cql.connect();

    const producer = new ServiceBusClient(w.emulator.connectionString);
    const sender = producer.createSender('telemetry');
    for (let i = 0; i < TOTAL; i += 250) {
      await sender.sendMessages(
        Array.from({ length: 250 }, (_, j) => {
          const n = i + j;
          const at = new Date(Date.UTC(2026, 10, 30) + n * 1000).toISOString();
          return {
            body: Buffer.from(JSON.stringify({ deviceId: `d${n % 100}`, at, metric: 'temp', value: n })),
            messageId: `m-${n}`,
          };
        }),
      );
    }

    const consumer = new ServiceBusClient(w.emulator.connectionString);
    let received = 0;
    const running = runPipeline(
      telemetryPipeline({
        serviceBus: consumer,
        entity: { queue: 'telemetry' },
        cassandra: cql,
        keyspace: KS,
        consistency: cassandra.types.consistencies.one,
        maxInFlight: MAX_IN_FLIGHT,
        batch: { maxCount: 20, maxWaitMs: 5 },
      }),
      { drainTimeoutMs: 2_000, listener: { onReceived: () => void received++ } },
    );

    await until(() => running.counts().completed >= 500, 60_000);
    proxy.refuse();
    const downAt = Date.now();
    await sleep(2_000);
    const receivedEarlyInOutage = received;
    const healthDuring = running.health();
    await sleep(OUTAGE_MS - 2_000);
    const receivedDuringOutage = received - receivedEarlyInOutage;
    const completedBeforeReturn = running.counts().completed;
    proxy.accept();
    const upAt = Date.now();
    await until(() => running.counts().completed > completedBeforeReturn, 10_000);
    const resumedAfterMs = Date.now() - upAt;

    await until(() => {
      const stats = w.emulator.stats('telemetry');
      return stats.active + stats.locked + stats.scheduled === 0 && running.counts().inFlight === 0;
    }, 120_000);
    await running.stop();
    const counts = running.counts();
    const rows = Number(
      (await w.ks.client.execute(`SELECT count(*) AS n FROM ${KS}.readings`)).first().get('n'),
    );
    await consumer.close();
    await producer.close();
    await cql.shutdown();
    await proxy.close();

    console.log(
      `outage ${OUTAGE_MS} ms: received during its last 8 s ${receivedDuringOutage}, writes resumed ${resumedAfterMs} ms after return, receives ${received} for ${TOTAL} messages, rescheduled ${counts.rescheduled}`,
    );
    expect(Date.now() - downAt).toBeGreaterThan(OUTAGE_MS);
    // Nothing given back to the broker, nothing dead-lettered, every reading written once.
    expect(counts.abandoned).toBe(0);
    expect(counts.deadLettered).toEqual({});
    expect(w.emulator.stats('telemetry').deadLettered).toBe(0);
    expect(rows).toBe(TOTAL);
    // Receiving stopped: in the outage's last 8 s at most a few probes' worth of messages came in.
    expect(receivedDuringOutage).toBeLessThanOrEqual(MAX_IN_FLIGHT);
    expect(healthDuring.writesFailingSince).toBeInstanceOf(Date);
    expect(resumedAfterMs).toBeLessThan(3_000);
    expect(running.health().writesFailingSince).toBeUndefined();
  });
});
