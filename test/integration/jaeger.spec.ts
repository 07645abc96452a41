import { existsSync } from 'node:fs';
import { ServiceBusClient } from '@azure/service-bus';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTelemetrySchema } from '../../examples/index.js';
import { telemetryPipeline } from '../../examples/pipelines/telemetry.js';
import {
  jaegerBinaryPath,
  type RunningJaeger,
  startJaeger,
} from '../../packages/cassandra-harness/src/jaeger.js';
import { startEmulator } from '../../packages/servicebus-emulator/src/index.js';
import { runPipeline } from '../../src/index.js';
import { messageTracing } from '../../src/telemetry/tracing.js';
import { emulatorConfig } from '../support/emulatorConfig.js';
import { freshKeyspace } from './support/cassandra.js';

// A real Jaeger, fed over OTLP/HTTP and read back through its v3 query API. The binary is built by
// `npm run jaeger:install` (CI does); without it this suite says so and is skipped.
const binary = process.env.SLUICE_JAEGER_BIN ?? jaegerBinaryPath();
const KS = 'sluice_it_jaeger';
const service = `sluice-e2e-${Date.now()}`;

type Emulator = Awaited<ReturnType<typeof startEmulator>>;
let jaeger: RunningJaeger;
let emulator: Emulator;
let ks: Awaited<ReturnType<typeof freshKeyspace>>;
let provider: BasicTracerProvider;

interface JaegerSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number | string;
  links?: { traceId: string; spanId: string }[];
  attributes?: { key: string; value: Record<string, unknown> }[];
}

// The v3 API answers OTLP JSON, where ids are base64 of the bytes: bring them to hex.
const hex = (id: string | undefined) =>
  id === undefined || id === ''
    ? undefined
    : /^[0-9a-f]+$/.test(id)
      ? id
      : Buffer.from(id, 'base64').toString('hex');
const attr = (span: JaegerSpan, key: string) => {
  const value = span.attributes?.find((a) => a.key === key)?.value;
  return value === undefined ? undefined : Object.values(value)[0];
};

if (!existsSync(binary)) {
  console.warn(
    `Jaeger trace tests skipped: no binary at ${binary}. Build it with 'npm run jaeger:install' (needs Go).`,
  );
}

describe.skipIf(!existsSync(binary))('traces in a real Jaeger', () => {
  beforeAll(async () => {
    jaeger = await startJaeger(binary);
    provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': service }),
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: jaeger.otlpTracesUrl }))],
    });
    trace.setGlobalTracerProvider(provider);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    emulator = await startEmulator({ port: 0, config: emulatorConfig({ telemetry: {} }) });
    ks = await freshKeyspace(KS);
    await createTelemetrySchema(ks.client, KS);
  });

  afterAll(async () => {
    await provider?.shutdown();
    await emulator?.close();
    await ks?.drop();
    await jaeger?.stop();
  });

  it('shows producer send → Sluice process → Cassandra write, with links for a batch', async () => {
    const started = new Date(Date.now() - 60_000);
    const tracer = provider.getTracer('producer');
    const client = new ServiceBusClient(emulator.connectionString);
    const sender = client.createSender('telemetry');
    // The producer's own span, its context carried the way OpenTelemetry producers do.
    const producer = tracer.startSpan('send telemetry', { kind: SpanKind.PRODUCER });
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), producer), carrier);
    const reading = (deviceId: string, second: number) => ({
      body: Buffer.from(
        JSON.stringify({ deviceId, at: `2026-11-24T10:00:0${second}.000Z`, metric: 'temp', value: second }),
      ),
      messageId: `${deviceId}-${second}`,
      applicationProperties: { traceparent: carrier.traceparent! },
    });
    await sender.sendMessages([
      reading('alone', 1),
      reading('batched', 1),
      reading('batched', 2),
      reading('batched', 3),
    ]);
    producer.end();
    await sender.close();

    const running = runPipeline(
      telemetryPipeline({
        serviceBus: client,
        entity: { queue: 'telemetry' },
        cassandra: ks.client,
        keyspace: KS,
        consistency: cassandra.types.consistencies.one,
        batch: { maxCount: 10, maxWaitMs: 300 },
      }),
      { listener: messageTracing('telemetry', provider.getTracer('sluice')), drainTimeoutMs: 2_000 },
    );
    while (running.counts().completed < 4) await new Promise((r) => setTimeout(r, 50));
    await running.stop();
    await client.close();
    await provider.forceFlush();

    const query = new URLSearchParams({
      'query.service_name': service,
      'query.start_time_min': started.toISOString(),
      'query.start_time_max': new Date(Date.now() + 60_000).toISOString(),
      'query.num_traces': '100',
    });
    let spans: JaegerSpan[] = [];
    const complete = () =>
      spans.filter((x) => x.name === 'process telemetry').length === 4 &&
      spans.some((x) => x.name.startsWith('BATCH INSERT')) &&
      spans.some((x) => x.name.startsWith('INSERT'));
    for (let attempt = 0; attempt < 50 && !complete(); attempt++) {
      const response = await fetch(`${jaeger.queryUrl}/api/v3/traces?${query}`);
      if (response.ok) {
        const body = (await response.json()) as {
          result?: { resourceSpans?: { scopeSpans?: { spans?: JaegerSpan[] }[] }[] };
        };
        spans = (body.result?.resourceSpans ?? []).flatMap((r) =>
          (r.scopeSpans ?? []).flatMap((s) => s.spans ?? []),
        );
      }
      if (!complete()) await new Promise((r) => setTimeout(r, 200));
    }
    const named = (name: string) => spans.filter((s) => s.name === name);
    const send = named('send telemetry');
    const processSpans = named('process telemetry');
    expect(send).toHaveLength(1);
    expect(processSpans).toHaveLength(4);
    const sendId = hex(send[0]!.spanId);
    for (const p of processSpans) {
      expect(hex(p.traceId)).toBe(hex(send[0]!.traceId)); // one trace from producer to settlement
      expect(hex(p.parentSpanId)).toBe(sendId);
      expect(attr(p, 'messaging.system')).toBe('servicebus');
      expect(attr(p, 'sluice.settlement')).toBe('completed');
    }
    const processOf = (id: string) => processSpans.find((p) => attr(p, 'messaging.message.id') === id)!;

    // One message alone: its write is a child of its process span.
    const single = spans.filter((s) => s.name === `INSERT ${KS}.readings`);
    expect(single.length).toBeGreaterThanOrEqual(1);
    expect(single.map((s) => hex(s.parentSpanId))).toContain(hex(processOf('alone-1').spanId));
    expect(attr(single[0]!, 'db.system.name')).toBe('cassandra');
    expect(attr(single[0]!, 'db.collection.name')).toBe('readings');

    // Three messages of one partition: one batch write linked to each of their process spans.
    const batch = spans.find((s) => s.name === `BATCH INSERT ${KS}.readings`)!;
    expect(batch).toBeDefined();
    expect(Number(attr(batch, 'messaging.batch.message_count'))).toBe(3);
    expect((batch.links ?? []).map((l) => hex(l.spanId)).sort()).toEqual(
      ['batched-1', 'batched-2', 'batched-3'].map((id) => hex(processOf(id).spanId)).sort(),
    );
  });
});
