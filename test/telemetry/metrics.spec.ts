import type { Meter } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Batch } from '../../src/batch.js';
import type { Envelope } from '../../src/envelope.js';
import { TransientWriteError } from '../../src/errors.js';
import { batchWindow } from '../../src/operators/batchWindow.js';
import { decode } from '../../src/operators/decode.js';
import { keyBy } from '../../src/operators/keyBy.js';
import { validate } from '../../src/operators/validate.js';
import { writeThenSettle } from '../../src/operators/writeThenSettle.js';
import { definePipeline, runPipeline } from '../../src/pipelines/pipeline.js';
import { pipelineMetrics } from '../../src/telemetry/metrics.js';
import { MemoryQueue } from '../../src/testing/memoryQueue.js';
import { servePrometheus } from '../support/metricsServer.js';

let served: Awaited<ReturnType<typeof servePrometheus>>;

beforeAll(async () => {
  served = await servePrometheus('sluice-test');
});
afterAll(async () => {
  await served?.close();
});

/** The value of the sample `name` whose labels include `labels` (the exporter adds its own, e.g. otel_scope_name). */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)\{(.*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return undefined;
}

describe('metrics as Prometheus scrapes them', () => {
  it('count exactly what happened: received, settled by outcome, dead-lettered by reason, retries, batches', async () => {
    const queue = new MemoryQueue({ name: 'readings' });
    const good = Array.from({ length: 10 }, (_, i) => ({
      body: JSON.stringify({ device: `d${i % 2}`, v: i }),
    }));
    queue.send([
      ...good,
      { body: '{"device":' },
      { body: 'not json' },
      { body: JSON.stringify({ device: 'd1', v: 'x' }) },
    ]);
    const metrics = pipelineMetrics('unit', served.prometheus.provider.getMeter('sluice'));
    let failOnce = true;
    const running = runPipeline(
      definePipeline({
        name: 'unit',
        source: (ctx) => queue.source(ctx),
        process: (envelopes) =>
          envelopes.pipe(
            decode(),
            validate(z.object({ device: z.string(), v: z.number() })),
            keyBy((e) => e.body.device),
            batchWindow({ maxCount: 100, maxWaitMs: 5 }),
            writeThenSettle({
              retry: { sleep: async () => undefined },
              write: async (_batch: Batch<unknown>) => {
                if (failOnce) {
                  failOnce = false;
                  throw new TransientWriteError('timed out', 'timeout');
                }
              },
            }),
          ),
      }),
      { listener: metrics, onResult: (r) => metrics.onBatch(r) },
    );
    while (queue.completed.length + queue.deadLetters.length < 13) await new Promise((r) => setTimeout(r, 5));
    await running.stop();

    const scrape = await served.scrape();
    const base = { pipeline: 'unit', entity: 'readings' };
    const at = (name: string, extra: Record<string, string> = {}) =>
      sample(scrape, name, { ...base, ...extra });
    expect(at('sluice_messages_received_total')).toBe(13);
    expect(at('sluice_messages_settled_total', { outcome: 'completed' })).toBe(10);
    expect(at('sluice_messages_settled_total', { outcome: 'deadLettered' })).toBe(3);
    expect(at('sluice_messages_dead_lettered_total', { reason: 'DecodeFailed' })).toBe(2);
    expect(at('sluice_messages_dead_lettered_total', { reason: 'ValidationFailed' })).toBe(1);
    expect(at('sluice_write_retries_total', { error_class: 'timeout' })).toBe(1);
    expect(at('sluice_messages_in_flight')).toBe(0);
    expect(at('sluice_batch_size_messages_count')).toBe(2);
    expect(at('sluice_batch_size_messages_sum')).toBe(10);
    expect(at('sluice_end_to_end_latency_seconds_count')).toBe(10);
    expect(scrape).toMatch(/# TYPE sluice_batch_write_duration_seconds histogram/);
    // Running counts and metrics agree.
    expect(running.counts()).toMatchObject({
      received: 13,
      completed: 10,
      deadLettered: { DecodeFailed: 2, ValidationFailed: 1 },
    });
  });
});

describe('metrics on the hot path', () => {
  it('count messages in plain numbers: no instrument call per message but the end-to-end latency', () => {
    const calls: string[] = [];
    let observe: ((result: { observe: (i: unknown, v: number, a: unknown) => void }) => void) | undefined;
    const instrument = (kind: string, name: string) => ({
      add: () => calls.push(`${kind}.add ${name}`),
      record: () => calls.push(`${kind}.record ${name}`),
      name,
    });
    const meter = {
      createCounter: (name: string) => instrument('counter', name),
      createUpDownCounter: (name: string) => instrument('upDown', name),
      createHistogram: (name: string) => instrument('histogram', name),
      createObservableCounter: (name: string) => instrument('observable', name),
      createObservableUpDownCounter: (name: string) => instrument('observable', name),
      createObservableGauge: (name: string) => instrument('observable', name),
      addBatchObservableCallback: (cb: typeof observe) => {
        observe = cb;
      },
    } as unknown as Meter;
    const m = pipelineMetrics('hot', meter);
    const envelope = {
      entityPath: 'q',
      enqueuedTime: new Date(),
      settled: true,
    } as unknown as Envelope<unknown>;
    for (let i = 0; i < 1_000; i++) {
      m.onReceived?.(envelope);
      m.onSettled?.(envelope, 'completed');
    }
    expect(calls).toHaveLength(1_000);
    expect(new Set(calls)).toEqual(new Set(['histogram.record sluice_end_to_end_latency_seconds']));
    const seen = new Map<string, number>();
    observe?.({
      observe: (i, v, a) => {
        const attrs = a as Record<string, string>;
        seen.set(`${(i as { name: string }).name}${attrs.outcome ? `/${attrs.outcome}` : ''}`, v);
      },
    });
    expect(seen.get('sluice_messages_received')).toBe(1_000);
    expect(seen.get('sluice_messages_settled/completed')).toBe(1_000);
    expect(seen.get('sluice_messages_in_flight')).toBe(0);
  });
});
