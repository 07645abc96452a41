import { type Observable, tap } from 'rxjs';
import type { ConcurrencyLimiter } from '../concurrencyLimit.js';
import type { Envelope, SettlementListener } from '../envelope.js';
import { isSluiceError, UserFunctionError } from '../errors.js';
import type { BatchResult } from '../operators/writeThenSettle.js';
import { WriteCircuit } from '../resilience.js';
import { combineListeners, PipelineCounters, type PipelineCounts } from './counters.js';

/**
 * What a pipeline's source and chain are given: where to report settlements and health, and when to
 * stop receiving. Its fields are named as `fromServiceBus`'s options, so `fromServiceBus({ ...ctx })`
 * wires them all.
 */
export interface PipelineContext {
  /** Aborted by `stop()`: the source stops receiving and completes. */
  readonly signal: AbortSignal;
  /** Must be passed to every envelope the source creates (counters, metrics, traces hang here). */
  readonly listener: SettlementListener;
  /** How long in-flight messages may take to settle after a stop before the source abandons them. */
  readonly drainTimeoutMs: number;
  /** The operator's default for unsettled messages held at most (`SLUICE_MAX_IN_FLIGHT`), if set. */
  readonly maxInFlight?: number;
  /** The operator's defaults for pipelines that do not set their own (the service's `SLUICE_*` variables). */
  readonly defaults?: PipelineDefaults;
  /** The source reports failed receives here (readiness, logs). */
  readonly onReceiveError: (error: unknown) => void;
  /** The source reports working receives here (readiness). */
  readonly onReceiving: () => void;
  /** The pipeline's write circuit: pass it to the sink (`writeToCassandra({ circuit })`) so readiness sees it. */
  readonly circuit: WriteCircuit;
  /**
   * The sink tells its write-concurrency limiter here, so its live limit can be read
   * (`RunningPipeline.writeConcurrencyLimit`, the `sluice_write_concurrency_limit` gauge).
   */
  readonly onWriteLimiter: (limiter: ConcurrencyLimiter) => void;
}

/** Settings an operator may give every pipeline that does not choose its own. */
export interface PipelineDefaults {
  /** Consume sessions, this many at once. */
  sessions?: number;
  batchMaxCount?: number;
  batchMaxWaitMs?: number;
  /** Receive loops per queue or subscription (`SLUICE_RECEIVERS`). */
  receivers?: number;
  /**
   * Most partitions written at once (`SLUICE_WRITE_CONCURRENCY`): the ceiling of the adaptive
   * write limit, which starts at 32 (or this, if lower) and follows Cassandra's latency.
   */
  writeConcurrency?: number;
}

/** What readiness needs to know about one pipeline. */
export interface PipelineHealth {
  /** When a receive last worked, and the last receive error if one came after it. */
  lastReceiveAt: Date | undefined;
  receiveError: unknown;
  /** Since when writes have been held back because the store keeps failing, if they are. */
  writesFailingSince: Date | undefined;
  lastWriteError: unknown;
  lastWriteAt: Date | undefined;
}

export interface PipelineDefinition<R = unknown> {
  /** Names the pipeline in logs, metrics and traces. */
  readonly name: string;
  /** The messages, e.g. `(ctx) => fromServiceBus({ client, entity, signal: ctx.signal, listener: ctx.listener, drainTimeoutMs: ctx.drainTimeoutMs })`. */
  source(context: PipelineContext): Observable<Envelope<unknown>>;
  /** The operator chain, ending in a sink that settles every envelope (e.g. `writeToCassandra`). */
  process(envelopes: Observable<Envelope<unknown>>, context: PipelineContext): Observable<R>;
}

/**
 * Declares a pipeline: a name, a source and the operator chain between them.
 *
 * @example
 * ```ts
 * export const telemetry = definePipeline({
 *   name: 'telemetry',
 *   source: (ctx) => fromServiceBus({ client, entity: { queue: 'telemetry' }, ...ctx }),
 *   process: (envelopes) => envelopes.pipe(decode(), validate(Reading), keyBy(telemetryKey),
 *     batchWindow({ maxCount: 50, maxWaitMs: 20 }), writeToCassandra({ client: cql, targets: telemetryTargets })),
 * });
 * ```
 */
export function definePipeline<R>(definition: PipelineDefinition<R>): PipelineDefinition<R> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(definition.name)) {
    throw new RangeError(`Pipeline name '${definition.name}' must be 1-64 letters, digits, '.', '_' or '-'`);
  }
  return definition;
}

