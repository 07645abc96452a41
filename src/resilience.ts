import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen } from 'cockatiel';

/**
 * The one place for Sluice's resilience policy: backoff with full jitter, abortable waits, and the
 * write circuit (a circuit breaker from `cockatiel`). The sink's retries, the source's receive loop
 * and delayed redelivery all take their delays from here.
 */

export interface BackoffOptions {
  /** Ceiling of the first delay. */
  initialDelayMs: number;
  /** Ceiling of any delay. */
  maxDelayMs: number;
}

/**
 * Exponential backoff with full jitter (a uniform delay below a ceiling that doubles per attempt):
 * many writers backing off from the same failure spread out instead of returning together.
 * `attempt` counts from 1.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  return random() * cappedDelay(attempt, options);
}

/** The ceiling of attempt `attempt`'s delay: `initialDelayMs · 2^(attempt-1)`, capped. */
export function cappedDelay(attempt: number, options: BackoffOptions): number {
  return Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
}

/** Waits `ms`, or less when `signal` aborts (it resolves then: the caller checks the signal). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface WriteCircuitOptions {
  /** Consecutive transient failures, across all keys, that open the circuit. Default 5. */
  failureThreshold?: number;
  /** How long the circuit stays open before one probe write may try. Default 1000 ms. */
  halfOpenAfterMs?: number;
}

/**
 * A sink's view of its store's health. When writes keep failing transiently (the store is down,
 * frozen or unreachable), the circuit opens: writers then wait instead of writing, holding their
 * messages (whose locks the source keeps renewing) and so holding the source's credit, which stops
 * receiving. Every `halfOpenAfterMs` one waiting write runs as a probe; its success closes the
 * circuit and every waiter resumes at once. A constant probe interval keeps recovery within about
 * a second of the store's return, however long the outage was.
 */
export class WriteCircuit {
  readonly #policy;
  #lastSuccessAt: number | undefined;
  #lastFailure: unknown;
  #openedAt: number | undefined;
  readonly #halfOpenAfterMs: number;

  constructor(isTransient: (error: unknown) => boolean, options: WriteCircuitOptions = {}) {
    this.#halfOpenAfterMs = options.halfOpenAfterMs ?? 1_000;
    this.#policy = circuitBreaker(handleWhen(isTransient), {
      halfOpenAfter: this.#halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(options.failureThreshold ?? 5),
    });
    this.#policy.onBreak(() => {
      this.#openedAt ??= Date.now();
    });
    this.#policy.onReset(() => {
      this.#openedAt = undefined;
    });
  }

  /** True while writes are held back (open or probing). */
  get isOpen(): boolean {
    return this.#policy.state !== CircuitState.Closed;
  }

  /** Since when the circuit has been open, if it is. */
  get openSince(): Date | undefined {
    return this.#openedAt === undefined ? undefined : new Date(this.#openedAt);
  }

  get lastSuccessAt(): Date | undefined {
    return this.#lastSuccessAt === undefined ? undefined : new Date(this.#lastSuccessAt);
  }

  get lastFailure(): unknown {
    return this.#lastFailure;
  }

  /**
   * Runs `write` through the circuit. While it is open this waits (no write made, nothing spent)
   * until a probe may run or the circuit closes. Resolves `false` without writing when `signal`
   * aborts first.
   */
  async run(write: () => Promise<void>, signal: AbortSignal): Promise<boolean> {
    for (;;) {
      if (signal.aborted) return false;
      try {
        await this.#policy.execute(write);
        this.#lastSuccessAt = Date.now();
        return true;
      } catch (error) {
        if (!(error instanceof BrokenCircuitError)) {
          this.#lastFailure = error;
          throw error;
        }
      }
      await this.#waitForChange(signal);
    }
  }

  #waitForChange(signal: AbortSignal): Promise<void> {
    const changed = new AbortController();
    const listener = this.#policy.onStateChange(() => changed.abort());
    const either = AbortSignal.any([signal, changed.signal]);
    return sleep(this.#halfOpenAfterMs, either).finally(() => listener.dispose());
  }
}
