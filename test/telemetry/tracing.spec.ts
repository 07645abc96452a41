import { ProxyTracer, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import type { Batch } from '../../src/batch.js';
import type { Envelope } from '../../src/envelope.js';
import { batchWindow } from '../../src/operators/batchWindow.js';
import { decode } from '../../src/operators/decode.js';
import { keyBy } from '../../src/operators/keyBy.js';
import { validate } from '../../src/operators/validate.js';
import { writeThenSettle } from '../../src/operators/writeThenSettle.js';
import { definePipeline, runPipeline } from '../../src/pipelines/pipeline.js';
import { messageTracing, producerContext, withWriteSpan } from '../../src/telemetry/tracing.js';
import { MemoryQueue } from '../../src/testing/memoryQueue.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('sluice-test');
afterAll(() => provider.shutdown());

const producerTrace = '0af7651916cd43dd8448eb211c80319c';
const traceparent = (span: string) => `00-${producerTrace}-${span}-01`;

describe('traces', () => {
  it('reads the producer context from traceparent or Diagnostic-Id, and ignores garbage', () => {
    expect(producerContext({ traceparent: traceparent('b7ad6b7169203331') })).toMatchObject({
      traceId: producerTrace,
      spanId: 'b7ad6b7169203331',
      isRemote: true,
    });
    expect(producerContext({ traceparent: 'not-a-traceparent' })).toBeUndefined();
    expect(producerContext(undefined)).toBeUndefined();
  });

  it('continue the producer trace per message, link a batch write to its messages, and show the settlement', async () => {
    exporter.reset();
    const queue = new MemoryQueue({ name: 'telemetry' });
    const body = (device: string, v: unknown) => JSON.stringify({ device, v });
    queue.send([
      {
        body: body('a', 1),
        messageId: 'a1',
        applicationProperties: { 'Diagnostic-Id': traceparent('00000000000000a1') },
      },
      {
        body: body('a', 2),
        messageId: 'a2',
        applicationProperties: { traceparent: traceparent('00000000000000a2') },
      },
      {
        body: body('b', 3),
        messageId: 'b3',
        applicationProperties: { traceparent: traceparent('00000000000000b3') },
      },
      {
        body: body('b', 'x'),
        messageId: 'bad',
        applicationProperties: { traceparent: traceparent('0000000000000bad') },
      },
    ]);
    const running = runPipeline(
      definePipeline({
        name: 'traced',
        // The memory queue leaves trace context in the application properties, as Service Bus does.
        source: (ctx) => queue.source(ctx),
        process: (envelopes) =>
          envelopes.pipe(
            decode(),
            validate(z.object({ device: z.string(), v: z.number() })),
            keyBy((e) => e.body.device),
            batchWindow({ maxCount: 10, maxWaitMs: 5 }),
            writeThenSettle({
              write: (batch) =>
                withWriteSpan(
                  batch,
                  { keyspace: 'iot', table: 'readings', statement: 'INSERT ...', consistency: 'ONE' },
                  async () => {},
                  tracer,
                ),
            }),
          ),
      }),
      { listener: messageTracing('traced', tracer) },
    );
    while (queue.completed.length + queue.deadLetters.length < 4) await new Promise((r) => setTimeout(r, 5));
    await running.stop();

    const spans = exporter.getFinishedSpans();
    const process = spans.filter((s) => s.name === 'process telemetry');
    expect(process).toHaveLength(4);
    for (const s of process) {
      expect(s.kind).toBe(SpanKind.CONSUMER);
      expect(s.spanContext().traceId).toBe(producerTrace); // the producer's trace goes on
      expect(s.parentSpanContext?.spanId).toMatch(/^0+[0-9a-f]+$/);
      expect(s.attributes).toMatchObject({
        'messaging.system': 'servicebus',
        'messaging.destination.name': 'telemetry',
      });
    }
    const byId = new Map(process.map((s) => [s.attributes['messaging.message.id'], s]));
    expect(byId.get('a1')!.parentSpanContext?.spanId).toBe('00000000000000a1');
    expect(byId.get('a1')!.attributes['sluice.settlement']).toBe('completed');
    expect(byId.get('bad')!.status).toMatchObject({ code: SpanStatusCode.ERROR });
    expect(byId.get('bad')!.events.map((e) => e.name)).toEqual(['settle deadLettered']);

    const writes = spans.filter((s) => s.name.includes('INSERT iot.readings'));
    const batchOfTwo = writes.find((s) => s.attributes['messaging.batch.message_count'] === 2)!;
    expect(batchOfTwo.name).toBe('BATCH INSERT iot.readings');
    expect(batchOfTwo.links.map((l) => l.context.spanId).sort()).toEqual(
      [byId.get('a1')!, byId.get('a2')!].map((s) => s.spanContext().spanId).sort(),
    );
    const single = writes.find((s) => s.attributes['messaging.batch.message_count'] === 1)!;
    expect(single.parentSpanContext?.spanId).toBe(byId.get('b3')!.spanContext().spanId);
    expect(single.attributes).toMatchObject({
      'db.system.name': 'cassandra',
      'db.collection.name': 'readings',
      'db.namespace': 'iot',
    });
  });
});

describe('traces when no tracer provider is registered', () => {
  const envelope = {
    entityPath: 'q',
    messageId: 'm',
    deliveryCount: 0,
    enqueuedTime: new Date(),
    sequenceNumber: 1n,
    key: 'k',
    settled: true,
    traceContext: { traceparent: traceparent('00000000000000a1') },
  } as unknown as Envelope<unknown>;
  const batch = { key: 'k', envelopes: [envelope] } as unknown as Batch<unknown>;
  const info = { keyspace: 'iot', table: 'readings', statement: 'INSERT ...', consistency: 'ONE' };
  afterEach(() => {
    vi.restoreAllMocks();
    trace.disable();
  });

  it('make no span objects, per message or per write, until a provider is registered', async () => {
    const started = vi.spyOn(ProxyTracer.prototype, 'startSpan');
    const listener = messageTracing('off'); // the API's proxy tracer
    listener.onReceived?.(envelope);
    listener.onSettled?.(envelope, 'completed');
    let wrote = 0;
    await withWriteSpan(batch, info, async () => {
      wrote += 1;
    });
    expect(wrote).toBe(1);
    expect(started).not.toHaveBeenCalled();

    // Registered later: the same listener and the writes trace from then on.
    const exporter = new InMemorySpanExporter();
    const registered = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    trace.setGlobalTracerProvider(registered);
    listener.onReceived?.(envelope);
    listener.onSettled?.(envelope, 'completed');
    await withWriteSpan(batch, info, async () => {});
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['process q', 'INSERT iot.readings']);
    await registered.shutdown();
  });
});
