import type { ServiceBusMessage } from '@azure/service-bus';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  ParentBasedSampler,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { DemoReading } from './stream.js';

/**
 * The trace of one message, end to end, for the demo's summary: the producer's send span travels
 * in the message's `traceparent`; Sluice's process span continues it, the Cassandra writes are its
 * children. Only that message's trace is sampled (parent-based, roots off), so the other 100,000
 * cost nothing.
 */
export function startDemoTracing() {
  const exporter = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor(exporter);
  const provider = new BasicTracerProvider({
    sampler: new ParentBasedSampler({ root: new AlwaysOffSampler() }),
    spanProcessors: [processor],
  });
  trace.setGlobalTracerProvider(provider);
  const producer = new BasicTracerProvider({ spanProcessors: [processor] }).getTracer('demo-producer');
  const propagator = new W3CTraceContextPropagator();
  let traceId = '';

  return {
    /** One more reading, sent inside a producer span, whose trace the summary shows. */
    message(valid: Map<string, DemoReading>): ServiceBusMessage {
      const reading: DemoReading = {
        deviceId: 'sensor-traced',
        at: '2026-11-24T12:00:00.000Z',
        metric: 'temperature',
        value: 21.5,
      };
      const span = producer.startSpan('send telemetry', { kind: SpanKind.PRODUCER });
      traceId = span.spanContext().traceId;
      const carrier: Record<string, string> = {};
      propagator.inject(trace.setSpan(context.active(), span), carrier, {
        set: (c, k, v) => {
          c[k] = v;
        },
      });
      span.end();
      const messageId = `${reading.deviceId}-${reading.at}`;
      valid.set(messageId, reading);
      return {
        body: Buffer.from(JSON.stringify(reading)),
        messageId,
        contentType: 'application/json',
        applicationProperties: { traceparent: carrier.traceparent! },
      };
    },
    async print(): Promise<void> {
      await provider.forceFlush();
      const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
      const root = spans.find((s) => s.parentSpanContext === undefined);
      console.log(
        `\nThe trace of one message, end to end (trace ${traceId}; with OTEL_EXPORTER_OTLP_ENDPOINT set, \`sluice run\` sends these to Jaeger):`,
      );
      const show = (span: ReadableSpan, depth: number) => {
        const ms = (span.duration[0] * 1e3 + span.duration[1] / 1e6).toFixed(1);
        const settlement = span.attributes['sluice.settlement'];
        const db = span.attributes['db.system.name'];
        const detail = settlement
          ? ` → ${settlement}`
          : db
            ? ` (${db}, ${span.attributes['cassandra.consistency.level']})`
            : '';
        console.log(`  ${'  '.repeat(depth)}${depth > 0 ? '└ ' : ''}${span.name}${detail}  ${ms} ms`);
        for (const child of spans.filter((s) => s.parentSpanContext?.spanId === span.spanContext().spanId))
          show(child, depth + 1);
      };
      if (root) show(root, 0);
      else console.log('  (no spans recorded)');
      await provider.shutdown();
      propagation.disable();
    },
  };
}
