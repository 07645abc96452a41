import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GradientLimit } from '../../src/concurrencyLimit.js';
import { keyBy } from '../../src/operators/keyBy.js';
import { writeThenSettle } from '../../src/operators/writeThenSettle.js';
import { definePipeline, runPipeline } from '../../src/pipelines/pipeline.js';
import { pipelineMetrics } from '../../src/telemetry/metrics.js';
import { MemoryQueue } from '../../src/testing/memoryQueue.js';
import { servePrometheus } from '../support/metricsServer.js';

let served: Awaited<ReturnType<typeof servePrometheus>>;

beforeAll(async () => {
  served = await servePrometheus('sluice-write-limit-test');
});
afterAll(async () => {
  await served?.close();
});

describe('the write concurrency limit of a running pipeline', () => {
  it('is readable on the pipeline and scraped as sluice_write_concurrency_limit', async () => {
    const queue = new MemoryQueue({ name: 'limits' });
    queue.send(Array.from({ length: 200 }, (_, i) => ({ body: String(i) })));
    const limiter = new GradientLimit({ min: 4, max: 64, initial: 4, windowSize: 4 });
    const running = runPipeline(
      definePipeline({
        name: 'limits',
        source: (ctx) => queue.source(ctx),
        process: (envelopes, ctx) => {
          ctx.onWriteLimiter(limiter);
          return envelopes.pipe(
            keyBy((e) => String(Number(e.messageId.replace(/\D/g, '')) % 50)),
            writeThenSettle({
              write: () => new Promise((resolve) => setTimeout(resolve, 1)),
              concurrency: limiter,
            }),
          );
        },
      }),
      { drainTimeoutMs: 2_000 },
    );
    const metrics = pipelineMetrics('limits', served.prometheus.provider.getMeter('sluice'));
    metrics.observeWriteLimit(() => running.writeConcurrencyLimit());
    for (let waited = 0; running.counts().completed < 200; waited += 20) {
      if (waited > 10_000) throw new Error(`stuck: ${JSON.stringify(running.counts())}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    // Writes kept up: the limit grew from 4.
    expect(running.writeConcurrencyLimit()).toBe(limiter.limit);
    expect(limiter.limit).toBeGreaterThan(4);
    const text = await served.scrape();
    const line = text.split('\n').find((l) => l.startsWith('sluice_write_concurrency_limit{'));
    expect(line).toMatch(/pipeline="limits"/);
    expect(Number(line!.split(' ').at(-1))).toBe(limiter.limit);
    await running.stop();
  });
});
