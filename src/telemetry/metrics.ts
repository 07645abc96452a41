import { type Attributes, type Histogram, type Meter, metrics } from '@opentelemetry/api';
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

/** One series of a counter: its attributes, built once, and its running total. */
interface Series {
  readonly attributes: Attributes;
  n: number;
}

/** What one pipeline has counted for one entity. */
interface EntityCounts {
  readonly attributes: Attributes;
  received: number;
  inFlight: number;
  renewals: number;
  locksLost: number;
  settleFailures: number;
  doubleSettlements: number;
  readonly settled: Record<string, Series>;
  readonly deadLettered: Map<string, Series>;
  readonly retries: Map<string, Series>;
}

/** The instruments of one meter, shared by every pipeline recording on it. */
interface Instruments {
  readonly batchSize: Histogram;
  readonly writeDuration: Histogram;
  readonly endToEnd: Histogram;
  /** Every entity counted by any pipeline on this meter; read when an exporter collects. */
  readonly counts: EntityCounts[];
}

const instrumentsOf = new WeakMap<Meter, Instruments>();

/**
 * Counters are plain numbers on the hot path, reported through observable instruments when an
 * exporter collects: adding to an OpenTelemetry counter hashes its attributes on every call (about
 * 3% of the CPU per message in a profile, with nothing reading them). Histograms have no observable
 * form, so they keep their per-record cost; their attribute objects are built once per entity.
 */
function instruments(meter: Meter): Instruments {
  const existing = instrumentsOf.get(meter);
  if (existing !== undefined) return existing;
  const counts: EntityCounts[] = [];
  const received = meter.createObservableCounter('sluice_messages_received', {
    description: 'Messages taken from the source',
  });
  const settled = meter.createObservableCounter('sluice_messages_settled', {
    description: 'Messages settled, by outcome',
  });
  const deadLettered = meter.createObservableCounter('sluice_messages_dead_lettered', {
    description: 'Messages dead-lettered by the pipeline, by reason',
  });
  const retries = meter.createObservableCounter('sluice_write_retries', {
    description: 'Write attempts retried, by error class',
  });
  const renewals = meter.createObservableCounter('sluice_lock_renewals', {
    description: 'Message locks renewed',
  });
  const locksLost = meter.createObservableCounter('sluice_locks_lost', {
    description: 'Message locks lost before settlement',
  });
  const settleFailures = meter.createObservableCounter('sluice_settle_failures', {
    description: 'Settlements that failed',
  });
  const doubleSettlements = meter.createObservableCounter('sluice_double_settlements', {
    description: 'Settlements refused because the message was already settled (a pipeline bug)',
  });
  const inFlight = meter.createObservableUpDownCounter('sluice_messages_in_flight', {
    description: 'Messages received and not yet settled',
  });
  meter.addBatchObservableCallback(
    (result) => {
      for (const c of counts) {
        result.observe(received, c.received, c.attributes);
        result.observe(inFlight, c.inFlight, c.attributes);
        result.observe(renewals, c.renewals, c.attributes);
        result.observe(locksLost, c.locksLost, c.attributes);
        result.observe(settleFailures, c.settleFailures, c.attributes);
        result.observe(doubleSettlements, c.doubleSettlements, c.attributes);
        for (const s of Object.values(c.settled)) result.observe(settled, s.n, s.attributes);
        for (const s of c.deadLettered.values()) result.observe(deadLettered, s.n, s.attributes);
        for (const s of c.retries.values()) result.observe(retries, s.n, s.attributes);
      }
    },
    [
      received,
      settled,
      deadLettered,
      retries,
      renewals,
      locksLost,
      settleFailures,
      doubleSettlements,
      inFlight,
    ],
  );
  const made: Instruments = {
    counts,
    batchSize: meter.createHistogram('sluice_batch_size_messages', {
      description: 'Messages per written batch',
      advice: { explicitBucketBoundaries: BATCH_SIZE_BUCKETS },
    }),
    writeDuration: meter.createHistogram('sluice_batch_write_duration_seconds', {
      description: 'Time to write a batch to Cassandra and settle it, retries included',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_SECONDS },
    }),
    endToEnd: meter.createHistogram('sluice_end_to_end_latency_seconds', {
      description: 'From enqueued on Service Bus to completed',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_SECONDS },
    }),
  };
  instrumentsOf.set(meter, made);
  return made;
}

const series = (attributes: Attributes): Series => ({ attributes, n: 0 });

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
  const { batchSize, writeDuration, endToEnd, counts } = instruments(meter);

  // Counts and attribute objects per entity, made on its first message. Every known series is
  // reported from then on, zeros included: Prometheus rates and alerts need a series before the
  // first event, not just after it.
  const byEntity = new Map<string, EntityCounts>();
  let last: EntityCounts | undefined;
  const of = (entity: string): EntityCounts => {
    if (last !== undefined && last.attributes.entity === entity) return last;
    let c = byEntity.get(entity);
    if (c === undefined) {
      const attributes: Attributes = { pipeline, entity };
      c = {
        attributes,
        received: 0,
        inFlight: 0,
        renewals: 0,
        locksLost: 0,
        settleFailures: 0,
        doubleSettlements: 0,
        settled: Object.fromEntries(OUTCOMES.map((outcome) => [outcome, series({ ...attributes, outcome })])),
        deadLettered: new Map(),
        retries: new Map(ERROR_CLASSES.map((e) => [e, series({ ...attributes, error_class: e })])),
      };
      byEntity.set(entity, c);
      counts.push(c);
    }
    last = c;
    return c;
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
      const c = of(envelope.entityPath);
      c.received += 1;
      c.inFlight += 1;
    },
    onSettled(envelope: Envelope<unknown>, outcome: SettleOutcome, detail?: DeadLetterDetail) {
      const c = of(envelope.entityPath);
      c.inFlight -= 1;
      const s = c.settled[outcome];
      if (s !== undefined) s.n += 1;
      if (outcome === 'deadLettered') {
        const reason = detail?.reason ?? 'unknown';
        let d = c.deadLettered.get(reason);
        if (d === undefined) {
          d = series({ ...c.attributes, reason });
          c.deadLettered.set(reason, d);
        }
        d.n += 1;
      }
      if (outcome === 'completed')
        endToEnd.record((Date.now() - envelope.enqueuedTime.getTime()) / 1000, c.attributes);
    },
    onLockRenewed(envelope: Envelope<unknown>) {
      of(envelope.entityPath).renewals += 1;
    },
    onLockLost(envelope: Envelope<unknown>) {
      const c = of(envelope.entityPath);
      c.locksLost += 1;
      if (envelope.settled) c.inFlight -= 1;
    },
    onSettleFailed(envelope: Envelope<unknown>) {
      const c = of(envelope.entityPath);
      c.settleFailures += 1;
      c.inFlight -= 1;
    },
    onDoubleSettle(envelope: Envelope<unknown>) {
      of(envelope.entityPath).doubleSettlements += 1;
    },
    onBatch(result: BatchResult<unknown>) {
      const c = of(result.batch.envelopes[0]?.entityPath ?? 'unknown');
      batchSize.record(result.batch.envelopes.length, c.attributes);
      writeDuration.record(result.durationMs / 1000, c.attributes);
      for (const [errorClass, n] of Object.entries(result.retries)) {
        let r = c.retries.get(errorClass);
        if (r === undefined) {
          r = series({ ...c.attributes, error_class: errorClass });
          c.retries.set(errorClass, r);
        }
        r.n += n;
      }
    },
  };
}
