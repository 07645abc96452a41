import { type Attributes, type Meter, metrics } from '@opentelemetry/api';
import type { DeadLetterDetail, Envelope, SettlementListener, SettleOutcome } from '../envelope.js';
import type { BatchResult } from '../operators/writeThenSettle.js';

/**
 * Sluice's metrics, on the OpenTelemetry API only: the library records, the service chooses the
 * SDK and exporter (Prometheus on `/metrics`). Names are written for Prometheus: the exporter adds
 * `_total` to counters but no unit suffix, so units are part of the names here (`_seconds`).
 *
 * | metric (as scraped) | type | labels |
 * | --- | --- | --- |
 * | `sluice_messages_received_total` | counter | pipeline, entity |
 * | `sluice_messages_settled_total` | counter | pipeline, entity, outcome |
 * | `sluice_messages_dead_lettered_total` | counter | pipeline, entity, reason |
 * | `sluice_write_retries_total` | counter | pipeline, entity, error_class |
 * | `sluice_lock_renewals_total`, `sluice_locks_lost_total` | counter | pipeline, entity |
 * | `sluice_settle_failures_total`, `sluice_double_settlements_total` | counter | pipeline, entity |
 * | `sluice_messages_in_flight` | gauge | pipeline, entity |
 * | `sluice_write_concurrency_limit` | gauge (the adaptive write limit) | pipeline |
 * | `sluice_batch_size_messages` | histogram | pipeline, entity |
 * | `sluice_batch_write_duration_seconds` | histogram | pipeline, entity |
 * | `sluice_end_to_end_latency_seconds` | histogram (enqueued → completed) | pipeline, entity |
 */
export interface PipelineMetrics extends SettlementListener {
  /** Give it each `BatchResult` of the pipeline (`runPipeline`'s `onResult`). */
  onBatch(result: BatchResult<unknown>): void;
  /** Reports `read()` as `sluice_write_concurrency_limit` at each collection (`RunningPipeline.writeConcurrencyLimit`). */
  observeWriteLimit(read: () => number | undefined): void;
}

const OUTCOMES = ['completed', 'abandoned', 'deadLettered', 'deferred', 'rescheduled'];
// The classes `classifyCassandraError` gives transient errors.
const ERROR_CLASSES = ['timeout', 'unavailable', 'overloaded', 'server', 'unprepared', 'connection', 'other'];

export const BATCH_SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500];
export const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * Records a pipeline's metrics; pass it as `listener` and its `onBatch` as `onResult` of `runPipeline`.
 *
 * @example
 * ```ts
 * const m = pipelineMetrics('telemetry');
 * runPipeline(definition, { listener: m, onResult: (r) => m.onBatch(r) });
 * ```
 */
export function pipelineMetrics(
  pipeline: string,
  meter: Meter = metrics.getMeter('sluice'),
): PipelineMetrics {
  const received = meter.createCounter('sluice_messages_received', {
    description: 'Messages taken from the source',
  });
  const settled = meter.createCounter('sluice_messages_settled', {
    description: 'Messages settled, by outcome',
  });
  const deadLettered = meter.createCounter('sluice_messages_dead_lettered', {
    description: 'Messages dead-lettered by the pipeline, by reason',
  });
  const retries = meter.createCounter('sluice_write_retries', {
    description: 'Write attempts retried, by error class',
  });
  const renewals = meter.createCounter('sluice_lock_renewals', { description: 'Message locks renewed' });
  const locksLost = meter.createCounter('sluice_locks_lost', {
    description: 'Message locks lost before settlement',
  });
  const settleFailures = meter.createCounter('sluice_settle_failures', {
    description: 'Settlements that failed',
  });
  const doubleSettlements = meter.createCounter('sluice_double_settlements', {
    description: 'Settlements refused because the message was already settled (a pipeline bug)',
  });
  const inFlight = meter.createUpDownCounter('sluice_messages_in_flight', {
    description: 'Messages received and not yet settled',
  });
  const batchSize = meter.createHistogram('sluice_batch_size_messages', {
    description: 'Messages per written batch',
    advice: { explicitBucketBoundaries: BATCH_SIZE_BUCKETS },
  });
  const writeDuration = meter.createHistogram('sluice_batch_write_duration_seconds', {
    description: 'Time to write a batch to Cassandra and settle it, retries included',
    unit: 's',
    advice: { explicitBucketBoundaries: LATENCY_BUCKETS_SECONDS },
  });
  const endToEnd = meter.createHistogram('sluice_end_to_end_latency_seconds', {
    description: 'From enqueued on Service Bus to completed',
    unit: 's',
    advice: { explicitBucketBoundaries: LATENCY_BUCKETS_SECONDS },
  });

  // Attribute objects are cached per entity: the hot path must not build one per message.
  const base = new Map<string, Attributes>();
  const attrs = (entity: string): Attributes => {
    let a = base.get(entity);
    if (a === undefined) {
      a = { pipeline, entity };
      base.set(entity, a);
      // Start every known series at zero: Prometheus rates and alerts need a series before the
      // first event, not just after it.
      for (const counter of [received, renewals, locksLost, settleFailures, doubleSettlements])
        counter.add(0, a);
      for (const outcome of OUTCOMES) settled.add(0, { ...a, outcome });
      for (const errorClass of ERROR_CLASSES) retries.add(0, { ...a, error_class: errorClass });
    }
    return a;
  };

  const writeLimit = meter.createObservableGauge('sluice_write_concurrency_limit', {
    description: 'Batch writes the pipeline may have in flight now (adapted to Cassandra latency)',
  });

  return {
    observeWriteLimit(read) {
      const a = { pipeline };
      writeLimit.addCallback((result) => {
        const limit = read();
        if (limit !== undefined) result.observe(limit, a);
      });
    },
    onReceived(envelope: Envelope<unknown>) {
      received.add(1, attrs(envelope.entityPath));
      inFlight.add(1, attrs(envelope.entityPath));
    },
    onSettled(envelope: Envelope<unknown>, outcome: SettleOutcome, detail?: DeadLetterDetail) {
      const a = attrs(envelope.entityPath);
      inFlight.add(-1, a);
      settled.add(1, { ...a, outcome });
      if (outcome === 'deadLettered') deadLettered.add(1, { ...a, reason: detail?.reason ?? 'unknown' });
      if (outcome === 'completed') endToEnd.record((Date.now() - envelope.enqueuedTime.getTime()) / 1000, a);
    },
    onLockRenewed(envelope: Envelope<unknown>) {
      renewals.add(1, attrs(envelope.entityPath));
    },
    onLockLost(envelope: Envelope<unknown>) {
      locksLost.add(1, attrs(envelope.entityPath));
      if (envelope.settled) inFlight.add(-1, attrs(envelope.entityPath));
    },
    onSettleFailed(envelope: Envelope<unknown>) {
      settleFailures.add(1, attrs(envelope.entityPath));
      inFlight.add(-1, attrs(envelope.entityPath));
    },
    onDoubleSettle(envelope: Envelope<unknown>) {
      doubleSettlements.add(1, attrs(envelope.entityPath));
    },
    onBatch(result: BatchResult<unknown>) {
      const a = attrs(result.batch.envelopes[0]?.entityPath ?? 'unknown');
      batchSize.record(result.batch.envelopes.length, a);
      writeDuration.record(result.durationMs / 1000, a);
      for (const [errorClass, n] of Object.entries(result.retries))
        retries.add(n, { ...a, error_class: errorClass });
    },
  };
}
