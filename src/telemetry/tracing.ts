import {
  type Attributes,
  type Link,
  ProxyTracer,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Batch } from '../batch.js';
import type {
  DeadLetterDetail,
  Envelope,
  SettlementListener,
  SettleOutcome,
  TraceCarrier,
} from '../envelope.js';

const propagator = new W3CTraceContextPropagator();
const getter: TextMapGetter<TraceCarrier> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => (carrier as unknown as Record<string, string | undefined>)[key],
};

/** The producer's span context from a message's `traceparent` / `Diagnostic-Id`, if it is valid. */
export function producerContext(carrier: TraceCarrier | undefined): SpanContext | undefined {
  if (carrier === undefined) return undefined;
  const context = propagator.extract(ROOT_CONTEXT, carrier, getter);
  const spanContext = trace.getSpanContext(context);
  return spanContext !== undefined && trace.isSpanContextValid(spanContext) ? spanContext : undefined;
}

// What a ProxyTracerProvider delegates to before a provider is registered (one shared instance).
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * Whether the global API has a tracer provider registered. Without one, `trace.getTracer()` hands
 * out no-op tracers: asking first spares building attributes, links and span objects per message.
 * Any provider that is not the API's proxy (another copy of the API, say) counts as registered.
 */
export function tracingRegistered(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NOOP_PROVIDER;
}

/** A tracer given explicitly is used; the API's proxy tracer only once a provider is registered. */
const isLive = (tracer: Tracer): boolean => !(tracer instanceof ProxyTracer) || tracingRegistered();

// The process span of each message in flight, by entity and sequence number (unique in an entity).
const processSpans = new Map<string, Span>();
const keyOf = (envelope: Envelope<unknown>) => `${envelope.entityPath}#${envelope.sequenceNumber}`;

/** The process span of a message in flight, for the write span to link to. */
export function processSpanContext(envelope: Envelope<unknown>): SpanContext | undefined {
  return processSpans.get(keyOf(envelope))?.spanContext();
}

/**
 * Traces each message from receipt to settlement as a `process` span that continues the
 * producer's trace (a child of the producer's span, as the messaging conventions prescribe when
 * one message is processed on its own), with the settlement as an event and, for dead letters,
 * an error status carrying the reason. Pass it as a listener to `runPipeline`. Without an
 * OpenTelemetry SDK registered the tracer is a no-op and this costs next to nothing.
 */
export function messageTracing(
  pipeline: string,
  tracer: Tracer = trace.getTracer('sluice'),
): SettlementListener {
  const end = (envelope: Envelope<unknown>, decorate: (span: Span) => void) => {
    if (processSpans.size === 0) return;
    const key = keyOf(envelope);
    const span = processSpans.get(key);
    if (span === undefined) return;
    processSpans.delete(key);
    decorate(span);
    span.end();
  };
  return {
    onReceived(envelope) {
      if (!isLive(tracer)) return;
      const parent = producerContext(envelope.traceContext);
      const attributes: Attributes = {
        'messaging.system': 'servicebus',
        'messaging.destination.name': envelope.entityPath,
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.message.id': envelope.messageId,
        'messaging.servicebus.message.delivery_count': envelope.deliveryCount,
        'messaging.servicebus.message.enqueued_time': envelope.enqueuedTime.getTime(),
        'sluice.pipeline': pipeline,
        'sluice.sequence_number': envelope.sequenceNumber.toString(),
      };
      const span = tracer.startSpan(
        `process ${envelope.entityPath}`,
        { kind: SpanKind.CONSUMER, attributes, startTime: Date.now() },
        parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, parent),
      );
      // A span the sampler dropped records nothing: do not keep it for settlement or links.
      if (span.isRecording()) processSpans.set(keyOf(envelope), span);
    },
    onSettled(envelope: Envelope<unknown>, outcome: SettleOutcome, detail?: DeadLetterDetail) {
      end(envelope, (span) => {
        span.setAttribute('sluice.settlement', outcome);
        span.addEvent(
          `settle ${outcome}`,
          detail === undefined ? {} : { 'sluice.dead_letter.reason': detail.reason },
        );
        if (outcome === 'deadLettered') {
          span.setStatus({
            code: SpanStatusCode.ERROR,
            message: `${detail?.reason}: ${detail?.description}`,
          });
        }
      });
    },
    onLockLost(envelope) {
      if (!envelope.settled) return;
      end(envelope, (span) => {
        span.setAttribute('sluice.settlement', 'lockLost');
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: 'lock lost before settlement; Service Bus redelivers',
        });
      });
    },
    onSettleFailed(envelope, outcome, error) {
      end(envelope, (span) => {
        span.setAttribute('sluice.settlement', `${outcome} failed`);
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'settlement failed' });
      });
    },
  };
}

export interface WriteSpanInfo {
  keyspace: string;
  table: string;
  /** The prepared statement, without values. */
  statement: string;
  consistency: string;
}

/**
 * Runs one batch write in a `db` span: a child of the message's process span when the batch holds
 * one message, linked to every message's process span otherwise (the conventions for batches).
 * With tracing off (no provider registered, no tracer given) it is the write alone: no span, no
 * promise of its own.
 */
export function withWriteSpan<T, R>(
  batch: Batch<T>,
  info: WriteSpanInfo,
  write: () => Promise<R>,
  given?: Tracer,
): Promise<R> {
  if (given === undefined && !tracingRegistered()) {
    try {
      return write();
    } catch (error) {
      // As from an async function: a write that throws rejects.
      return Promise.reject(error);
    }
  }
  return tracedWrite(batch, info, write, given ?? trace.getTracer('sluice'));
}

async function tracedWrite<T, R>(
  batch: Batch<T>,
  info: WriteSpanInfo,
  write: () => Promise<R>,
  tracer: Tracer,
): Promise<R> {
  const contexts =
    processSpans.size === 0
      ? []
      : batch.envelopes.map((e) => processSpanContext(e)).filter((c): c is SpanContext => c !== undefined);
  const single = batch.envelopes.length === 1 ? contexts[0] : undefined;
  const links: Link[] = single === undefined ? contexts.map((context) => ({ context })) : [];
  const span = tracer.startSpan(
    `${batch.envelopes.length > 1 ? 'BATCH INSERT' : 'INSERT'} ${info.keyspace}.${info.table}`,
    {
      kind: SpanKind.CLIENT,
      links,
      attributes: {
        'db.system.name': 'cassandra',
        'db.namespace': info.keyspace,
        'db.collection.name': info.table,
        'db.operation.name': batch.envelopes.length > 1 ? 'BATCH INSERT' : 'INSERT',
        'db.query.text': info.statement,
        'db.operation.batch.size': batch.envelopes.length,
        'cassandra.consistency.level': info.consistency,
        'messaging.batch.message_count': batch.envelopes.length,
        'sluice.partition_key': batch.key,
      },
    },
    single === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, single),
  );
  try {
    return await write();
  } catch (error) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : String(error),
    });
    throw error;
  } finally {
    span.end();
  }
}
