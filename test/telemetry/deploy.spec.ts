import { readFileSync } from 'node:fs';
import { ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startEmulator } from '../../packages/servicebus-emulator/src/index.js';
import { GradientLimit } from '../../src/concurrencyLimit.js';
import { batchWindow } from '../../src/operators/batchWindow.js';
import { decode } from '../../src/operators/decode.js';
import { validate } from '../../src/operators/validate.js';
import { writeThenSettle } from '../../src/operators/writeThenSettle.js';
import { definePipeline, runPipeline } from '../../src/pipelines/pipeline.js';
import { fromServiceBus } from '../../src/sources/fromServiceBus.js';
import { monitorDeadLetters } from '../../src/telemetry/dlqMonitor.js';
import { pipelineMetrics } from '../../src/telemetry/metrics.js';
import { emulatorConfig } from '../support/emulatorConfig.js';
import { servePrometheus } from '../support/metricsServer.js';

type Emulator = Awaited<ReturnType<typeof startEmulator>>;
let emulator: Emulator;
let client: ServiceBusClient;
let served: Awaited<ReturnType<typeof servePrometheus>>;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, config: emulatorConfig({ orders: {} }) });
  client = new ServiceBusClient(emulator.connectionString);
  served = await servePrometheus('sluice-deploy-test');
});
afterAll(async () => {
  await served?.close();
  await client?.close();
  await emulator?.close();
});

describe('a real scrape after a run, with the dead-letter monitor', () => {
  it('exports the depth and age of the DLQ, warns when it grows, and has every metric the dashboard and alerts use', async () => {
    const sender = client.createSender('orders');
    // Objects go out as JSON data sections (the JS SDK's encoding); the Buffer is a broken document.
    await sender.sendMessages([
      { body: { n: 1 } },
      { body: Buffer.from('{broken') },
      { body: { n: 'x' } },
      { body: { n: 2 } },
    ]);
    await sender.close();
    const meter = served.prometheus.provider.getMeter('sluice');
    const growth: string[] = [];
    const monitor = monitorDeadLetters({
      client,
      entities: ['orders'],
      intervalMs: 60_000,
      meter,
      onGrowth: (e, a, b) => growth.push(`${e} ${a}→${b}`),
    });
    await monitor.refresh();
    expect(monitor.snapshot('orders')?.depth).toBe(0);

    const metrics = pipelineMetrics('orders', meter);
    const limiter = new GradientLimit({ max: 64 });
    metrics.observeWriteLimit(() => limiter.limit);
    const running = runPipeline(
      definePipeline({
        name: 'orders',
        source: (ctx) =>
          fromServiceBus({ client, entity: { queue: 'orders' }, maxWaitTimeInMs: 200, ...ctx }),
        process: (envelopes) =>
          envelopes.pipe(
            decode(),
            validate(z.object({ n: z.number() })),
            batchWindow({ maxCount: 10, maxWaitMs: 5 }),
            writeThenSettle({ write: async () => undefined, concurrency: limiter }),
          ),
      }),
      { listener: metrics, onResult: (r) => metrics.onBatch(r), drainTimeoutMs: 2_000 },
    );
    for (
      let waited = 0;
      running.counts().completed + sumValues(running.counts().deadLettered) < 4;
      waited += 50
    ) {
      if (waited > 10_000) throw new Error(`pipeline stuck: ${JSON.stringify(running.counts())}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await running.stop();
    await monitor.refresh();
    monitor.stop();
    expect(monitor.snapshot('orders')?.depth).toBe(2);
    expect(growth).toEqual(['orders 0→2']);

    const text = await served.scrape();
    expect(text).toMatch(/sluice_dead_letter_queue_depth\{entity="orders"[^}]*\} 2/);
    expect(text).toMatch(/sluice_dead_letter_oldest_age_seconds\{entity="orders"[^}]*\} [0-9.]+/);

    // Every metric the dashboard and the alert rules query must exist in a real scrape.
    const scraped = new Set([...text.matchAll(/^(sluice_[a-z_]+)[{ ]/gm)].map((m) => m[1]!));
    const used = (file: string) =>
      new Set([...readFileSync(file, 'utf8').matchAll(/\b(sluice_[a-z_]+)/g)].map((m) => m[1]!));
    for (const file of ['deploy/grafana/sluice.json', 'deploy/prometheus/alerts.yml']) {
      const missing = [...used(file)].filter((name) => !scraped.has(name));
      expect(missing, `${file} uses metrics the scrape lacks`).toEqual([]);
    }
  });
});

const sumValues = (record: Record<string, number>) => Object.values(record).reduce((a, b) => a + b, 0);

describe('Service Bus reachability for /readyz', () => {
  it('is unknown before an entity is watched, true while the namespace answers, false once it is gone', async () => {
    const own = await startEmulator({ port: 0, config: emulatorConfig({ probe: {} }) });
    const ownClient = new ServiceBusClient(own.connectionString, {
      retryOptions: { maxRetries: 0, timeoutInMs: 2_000 },
    });
    const monitor = monitorDeadLetters({ client: ownClient, intervalMs: 60_000 });
    expect(await monitor.reachable()).toBeUndefined();
    monitor.watch('probe');
    expect(await monitor.reachable()).toBe(true);
    await own.close();
    // The answer is cached for 10 s; a fresh monitor asks again.
    const after = monitorDeadLetters({ client: ownClient, entities: ['probe'], intervalMs: 60_000 });
    expect(await after.reachable(3_000)).toBe(false);
    monitor.stop();
    after.stop();
    await ownClient.close();
  });
});
