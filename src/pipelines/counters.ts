import type { DeadLetterDetail, Envelope, SettlementListener, SettleOutcome } from '../envelope.js';
import { type LockLostError, UserFunctionError } from '../errors.js';
import type { BatchResult } from '../operators/writeThenSettle.js';

/** A snapshot of what a pipeline has done since it started. */
export interface PipelineCounts {
  received: number;
  completed: number;
  abandoned: number;
  deferred: number;
  /** Handed back for a delayed redelivery after their write's retries were spent. */
  rescheduled: number;
  deadLettered: Record<string, number>;
  /** Write attempts retried, by error class. */
  retried: Record<string, number>;
  batches: number;
  lockRenewals: number;
  locksLost: number;
  settleFailures: number;
  doubleSettlements: number;
  /** Received and not yet settled (nor lost). */
  inFlight: number;
}

/** Counts a pipeline's messages by listening to their settlement and to the batch results. */
export class PipelineCounters implements SettlementListener {
  readonly #counts: PipelineCounts = {
    received: 0,
    completed: 0,
    abandoned: 0,
    deferred: 0,
    rescheduled: 0,
    deadLettered: {},
    retried: {},
    batches: 0,
    lockRenewals: 0,
    locksLost: 0,
    settleFailures: 0,
    doubleSettlements: 0,
    inFlight: 0,
  };

  onReceived(): void {
    this.#counts.received += 1;
    this.#counts.inFlight += 1;
  }

  batch(result: BatchResult<unknown>): void {
    this.#counts.batches += 1;
    for (const [errorClass, n] of Object.entries(result.retries)) add(this.#counts.retried, errorClass, n);
  }

  onSettled(_envelope: Envelope<unknown>, outcome: SettleOutcome, detail?: DeadLetterDetail): void {
    this.#counts.inFlight -= 1;
    if (outcome === 'completed') this.#counts.completed += 1;
    else if (outcome === 'abandoned') this.#counts.abandoned += 1;
    else if (outcome === 'deferred') this.#counts.deferred += 1;
    else if (outcome === 'rescheduled') this.#counts.rescheduled += 1;
    else add(this.#counts.deadLettered, detail?.reason ?? 'unknown', 1);
  }

  onDoubleSettle(): void {
    this.#counts.doubleSettlements += 1;
  }

  onLockLost(envelope: Envelope<unknown>, _error: LockLostError): void {
    this.#counts.locksLost += 1;
    // Lost while settling: it has left the pipeline. Lost while held (renewal failed): it has not.
    if (envelope.settled) this.#counts.inFlight -= 1;
  }

  onLockRenewed(): void {
    this.#counts.lockRenewals += 1;
  }

  onSettleFailed(): void {
    this.#counts.settleFailures += 1;
    this.#counts.inFlight -= 1;
  }

  snapshot(): PipelineCounts {
    const c = this.#counts;
    return { ...c, deadLettered: { ...c.deadLettered }, retried: { ...c.retried } };
  }
}

function add(record: Record<string, number>, key: string, n: number): void {
  record[key] = (record[key] ?? 0) + n;
}

const events = [
  'onReceived',
  'onSettled',
  'onDoubleSettle',
  'onLockLost',
  'onLockRenewed',
  'onSettleFailed',
] as const satisfies readonly (keyof SettlementListener)[];

/**
 * One listener that tells several: counters, metrics, traces. A listener that throws does not stop
 * the others nor the settlement that called it; `onError` hears about it (the pipeline fails).
 */
export function combineListeners(
  listeners: readonly (SettlementListener | undefined)[],
  onError: (error: UserFunctionError) => void = () => undefined,
): SettlementListener {
  const all = listeners.filter((l): l is SettlementListener => l !== undefined);
  const combined: SettlementListener = {};
  for (const event of events) {
    // Three arguments at most (`onSettled`): passed as they are, not as a rest array and a spread
    // per call, since this runs for every message and event.
    const call = (a: unknown, b: unknown, c: unknown) => {
      for (const l of all) {
        try {
          (l[event] as ((a: unknown, b: unknown, c: unknown) => void) | undefined)?.call(l, a, b, c);
        } catch (error) {
          onError(new UserFunctionError(`listener.${event}`, error));
        }
      }
    };
    (combined as Record<string, unknown>)[event] = call;
  }
  return combined;
}