export interface RunOptions<R> {
  /** After `stop()`, how long in-flight messages may take to settle. Default 30 s. */
  drainTimeoutMs?: number;
  /** Hears every settlement besides the pipeline's own counters (metrics, traces). */
  listener?: SettlementListener;
  /** Told about each output of the chain (a `BatchResult` for the Cassandra sinks). */
  onResult?: (result: R) => void;
  /** Unsettled messages held at most, for sources that do not set their own. */
  maxInFlight?: number;
  /** Defaults for pipelines that do not choose their own. */
  defaults?: PipelineDefaults;
  /** Told about each failed receive (the source retries it); for logs. */
  onReceiveError?: (error: unknown) => void;
}

export interface RunningPipeline {
  readonly name: string;
  /** Live counts: received, settled by outcome, dead-lettered by reason, retries, in flight. */
  counts(): PipelineCounts;
  /** Receive and write health, for readiness. */
  health(): PipelineHealth;
  /** Writes the sink may have in flight now (its adaptive limit), if the sink told it. */
  writeConcurrencyLimit(): number | undefined;
  /** Stops receiving, lets in-flight messages settle until the drain deadline, abandons the rest. */
  stop(): Promise<void>;
  /** Settles when the pipeline has ended: after `stop()`, or when the source ends or fails. */
  readonly done: Promise<void>;
}

/** Starts a pipeline. It runs until `stop()` or until its source ends or fails. */
export function runPipeline<R>(
  definition: PipelineDefinition<R>,
  options: RunOptions<R> = {},
): RunningPipeline {
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
  const stopper = new AbortController();
  const counters = new PipelineCounters();
  let unsubscribe = () => {};
  let fail: (error: unknown) => void = () => undefined;
  const receiving = { at: undefined as Date | undefined, error: undefined as unknown };
  const circuit = new WriteCircuit((error) => isSluiceError(error) && error.retryable);
  let writeLimiter: ConcurrencyLimiter | undefined;
  const context: PipelineContext = {
    signal: stopper.signal,
    listener: combineListeners([counters, options.listener], (error) => fail(error)),
    drainTimeoutMs,
    ...(options.maxInFlight === undefined ? {} : { maxInFlight: options.maxInFlight }),
    ...(options.defaults === undefined ? {} : { defaults: options.defaults }),
    onReceiveError: (error) => {
      receiving.error = error;
      try {
        options.onReceiveError?.(error);
      } catch (thrown) {
        fail(new UserFunctionError('onReceiveError', thrown));
      }
    },
    onReceiving: () => {
      receiving.at = new Date();
      receiving.error = undefined;
    },
    circuit,
    onWriteLimiter: (limiter) => {
      writeLimiter = limiter;
    },
  };
  const done = new Promise<void>((resolve, reject) => {
    // A user's function that throws outside any one message ends the pipeline with a typed error:
    // receiving stops and the source abandons what is in flight.
    fail = (error) => {
      reject(error);
      stopper.abort();
      queueMicrotask(() => unsubscribe());
    };
    try {
      const subscription = definition
        .process(
          definition.source(context).pipe(tap((envelope) => context.listener.onReceived?.(envelope))),
          context,
        )
        .subscribe({
          next(result) {
            if (isBatchResult(result)) counters.batch(result);
            try {
              options.onResult?.(result);
            } catch (error) {
              fail(new UserFunctionError('onResult', error));
            }
          },
          error: reject,
          complete: resolve,
        });
      unsubscribe = () => subscription.unsubscribe();
    } catch (error) {
      // `source` or `process` threw while the chain was being assembled.
      reject(new UserFunctionError(`pipeline ${definition.name}: source or process`, error));
    }
  });
  return {
    name: definition.name,
    counts: () => counters.snapshot(),
    writeConcurrencyLimit: () => writeLimiter?.limit,
    health: () => ({
      lastReceiveAt: receiving.at,
      receiveError: receiving.error,
      writesFailingSince: circuit.openSince,
      lastWriteError: circuit.lastFailure,
      lastWriteAt: circuit.lastSuccessAt,
    }),
    async stop() {
      stopper.abort();
      // The source completes at once; the chain then drains. Past the deadline (plus a margin for
      // the source's own abandon round trip) tear it down: the source abandons what is left.
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'deadline'>((resolve) => {
        timer = setTimeout(() => resolve('deadline'), drainTimeoutMs + 1_000);
      });
      const outcome = await Promise.race([
        done.then(
          () => 'done' as const,
          () => 'done' as const,
        ),
        deadline,
      ]);
      clearTimeout(timer);
      if (outcome === 'deadline') unsubscribe();
    },
    done,
  };
}

function isBatchResult(value: unknown): value is BatchResult<unknown> {
  return typeof value === 'object' && value !== null && 'batch' in value && 'retries' in value;
}
