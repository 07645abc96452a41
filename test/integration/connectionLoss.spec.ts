import { ServiceBusClient } from '@azure/service-bus';
import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import { telemetryPipeline } from '../../examples/index.js';
import { runPipeline } from '../../src/index.js';
import { tcpProxy } from '../support/tcpProxy.js';
import { telemetryWorld } from './support/telemetryWorld.js';

// The network between Sluice and Service Bus fails twice during a run: the pipeline must ride it
// out (reconnect, receive again), lose nothing and write nothing twice.
const KS = 'sluice_it_netloss';
const TOTAL = 2_000;
const w = telemetryWorld(KS, { telemetry: { LockDuration: 'PT5S' } });

describe('a lost Service Bus connection', () => {
  it('is retried: every message ends up written exactly once and the queue drains', {
    timeout: 300_000,
  }, async () => {
    const producer = new ServiceBusClient(w.emulator.connectionString);
    const sender = producer.createSender('telemetry');
    for (let i = 0; i < TOTAL; i += 100) {
      await sender.sendMessages(
        Array.from({ length: 100 }, (_, j) => {
          const n = i + j;
          const reading = {
            deviceId: `d-${n % 50}`,
            at: new Date(Date.UTC(2026, 10, 24) + n * 1000).toISOString(),
            metric: 't',
            value: n,
          };
          return { body: Buffer.from(JSON.stringify(reading)), messageId: `m-${n}` };
        }),
      );
    }
    await sender.close();

    const proxy = await tcpProxy(w.emulator.port);
    const consumer = new ServiceBusClient(
      w.emulator.connectionString.replace(`localhost:${w.emulator.port}`, `localhost:${proxy.port}`),
      {
        retryOptions: { retryDelayInMs: 100, maxRetryDelayInMs: 1_000, timeoutInMs: 5_000 },
      },
    );
    const running = runPipeline(
      telemetryPipeline({
        serviceBus: consumer,
        entity: { queue: 'telemetry' },
        cassandra: w.ks.client,
        keyspace: KS,
        consistency: cassandra.types.consistencies.one,
        maxInFlight: 200,
        batch: { maxCount: 20, maxWaitMs: 50 },
      }),
      { drainTimeoutMs: 3_000 },
    );
    const rows = async () =>
      Number((await w.ks.client.execute(`SELECT count(*) AS n FROM ${KS}.readings`)).first().get('n'));
    const until = async (condition: () => Promise<boolean> | boolean, ms: number) => {
      const deadline = Date.now() + ms;
      while (!(await condition())) {
        if (Date.now() > deadline)
          throw new Error(`timed out: ${JSON.stringify(running.counts())}, rows ${await rows()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await until(() => running.counts().completed >= 400, 60_000);
    expect(proxy.cut()).toBeGreaterThan(0);
    await until(() => running.counts().completed >= 1_000, 90_000);
    proxy.cut();
    await until(async () => {
      const s = w.emulator.stats('telemetry');
      return s.active + s.locked === 0 && (await rows()) === TOTAL;
    }, 150_000);
    await running.stop();
    await consumer.close();
    await producer.close();
    await proxy.close();

    expect(await rows()).toBe(TOTAL);
    const ids = await w.ks.client.execute(`SELECT message_id FROM ${KS}.readings`, [], { fetchSize: 10_000 });
    expect(new Set(ids.rows.map((r) => r.get('message_id'))).size).toBe(TOTAL);
    expect(w.emulator.stats('telemetry/$DeadLetterQueue').active).toBe(0);
  });
});
